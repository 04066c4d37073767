"""The API answers only what its OpenAPI schema documents.

Every operation of the schema is fuzzed (schemathesis) against the real app on the embedded chain and SQLite (and
PostgreSQL when configured), called in-process over ASGI, as the governance, as an administration and without a key,
each case drawn once and sent to all of them: a 5xx is a bug, and so is a status code, content type, header or body
the schema does not document. Each operation gets input its schema allows (positive) and input its schema forbids
(negative): refusing the first with a 4xx that is not about authorisation or state, or accepting the second, is a
schema that says something the API does not do.

The rest of the module sends what a schema-driven generator never does: unknown routes, wrong methods, broken JSON,
bodies too large or nested too deeply, and requests while the chain node is down.
"""

import inspect
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.pytest import _test_builder
from starlette.types import ASGIApp, Receive, Scope, Send

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from segell.services import main as services_main
from segell.services.identity.certificate_schemas import CERTIFICATE_FORMAT, CSR_FORMAT
from segell.services.identity.signatures_router import CMS_FORMAT, PDF_FORMAT
from segell.services.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH
from segell.services.main import create_app
from segell.services.notary import codes, listing
from tests.helpers import PostgresSchemas, RunningServer, make_pdf, make_settings, serve

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    allow_header_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]


def requests_only(app: ASGIApp) -> ASGIApp:
    """The app without its lifespan: the fixture runs that once, where schemathesis would run it for every test."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)

    return asgi


@dataclass
class InProcessApp:
    """The real app with its lifespan running (embedded chain, a real database), reached over ASGI without a socket."""

    app: FastAPI
    asgi: ASGIApp
    portal: BlockingPortal
    governance_key: str
    database: str
    administration_key: str | None = None

    def request(self, method: str, path: str, *, api_key: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.portal.call(partial(self._request, method, path, api_key=api_key, **kwargs))

    async def _request(self, method: str, path: str, *, api_key: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        transport = httpx.ASGITransport(app=self.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://segell", headers=headers) as client:
            return await client.request(method, path, **kwargs)

    def admit_administration(self) -> str:
        """Admit a new administration; returns its API key."""
        code = f"FUZZ-{secrets.token_hex(4).upper()}"
        body = {"code": code, "name": "Ajuntament de Proves"}
        response = self.request("POST", "/v1/administrations", api_key=self.governance_key, json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["api_key"]["key"])

    def working_administration_key(self) -> str:
        """The key of an active administration: the one given last while it still authenticates and its
        administration is active, else a newly admitted one's (an admission is an on-chain transaction)."""
        if self.administration_key is not None:
            me = self.request("GET", "/v1/me", api_key=self.administration_key)
            if me.status_code == 200 and me.json()["administration"]["status"] == "active":
                return self.administration_key
        self.administration_key = self.admit_administration()
        return self.administration_key


@contextmanager
def running_app(home: Path, database: str, database_url: str | None = None) -> Iterator[InProcessApp]:
    app = create_app(make_settings(home, database_url=database_url))
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(app.router.lifespan_context(app)):
        governance_key = app.state.runtime.settings.governance_key_path.read_text().strip()
        yield InProcessApp(app, requests_only(app), portal, governance_key, database)


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with running_app(tmp_path_factory.mktemp("segell-home"), "sqlite") as api:
        yield api


@pytest.fixture(scope="module")
def postgresql_api(postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with (
        postgres.schema("segell_fuzz") as database_url,
        running_app(tmp_path_factory.mktemp("segell-home"), "postgresql", database_url) as api,
    ):
        yield api


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest) -> InProcessApp:
    """The app on one database, for the tests that send requests of their own."""
    app: InProcessApp = request.getfixturevalue(f"{request.param}_api")
    return app


@dataclass
class Target:
    """An app and the key a fuzzed case is sent with."""

    caller: str
    api: InProcessApp
    api_key: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def __str__(self) -> str:
        return f"{self.caller} on {self.api.database}"


