"""The SDK against a real Segell server (uvicorn on 127.0.0.1, embedded chain): see tests/conftest.py."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from segell.sdk import (
    APIError,
    AuthenticationError,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    SegellError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)
from tests.helpers import RunningServer, closed_port, make_settings, serve


@pytest.fixture
def governance_client(segell_server) -> Iterator[Client]:
    with Client(segell_server.url, segell_server.governance_key) as client:
        yield client


class CannedResponseServer:
    """A real HTTP server that is not Segell: answers every request with one fixed response."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "CannedResponseServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_health_reports_embedded_chain_and_contracts(segell_server) -> None:
    with Client(segell_server.url) as client:  # no API key: /health is public
        health = client.health()

    assert health.status == "ok"
    assert health.is_ok
    assert health.chain.backend == "embedded"
    assert health.chain.rpc_url is None
    assert health.chain.local_dev is True
    assert health.chain.head_block is not None
    assert health.chain.head_block >= health.contracts.deployed_at_block
    assert health.contracts.registry.startswith("0x") and len(health.contracts.registry) == 42
    assert health.contracts.notary.startswith("0x") and health.contracts.notary != health.contracts.registry
    assert health.database == type(health.database)(dialect="sqlite", ok=True)
    assert health.urls.api == segell_server.url
    assert health.urls.docs.startswith(segell_server.url)


def test_me_reports_governance_role(segell_server, governance_client: Client) -> None:
    identity = governance_client.me()

    assert identity.role == "governance"
    assert identity.administration is None
    assert segell_server.governance_key.startswith(f"sgl_{identity.key_id}_")


def test_administration_lifecycle_admit_list_get_suspend_reinstate(governance_client: Client) -> None:
    admitted = governance_client.administrations.admit("L01080193", "Ajuntament de Barcelona")
    administration = admitted.administration

    assert administration.code == "L01080193"
    assert administration.name == "Ajuntament de Barcelona"
    assert administration.status == "active" and administration.is_active
    assert administration.registry_id.startswith("0x") and len(administration.registry_id) == 66
    assert len(administration.accounts) == 1 and administration.accounts[0].startswith("0x")
    assert administration.admitted_at.tzinfo is not None
    assert abs(datetime.now(UTC) - administration.admitted_at) < timedelta(minutes=5)
    assert administration.admission_tx is not None and administration.admission_tx.startswith("0x")
    assert admitted.api_key.key.startswith(f"sgl_{admitted.api_key.id}_")
    assert admitted.api_key.key not in repr(admitted.api_key)

    assert administration in governance_client.administrations.list()
    assert governance_client.administrations.get("L01080193") == administration

    suspended = governance_client.administrations.suspend("L01080193")
    assert suspended.status == "suspended" and not suspended.is_active
    assert governance_client.administrations.get("L01080193").status == "suspended"

    reinstated = governance_client.administrations.reinstate("L01080193")
    assert reinstated.status == "active"
    assert reinstated.registry_id == administration.registry_id


def test_api_key_lifecycle_issue_list_revoke(segell_server, governance_client: Client) -> None:
    admitted = governance_client.administrations.admit("L01170792", "Ajuntament de Girona")
    issued = governance_client.administrations.issue_api_key("L01170792")

    keys = {key.id: key for key in governance_client.administrations.list_api_keys("L01170792")}
    assert set(keys) == {admitted.api_key.id, issued.id}
    assert issued.key.startswith(keys[issued.id].prefix)
    assert not keys[issued.id].is_revoked
    assert all(key.revoked_at is None for key in keys.values())

    with Client(segell_server.url, issued.key) as administration_client:
        identity = administration_client.me()
        assert identity.role == "administration"
        assert identity.key_id == issued.id
        assert identity.administration is not None and identity.administration.code == "L01170792"

        revoked = governance_client.administrations.revoke_api_key("L01170792", issued.id)
        assert revoked.id == issued.id
        assert revoked.is_revoked and isinstance(revoked.revoked_at, datetime)

        with pytest.raises(AuthenticationError) as raised:
            administration_client.me()
    assert raised.value.status_code == 401
    assert raised.value.message

    # The first key is untouched by revoking the second.
    with Client(segell_server.url, admitted.api_key.key) as first_key_client:
        assert first_key_client.me().key_id == admitted.api_key.id
    assert [key.id for key in governance_client.administrations.list_api_keys("L01170792") if key.is_revoked] == [
        issued.id
    ]


def test_administration_can_read_itself_but_not_governance_endpoints(segell_server, governance_client: Client) -> None:
    admitted = governance_client.administrations.admit("L01250907", "Ajuntament de Lleida")

    with Client(segell_server.url, admitted.api_key.key) as client:
        assert client.administrations.get("L01250907") == admitted.administration
        for call in (
            client.administrations.list,
            lambda: client.administrations.admit("L01431482", "Ajuntament de Tarragona"),
            lambda: client.administrations.suspend("L01250907"),
            lambda: client.administrations.issue_api_key("L01250907"),
            lambda: client.administrations.list_api_keys("L01250907"),
        ):
            with pytest.raises(PermissionDeniedError) as raised:
                call()
            assert raised.value.status_code == 403
            assert raised.value.code == "governance_key_required"


def test_get_unknown_code_raises_not_found(governance_client: Client) -> None:
    with pytest.raises(NotFoundError) as raised:
        governance_client.administrations.get("L09999999")

    assert raised.value.status_code == 404
    assert "L09999999" in raised.value.message


