"""`/.well-known/segell.json`: what a deployment publishes so that verifiers can pin its Notary, over real HTTP."""

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from segell.sdk import Client, TrustedNotary
from segell.services.deployment.settings import DeploymentSettings
from segell.services.notary.repository import batches
from tests.helpers import RunningServer, make_settings, new_hash, serve, wait_anchored


@pytest.fixture(scope="module")
def named_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(
        make_settings(tmp_path_factory.mktemp("segell-named"), DeploymentSettings(name="Segell del Consorci"))
    )


def test_well_known_describes_the_deployments_chain_and_contracts_without_a_key(named_server: RunningServer) -> None:
    runtime = named_server.app.state.runtime  # type: ignore[attr-defined]
    deployment = runtime.deployment

    with named_server.client() as anonymous:
        response = anonymous.get("/.well-known/segell.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "format": "segell-deployment",
        "version": 1,
        "name": "Segell del Consorci",
        "chain_id": deployment.chain_id,
        "notary": deployment.notary,
        "registry": deployment.registry,
        "deployment_block": deployment.block,
        "api_url": named_server.url,
        "rpc_url": f"{named_server.url}/rpc",
    }
    assert runtime.notary.contract.functions.registry().call() == deployment.registry


def test_sdk_reads_the_deployment_as_a_trust_anchor(named_server: RunningServer) -> None:
    deployment = named_server.app.state.runtime.deployment  # type: ignore[attr-defined]

    with Client(named_server.url) as anonymous:
        described = anonymous.deployment()

    assert described.trusted_notary == TrustedNotary(
        deployment.notary, chain_id=deployment.chain_id, registry=deployment.registry, name="Segell del Consorci"
    )
    assert described.pinned(named_server.url).url == named_server.url


def test_well_known_is_documented_in_the_openapi_schema(named_server: RunningServer) -> None:
    with named_server.client() as anonymous:
        schema = anonymous.get("/openapi.json").json()

    operation = schema["paths"]["/.well-known/segell.json"]["get"]
    assert "security" not in operation
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    described = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert {"chain_id", "notary", "registry", "deployment_block", "name"} <= set(described["required"])


def test_verification_answers_with_the_deployments_own_notary(named_server: RunningServer) -> None:
    runtime = named_server.app.state.runtime  # type: ignore[attr-defined]
    with named_server.client(named_server.admit()) as issuer, named_server.client() as citizen:
        receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
        wait_anchored(issuer, receipt["id"])
        # Whatever a stored row says about where its root went, the answer is the deployment's Notary's.
        with runtime.engine.begin() as connection:
            changed = connection.execute(update(batches).values(contract="0x" + secrets.token_hex(20)))
        assert changed.rowcount >= 1
        answer = citizen.get("/v1/verify", params={"code": receipt["verification_code"]}).json()
        published = citizen.get("/.well-known/segell.json").json()

    (match,) = answer["matches"]
    assert match["status"] == "authentic"
    assert match["contract"] == published["notary"] == runtime.deployment.notary
