"""What `Runtime.start` decides on its own: which chain `auto` means for an existing SEGELL_HOME."""

import secrets
import stat
from pathlib import Path

import pytest
from eth_account import Account

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound, start_node
from segell.sdk import Client
from segell.services.runtime import GovernanceUnfunded, Runtime, _require_funds
from segell.services.settings import Settings
from tests.helpers import SegellProcess


def _start(home: Path, chain: str, master_key: str) -> str:
    runtime = Runtime.start(Settings(home=home, chain=chain, master_key=master_key))
    try:
        return runtime.node.backend
    finally:
        runtime.stop()


@pytest.mark.anvil
def test_auto_keeps_a_home_on_the_chain_it_already_holds(tmp_path: Path) -> None:
    try:
        find_anvil(None)
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm): auto would choose embedded anyway")
    master_key = secrets.token_hex(32)
    assert _start(tmp_path / "new", "auto", master_key) == "anvil"
    assert _start(tmp_path / "held", "embedded", master_key) == "embedded"
    assert _start(tmp_path / "held", "auto", master_key) == "embedded"


def test_unfunded_governance_account_is_refused_with_what_to_fund(tmp_path: Path) -> None:
    # Managed chains always fund it; on a network nobody does, and the start must say what to fund.
    with start_node("embedded", state_dir=tmp_path) as node:
        unfunded = Account.create().address
        with pytest.raises(GovernanceUnfunded, match=f"{unfunded} has no funds on chain {node.chain_id}"):
            _require_funds(node, unfunded)


def _readable_by_others(home: Path) -> list[str]:
    """Every path under `home` (itself included) that is not private to its owner: files 0600, folders 0700."""
    found = []
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        expected = 0o700 if path.is_dir() else 0o600
        if mode != expected:
            found.append(f"{path.relative_to(home)} {mode:o}")
    return found


@pytest.mark.slow
def test_home_is_private_to_its_owner_after_start_and_activity(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    segell = SegellProcess(home, "embedded", secrets.token_hex(32))
    segell.start()
    segell.terminate()
    # As a Segell that did not see to it left them.
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        segell.start()
        with segell.governance() as governance:
            admitted = governance.post("/v1/administrations", json={"code": "L01080193", "name": "Barcelona"})
        with Client(segell.url, admitted.json()["api_key"]["key"], timeout=60) as client:
            receipt = client.documents.notarise(b"acta del ple", kind="minutes", salted=True)
            client.documents.wait_until_anchored(receipt.id)
            sandbox = client.sandboxes.create("permits-poc", backend="embedded")
            client.sandboxes.snapshot(sandbox.id, "before")

        files = {path.name for path in home.rglob("*")}
        assert {"segell.db", "segell.db-wal", "segell.db-shm", "governance.key"} <= files
        assert (home / "sandboxes" / sandbox.id).is_dir()
        assert _readable_by_others(home) == []
    finally:
        segell.terminate()
