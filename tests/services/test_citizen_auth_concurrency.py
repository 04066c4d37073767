"""Citizen-login limits under concurrent requests: every limit lets through exactly its number, never more.

Each test fires its requests at once (asyncio, one connection each) at a real server, on SQLite and on PostgreSQL
(when SEGELL_TEST_POSTGRES_URL is set), one server per database for the whole module.
"""

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pyotp
import pytest

from segell.services.citizen_auth.service import Limits
from tests.helpers import (
    PLAIN_HTTP,
    CitizenApp,
    MovableClock,
    RunningServer,
    enrol,
    free_port,
    make_settings,
    movable_clock,
    new_phone,
    serve,
    wrong_code,
)

CONCURRENT = 50


LIMITS = Limits()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp(f"segell-{request.param}")
    if request.param == "sqlite":
        yield from serve(make_settings(home))
        return
    with request.getfixturevalue("postgres").schema("segell_limits") as database_url:
        yield from serve(make_settings(home, database_url=database_url))


@pytest.fixture
def clock(server: RunningServer) -> Iterator[MovableClock]:
    with movable_clock(server) as clock:
        yield clock


@pytest.fixture
def tenant(server: RunningServer) -> Iterator[CitizenApp]:
    code = f"CC{secrets.token_hex(4).upper()}"
    key = server.admit(code)
    with server.client(key) as http:
        yield CitizenApp(code, key, http)


def post_at_once(server: RunningServer, key: str, path: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    """POST every body at the same time, each on a connection of its own; the answers in the bodies' order."""

    async def post_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=60) as http:
            return list(await asyncio.gather(*(http.post(path, json=body) for body in bodies)))

    return asyncio.run(post_all())


