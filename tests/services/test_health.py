"""/health says what Segell runs on, and the errors of every route share one JSON shape."""

import re
from pathlib import Path

import httpx

from segell.services import db
from tests.helpers import RunningServer, make_settings, serve


def test_health_reports_backend_contracts_and_database(segell_server: RunningServer) -> None:
    health = httpx.get(f"{segell_server.url}/health").json()
    runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    assert health["status"] == "ok"
    assert health["chain"] == {
        "backend": "embedded",
        "chain_id": runtime.node.chain_id,
        "head_block": runtime.node.w3.eth.block_number,
        "local_dev": True,
        "reachable": True,
    }
    assert health["contracts"]["registry"] == runtime.deployment.registry
    assert health["contracts"]["deployed"] is True
    assert health["database"] == {"dialect": "sqlite", "revision": db.head_revision(), "ok": True}
    assert health["urls"]["rpc"] == f"{segell_server.url}/rpc"


def test_health_is_degraded_when_the_node_is_gone(tmp_path: Path) -> None:
    server = serve(make_settings(tmp_path))
    running = next(server)
    try:
        running.app.state.runtime.node.stop()  # type: ignore[attr-defined]
        answer = httpx.get(f"{running.url}/health")
        assert answer.status_code == 503
        assert answer.json()["status"] == "degraded"
        assert answer.json()["chain"]["reachable"] is False
        assert answer.json()["database"]["ok"] is True
        rpc = httpx.post(f"{running.url}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
        assert rpc.status_code == 200
        assert rpc.json()["error"]["code"] == -32603
    finally:
        server.close()


def test_unknown_route_answers_the_error_format(segell_server: RunningServer) -> None:
    answer = httpx.get(f"{segell_server.url}/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_wrong_method_answers_the_error_format(segell_server: RunningServer) -> None:
    answer = httpx.delete(f"{segell_server.url}/health")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_malformed_json_is_a_validation_error(segell_server: RunningServer) -> None:
    answer = httpx.post(
        f"{segell_server.url}/v1/administrations",
        content=b"{oops",
        headers={"Authorization": f"Bearer {segell_server.governance_key}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "validation_error"


def test_api_docs_load_everything_from_the_server_itself(segell_server: RunningServer) -> None:
    page = httpx.get(f"{segell_server.url}/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    # Swagger UI starts from a script file (the page's policy forbids inline scripts) that names the schema.
    assert "/openapi.json" in httpx.get(f"{segell_server.url}/docs/swagger-init.js").text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert len(assets) >= 3  # the script, its style and the icon
    for asset in assets:
        assert asset.startswith("/"), f"/docs loads {asset} from elsewhere"
        assert httpx.get(f"{segell_server.url}{asset}").status_code == 200, asset
