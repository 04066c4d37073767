"""Citizen authentication on PostgreSQL: the counted tries, limits and single use hold there too.

Runs when SEGELL_TEST_POSTGRES_URL is set (CI sets it), against a server whose database is a schema of its own.
"""

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from segell.services.citizen_auth.service import Limits
from segell.services.citizen_auth.settings import CitizenAuthSettings
from tests.helpers import (
    CitizenApp,
    MovableClock,
    PostgresSchemas,
    RunningServer,
    enrol,
    make_settings,
    movable_clock,
    new_phone,
    raw_outbox,
    serve,
    wrong_code,
)

pytestmark = pytest.mark.postgres


LIMITS = Limits()


@pytest.fixture(scope="module")
def pg_server(postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with postgres.schema("segell_citizen") as database_url:
        yield from serve(make_settings(tmp_path_factory.mktemp("segell-pg"), database_url=database_url))


@pytest.fixture
def clock(pg_server: RunningServer) -> Iterator[MovableClock]:
    with movable_clock(pg_server) as clock:
        yield clock


@pytest.fixture
def tenants(pg_server: RunningServer) -> Iterator[Any]:
    made: list[CitizenApp] = []

    def admit() -> CitizenApp:
        code = f"PG{secrets.token_hex(4).upper()}"
        key = pg_server.admit(code)
        made.append(CitizenApp(code, key, pg_server.client(key)))
        return made[-1]

    yield admit
    for tenant in made:
        tenant.http.close()


def test_sms_login_on_postgresql_is_single_use_and_counts_tries(tenants: Any, clock: MovableClock) -> None:
    tenant = tenants()
    phone, other = new_phone(), new_phone()
    tenant.send(phone)
    code = tenant.last_code(phone)
    assert tenant.verify(phone, code).status_code == 200
    assert tenant.verify(phone, code).status_code == 404
    tenant.send(other)
    right = tenant.last_code(other)

    wrong = [tenant.verify(other, wrong_code(right, n)).status_code for n in range(1, LIMITS.tries_per_code + 1)]

    assert wrong == [403] * LIMITS.tries_per_code
    assert tenant.verify(other, right).status_code == 404


def test_limits_and_lockout_on_postgresql(tenants: Any, clock: MovableClock) -> None:
    tenant = tenants()
    phone = new_phone()
    for _ in range(LIMITS.codes_per_phone):
        assert tenant.send(phone).status_code == 202
    limited = tenant.send(phone)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) == 15 * 60

    failures = 0
    while failures < LIMITS.lockout_failures:
        clock.advance(minutes=16)
        tenant.send(phone)
        code = tenant.last_code(phone)
        for _ in range(min(4, LIMITS.lockout_failures - failures)):
            assert tenant.verify(phone, wrong_code(code)).status_code == 403
            failures += 1

    locked = tenant.verify(phone, code)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked_out"


def test_totp_replay_and_tenancy_on_postgresql(pg_server: RunningServer, tenants: Any, clock: MovableClock) -> None:
    ours, theirs = tenants(), tenants()
    phone = new_phone()
    _, totp = enrol(pg_server, ours, phone, clock)
    clock.advance(seconds=30)
    code = totp.at(clock.now)

    assert theirs.verify_totp(phone, code).status_code == 404
    assert ours.verify_totp(phone, code).status_code == 200
    assert ours.verify_totp(phone, code).status_code == 403


def test_concurrent_wrong_codes_on_postgresql_cannot_exceed_the_tries(
    pg_server: RunningServer, tenants: Any, clock: MovableClock
) -> None:
    tenant = tenants()
    phone = new_phone()
    tenant.send(phone)
    right = tenant.last_code(phone)

    def attempt(offset: int) -> int:
        with pg_server.client(tenant.key) as http:
            body = {"phone": phone, "code": wrong_code(right, offset)}
            return http.post("/v1/auth/otp/verify", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(1, 17)))

    assert sorted(statuses) == [403] * LIMITS.tries_per_code + [404] * (16 - LIMITS.tries_per_code)


def test_outbox_on_postgresql_is_sealed_and_deleted_when_the_code_expires(
    pg_server: RunningServer, tenants: Any, clock: MovableClock
) -> None:
    tenant = tenants()
    phone = new_phone()
    tenant.send(phone)
    code = tenant.last_code(phone)
    rows = raw_outbox(pg_server, tenant.code)
    stored = " ".join(str(value) for value in rows[0].values())
    clock.advance(seconds=pg_server.settings.section(CitizenAuthSettings).code_ttl)

    listed = tenant.http.get("/v1/auth/otp/outbox").json()["items"]

    assert len(rows) == 1
    assert code not in stored and phone[1:] not in stored and phone[3:] not in stored
    assert listed == []
    assert raw_outbox(pg_server, tenant.code) == []
