"""The sandbox explorer and contracts deployed outside the API: the JSON views for the owner only, registering a
contract by its sources, and the page in real headless Chromium on a desktop and a phone."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect
from typer.testing import CliRunner
from web3 import HTTPProvider, Web3

from segell.sdk import Client, CompilerSettings
from segell.services.cli import app
from segell.services.sandboxes.contracts import CompilerSettings as ServerCompilerSettings
from segell.services.sandboxes.contracts import SolidityCompiler
from tests.helpers import RunningServer
from tests.web.conftest import Browser, headless_chromium, launch, playwright  # noqa: F401  (the module's Chromium)

REGISTER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Register {
    event Registered(uint256 indexed id, string what);
    function register(uint256 id, string calldata what) external { emit Registered(id, what); }
}
"""

# Deployed with a raw transaction, as `forge create` does, compiled as Foundry compiles by default: optimizer off.
PERMITS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Permits {
    address public immutable issuer;
    uint256 public immutable openedAt;
    mapping(uint256 => string) private _holders;

    event PermitIssued(uint256 indexed id, string holder);

    constructor(address issuer_) {
        issuer = issuer_;
        openedAt = block.number;
    }

    function issue(uint256 id, string calldata holder) external {
        require(msg.sender == issuer, "only the issuer");
        _holders[id] = holder;
        emit PermitIssued(id, holder);
    }

    function holderOf(uint256 id) external view returns (string memory) {
        return _holders[id];
    }
}
"""
# The same contract from sources that differ in a comment: the same code, another metadata hash.
PERMITS_COMMENTED = PERMITS.replace("contract Permits {", "/// Municipal permits.\ncontract Permits {")
FOUNDRY_DEFAULTS = ServerCompilerSettings(optimizer=False)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "explorer"


@pytest.fixture(scope="module")
def owner_key(segell_server: RunningServer) -> str:
    return segell_server.admit()


@pytest.fixture(scope="module")
def permits_creation_code() -> str:
    """Permits compiled outside the server, as a developer's own tools would, with the same pinned solc."""
    compilation = SolidityCompiler().compile({"Permits.sol": PERMITS}, settings=FOUNDRY_DEFAULTS)
    return compilation.select("Permits", ["Permits.sol"]).bytecode