@pytest.fixture
def targets(request: pytest.FixtureRequest, sqlite_api: InProcessApp) -> list[Target]:
    """Where each fuzzed case goes: the app on SQLite (and on PostgreSQL when configured) as the governance, as an
    administration and without a key. Each operation starts with an administration whose key works and which is
    active: suspensions and revocations fuzzed as the governance cannot leave it without a working key."""
    apis = [sqlite_api]
    try:
        apis.append(request.getfixturevalue("postgresql_api"))
    except pytest.skip.Exception:
        pass  # PostgreSQL not configured: SQLite only (the `postgres` fixture fails where it must be configured)
    targets = []
    for api in apis:
        targets.append(Target("governance", api, api.governance_key))
        targets.append(Target("administration", api, api.working_administration_key()))
        if api.database == "sqlite":
            # Without a key, every route either refuses before it reads the database or is a public read that the
            # callers with a key make on PostgreSQL too; the anonymous caller is fuzzed on SQLite.
            targets.append(Target("anonymous", api, None))
    return targets


def certificate_request(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def self_signed(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def self_signed_certificate(common_name: str) -> str:
    """A certificate no Segell CA issued: its log lookup is a 404."""
    return self_signed(common_name)[0].public_bytes(serialization.Encoding.PEM).decode()


def detached_signature(content: bytes) -> bytes:
    """A CMS signature, DER, by a signer Segell does not trust: validation reports on it."""
    certificate, key = self_signed("Fuzz signer")
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(certificate, key, hashes.SHA256())
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])


def built_when_first_run(build: Callable[..., Callable[..., None]]) -> Callable[..., Callable[..., None]]:
    """schemathesis's builder of an operation's test, deferred from collection to the test's first run.

    Building a test draws the operation's coverage cases (every boundary and every invalid variant its schema
    defines), some 25 s of CPU for the schema's operations. Each pytest-xdist worker collects every module but runs
    only the modules it is given: built at collection, a worker drew the cases of fuzz tests the other one runs."""

    def build_lazily(*, test_func: Callable[..., None], **options: Any) -> Callable[..., None]:
        built: list[Callable[..., None]] = []

        def run(*args: Any, **kwargs: Any) -> None:
            if not built:
                built.append(build(test_func=test_func, **options))
            built[0](*args, **kwargs)

        # The parameters pytest gives the built test: the test's own but `case`, which the built test draws.
        signature = inspect.signature(test_func)
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[parameter for name, parameter in signature.parameters.items() if name != "case"]
        )
        run.__name__ = test_func.__name__
        return run

    return build_lazily


# schemathesis's collector looks the builder up in its module each time it makes an operation's test.
_test_builder.build_operation_test = built_when_first_run(_test_builder.build_operation_test)  # type: ignore[assignment]

# The schema's own formats: what a value must be beyond its pattern, which no regular expression can say.
schemathesis.openapi.format(
    codes.OPENAPI_FORMAT,
    st.builds(codes.generate_code).flatmap(lambda code: st.sampled_from([code, codes.format_code(code).lower()])),
)
schemathesis.openapi.format(CSR_FORMAT, st.sampled_from([certificate_request(f"Fuzz {n}") for n in range(3)]))
schemathesis.openapi.format(
    CERTIFICATE_FORMAT, st.sampled_from([self_signed_certificate(f"Fuzz {n}") for n in range(3)])
)
schemathesis.openapi.format(
    listing.CURSOR_FORMAT,
    st.builds(
        listing.Position,
        st.datetimes(timezones=st.just(UTC)),
        st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    ).map(listing.encode_cursor),
)
schemathesis.openapi.format(PDF_FORMAT, st.sampled_from([make_pdf("Fuzz")]))
schemathesis.openapi.format(CMS_FORMAT, st.sampled_from([detached_signature(b"0"), detached_signature(b"Fuzz")]))

# The document the production app object serves; loading it starts nothing (no chain, no database).
schema = schemathesis.openapi.from_asgi("/openapi.json", requests_only(services_main.app))
# Stated rather than left to the default: every operation is fuzzed with valid and with invalid input. The caller's
# key comes from the `targets` fixture, so the generator must not draw (or, in negative mode, leave out) its own.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], with_security_parameters=False
)
# Literals lifted from the app's source would stand in for values of the formats above, which no JSON Schema
# validator checks: a CSR of "payload_too_large" would count as valid input.
schema.config.analysis.constants.enabled = False


def _copy_of_a_hash(case: Any) -> bool:
    """A submission by hash (JSON) asking for a public copy, which needs the file itself: the query parameter is
    documented for file uploads only (422 otherwise), which OpenAPI cannot tie to the request body's media type."""
    query = case.query if isinstance(case.query, dict) else {}
    return (
        case.path == "/v1/documents"
        and case.media_type == "application/json"
        and query.get("public_copy") in (True, "true", "True")
        and case.meta is not None
        and case.meta.generation.mode.is_positive
    )