def test_revoke_unknown_key_raises_not_found(governance_client: Client) -> None:
    governance_client.administrations.admit("L01081691", "Ajuntament de Sabadell")

    with pytest.raises(NotFoundError):
        governance_client.administrations.revoke_api_key("L01081691", "doesnotexist")


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own, for tests that change the governance key the others use."""
    yield from serve(make_settings(tmp_path / "home"))


def test_governance_key_rotation_and_revocation(own_server: RunningServer) -> None:
    old_id = own_server.governance_key.split("_")[1]
    with Client(own_server.url, own_server.governance_key) as old:
        issued = old.governance_keys.rotate(old.me().key_id)
        with pytest.raises(AuthenticationError):
            old.me()
    with Client(own_server.url, issued.key) as new:
        keys = {key.id: key.is_revoked for key in new.governance_keys.list()}
        with pytest.raises(ConflictError) as last:
            new.governance_keys.revoke(issued.id)
        with pytest.raises(NotFoundError):
            new.governance_keys.revoke("doesnotexist")
        assert new.me().role == "governance"

    assert keys == {old_id: True, issued.id: False}
    assert last.value.code == "last_governance_key"
    assert "key='***'" in repr(issued)


def test_admit_duplicate_code_raises_conflict(governance_client: Client) -> None:
    governance_client.administrations.admit("L01082798", "Ajuntament de Terrassa")

    with pytest.raises(ConflictError) as raised:
        governance_client.administrations.admit("L01082798", "Ajuntament de Terrassa")

    assert raised.value.status_code == 409
    assert raised.value.message


def test_admit_invalid_code_raises_validation_error(governance_client: Client) -> None:
    with pytest.raises(ValidationError) as raised:
        governance_client.administrations.admit("not a code!", "Ajuntament")

    assert raised.value.status_code == 422
    assert raised.value.code == "validation_error"
    assert raised.value.details, "the server says which field is wrong"
    assert "code" in str(raised.value.details)


def test_unknown_api_key_raises_authentication_error(segell_server) -> None:
    with Client(segell_server.url, "sgl_unknown_notasecret") as client, pytest.raises(AuthenticationError):
        client.me()


def test_missing_api_key_raises_authentication_error(segell_server) -> None:
    with Client(segell_server.url) as client, pytest.raises(AuthenticationError) as raised:
        client.administrations.list()

    assert "API key" in raised.value.message


def test_connection_refused_raises_transport_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    with Client(url, timeout=2) as client, pytest.raises(TransportError) as raised:
        client.health()

    assert isinstance(raised.value, SegellError)
    assert url in raised.value.message
    assert "segell up" in raised.value.message and "SEGELL_URL" in raised.value.message
    assert raised.value.url == f"{url}/health"


def test_non_json_error_body_raises_api_error_naming_the_status() -> None:
    with CannedResponseServer(502, b"<html>Bad Gateway</html>", "text/html") as proxy:
        with Client(proxy.url) as client, pytest.raises(ServerError) as raised:
            client.health()

    assert raised.value.status_code == 502
    assert raised.value.code == "http_502"
    assert "502" in raised.value.message and "Bad Gateway" in raised.value.message


def test_error_without_segell_envelope_uses_its_detail() -> None:
    with CannedResponseServer(404, b'{"detail": "Not Found"}', "application/json") as other:
        with Client(other.url) as client, pytest.raises(NotFoundError) as raised:
            client.me()

    assert raised.value.message == "Not Found"
    assert isinstance(raised.value, APIError)


def test_success_with_unreadable_body_raises_unexpected_response() -> None:
    with CannedResponseServer(200, b'{"hello": "world"}', "application/json") as other:
        with Client(other.url) as client, pytest.raises(UnexpectedResponseError) as raised:
            client.health()

    assert raised.value.status_code == 200
    assert "compatible" in raised.value.message


def test_injected_transport_carries_the_requests(segell_server) -> None:
    transport = httpx.HTTPTransport(retries=2, local_address="127.0.0.1")

    with Client(segell_server.url, transport=transport) as client:
        assert client.health().chain.backend == "embedded"
        assert client._transport._http._transport is transport


def test_client_closes_and_rejects_further_calls(segell_server) -> None:
    client = Client(segell_server.url)
    client.close()

    with pytest.raises(RuntimeError):
        client.health()


def test_empty_code_is_rejected_before_any_request(governance_client: Client) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        governance_client.administrations.get("")


def test_malformed_base_url_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Invalid Segell base URL"):
        Client("http://[::1")


@pytest.fixture
def server_without_node(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A real Segell whose chain node has gone away after start."""
    chain = getattr(request, "param", "embedded")
    if chain == "anvil":
        try:
            find_anvil(None)
        except AnvilNotFound:
            pytest.skip("anvil not installed (make setup installs it from npm)")
    for running in serve(make_settings(tmp_path, chain=chain)):
        running.app.state.runtime.node.stop()  # type: ignore[attr-defined]
        yield running


def test_degraded_health_is_a_report_not_an_error(server_without_node: RunningServer) -> None:
    with Client(server_without_node.url) as client:
        health = client.health()

    assert health.status == "degraded" and not health.is_ok
    assert health.chain.head_block is None
    assert health.chain.backend == "embedded"


@pytest.mark.parametrize(
    "server_without_node", ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True
)
def test_503_error_envelope_raises_service_unavailable(server_without_node: RunningServer) -> None:
    with Client(server_without_node.url, server_without_node.governance_key) as client:
        with pytest.raises(ServiceUnavailableError) as raised:
            client.administrations.admit("L08019003", "Node gone")

    assert raised.value.code == "unavailable"
    assert "chain node cannot be reached" in raised.value.message
    assert isinstance(raised.value, ServerError)