def deploy_outside(
    server: RunningServer, key: str, sandbox: dict[str, Any], creation_code: str, issuer: str
) -> tuple[str, str]:
    """Deploy Permits with a raw transaction signed by the sandbox's second funded account; its address and hash."""
    with server.client(key) as owner:
        exported = owner.post(f"/v1/sandboxes/{sandbox['id']}/accounts/export").json()["accounts"]
    deployer = Account.from_key(exported[1]["private_key"])
    w3 = Web3(HTTPProvider(sandbox["rpc_url"], request_kwargs={"headers": {"Authorization": f"Bearer {key}"}}))
    transaction = {
        "data": creation_code + encode(["address"], [issuer]).hex(),
        "nonce": w3.eth.get_transaction_count(deployer.address),
        "chainId": sandbox["chain_id"],
        "gas": 2_000_000,
        "gasPrice": w3.eth.gas_price,
        "value": 0,
    }
    sent = w3.eth.send_raw_transaction(deployer.sign_transaction(transaction).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(sent, timeout=30, poll_latency=0.05)
    assert receipt["status"] == 1 and receipt["contractAddress"]
    return str(receipt["contractAddress"]), receipt["transactionHash"].to_0x_hex()


@pytest.fixture(scope="module")
def activity(segell_server: RunningServer, owner_key: str, permits_creation_code: str) -> Iterator[dict[str, Any]]:
    """A sandbox with a deployed contract, one transaction to it, one anchor, and Permits deployed outside the API."""
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
        permits, permits_deployment = deploy_outside(
            segell_server, owner_key, sandbox, permits_creation_code, sandbox["accounts"][0]
        )
        yield {
            "sandbox": sandbox,
            "deployed": deployed,
            "sent": sent,
            "anchored": anchored,
            "root": root,
            "permits": permits,
            "permits_deployment": permits_deployment,
        }
        owner.delete(f"/v1/sandboxes/{sandbox['id']}")


@pytest.fixture(scope="module")
def registered(segell_server: RunningServer, owner_key: str, activity: dict[str, Any]) -> dict[str, Any]:
    """Permits registered through the SDK with the settings it was compiled with; one permit issued through the API."""
    sandbox_id, address = activity["sandbox"]["id"], activity["permits"]
    with Client(segell_server.url, owner_key, timeout=60) as segell:
        contract = segell.contracts.register(
            sandbox_id,
            address,
            {"Permits.sol": PERMITS},
            compiler=CompilerSettings(optimizer=False),
            transaction_hash=activity["permits_deployment"],
        )
        issued = segell.contracts.send(sandbox_id, address, "issue", [12, "Marta Vila"])
    return {"contract": contract, "issued": issued}


def rpc(server: RunningServer, key: str, sandbox_id: str, method: str, *params: Any) -> Any:
    """What the sandbox's node itself answers, through its JSON-RPC endpoint."""
    with server.client(key) as owner:
        answer = owner.post(
            f"/v1/sandboxes/{sandbox_id}/rpc",
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
        )
    return answer.json()["result"]


# -- the JSON ------------------------------------------------------------------------------------------------------


def test_explorer_json_shows_blocks_transactions_events_of_every_contract_and_contracts(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any]
) -> None:
    sandbox = activity["sandbox"]
    with segell_server.client(owner_key) as owner:
        view = owner.get(f"/v1/sandboxes/{sandbox['id']}/explorer", params={"blocks": 4}).json()
    assert view["sandbox"]["id"] == sandbox["id"]
    assert view["sandbox"]["owner_account"] == sandbox["accounts"][0]
    assert [b["number"] for b in view["blocks"]] == [view["sandbox"]["head_block"] - n for n in range(4)]
    by_hash = {t["hash"]: t for t in view["transactions"]}
    register = by_hash[activity["sent"]["transaction_hash"]]
    assert (register["contract"], register["function"], register["from"]) == (
        "Register",
        "register(uint256,string)",
        sandbox["accounts"][0],
    )
    anchor = by_hash[activity["anchored"]["transaction_hash"]]
    assert (anchor["contract"], anchor["function"]) == ("Notary", "anchorRoot(bytes32,uint64)")
    events = {(e["contract"], e["event"]): e for e in view["events"]}
    # The administration's own contract's events, decoded with the ABI it was deployed with, beside Segell's.
    assert events[("Register", "Registered")]["args"] == {"id": "7", "what": "<b>terrassa</b>"}
    assert events[("Notary", "RootAnchored")]["args"]["root"] == activity["root"]
    assert ("AdministrationRegistry", "AdministrationAdmitted") in events
    blocks = [e["block_number"] for e in view["events"]]
    assert blocks == sorted(blocks, reverse=True)
    assert [c["name"] for c in view["contracts"]][:3] == ["AdministrationRegistry", "Notary", "Register"]


def test_activity_counts_each_blocks_transactions_and_gas_as_the_node_does(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any]
) -> None:
    sandbox_id = activity["sandbox"]["id"]
    with segell_server.client(owner_key) as owner:
        chart = owner.get(f"/v1/sandboxes/{sandbox_id}/explorer/activity", params={"blocks": 500}).json()
        too_many = owner.get(f"/v1/sandboxes/{sandbox_id}/explorer/activity", params={"blocks": 501})
    head = int(rpc(segell_server, owner_key, sandbox_id, "eth_blockNumber"), 16)
    assert (chart["from_block"], chart["to_block"]) == (0, head)
    assert [point["number"] for point in chart["blocks"]] == list(range(head + 1))
    for point in chart["blocks"]:
        block = rpc(segell_server, owner_key, sandbox_id, "eth_getBlockByNumber", hex(point["number"]), False)
        assert (point["transaction_count"], point["gas_used"], point["gas_limit"]) == (
            len(block["transactions"]),
            int(block["gasUsed"], 16),
            int(block["gasLimit"], 16),
        )
    assert sum(point["transaction_count"] for point in chart["blocks"]) >= 7
    assert too_many.status_code == 422