@schema.hook
def filter_case(context: Any, case: Any) -> bool:
    """Keep every case but the negative multipart ones that no multipart request can carry, and positive ones the
    schema cannot rule out.

    - A part drawn as `[]` is sent as no part at all: the part left out, which is valid.
    - A part whose `format` alone was broken: a file part is bytes, and any bytes are a file of some kind; whether
      they are a PDF or a CMS signature is for the server to say, which it does in its own status codes.
    - A public copy of a hash (`_copy_of_a_hash`); `test_public_copy_needs_the_file_not_its_hash` covers it.
    """
    if _copy_of_a_hash(case):
        return False
    if case.media_type != "multipart/form-data" or not isinstance(case.body, dict):
        return True
    if any(value == [] for value in case.body.values()):
        return False
    meta = case.meta
    mutations = getattr(getattr(meta, "phase", None), "data", None)
    mutations = getattr(mutations, "mutations", ()) if meta is not None and meta.generation.mode.is_negative else ()
    return not mutations or any(set(mutation.keywords) - {"format"} for mutation in mutations)


# Cases per operation, each sent to every target; `bench/fuzz_soak.sh` runs the same test with many more.
EXAMPLES = int(os.environ.get("SEGELL_FUZZ_EXAMPLES", "20"))
# The sandboxes', participation's and interoperability's operations are fuzzed in test_api_fuzz_domains.py, the
# others here: the suite's workers (pytest-xdist, a module each) fuzz the two halves side by side.
DOMAIN_PATHS = r"^/v1/(sandboxes|participation|interop)(/|$)"


def send_to_every_target(case: Any, targets: list[Target]) -> None:
    # Each case is drawn once and sent to every target: drawing it costs more than sending it.
    for target in targets:
        try:
            case.call_and_validate(headers=target.headers, checks=CHECKS, app=target.api.asgi)
        except Exception as failure:
            failure.add_note(f"sent as {target}")
            raise


@schema.exclude(path_regex=DOMAIN_PATHS).parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_operations_answer_as_documented(case: Any, targets: list[Target]) -> None:
    send_to_every_target(case, targets)


def assert_error(response: httpx.Response, status_code: int, code: str) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    return error


def test_schema_states_integer_bounds_exactly() -> None:
    # FastAPI holds bounds as floats: 2**256 came out as 1.157920892373162e+77, which allows larger amounts.
    wei = schema.raw_schema["components"]["schemas"]["CallRequest"]["properties"]["value"]["anyOf"][0]
    assert wei == {"type": "integer", "minimum": 0, "exclusiveMaximum": 2**256}


@pytest.mark.parametrize(
    ("path", "body", "location"),
    [
        ("/v1/documents/batch", {"hashes": ["9f86d081" * 8], "salted": 0}, "body.salted"),
        ("/v1/sandboxes", {"name": "x", "ttl_seconds": "600"}, "body.ttl_seconds"),
        ("/v1/sandboxes", {"name": "x", "node_admin": "yes"}, "body.node_admin"),
        ("/v1/auth/otp", {"phone": "+34600123456", "client_address": False}, "body.client_address"),
    ],
    ids=["salted-0", "ttl-text", "node-admin-text", "address-false"],
)
def test_json_bodies_refuse_values_of_another_json_type(
    api: InProcessApp, path: str, body: dict[str, Any], location: str
) -> None:
    response = api.request("POST", path, api_key=api.admit_administration(), json=body)
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["location"].startswith(location)


def test_wrong_method_answers_405_in_the_error_format(api: InProcessApp) -> None:
    response = api.request("PUT", "/v1/administrations", api_key=api.governance_key)
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}


@pytest.mark.parametrize(
    "body",
    [b'{"code": "L01080193", "name": ', b"\xff\xfe{}", b'{"code": "L01080193", "name": NaN}'],
    ids=["truncated", "not-utf-8", "nan"],
)
def test_malformed_json_body_answers_422_validation_error(api: InProcessApp, body: bytes) -> None:
    response = api.request(
        "POST",
        "/v1/administrations",
        api_key=api.governance_key,
        content=body,
        headers={"Content-Type": "application/json"},
    )
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["location"].startswith("body")


