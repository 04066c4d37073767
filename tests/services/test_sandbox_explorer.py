"""The sandbox explorer: its JSON for the owner only, and the page in real headless Chromium."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from playwright.sync_api import Playwright, expect

from tests.helpers import RunningServer
from tests.web.conftest import launch, playwright  # noqa: F401  (the session's Chromium driver)

REGISTER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Register {
    event Registered(uint256 indexed id, string what);
    function register(uint256 id, string calldata what) external { emit Registered(id, what); }
}
"""


@pytest.fixture(scope="module")
def owner_key(segell_server: RunningServer) -> str:
    return segell_server.admit()


@pytest.fixture(scope="module")
def activity(segell_server: RunningServer, owner_key: str) -> Iterator[dict[str, Any]]:
    """A sandbox with a deployed contract, one transaction to it and one anchor in its notary."""
    with segell_server.client(owner_key) as owner:
        sandbox = owner.post("/v1/sandboxes", json={"name": "explorer-test", "backend": "embedded"}).json()
        base = f"/v1/sandboxes/{sandbox['id']}/contracts"
        deployed = owner.post(base, json={"sources": {"Register.sol": REGISTER}}).json()
        sent = owner.post(
            f"{base}/{deployed['address']}/transact", json={"function": "register", "args": [7, "<b>terrassa</b>"]}
        ).json()
        root = "0x" + keccak(text="explorer root").hex()
        anchored = owner.post(
            f"{base}/{sandbox['contracts']['notary']}/transact", json={"function": "anchorRoot", "args": [root, 1]}
        ).json()
        yield {"sandbox": sandbox, "deployed": deployed, "sent": sent, "anchored": anchored, "root": root}
        owner.delete(f"/v1/sandboxes/{sandbox['id']}")


def test_explorer_json_shows_blocks_transactions_segell_events_and_contracts(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any]
) -> None:
    sandbox = activity["sandbox"]
    with segell_server.client(owner_key) as owner:
        view = owner.get(f"/v1/sandboxes/{sandbox['id']}/explorer", params={"blocks": 3}).json()
    assert view["sandbox"]["id"] == sandbox["id"]
    assert view["sandbox"]["owner_account"] == sandbox["accounts"][0]
    assert [b["number"] for b in view["blocks"]] == [view["sandbox"]["head_block"] - n for n in range(3)]
    by_hash = {t["hash"]: t for t in view["transactions"]}
    register = by_hash[activity["sent"]["transaction_hash"]]
    assert (register["contract"], register["function"], register["from"]) == (
        "Register",
        "register(uint256,string)",
        sandbox["accounts"][0],
    )
    anchor = by_hash[activity["anchored"]["transaction_hash"]]
    assert (anchor["contract"], anchor["function"]) == ("Notary", "anchorRoot(bytes32,uint64)")
    events = [(e["event"], e["args"].get("root") or e["args"].get("id")) for e in view["events"]]
    assert events[0] == ("RootAnchored", activity["root"])
    # The owner's admission into the sandbox's registry, when the sandbox was created.
    assert ("AdministrationAdmitted", None) in [(name, None) for name, _ in events]
    assert [c["name"] for c in view["contracts"]] == ["AdministrationRegistry", "Notary", "Register"]


def test_explorer_json_is_404_for_another_administration_and_401_without_a_key(
    segell_server: RunningServer, activity: dict[str, Any]
) -> None:
    path = f"/v1/sandboxes/{activity['sandbox']['id']}/explorer"
    with segell_server.client(segell_server.admit()) as stranger:
        assert stranger.get(path).status_code == 404
    assert httpx.get(segell_server.url + path).status_code == 401


def test_explorer_page_asks_for_the_key_keeps_it_in_the_tab_and_shows_the_sandbox(
    playwright: Playwright,  # noqa: F811
    segell_server: RunningServer,
    owner_key: str,
    activity: dict[str, Any],
    tmp_path: Path,
) -> None:
    sandbox = activity["sandbox"]
    browser = launch(playwright, tmp_path / "profile", segell_server.url)
    try:
        page = browser.open(f"/sandboxes/{sandbox['id']}/explorer")
        # The page itself holds nothing of the sandbox until the key is given.
        expect(page.locator("#explorer")).to_be_hidden()
        assert activity["deployed"]["address"] not in page.content()

        page.fill("#api-key", "sgl_000000000000_wrong")
        page.click("#key-form button")
        expect(page.locator("#status")).to_contain_text("Invalid API key")
        assert page.evaluate("sessionStorage.getItem('segell.explorer.apiKey')") is None

        page.fill("#api-key", owner_key)
        page.click("#key-form button")
        expect(page.locator("#explorer")).to_be_visible()
        expect(page.locator("#contracts tbody")).to_contain_text("Register")
        expect(page.locator("#contracts tbody")).to_contain_text(activity["deployed"]["address"])
        expect(page.locator("#events tbody")).to_contain_text("RootAnchored")
        expect(page.locator("#transactions tbody")).to_contain_text("register(uint256,string)")
        # Text from the chain is shown as text: the <b> the transaction carried is no element of the page.
        assert page.locator("#explorer b").count() == 0
        assert page.evaluate("sessionStorage.getItem('segell.explorer.apiKey')") == owner_key
        assert browser.context.cookies() == []

        page.reload()  # the same tab keeps the key
        expect(page.locator("#contracts tbody")).to_contain_text("Register")
        page.click("#forget")
        expect(page.locator("#key-form")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('segell.explorer.apiKey')") is None
    finally:
        browser.close()
    # Everything the page loaded or fetched came from the Segell server: no CDN, no third party.
    assert browser.requests and [url for url in browser.requests if not url.startswith(segell_server.url)] == []
