"""The operator's governance API keys: listed, rotated and revoked over real HTTP, on SQLite and PostgreSQL."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from segell.services.administrations.models import ApiKey
from segell.services.administrations.service import issue_key
from segell.services.runtime import Runtime
from tests.helpers import RunningServer, make_settings, runtime_of, serve


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of this module's own: these tests change the governance keys the other modules rely on."""
    yield from serve(make_settings(tmp_path_factory.mktemp("home")))


@pytest.fixture
def server(module_server: RunningServer) -> RunningServer:
    """The module's server with a single governance key, issued for this test: the keys earlier tests issued,
    rotated or revoked are gone from the database, as on a server that has just started."""
    with runtime_of(module_server).transaction() as session:
        session.execute(delete(ApiKey).where(ApiKey.role == "governance"))
        key = issue_key(session, None).secret
    return replace(module_server, governance_key=key)


def key_id(key: str) -> str:
    return key.split("_")[1]


def revoked_in_database(runtime: Runtime) -> dict[str, bool]:
    with runtime.transaction() as session:
        rows = session.execute(select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.role == "governance"))
        return {row.id: row.revoked_at is not None for row in rows}


def another_governance_key(runtime: Runtime) -> str:
    with runtime.transaction() as session:
        return issue_key(session, None).secret


def test_rotate_governance_key_stops_the_old_key_at_once(server: RunningServer) -> None:
    old = server.governance_key
    with server.client(old) as operator:
        rotated = operator.post(f"/v1/governance/api-keys/{key_id(old)}/rotate")
        assert rotated.status_code == 201, rotated.text
        refused = operator.get("/v1/me")
    new = rotated.json()["key"]

    assert refused.status_code == 401
    assert f"API key {key_id(old)} was revoked" in refused.json()["error"]["message"]
    with server.client(new) as operator:
        me = operator.get("/v1/me").json()
    assert (me["role"], me["key_id"]) == ("governance", rotated.json()["id"])
    # Every API process authenticates each request against the database.
    assert revoked_in_database(runtime_of(server)) == {key_id(old): True, key_id(new): False}


def test_rotate_revoked_governance_key_conflicts(server: RunningServer) -> None:
    runtime = runtime_of(server)
    spare = another_governance_key(runtime)
    with server.client(spare) as operator:
        assert operator.delete(f"/v1/governance/api-keys/{key_id(server.governance_key)}").status_code == 200
        response = operator.post(f"/v1/governance/api-keys/{key_id(server.governance_key)}/rotate")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "api_key_revoked"
    assert list(revoked_in_database(runtime).values()).count(False) == 1


def test_revoke_last_governance_key_is_refused(server: RunningServer) -> None:
    with server.client(server.governance_key) as operator:
        response = operator.delete(f"/v1/governance/api-keys/{key_id(server.governance_key)}")
        still = operator.get("/v1/me")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_governance_key"
    assert "last active governance key" in response.json()["error"]["message"]
    assert still.status_code == 200
    assert revoked_in_database(runtime_of(server)) == {key_id(server.governance_key): False}


def test_revoke_governance_key_when_another_is_active(server: RunningServer) -> None:
    spare = another_governance_key(runtime_of(server))
    with server.client(spare) as operator:
        revoked = operator.delete(f"/v1/governance/api-keys/{key_id(server.governance_key)}")
        listed = operator.get("/v1/governance/api-keys").json()["items"]
    with server.client(server.governance_key) as old:
        refused = old.get("/v1/administrations")

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert {item["id"]: item["revoked_at"] is not None for item in listed} == {
        key_id(server.governance_key): True,
        key_id(spare): False,
    }
    assert all(item["prefix"] == f"sgl_{item['id']}_" and "key" not in item for item in listed)
    assert refused.status_code == 401


def test_governance_keys_not_enough_permissions(server: RunningServer) -> None:
    administration_key = server.admit()
    with server.client(administration_key) as administration:
        answers = [
            administration.get("/v1/governance/api-keys").status_code,
            administration.post(f"/v1/governance/api-keys/{key_id(server.governance_key)}/rotate").status_code,
            administration.delete(f"/v1/governance/api-keys/{key_id(server.governance_key)}").status_code,
        ]
    with server.client(server.governance_key) as operator:
        # An administration's key is not a governance key, even for governance.
        not_governance = operator.delete(f"/v1/governance/api-keys/{key_id(administration_key)}")

    assert answers == [403, 403, 403]
    assert not_governance.status_code == 404
    with server.client(administration_key) as administration:
        assert administration.get("/v1/me").status_code == 200


# -- PostgreSQL: two API processes on one database ---------------------------------------------------------------


@pytest.fixture
def two_processes(tmp_path: Path, postgres_database: str) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two API servers on one PostgreSQL database; each wrote a governance key of its own at start."""
    first_settings = make_settings(tmp_path / "first", database_url=postgres_database)
    second_settings = make_settings(tmp_path / "second", database_url=postgres_database)
    second_settings.master_key = first_settings.master_key  # one database, one master key
    first, second = serve(first_settings), serve(second_settings)
    try:
        yield next(first), next(second)
    finally:
        second.close()
        first.close()


@pytest.mark.postgres
def test_rotate_governance_key_on_postgresql_stops_it_in_the_other_process(
    two_processes: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_processes
    with first.client(first.governance_key) as operator:
        rotated = operator.post(f"/v1/governance/api-keys/{key_id(first.governance_key)}/rotate")
    assert rotated.status_code == 201

    with second.client(first.governance_key) as old, second.client(rotated.json()["key"]) as new:
        assert old.get("/v1/me").status_code == 401
        assert new.get("/v1/me").json()["key_id"] == rotated.json()["id"]


@pytest.mark.postgres
def test_revoke_the_last_two_governance_keys_at_once_on_postgresql_keeps_one(
    two_processes: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_processes

    def revoke(own: RunningServer, other: RunningServer) -> int:
        with own.client(own.governance_key) as operator:
            response: Any = operator.delete(f"/v1/governance/api-keys/{key_id(other.governance_key)}")
            return int(response.status_code)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda pair: revoke(*pair), [(first, second), (second, first)]))

    active = [k for k, revoked in revoked_in_database(runtime_of(first)).items() if not revoked]
    # The other request is refused as the last key's revocation (409), or its key was revoked first (401).
    assert answers.count(200) == 1
    assert len(active) == 1