def outcomes(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    """How many answers of each status and error code."""
    return Counter(
        (response.status_code, response.json()["error"]["code"] if response.status_code >= 400 else None)
        for response in responses
    )


def address(n: int) -> str:
    return f"198.18.{n // 250}.{n % 250 + 1}"


def test_request_otp_to_one_number_at_once_sends_exactly_three_codes(
    server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    bodies = [{"phone": phone, "client_address": address(n)} for n in range(CONCURRENT)]

    answers = post_at_once(server, tenant.key, "/v1/auth/otp", bodies)

    assert outcomes(answers) == {
        (202, None): LIMITS.codes_per_phone,
        (429, "rate_limited"): CONCURRENT - LIMITS.codes_per_phone,
    }
    outbox = tenant.http.get("/v1/auth/otp/outbox", params={"phone": phone}).json()["items"]
    assert len(outbox) == LIMITS.codes_per_phone


def test_request_otp_from_one_address_at_once_sends_exactly_ten_codes(
    server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    bodies = [{"phone": new_phone(), "client_address": "203.0.113.50"} for _ in range(CONCURRENT)]

    answers = post_at_once(server, tenant.key, "/v1/auth/otp", bodies)

    assert outcomes(answers) == {
        (202, None): LIMITS.codes_per_address,
        (429, "rate_limited"): CONCURRENT - LIMITS.codes_per_address,
    }
    outbox = tenant.http.get("/v1/auth/otp/outbox", params={"limit": 1000}).json()["items"]
    assert len(outbox) == LIMITS.codes_per_address


def test_verify_otp_from_one_address_at_once_tries_exactly_thirty_codes(
    server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    tries = 2 * LIMITS.logins_per_address
    bodies = [{"phone": new_phone(), "code": "123456", "client_address": "203.0.113.60"} for _ in range(tries)]

    answers = post_at_once(server, tenant.key, "/v1/auth/otp/verify", bodies)

    assert outcomes(answers) == {
        (404, "no_pending_code"): LIMITS.logins_per_address,
        (429, "rate_limited"): tries - LIMITS.logins_per_address,
    }


def wrong_totp_codes(totp: pyotp.TOTP, clock: MovableClock, count: int) -> list[str]:
    """`count` codes that are none of those the authenticator shows within a step of now."""
    accepted = {totp.at(clock.now + timedelta(seconds=drift)) for drift in (-30, 0, 30)}
    candidates = (f"{n:06d}" for n in range(10**6))
    return [code for code in candidates if code not in accepted][:count]


def test_verify_totp_at_once_evaluates_exactly_five_wrong_codes(
    server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    _, totp = enrol(server, tenant, phone, clock)
    clock.advance(seconds=30)
    bodies = [
        {"phone": phone, "code": code, "client_address": address(n)}
        for n, code in enumerate(wrong_totp_codes(totp, clock, CONCURRENT))
    ]

    answers = post_at_once(server, tenant.key, "/v1/auth/totp/verify", bodies)

    assert outcomes(answers) == {
        (403, "wrong_code"): LIMITS.tries_per_code,
        (429, "rate_limited"): CONCURRENT - LIMITS.tries_per_code,
    }
    assert tenant.verify_totp(phone, totp.at(clock.now)).status_code == 429


def test_confirm_totp_at_once_evaluates_exactly_five_wrong_codes(
    server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    token = tenant.login(new_phone())
    with server.client(token) as http:
        totp = pyotp.TOTP(http.post("/v1/citizens/me/totp").json()["secret"])
    bodies = [{"code": code} for code in wrong_totp_codes(totp, clock, CONCURRENT)]

    answers = post_at_once(server, token, "/v1/citizens/me/totp/confirm", bodies)

    assert outcomes(answers) == {
        (403, "wrong_code"): LIMITS.tries_per_code,
        (429, "rate_limited"): CONCURRENT - LIMITS.tries_per_code,
    }


def test_verify_totp_at_once_after_eight_failures_evaluates_exactly_two_before_the_lockout(
    server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    _, totp = enrol(server, tenant, phone, clock)
    failures_before = LIMITS.lockout_failures - 2
    for _ in range(2):
        clock.advance(minutes=6)  # outside the per-number sending limit's way
        tenant.send(phone)
        code = tenant.last_code(phone)
        for offset in range(1, failures_before // 2 + 1):
            assert tenant.verify(phone, wrong_code(code, offset)).status_code == 403
    clock.advance(seconds=30)
    bodies = [
        {"phone": phone, "code": code, "client_address": address(n)}
        for n, code in enumerate(wrong_totp_codes(totp, clock, CONCURRENT))
    ]

    answers = post_at_once(server, tenant.key, "/v1/auth/totp/verify", bodies)

    assert outcomes(answers) == {(403, "wrong_code"): 2, (429, "locked_out"): CONCURRENT - 2}
    locked = tenant.verify_totp(phone, totp.at(clock.now))
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked_out"
    assert locked.headers["Retry-After"] == str(60 * 60)


def test_verify_otp_at_once_after_nine_failures_evaluates_exactly_one_before_the_lockout(
    server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    for failures in (4, 4, 1):
        clock.advance(minutes=6)
        tenant.send(phone)
        code = tenant.last_code(phone)
        for offset in range(1, failures + 1):
            assert tenant.verify(phone, wrong_code(code, offset)).status_code == 403
    bodies = [
        {"phone": phone, "code": wrong_code(code, 100 + n), "client_address": address(n)} for n in range(CONCURRENT)
    ]

    answers = post_at_once(server, tenant.key, "/v1/auth/otp/verify", bodies)

    assert outcomes(answers) == {(403, "wrong_code"): 1, (429, "locked_out"): CONCURRENT - 1}
    assert tenant.verify(phone, code).status_code == 429


@pytest.fixture(scope="module")
def second_process(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`segell up` in a process of its own, serving the same deployment (master key and database) as `server`."""
    home = tmp_path_factory.mktemp("segell-second")
    port = free_port()
    settings = server.settings
    environment = {
        **os.environ,
        "SEGELL_HOME": str(home),
        "SEGELL_DATABASE_URL": settings.sqlalchemy_url,
        "SEGELL_MASTER_KEY": str(settings.master_key),
        "SEGELL_ANCHORING_WORKER": "false",
    }
    command = [sys.executable, "-m", "segell.services.cli", "up", "--chain", "embedded", "--port", str(port)]
    with (home / "server.log").open("w") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        # It imports the whole application first: seconds, minutes on a loaded machine (as in test_leader_postgres).
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                pytest.fail(f"the second Segell process stopped: {(home / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=2, verify=PLAIN_HTTP).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the second Segell process did not start within 300 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_request_otp_at_once_through_two_api_processes_sends_exactly_three_codes(
    server: RunningServer, second_process: str, tenant: CitizenApp
) -> None:
    phone = new_phone()
    bodies = [{"phone": phone, "client_address": address(n)} for n in range(CONCURRENT)]

    async def post_all() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {tenant.key}"}
        limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=0)
        async with (
            httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=60) as first,
            httpx.AsyncClient(base_url=second_process, headers=headers, limits=limits, timeout=60) as second,
        ):
            calls = [(first if n % 2 else second).post("/v1/auth/otp", json=body) for n, body in enumerate(bodies)]
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(post_all())

    assert outcomes(answers) == {
        (202, None): LIMITS.codes_per_phone,
        (429, "rate_limited"): CONCURRENT - LIMITS.codes_per_phone,
    }