def test_block_view_lists_its_transactions_and_answers_404_past_the_head(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any]
) -> None:
    sandbox_id, sent = activity["sandbox"]["id"], activity["sent"]
    base = f"/v1/sandboxes/{sandbox_id}/explorer/blocks"
    with segell_server.client(owner_key) as owner:
        block = owner.get(f"{base}/{sent['block_number']}").json()
        missing = owner.get(f"{base}/{block['head_block'] + 1}")
        negative = owner.get(f"{base}/-1")
    node = rpc(segell_server, owner_key, sandbox_id, "eth_getBlockByNumber", hex(sent["block_number"]), False)
    assert (block["number"], block["hash"], block["parent_hash"]) == (
        sent["block_number"],
        node["hash"],
        node["parentHash"],
    )
    assert [t["hash"] for t in block["transactions"]] == node["transactions"] == [sent["transaction_hash"]]
    assert block["transactions"][0]["function"] == "register(uint256,string)"
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "block_not_found"
    assert str(block["head_block"]) in missing.json()["error"]["message"]
    assert negative.status_code == 422


def test_transaction_view_decodes_input_and_logs_and_gives_its_gas_and_fee(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any]
) -> None:
    sandbox_id, sent = activity["sandbox"]["id"], activity["sent"]
    base = f"/v1/sandboxes/{sandbox_id}/explorer/transactions"
    with segell_server.client(owner_key) as owner:
        detail = owner.get(f"{base}/{sent['transaction_hash']}").json()
        unknown = owner.get(f"{base}/0x{'ab' * 32}")
        malformed = owner.get(f"{base}/0x1234")
    receipt = rpc(segell_server, owner_key, sandbox_id, "eth_getTransactionReceipt", sent["transaction_hash"])
    assert detail["decoded_input"] == {
        "function": "register(uint256,string)",
        "arguments": [
            {"name": "id", "type": "uint256", "value": "7"},
            {"name": "what", "type": "string", "value": "<b>terrassa</b>"},
        ],
    }
    assert (detail["to"], detail["contract"], detail["status"]) == (
        activity["deployed"]["address"],
        "Register",
        "success",
    )
    assert detail["gas_used"] == int(receipt["gasUsed"], 16) == sent["gas_used"]
    assert int(detail["fee"]) == detail["gas_used"] * int(receipt["effectiveGasPrice"], 16)
    assert [(log["contract"], log["event"], log["args"]["id"]) for log in detail["logs"]] == [
        ("Register", "Registered", "7")
    ]
    assert detail["input"].startswith("0x") and len(detail["input"]) > 10
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "transaction_not_found"
    assert malformed.status_code == 422


def test_address_view_of_a_contract_and_of_the_owner_account(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any]
) -> None:
    sandbox = activity["sandbox"]
    base = f"/v1/sandboxes/{sandbox['id']}/explorer/addresses"
    with segell_server.client(owner_key) as owner:
        contract = owner.get(f"{base}/{activity['deployed']['address']}").json()
        account = owner.get(f"{base}/{sandbox['accounts'][0].lower()}").json()
    assert (contract["kind"], contract["label"], contract["contract"]["origin"]) == ("contract", "Register", "deployed")
    assert contract["code_size"] > 0
    assert {t["hash"] for t in contract["transactions"]} == {
        activity["sent"]["transaction_hash"],
        activity["deployed"]["deployment"]["transaction_hash"],
    }
    assert [e["event"] for e in contract["events"]] == ["Registered"]
    assert (account["address"], account["kind"], account["label"]) == (
        sandbox["accounts"][0],
        "account",
        "member account",
    )
    owner_address = sandbox["accounts"][0]
    assert account["nonce"] == int(
        rpc(segell_server, owner_key, sandbox["id"], "eth_getTransactionCount", owner_address, "latest"), 16
    )
    assert int(account["balance"]) == int(
        rpc(segell_server, owner_key, sandbox["id"], "eth_getBalance", owner_address, "latest"), 16
    )
    assert activity["anchored"]["transaction_hash"] in {t["hash"] for t in account["transactions"]}
    assert all(owner_address in (t["from"], t["to"]) for t in account["transactions"])


