"""Security headers of the API's answers, over HTTP against a real server: /docs and JSON alike."""

import re
from collections.abc import Iterator

import httpx
import pytest

from segell.services.limits import MAX_BODY_BYTES
from tests.helpers import RunningServer


@pytest.fixture(scope="module")
def anyone(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client() as client:
        yield client


def test_api_docs_answer_with_a_content_security_policy_that_forbids_framing(anyone: httpx.Client) -> None:
    response = anyone.get("/docs")
    assert response.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1) for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Every script is a file of this server: none inline, which the policy would block.
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert scripts == [' src="/static/swagger-ui/swagger-ui-bundle.js"', ' src="/docs/swagger-init.js"']


def test_api_docs_start_up_script_is_served_as_javascript(anyone: httpx.Client) -> None:
    response = anyone.get("/docs/swagger-init.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert 'url: "/openapi.json"' in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/health", None, 200),
        ("GET", "/openapi.json", None, 200),
        ("POST", "/rpc", b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}', 200),
        ("GET", "/v1/administrations", None, 401),
        ("GET", "/v1/no-such-route", None, 404),
        ("DELETE", "/health", None, 405),
        ("POST", "/rpc", b"[" * 1000, 422),
        ("POST", "/rpc", b" " * (MAX_BODY_BYTES + 1), 413),
    ],
)
def test_json_responses_carry_nosniff_once(
    anyone: httpx.Client, method: str, path: str, body: bytes | None, status: int
) -> None:
    response = anyone.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
