"""What `Runtime.start` decides on its own: which chain `auto` means for an existing SEGELL_HOME."""

import secrets
from pathlib import Path

import pytest
from eth_account import Account

from chain.anvil import find_anvil
from chain.nodes import AnvilNotFound, start_node
from services.runtime import GovernanceUnfunded, Runtime, _require_funds
from services.settings import Settings


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