def test_every_explorer_view_is_404_for_another_administration_and_401_without_a_key(
    segell_server: RunningServer, activity: dict[str, Any]
) -> None:
    base = f"/v1/sandboxes/{activity['sandbox']['id']}/explorer"
    paths = [
        base,
        f"{base}/activity",
        f"{base}/blocks/1",
        f"{base}/transactions/{activity['sent']['transaction_hash']}",
        f"{base}/addresses/{activity['deployed']['address']}",
    ]
    with segell_server.client(segell_server.admit()) as stranger:
        answers = [stranger.get(path) for path in paths]
    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [(404, "not_found")] * len(paths)
    assert [httpx.get(segell_server.url + path).status_code for path in paths] == [401] * len(paths)


HEX = "0123456789abcdefABCDEF"
VIEW_PATHS = st.one_of(
    st.integers(min_value=0, max_value=2**63 - 1).map(lambda n: f"/blocks/{n}"),
    st.text(HEX, min_size=64, max_size=64).map(lambda h: f"/transactions/0x{h}"),
    st.text(HEX, min_size=40, max_size=40).map(lambda a: f"/addresses/0x{a}"),
    st.integers(min_value=-5, max_value=600).map(lambda n: f"/activity?blocks={n}"),
    st.integers(min_value=-5, max_value=60).map(lambda n: f"?blocks={n}"),
    st.text(min_size=1, max_size=70).map(lambda t: f"/blocks/{quote(t, safe='')}"),
    st.text(min_size=1, max_size=70).map(lambda t: f"/addresses/{quote(t, safe='')}"),
)


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(path=VIEW_PATHS)
def test_explorer_views_of_a_real_sandbox_answer_200_404_or_422_in_the_error_format(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any], path: str
) -> None:
    with segell_server.client(owner_key) as owner:
        answer = owner.get(f"/v1/sandboxes/{activity['sandbox']['id']}/explorer{path}")
    assert answer.status_code in (200, 404, 422), answer.text
    if answer.status_code != 200:
        assert set(answer.json()["error"]) == {"code", "message", "details"}
    elif path.startswith("/addresses/"):
        assert answer.json()["address"].lower() == path.removeprefix("/addresses/").lower()


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    address=st.one_of(st.text(HEX, min_size=40, max_size=40).map(lambda a: f"0x{a}"), st.sampled_from(["permits"])),
    transaction_hash=st.one_of(st.none(), st.text(HEX, min_size=64, max_size=64).map(lambda h: f"0x{h}")),
    contract=st.one_of(st.none(), st.sampled_from(["Permits", "Permits.sol:Permits", "Nope", "Other.sol:Permits"])),
)
def test_registering_a_real_sandbox_contract_answers_as_documented(
    segell_server: RunningServer,
    owner_key: str,
    activity: dict[str, Any],
    address: str,
    transaction_hash: str | None,
    contract: str | None,
) -> None:
    target = activity["permits"] if address == "permits" else address
    body: dict[str, Any] = {"sources": {"Permits.sol": PERMITS}, "compiler": {"optimizer": False}}
    if transaction_hash is not None:
        body["transaction_hash"] = transaction_hash
    if contract is not None:
        body["contract"] = contract
    with segell_server.client(owner_key) as owner:
        answer = owner.post(f"/v1/sandboxes/{activity['sandbox']['id']}/contracts/{target}/register", json=body)
    assert answer.status_code in (201, 409, 422), answer.text
    if answer.status_code == 201:
        assert (answer.json()["address"].lower(), answer.json()["verification"]) == (target.lower(), "exact")
        assert (
            target == activity["permits"]
            and transaction_hash is None
            and contract in (None, "Permits", "Permits.sol:Permits")
        )
    else:
        assert set(answer.json()["error"]) == {"code", "message", "details"}


# -- contracts deployed outside the API ----------------------------------------------------------------------------


