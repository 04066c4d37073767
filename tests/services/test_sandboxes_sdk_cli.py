"""The SDK's sandbox methods and `segell sandbox ...` against a real server, end to end."""

import json
import re
from collections.abc import Iterator

import pytest
from eth_account import Account
from typer.testing import CliRunner

from segell.chain.registry import RegistryClient
from segell.chain.transactions import send_transaction
from segell.sdk import Client, ConflictError, NotFoundError, RPCError, Sandbox
from segell.services.cli import app
from tests.helpers import RunningServer


@pytest.fixture
def segell(segell_server: RunningServer) -> Iterator[Client]:
    with Client(segell_server.url, api_key=segell_server.admit(), timeout=60) as client:
        yield client
        for sandbox in client.sandboxes.list():
            client.sandboxes.delete(sandbox.id)


def test_sdk_covers_a_sandbox_life_cycle(segell: Client) -> None:
    sandbox = segell.sandboxes.create("sdk-poc", ttl_seconds=600, backend="embedded")
    assert isinstance(sandbox, Sandbox) and sandbox.status == "running" and len(sandbox.accounts) == 3
    assert sandbox.explorer_url == f"{segell.base_url}/sandboxes/{sandbox.id}/explorer"
    assert [listed.id for listed in segell.sandboxes.list()] == [sandbox.id]

    w3 = segell.sandboxes.web3(sandbox.id)
    assert w3.eth.chain_id == sandbox.chain_id
    assert RegistryClient(w3, sandbox.contracts.registry).is_active_member(sandbox.accounts[0])
    accounts = segell.sandboxes.export_accounts(sandbox.id)
    assert [account.address for account in accounts] == list(sandbox.accounts)
    assert "0x…" in repr(accounts[0]) and accounts[0].private_key not in repr(accounts[0])

    snapshot = segell.sandboxes.snapshot(sandbox.id, "clean")
    sender = Account.from_key(accounts[1].private_key)
    send_transaction(w3, sender, {"to": sandbox.accounts[0], "value": 1})
    assert segell.sandboxes.get(sandbox.id).head_block == snapshot.head_block + 1
    assert [item.name for item in segell.sandboxes.list_snapshots(sandbox.id)] == ["clean"]
    assert segell.sandboxes.revert(sandbox.id, snapshot.id).head_block == snapshot.head_block
    assert segell.sandboxes.reset(sandbox.id).transaction_count == 4
    extended = segell.sandboxes.extend(sandbox.id, 60)
    assert (extended.expires_at - sandbox.expires_at).total_seconds() == 60

    assert segell.sandboxes.rpc(sandbox.id, "eth_chainId") == hex(sandbox.chain_id)
    with pytest.raises(RPCError) as refused:
        segell.sandboxes.rpc(sandbox.id, "anvil_setBalance", [sandbox.accounts[0], "0x1"])
    assert refused.value.code == -32601

    assert segell.sandboxes.delete(sandbox.id).status == "deleted"
    with pytest.raises(ConflictError) as deleted:
        segell.sandboxes.reset(sandbox.id)
    assert deleted.value.code == "sandbox_deleted"
    with pytest.raises(NotFoundError):
        segell.sandboxes.get("sbx_0000000000000000")
    assert [s.status for s in segell.sandboxes.list(include_ended=True)] == ["deleted"]


def test_cli_creates_shows_snapshots_reverts_resets_and_deletes(segell_server: RunningServer) -> None:
    runner = CliRunner()
    env = {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": segell_server.admit(), "COLUMNS": "200"}

    def segell(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    created = json.loads(segell("sandbox", "create", "cli-poc", "--backend", "embedded", "--ttl", "600", "--json"))
    sandbox_id = created["id"]
    assert created["explorer_url"] == f"{segell_server.url}/sandboxes/{sandbox_id}/explorer"
    assert created["backend"] == "embedded"
    assert sandbox_id in segell("sandbox", "list")
    shown = segell("sandbox", "show", sandbox_id)
    assert re.search(r"head block\s+4\n", shown) and created["contracts"]["notary"] in shown
    snapshot_line = segell("sandbox", "snapshot", sandbox_id, "--name", "clean")
    snapshot_id = re.search(r"snap_\w+", snapshot_line).group(0)  # type: ignore[union-attr]
    assert "head block 4" in segell("sandbox", "revert", sandbox_id, snapshot_id)
    assert "head block 4" in segell("sandbox", "reset", sandbox_id)
    keys = segell("sandbox", "accounts", sandbox_id)
    assert created["accounts"][0] in keys and "member" in keys
    assert f"Deleted {sandbox_id}" in segell("sandbox", "delete", sandbox_id)

    again = runner.invoke(app, ["sandbox", "delete", sandbox_id], env=env)
    assert again.exit_code == 1
    assert "was deleted" in again.stderr and "sandbox_deleted" in again.stderr


def test_cli_sandbox_needs_an_administration_key(segell_server: RunningServer) -> None:
    result = CliRunner().invoke(app, ["sandbox", "list"], env={"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": None})
    assert result.exit_code == 1
    assert "SEGELL_API_KEY" in result.stderr
