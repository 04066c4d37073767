"""Idempotent deployment: deploy once, reuse after, and explain a changed artifact or a chain that lost its state."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from segell.chain.deploy import ensure_deployed, load_record, write_record
from segell.chain.errors import ChainStateLost, DeploymentOutdated
from segell.chain.nodes import start_node
from segell.chain.registry import RegistryClient


@pytest.fixture
def governance() -> LocalAccount:
    return Account.create()


def test_ensure_deployed_twice_deploys_once(tmp_path: Path, governance: LocalAccount) -> None:
    record = tmp_path / "deployment.json"
    with start_node("embedded", state_dir=tmp_path / "chain", genesis_accounts={governance.address: 10**24}) as node:
        first = ensure_deployed(node.w3, governance, record)
        head = node.w3.eth.block_number
        second = ensure_deployed(node.w3, governance, record)
        assert second == first
        assert node.w3.eth.block_number == head
        assert RegistryClient(node.w3, first.registry).has_governance_role(governance.address)
    assert json.loads(record.read_text())["registry"] == first.registry


def test_ensure_deployed_explains_a_chain_that_lost_its_state(tmp_path: Path, governance: LocalAccount) -> None:
    record = tmp_path / "deployment.json"
    funds = {governance.address: 10**24}
    with start_node("embedded", state_dir=tmp_path / "chain-a", genesis_accounts=funds) as node:
        ensure_deployed(node.w3, governance, record)
    with start_node("embedded", state_dir=tmp_path / "chain-b", genesis_accounts=funds) as fresh:
        with pytest.raises(ChainStateLost, match="lost its state") as raised:
            ensure_deployed(fresh.w3, governance, record)
        assert str(record) in str(raised.value)
        assert fresh.w3.eth.block_number == 0  # nothing was deployed behind the operator's back


def test_ensure_deployed_explains_a_changed_artifact(tmp_path: Path, governance: LocalAccount) -> None:
    record = tmp_path / "deployment.json"
    with start_node("embedded", state_dir=tmp_path / "chain", genesis_accounts={governance.address: 10**24}) as node:
        deployment = ensure_deployed(node.w3, governance, record)
        stale = replace(deployment, artifact_hashes={**deployment.artifact_hashes, "Notary": "0x" + "00" * 32})
        write_record(record, stale)
        with pytest.raises(DeploymentOutdated, match="Notary"):
            ensure_deployed(node.w3, governance, record)
    assert load_record(record) == stale