def test_outside_contract_is_unknown_until_registered_with_sources_that_make_its_code(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any], permits_creation_code: str
) -> None:
    sandbox = activity["sandbox"]
    address, _ = deploy_outside(segell_server, owner_key, sandbox, permits_creation_code, sandbox["accounts"][0])
    base = f"/v1/sandboxes/{sandbox['id']}/contracts"
    register = f"{base}/{address}/register"
    no_optimizer = {"optimizer": False}
    with segell_server.client(owner_key) as owner:
        unknown = owner.post(f"{base}/{address}/call", json={"function": "issuer"})
        other_contract = owner.post(register, json={"sources": {"Register.sol": REGISTER}})
        no_code = owner.post(
            f"{base}/{sandbox['accounts'][2]}/register",
            json={"sources": {"Permits.sol": PERMITS}, "compiler": no_optimizer},
        )
        segell_contract = owner.post(
            f"{base}/{sandbox['contracts']['notary']}/register", json={"sources": {"Permits.sol": PERMITS}}
        )
        not_its_creation = owner.post(
            register,
            json={
                "sources": {"Permits.sol": PERMITS},
                "compiler": no_optimizer,
                "transaction_hash": activity["sent"]["transaction_hash"],
            },
        )
        commented = owner.post(register, json={"sources": {"Permits.sol": PERMITS_COMMENTED}, "compiler": no_optimizer})
        called = owner.post(f"{base}/{address}/call", json={"function": "issuer"})
        listed = owner.get(base).json()["items"]
    with segell_server.client(segell_server.admit()) as stranger:
        strangers = stranger.post(register, json={"sources": {"Permits.sol": PERMITS}, "compiler": no_optimizer})

    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "contract_not_found"
    assert "/register" in unknown.json()["error"]["message"]
    assert other_contract.status_code == 422, other_contract.text
    mismatch = other_contract.json()["error"]
    assert mismatch["code"] == "bytecode_mismatch"
    # It names what was compiled and how, and what to send: the sources and settings the contract was compiled with.
    assert (
        "is not what Register.sol:Register compiles to with solc 0.8.37 (optimizer on, 200 runs, EVM cancun)"
        in (mismatch["message"])
    )
    assert "Foundry leaves the optimizer off" in mismatch["message"]
    assert mismatch["details"]["on_chain_compiler"] == "0.8.37"
    assert (no_code.status_code, no_code.json()["error"]["code"]) == (422, "no_contract_code")
    assert (segell_contract.status_code, segell_contract.json()["error"]["code"]) == (409, "segell_contract")
    assert (not_its_creation.status_code, not_its_creation.json()["error"]["code"]) == (
        422,
        "not_the_creation_transaction",
    )
    # A comment changes the metadata hash only: the same code, a partial match, and the contract is known from now.
    assert commented.status_code == 201, commented.text
    partial = commented.json()
    assert (partial["origin"], partial["verification"], partial["immutables"]) == ("registered", "partial", 2)
    assert partial["compiler_settings"] == {
        "optimizer": False,
        "optimizer_runs": 200,
        "evm_version": "cancun",
        "via_ir": False,
    }
    assert (partial["transaction_hash"], partial["constructor_args"]) == (None, None)
    assert called.json()["result"] == sandbox["accounts"][0]
    assert ("Permits", "registered", "partial") in [(c["name"], c["origin"], c["verification"]) for c in listed]
    assert strangers.status_code == 404 and strangers.json()["error"]["code"] == "not_found"


