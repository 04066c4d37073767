"""The database is the system of record: a node that comes back without its last blocks is brought in line."""

import pytest

from segell.services.administrations.service import reconcile_with_chain
from segell.services.runtime import Runtime
from tests.helpers import RunningServer


@pytest.mark.anvil
def test_reconcile_replays_admissions_and_suspensions_the_node_lost(anvil_server: RunningServer) -> None:
    runtime: Runtime = anvil_server.app.state.runtime  # type: ignore[attr-defined]
    provider = runtime.node.w3.provider
    snapshot = provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    with anvil_server.client(anvil_server.governance_key) as governance:
        lost = governance.post("/v1/administrations", json={"code": "L08019001", "name": "Lost"}).json()
        governance.post("/v1/administrations", json={"code": "L08019002", "name": "Suspended"})
        assert governance.post("/v1/administrations/L08019002/suspend").status_code == 200
    # The node forgets every block since the snapshot, as anvil killed between two state saves would.
    assert provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    account = lost["administration"]["accounts"][0]
    assert not runtime.registry.is_active_member(account)

    repaired = reconcile_with_chain(runtime)

    assert "L08019001: admitted again" in repaired
    assert f"L08019001: account {account} added again" in repaired
    assert "L08019002: suspended again" in repaired
    assert runtime.registry.is_active_member(account)
    assert runtime.registry.get_administration(b"L08019002".ljust(32, b"\0")).suspended
    assert reconcile_with_chain(runtime) == []