@pytest.mark.parametrize("name", ["Ajuntament\x00", "Ajuntament\nde Proves", "Ajuntament\x1b[31m"])
def test_administration_name_with_control_characters_answers_422(api: InProcessApp, name: str) -> None:
    # PostgreSQL refuses NUL in text: this was a 500 there.
    body = {"code": f"CTRL-{secrets.token_hex(4).upper()}", "name": name}
    response = api.request("POST", "/v1/administrations", api_key=api.governance_key, json=body)
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["location"] == "body.name"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/v1/administrations/" + "A" * 33, "too long"),
        ("/v1/administrations/L01%00", "NUL byte"),
        ("/v1/administrations/%C3%91OPE", "not ASCII"),
        ("/v1/administrations/L01080193/api-keys/" + "f" * 17, "key id too long"),
        ("/v1/administrations/L01080193/api-keys/abc%20def", "space in key id"),
    ],
)
def test_malformed_path_parameters_answer_422(api: InProcessApp, path: str, problem: str) -> None:
    method = "DELETE" if "/api-keys/" in path else "GET"
    error = assert_error(api.request(method, path, api_key=api.governance_key), 422, "validation_error")
    assert error["details"][0]["location"].startswith("path."), problem


@pytest.mark.parametrize("path", ["/rpc", "/v1/administrations"])
def test_deeply_nested_json_is_refused_before_it_is_parsed(api: InProcessApp, path: str) -> None:
    # py-evm lifts the recursion limit to 100,000: parsing this overflowed the C stack and killed the process.
    depth = 100_000
    body = b"[" * depth + b"]" * depth
    response = api.request("POST", path, content=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, 422, "validation_error")
    assert str(MAX_JSON_DEPTH) in error["message"]
    assert api.request("GET", "/health").status_code == 200


def test_json_nesting_is_measured_exactly(api: InProcessApp) -> None:
    request: Any = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    for _ in range(MAX_JSON_DEPTH - 2):
        request = [request]  # batches of batches; the request object and its params are the last two levels
    at_the_limit = api.request("POST", "/rpc", json=request)
    assert at_the_limit.status_code == 200
    assert at_the_limit.json()[0]["error"]["code"] == -32600  # answered by the gateway: not a request object
    assert_error(api.request("POST", "/rpc", json=[request]), 422, "validation_error")


def test_brackets_inside_json_strings_do_not_count_as_nesting(api: InProcessApp) -> None:
    method = "[{" * 5_000
    response = api.request("POST", "/rpc", json={"jsonrpc": "2.0", "id": 7, "method": method})
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32601


@pytest.mark.parametrize("path", ["/rpc", "/v1/administrations"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_over_the_size_limit_answers_413(api: InProcessApp, path: str, framing: str) -> None:
    body = b" " * (MAX_BODY_BYTES + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    content = body if framing == "content-length" else chunks()
    response = api.request("POST", path, content=content, headers={"Content-Type": "application/json"})
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"limit_bytes": MAX_BODY_BYTES}


def test_body_at_the_size_limit_reaches_the_gateway(api: InProcessApp) -> None:
    request = b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}'
    body = request + b" " * (MAX_BODY_BYTES - len(request))
    response = api.request("POST", "/rpc", content=body)
    assert response.status_code == 200
    assert int(response.json()["result"], 16) == api.app.state.runtime.node.chain_id


try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:
    HAVE_ANVIL = False


@pytest.fixture
def anvil_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-anvil"), chain="anvil"))


@pytest.mark.anvil
@pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed (make setup installs it from npm)")
def test_unreachable_chain_node_answers_503(anvil_server: RunningServer) -> None:
    with anvil_server.client(anvil_server.governance_key) as governance:
        assert governance.post("/v1/administrations", json={"code": "L08019001", "name": "Before"}).status_code == 201
        anvil_server.app.state.runtime.node.stop()  # type: ignore[attr-defined]
        admission = governance.post("/v1/administrations", json={"code": "L08019002", "name": "After"})
        suspension = governance.post("/v1/administrations/L08019001/suspend")
        listed = governance.get("/v1/administrations")
    for response in (admission, suspension):
        assert_error(response, 503, "unavailable")
    # The database is the system of record: what it holds is still served, and nothing half-done was kept.
    assert listed.status_code == 200
    assert {(a["code"], a["status"]) for a in listed.json()["items"]} == {("L08019001", "active")}