def test_registered_contract_is_called_sent_and_decoded_like_a_deployed_one(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any], registered: dict[str, Any]
) -> None:
    sandbox_id, address = activity["sandbox"]["id"], activity["permits"]
    contract, issued = registered["contract"], registered["issued"]
    assert (contract.origin, contract.verification, contract.immutables, contract.on_chain_compiler) == (
        "registered",
        "exact",
        2,
        "0.8.37",
    )
    assert contract.constructor_args == [activity["sandbox"]["accounts"][0]]
    assert contract.transaction_hash == activity["permits_deployment"]
    assert issued.status == "success"
    assert [(e.event, e.args) for e in issued.events] == [("PermitIssued", {"id": "12", "holder": "Marta Vila"})]
    with Client(segell_server.url, owner_key, timeout=60) as segell:
        assert segell.contracts.call(sandbox_id, address, "holderOf", [12]).result == "Marta Vila"
        events = segell.contracts.events(sandbox_id, address, "PermitIssued")
    assert [e.args["holder"] for e in events] == ["Marta Vila"]
    with segell_server.client(owner_key) as owner:
        detail = owner.get(f"/v1/sandboxes/{sandbox_id}/explorer/transactions/{issued.transaction_hash}").json()
        deployment = owner.get(f"/v1/sandboxes/{sandbox_id}/explorer/transactions/{activity['permits_deployment']}")
        overview = owner.get(f"/v1/sandboxes/{sandbox_id}/explorer").json()
    assert detail["decoded_input"]["function"] == "issue(uint256,string)"
    assert [a["value"] for a in detail["decoded_input"]["arguments"]] == ["12", "Marta Vila"]
    assert (deployment.json()["created"], deployment.json()["contract"]) == (address, "Permits")
    assert ("Permits", "PermitIssued") in [(e["contract"], e["event"]) for e in overview["events"]]


def test_cli_registers_a_contract_and_the_sandbox_commands_print_the_explorer(
    segell_server: RunningServer, owner_key: str, activity: dict[str, Any], registered: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "Permits.sol"
    source.write_text(PERMITS)
    sandbox = activity["sandbox"]
    env = {
        "SEGELL_URL": segell_server.url,
        "SEGELL_API_KEY": owner_key,
        "SEGELL_SANDBOX": sandbox["id"],
        "COLUMNS": "200",
    }
    runner = CliRunner()
    result = runner.invoke(app, ["contract", "register", activity["permits"], str(source), "--no-optimizer"], env=env)
    assert result.exit_code == 0, result.output
    assert re.search(r"match\s+exact", result.stdout) and "holderOf(uint256)" in result.stdout
    other = tmp_path / "Register.sol"
    other.write_text(REGISTER)
    wrong = runner.invoke(app, ["contract", "register", activity["permits"], str(other)], env=env)
    assert wrong.exit_code == 1 and "bytecode_mismatch" in wrong.stderr
    shown = runner.invoke(app, ["sandbox", "show", sandbox["id"]], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"{segell_server.url}/sandboxes/{sandbox['id']}/explorer" in shown.stdout
    assert sandbox["explorer_url"] == f"{segell_server.url}/sandboxes/{sandbox['id']}/explorer"
    with Client(segell_server.url, owner_key) as segell:
        assert segell.sandboxes.get(sandbox["id"]).explorer_url == sandbox["explorer_url"]


# -- the page in Chromium ------------------------------------------------------------------------------------------


def open_with_key(browser: Browser, path: str, key: str) -> Page:
    page = browser.open(path)
    page.fill("#api-key", key)
    page.click("#key-form button")
    expect(page.locator("#explorer")).to_be_visible()
    return page


def watch_page_errors(page: Page) -> list[str]:
    """The errors of the page's console (Content-Security-Policy violations among them) and its uncaught exceptions;
    an answer of the API that is not 200, which Chromium logs too, is none of them."""
    seen: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            seen.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


ACCESSIBILITY_AUDIT = """() => {
    const visible = (node) => node.getClientRects().length > 0;
    const name = (node) => (node.getAttribute("aria-label") || node.textContent || "").trim();
    return {
        lang: document.documentElement.lang,
        h1: [...document.querySelectorAll("h1")].filter(visible).length,
        unlabelled: [...document.querySelectorAll("input")].filter((n) => visible(n) && n.labels.length === 0)
            .map((n) => n.id),
        unnamed: [...document.querySelectorAll("button, a[href]")].filter((n) => visible(n) && !name(n))
            .map((n) => n.outerHTML),
        headerless: [...document.querySelectorAll("th")].filter((n) => n.getAttribute("scope") !== "col").length,
        canvases: [...document.querySelectorAll("canvas")].filter((n) => n.getAttribute("role") !== "img"
            || !document.getElementById(n.getAttribute("aria-labelledby"))).length,
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    };
}"""


def assert_accessible(page: Page) -> None:
    audit = page.evaluate(ACCESSIBILITY_AUDIT)
    assert audit == {
        "lang": "en",
        "h1": 1,
        "unlabelled": [],
        "unnamed": [],
        "headerless": 0,
        "canvases": 0,
        "overflow": 0,
    }


@pytest.fixture(scope="module")
def chromium(
    headless_chromium: Chromium,  # noqa: F811
    segell_server: RunningServer,
) -> Iterator[Browser]:
    """One Chromium for the module's page tests, each in a tab of its own; no request of any may leave 127.0.0.1."""
    browser = launch(headless_chromium, segell_server.url)
    try:
        yield browser
    finally:
        browser.close()
    assert browser.requests and browser.requests_elsewhere() == []


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Browser]:
    """A new tab of the module's Chromium, with a session storage of its own, closed after the test."""
    page = chromium.context.new_page()
    try:
        yield Browser(chromium.context, page, chromium.base_url, chromium.proxy, chromium.requests)
    finally:
        page.close()


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 780}


def test_explorer_page_asks_for_the_key_keeps_it_in_the_tab_and_shows_the_sandbox(
    tab: Browser, segell_server: RunningServer, owner_key: str, activity: dict[str, Any]
) -> None:
    sandbox = activity["sandbox"]
    page = tab.open(f"/sandboxes/{sandbox['id']}/explorer")
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
    expect(page.locator("#events tbody")).to_contain_text("Registered")
    expect(page.locator("#transactions tbody")).to_contain_text("register(uint256,string)")
    # Text from the chain is shown as text: the <b> the transaction carried is no element of the page.
    assert page.locator("#explorer b").count() == 0
    assert page.evaluate("sessionStorage.getItem('segell.explorer.apiKey')") == owner_key
    assert tab.context.cookies() == []

    page.reload()  # the same tab keeps the key
    expect(page.locator("#contracts tbody")).to_contain_text("Register")
    page.click("#forget")
    expect(page.locator("#key-form")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('segell.explorer.apiKey')") is None
    # Everything the page loaded or fetched came from the Segell server: no CDN, no third party.
    assert [url for url in tab.requests if not url.startswith(segell_server.url)] == []


def test_explorer_charts_and_links_from_blocks_to_transactions_to_addresses_on_a_desktop(
    tab: Browser, segell_server: RunningServer, owner_key: str, activity: dict[str, Any], registered: dict[str, Any]
) -> None:
    sandbox, issued = activity["sandbox"], registered["issued"]
    page = tab.page
    page.set_viewport_size(DESKTOP)
    errors = watch_page_errors(page)
    open_with_key(tab, f"/sandboxes/{sandbox['id']}/explorer", owner_key)
    expect(page.locator("#tx-chart-summary")).to_contain_text("transactions in")
    with segell_server.client(owner_key) as owner:
        chart = owner.get(f"/v1/sandboxes/{sandbox['id']}/explorer/activity").json()
    # Chart.js, served by Segell, drew one bar a block with the API's numbers.
    drawn = page.evaluate("Chart.getChart(document.getElementById('tx-chart')).data.datasets[0].data")
    assert drawn == [point["transaction_count"] for point in chart["blocks"]]
    gas = page.evaluate("Chart.getChart(document.getElementById('gas-chart')).data.datasets[0].data")
    assert gas == [point["gas_used"] for point in chart["blocks"]]
    expect(page.locator("#contracts tbody")).to_contain_text("registered (exact match)")
    assert_accessible(page)
    screenshot(page, "desktop-overview")

    # From the overview to the block of the registered contract's transaction, then to the transaction.
    row = page.locator("#transactions tbody tr", has_text=issued.transaction_hash[:10])
    row.get_by_role("link", name=str(issued.block_number), exact=True).click()
    expect(page.locator("#title")).to_have_text(f"Block {issued.block_number}")
    assert page.url.endswith(f"/explorer/blocks/{issued.block_number}")
    screenshot(page, "desktop-block")
    page.locator("#block-transactions tbody a").first.click()
    expect(page.locator("#input-function")).to_have_text("issue(uint256,string)")
    expect(page.locator("#input-arguments tbody")).to_contain_text("Marta Vila")
    expect(page.locator("#logs tbody")).to_contain_text("PermitIssued")
    expect(page.locator("#transaction-fields")).to_contain_text(str(issued.gas_used))
    assert_accessible(page)
    screenshot(page, "desktop-transaction")

    # From the transaction to the contract it called, which lists the transaction back.
    page.locator("#transaction-fields a", has_text="Permits").click()
    expect(page.locator("#title")).to_contain_text("Contract")
    expect(page.locator("#address-fields")).to_contain_text("registered (exact match)")
    expect(page.locator("#address-transactions tbody")).to_contain_text(issued.transaction_hash[:10])
    expect(page.locator("#address-events tbody")).to_contain_text("PermitIssued")
    screenshot(page, "desktop-address")

    # The search box takes a block number, a transaction hash or an address.
    page.fill("#search-input", sandbox["accounts"][0])
    page.click("#search button")
    expect(page.locator("#address-fields")).to_contain_text("member account")
    page.fill("#search-input", "0xnope")
    page.click("#search button")
    expect(page.locator("#status")).to_contain_text("Type a block number")
    page.goto(f"{segell_server.url}/sandboxes/{sandbox['id']}/explorer/blocks/999999")
    expect(page.locator("#status")).to_contain_text("has no block 999999 yet")
    assert page.evaluate("sessionStorage.getItem('segell.explorer.apiKey')") == owner_key
    assert errors == []


def test_explorer_fits_a_phone_screen(
    tab: Browser, segell_server: RunningServer, owner_key: str, activity: dict[str, Any], registered: dict[str, Any]
) -> None:
    sandbox, issued = activity["sandbox"], registered["issued"]
    page = tab.page
    page.set_viewport_size(PHONE)
    errors = watch_page_errors(page)
    base = f"/sandboxes/{sandbox['id']}/explorer"
    open_with_key(tab, base, owner_key)
    expect(page.locator("#tx-chart-summary")).to_contain_text("transactions in")
    assert_accessible(page)
    screenshot(page, "phone-overview")
    views = {
        "phone-transaction": f"{base}/transactions/{issued.transaction_hash}",
        "phone-address": f"{base}/addresses/{activity['permits']}",
        "phone-block": f"{base}/blocks/{issued.block_number}",
    }
    for name, path in views.items():
        page.goto(segell_server.url + path)
        expect(page.locator("#explorer")).to_be_visible()
        expect(page.locator("#status")).to_contain_text("Updated")
        assert_accessible(page)
        screenshot(page, name)
    assert errors == []


def test_explorer_pages_send_a_strict_content_security_policy_and_serve_chart_js_themselves(
    segell_server: RunningServer, activity: dict[str, Any]
) -> None:
    base = f"{segell_server.url}/sandboxes/{activity['sandbox']['id']}/explorer"
    pages = [
        httpx.get(base),
        httpx.get(f"{base}/blocks/3"),
        httpx.get(f"{base}/transactions/{activity['sent']['transaction_hash']}"),
        httpx.get(f"{base}/addresses/{activity['permits']}"),
    ]
    for page in pages:
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self';" in policy and "unsafe" not in policy
        assert activity["permits"] not in page.text  # the page holds no data
    scripts = re.findall(r'<script src="([^"]+)"', pages[0].text)
    assert [script.split("?")[0] for script in scripts] == [
        "/static/sandboxes/chart.umd.min.js",
        "/static/sandboxes/explorer.js",
    ]
    chart_js = httpx.get(segell_server.url + scripts[0])
    assert chart_js.status_code == 200 and chart_js.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{base}/blocks/not-a-number").status_code == 422


def test_vendored_chart_js_is_the_version_package_json_pins() -> None:
    root = Path(__file__).resolve().parents[2]
    pinned = json.loads((root / "package.json").read_text())["devDependencies"]["chart.js"]
    vendored = root / "services" / "sandboxes" / "explorer_static" / "chart.umd.min.js"
    assert vendored.read_text().splitlines()[1] == f" * Chart.js v{pinned}"
    installed = root / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
    if installed.exists():  # `make vendor` copies it from there
        assert installed.read_bytes() == vendored.read_bytes()
