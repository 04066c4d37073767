"""Citizen authentication against a real Segell server: SMS one-time codes, TOTP, tokens, limits and tenancy.

Time-dependent rules move an injected clock (the `get_clock` dependency), never sleep.
"""

import ast
import dataclasses
import hashlib
import hmac
import inspect
import pkgutil
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from segell.services import citizen_auth
from segell.services.citizen_auth import service, tokens
from segell.services.citizen_auth.gateways import SmsNotDelivered, gateway_for, register_gateway
from segell.services.citizen_auth.keyring import Keyring
from segell.services.citizen_auth.models import OtpChallenge, TokenSigningKey, TotpEnrolment
from segell.services.citizen_auth.service import CitizenAuth, Limits, request_code
from segell.services.citizen_auth.settings import CitizenAuthSettings
from segell.services.errors import Unavailable
from segell.services.settings import Settings
from tests.helpers import (
    CODE_IN_MESSAGE,
    CitizenApp,
    MovableClock,
    RunningServer,
    administration_record,
    enrol,
    make_settings,
    movable_clock,
    new_phone,
    raw_outbox,
    runtime_of,
    serve,
    wrong_code,
)

LIMITS = Limits()


@pytest.fixture
def clock(segell_server: RunningServer) -> Iterator[MovableClock]:
    with movable_clock(segell_server) as clock:
        yield clock


@pytest.fixture
def tenants(segell_server: RunningServer) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def admit() -> CitizenApp:
        code = f"CA{secrets.token_hex(4).upper()}"
        key = segell_server.admit(code)
        http = segell_server.client(key)
        clients.append(http)
        return CitizenApp(code, key, http)

    yield admit
    for http in clients:
        http.close()


@pytest.fixture
def tenant(tenants: Any) -> CitizenApp:
    return tenants()


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def citizen(server: RunningServer, token: str) -> httpx.Response:
    with server.client(token) as http:
        return http.get("/v1/citizens/me")


# -- one-time codes by SMS ----------------------------------------------------------------------


def test_request_otp_puts_a_six_digit_code_in_the_outbox_and_stores_only_a_keyed_hash(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()

    response = tenant.send(phone)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["gateway"] == "outbox"
    assert body["phone"] == phone[:3] + "*" * (len(phone) - 6) + phone[-3:]
    assert datetime.fromisoformat(body["expires_at"]) - clock.now == timedelta(minutes=5)
    code = tenant.last_code(phone)
    with runtime_of(segell_server).transaction() as session:
        challenge = session.get(OtpChallenge, body["challenge_id"])
        assert challenge is not None
        stored = challenge.code_hash
        phone_hash = challenge.phone_hash
    assert code not in stored and stored != hashlib.sha256(code.encode()).hexdigest()
    assert phone[1:] not in phone_hash and phone_hash != hashlib.sha256(phone.encode()).hexdigest()
    # Without the master key nobody can tell which of the 10^6 codes it is.
    assert stored == Keyring(runtime_of(segell_server).master_key).code_hash(body["challenge_id"], code)
    assert stored != Keyring(secrets.token_bytes(32)).code_hash(body["challenge_id"], code)


def test_request_otp_accepts_separators_and_stores_the_e164_form(tenant: CitizenApp, clock: MovableClock) -> None:
    phone = new_phone()
    spaced = f"{phone[:3]} ({phone[3:6]}) {phone[6:9]}-{phone[9:]}"

    assert tenant.send(spaced).status_code == 202

    outbox = tenant.http.get("/v1/auth/otp/outbox", params={"phone": phone}).json()["items"]
    assert [item["phone"] for item in outbox] == [phone]


def outbox_message(tenant: CitizenApp, phone: str) -> str:
    """The last SMS the sandbox gateway kept for `phone`, as the citizen reads it."""
    items = tenant.http.get("/v1/auth/otp/outbox", params={"phone": phone, "limit": 1}).json()["items"]
    assert len(items) == 1, items
    return str(items[0]["message"])


def test_otp_sms_is_in_the_administrations_language_catalan_by_default(tenant: CitizenApp, clock: MovableClock) -> None:
    phone = new_phone()

    assert tenant.send(phone).status_code == 202

    code = tenant.last_code(phone)
    assert outbox_message(tenant, phone) == (
        f"Ajuntament {tenant.code}: el teu codi és {code}. Caduca d'aquí a 5 min. No el comparteixis: ningú de "
        "l'administració te'l demanarà."
    )


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("es", "Ajuntament {name}: tu código es {code}. Caduca en 5 min. No lo compartas: nadie de la administración "
         "te lo pedirá."),
        ("en", "{code} is your Ajuntament {name} code. It expires in 5 minutes. Never share it: nobody from the "
         "administration will ask for it."),
        ("ca", "Ajuntament {name}: el teu codi és {code}. Caduca d'aquí a 5 min. No el comparteixis: ningú de "
         "l'administració te'l demanarà."),
    ],
)  # fmt: skip
def test_otp_sms_is_in_the_language_the_app_asks_for(
    segell_server: RunningServer, tenants: Any, clock: MovableClock, lang: str, expected: str
) -> None:
    tenant = tenants()
    with segell_server.client(segell_server.governance_key) as governance:
        # The administration speaks another language: the citizen's choice wins.
        other = "en" if lang != "en" else "es"
        assert governance.patch(f"/v1/administrations/{tenant.code}", json={"language": other}).status_code == 200
    phone = new_phone()

    assert tenant.send(phone, lang=lang).status_code == 202

    code = tenant.last_code(phone)
    assert outbox_message(tenant, phone) == expected.format(name=tenant.code, code=code)


def test_otp_sms_uses_the_administrations_own_text_in_its_language(
    segell_server: RunningServer, clock: MovableClock
) -> None:
    code = f"CA{secrets.token_hex(4).upper()}"
    # A name that looks like a placeholder stays as it is.
    key = segell_server.admit(code, name="Consorci {code}")
    own = "{code}: codi de la seu electrònica de {administration}. Vàlid 5 minuts."
    with segell_server.client(key) as http:
        tenant = CitizenApp(code, key, http)
        changed = http.patch(f"/v1/administrations/{code}", json={"language": "es", "sms_templates": {"ca": own}})
        assert changed.status_code == 200, changed.text
        phones = [new_phone() for _ in range(3)]

        assert tenant.send(phones[0]).status_code == 202
        assert tenant.send(phones[1], lang="ca").status_code == 202
        http.patch(f"/v1/administrations/{code}", json={"sms_templates": {"ca": None}})
        assert tenant.send(phones[2], lang="ca").status_code == 202

        spanish, own_catalan, default_catalan = (outbox_message(tenant, phone) for phone in phones)
    assert spanish.startswith("Consorci {code}: tu código es ")
    sent_code = CODE_IN_MESSAGE.search(own_catalan)
    assert sent_code is not None
    assert own_catalan == f"{sent_code.group(1)}: codi de la seu electrònica de Consorci {{code}}. Vàlid 5 minuts."
    assert default_catalan.startswith("Consorci {code}: el teu codi és ")


def test_request_otp_refuses_a_language_it_does_not_speak_with_422(tenant: CitizenApp) -> None:
    for lang in ("fr", "CA", "", "es-ES", 1):
        response = tenant.send(new_phone(), lang=lang)

        assert response.status_code == 422, lang
        assert response.json()["error"]["details"][0]["location"] == "body.lang"
    assert tenant.http.get("/v1/auth/otp/outbox").json()["items"] == []


@pytest.mark.parametrize(
    "phone",
    [
        "600123456",
        "+0600123456",
        "+34 6OO 123 456",
        "+341234",
        "+3460012345678901",
        "",
        "+34600123456\x00",
        "٣٤٦٠٠١٢٣٤٥٦",
    ],
)
def test_request_otp_rejects_a_number_that_is_not_e164_with_422(tenant: CitizenApp, phone: str) -> None:
    response = tenant.send(phone)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["location"] == "body.phone"
    assert "E.164" in error["message"] and "+34600123456" in error["message"]


def test_codes_are_six_digits_and_unpredictable(tenant: CitizenApp, clock: MovableClock) -> None:
    codes = []
    for _ in range(LIMITS.codes_per_address):
        phone = new_phone()
        assert tenant.send(phone).status_code == 202
        codes.append(tenant.last_code(phone))

    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)
    assert len(set(codes)) == len(codes)  # ten draws from 10^6 collide with probability < 5e-5


def test_verify_otp_issues_an_es256_token_that_the_jwks_verifies(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    tenant.send(phone)

    response = tenant.verify(phone, tenant.last_code(phone))

    assert response.status_code == 200, response.text
    body = response.json()
    token = body["access_token"]
    jwks = httpx.get(f"{segell_server.url}/.well-known/jwks.json").json()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    public_key = jwt.PyJWK(next(key for key in jwks["keys"] if key["kid"] == header["kid"])).key
    claims = jwt.decode(token, public_key, algorithms=["ES256"], audience=tenant.code, issuer=segell_server.url)
    assert claims["sub"] == body["citizen_id"] and claims["sub"].startswith("cit_")
    assert phone[1:] not in claims["sub"] and phone[-6:] not in token
    assert claims["amr"] == body["amr"] == ["sms", "otp"]
    assert (
        claims["exp"] - claims["iat"]
        == body["expires_in"]
        == segell_server.settings.section(CitizenAuthSettings).token_ttl
    )
    assert claims["iat"] == int(clock.now.timestamp())


def test_citizen_id_is_stable_for_a_number_and_differs_between_administrations(
    tenants: Any, clock: MovableClock
) -> None:
    first, second = tenants(), tenants()
    phone = new_phone()

    subjects = [jwt.decode(t, options={"verify_signature": False})["sub"] for t in (first.login(phone),)]
    clock.advance(seconds=1)
    subjects.append(jwt.decode(first.login(phone), options={"verify_signature": False})["sub"])
    other = jwt.decode(second.login(phone), options={"verify_signature": False})["sub"]

    assert subjects[0] == subjects[1]
    assert other != subjects[0]


def test_a_code_works_only_once(tenant: CitizenApp, clock: MovableClock) -> None:
    phone = new_phone()
    tenant.send(phone)
    code = tenant.last_code(phone)
    assert tenant.verify(phone, code).status_code == 200

    replay = tenant.verify(phone, code)

    assert replay.status_code == 404
    assert error_code(replay) == "no_pending_code"


def test_a_code_expires_after_five_minutes(tenant: CitizenApp, clock: MovableClock) -> None:
    phone, late_phone = new_phone(), new_phone()
    tenant.send(phone)
    tenant.send(late_phone)
    code, late_code = tenant.last_code(phone), tenant.last_code(late_phone)

    clock.advance(minutes=5, seconds=-1)
    assert tenant.verify(phone, code).status_code == 200
    clock.advance(seconds=1)
    expired = tenant.verify(late_phone, late_code)

    assert expired.status_code == 404
    assert error_code(expired) == "no_pending_code"


def test_a_new_code_replaces_the_one_sent_before(tenant: CitizenApp, clock: MovableClock) -> None:
    phone = new_phone()
    tenant.send(phone)
    first = tenant.last_code(phone)
    tenant.send(phone)
    second = tenant.last_code(phone)
    if first == second:
        pytest.skip("the two codes drawn happen to be equal")

    assert tenant.verify(phone, first).status_code == 403
    assert tenant.verify(phone, second).status_code == 200


def test_five_wrong_codes_spend_the_challenge_even_for_the_right_code_after(
    tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    tenant.send(phone)
    code = tenant.last_code(phone)

    answers = [tenant.verify(phone, wrong_code(code, offset)) for offset in range(1, LIMITS.tries_per_code + 1)]
    after = tenant.verify(phone, code)

    assert [a.status_code for a in answers] == [403] * LIMITS.tries_per_code
    assert [a.json()["error"]["details"]["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    assert after.status_code == 404
    assert error_code(after) == "no_pending_code"


def test_concurrent_wrong_codes_cannot_exceed_the_tries_of_a_code(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    tenant.send(phone)
    right = tenant.last_code(phone)

    def attempt(offset: int) -> int:
        with segell_server.client(tenant.key) as http:
            response = http.post("/v1/auth/otp/verify", json={"phone": phone, "code": wrong_code(right, offset)})
            return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(1, 17)))

    assert sorted(statuses) == [403] * LIMITS.tries_per_code + [404] * (16 - LIMITS.tries_per_code)
    assert tenant.verify(phone, right).status_code == 404


def test_codes_per_number_are_limited_with_429_and_retry_after(tenant: CitizenApp, clock: MovableClock) -> None:
    phone = new_phone()
    for _ in range(LIMITS.codes_per_phone):
        assert tenant.send(phone).status_code == 202
    clock.advance(minutes=1)

    refused = tenant.send(phone)

    assert refused.status_code == 429
    assert error_code(refused) == "rate_limited"
    assert refused.headers["Retry-After"] == str(14 * 60)
    assert refused.json()["error"]["details"] == {"retry_after": 14 * 60}
    assert tenant.send(new_phone()).status_code == 202  # another number is not affected
    clock.advance(minutes=14)
    assert tenant.send(phone).status_code == 202


def test_codes_per_client_address_are_limited(tenant: CitizenApp, clock: MovableClock) -> None:
    for _ in range(LIMITS.codes_per_address):
        assert tenant.send(new_phone(), client_address="203.0.113.7").status_code == 202

    refused = tenant.send(new_phone(), client_address="203.0.113.7")

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 15 * 60
    assert tenant.send(new_phone(), client_address="2001:db8::7").status_code == 202


def test_code_tries_per_client_address_are_limited(tenant: CitizenApp, clock: MovableClock) -> None:
    address = "198.51.100.23"
    answers = [
        tenant.verify(new_phone(), "123456", client_address=address).status_code
        for _ in range(LIMITS.logins_per_address)
    ]

    refused = tenant.verify(new_phone(), "123456", client_address=address)

    assert set(answers) == {404}
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert tenant.verify(new_phone(), "123456", client_address="198.51.100.24").status_code == 404


def test_repeated_failures_lock_the_number_out_until_the_lockout_ends(tenant: CitizenApp, clock: MovableClock) -> None:
    phone = new_phone()
    failures = 0
    while failures < LIMITS.lockout_failures:
        clock.advance(minutes=6)  # below the per-number sending limit: only failures count
        tenant.send(phone)
        code = tenant.last_code(phone)
        for _ in range(min(3, LIMITS.lockout_failures - failures)):
            assert tenant.verify(phone, wrong_code(code)).status_code == 403
            failures += 1

    locked_send, locked_verify = tenant.send(phone), tenant.verify(phone, code)

    assert locked_send.status_code == locked_verify.status_code == 429
    assert error_code(locked_send) == error_code(locked_verify) == "locked_out"
    assert locked_send.headers["Retry-After"] == str(60 * 60)
    clock.advance(minutes=60)
    assert tenant.send(phone).status_code == 202
    assert tenant.verify(phone, tenant.last_code(phone)).status_code == 200


def test_a_success_clears_the_failures_counted_towards_lockout(tenant: CitizenApp, clock: MovableClock) -> None:
    phone = new_phone()
    for _ in range(2):
        clock.advance(minutes=6)
        tenant.send(phone)
        code = tenant.last_code(phone)
        for offset in range(1, LIMITS.lockout_failures // 2):
            assert tenant.verify(phone, wrong_code(code, offset)).status_code == 403
        assert tenant.verify(phone, code).status_code == 200

    clock.advance(minutes=6)
    tenant.send(phone)
    assert tenant.verify(phone, tenant.last_code(phone)).status_code == 200


def test_brute_force_never_succeeds_and_hits_the_limits(tenant: CitizenApp, clock: MovableClock) -> None:
    """An attacker who can ask for codes for a victim's number and try codes as fast as the API answers."""
    phone = new_phone()
    statuses: list[int] = []
    tries = 0
    guess = 0
    while len(statuses) < 200:
        sent = tenant.send(phone)
        statuses.append(sent.status_code)
        if sent.status_code == 429:
            break
        # The worst case for the defence: the real code comes right after the tries a code allows.
        real = tenant.last_code(phone)
        guesses = [f"{(guess + n) % 10**6:06d}" for n in range(50)]
        guesses = [g for g in guesses if g != real][: LIMITS.tries_per_code] + [real] + guesses[5:10]
        guess += 50
        for candidate in guesses:
            answer = tenant.verify(phone, candidate)
            tries += 1
            statuses.append(answer.status_code)
            assert answer.status_code != 200, f"guessed {candidate} after {tries} tries"
            if answer.status_code == 429:
                break
        if statuses[-1] == 429:
            break

    assert 200 not in statuses
    assert statuses[-1] == 429
    assert tries <= LIMITS.lockout_failures + 2 * LIMITS.tries_per_code
    final_send, final_verify = tenant.send(phone), tenant.verify(phone, "000000")
    assert final_send.status_code == final_verify.status_code == 429
    assert int(final_verify.headers["Retry-After"]) > 0


def test_codes_are_drawn_from_the_operating_systems_csprng() -> None:
    draws = [
        node
        for node in ast.walk(ast.parse(inspect.getsource(service.request_code).lstrip()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and (node.func.value.id, node.func.attr) == ("secrets", "randbelow")
    ]
    assert len(draws) == 1 and ast.unparse(draws[0].args[0]) == "10 ** 6"
    for module in pkgutil.iter_modules(citizen_auth.__path__):
        source = inspect.getsource(__import__(f"segell.services.citizen_auth.{module.name}", fromlist=["_"]))
        imported = {
            alias.name
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        assert "random" not in imported, f"{module.name} imports random: codes and secrets come from `secrets`"


def test_verification_compares_codes_in_constant_time() -> None:
    for function in (service.verify_code, service._matching_step):
        tree = ast.parse(inspect.getsource(function).lstrip())
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "compare_digest"
        ]
        equality = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
        ]
        assert calls, f"{function.__name__} compares codes with hmac.compare_digest"
        assert not equality, f"{function.__name__} compares something with == or !="


# -- TOTP ---------------------------------------------------------------------------------------


def test_totp_enrolment_gives_an_otpauth_uri_and_seals_the_secret(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    token = tenant.login(new_phone())
    with segell_server.client(token) as http:
        response = http.post("/v1/citizens/me/totp")
        status = http.get("/v1/citizens/me").json()["totp"]

    assert response.status_code == 201
    body = response.json()
    uri = urlsplit(body["otpauth_uri"])
    query = parse_qs(uri.query)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert query["secret"] == [body["secret"]] and len(body["secret"]) == 32
    assert query["issuer"] == [f"Ajuntament {tenant.code}"]
    assert status == "pending"
    with runtime_of(segell_server).transaction() as session:
        rows = session.scalars(select(TotpEnrolment).where(TotpEnrolment.status == "pending")).all()
        sealed = [row.sealed_secret for row in rows]
    assert sealed and all(body["secret"] not in value for value in sealed)
    keyring = Keyring(runtime_of(segell_server).master_key)
    opened = {keyring.open(row.sealed_secret, label=f"citizen-totp:{row.id}").decode() for row in rows}
    assert body["secret"] in opened


def test_totp_confirmation_needs_the_right_code(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    token = tenant.login(new_phone())
    with segell_server.client(token) as http:
        totp = pyotp.TOTP(http.post("/v1/citizens/me/totp").json()["secret"])
        wrong = http.post("/v1/citizens/me/totp/confirm", json={"code": wrong_code(totp.at(clock.now), 500_000)})
        right = http.post("/v1/citizens/me/totp/confirm", json={"code": totp.at(clock.now)})
        status = http.get("/v1/citizens/me").json()["totp"]

    assert wrong.status_code == 403 and error_code(wrong) == "wrong_code"
    assert right.status_code == 200 and right.json()["status"] == "active"
    assert status == "active"


def test_totp_login_issues_a_token_with_amr_totp_and_refuses_a_replayed_code(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    _, totp = enrol(segell_server, tenant, phone, clock)
    clock.advance(seconds=30)
    code = totp.at(clock.now)

    login = tenant.verify_totp(phone, code)
    replay = tenant.verify_totp(phone, code)
    clock.advance(seconds=30)
    next_step = tenant.verify_totp(phone, totp.at(clock.now))

    assert login.status_code == 200, login.text
    assert login.json()["amr"] == ["totp", "otp"]
    assert jwt.decode(login.json()["access_token"], options={"verify_signature": False})["amr"] == ["totp", "otp"]
    assert replay.status_code == 403 and "already used" in replay.json()["error"]["message"]
    assert next_step.status_code == 200


def test_totp_login_refuses_the_code_used_to_confirm_the_enrolment(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    _, totp = enrol(segell_server, tenant, phone, clock)

    assert tenant.verify_totp(phone, totp.at(clock.now)).status_code == 403


def test_totp_login_accepts_one_step_of_clock_drift_and_no_more(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    _, totp = enrol(segell_server, tenant, phone, clock)
    clock.advance(minutes=2)

    too_old = tenant.verify_totp(phone, totp.at(clock.now - timedelta(seconds=60)))
    one_behind = tenant.verify_totp(phone, totp.at(clock.now - timedelta(seconds=30)))

    assert too_old.status_code == 403
    assert one_behind.status_code == 200


def test_totp_wrong_codes_are_limited_and_count_towards_lockout(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    _, totp = enrol(segell_server, tenant, phone, clock)
    clock.advance(seconds=30)
    right = totp.at(clock.now)
    candidates = [
        f"{n:06d}" for n in range(20) if f"{n:06d}" not in {right, totp.at(clock.now - timedelta(seconds=30))}
    ]

    wrong = [tenant.verify_totp(phone, candidate).status_code for candidate in candidates[: LIMITS.tries_per_code]]
    limited = tenant.verify_totp(phone, right)

    assert wrong == [403] * LIMITS.tries_per_code
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    clock.advance(minutes=5)
    assert tenant.verify_totp(phone, totp.at(clock.now)).status_code == 200


def test_totp_login_without_enrolment_answers_404(tenant: CitizenApp, clock: MovableClock) -> None:
    response = tenant.verify_totp(new_phone(), "123456")

    assert response.status_code == 404
    assert error_code(response) == "totp_not_enrolled"


def test_replacing_an_enrolled_authenticator_needs_a_totp_login(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    _, totp = enrol(segell_server, tenant, phone, clock)
    clock.advance(seconds=30)
    sms_token = tenant.login(phone)
    totp_token = tenant.verify_totp(phone, totp.at(clock.now)).json()["access_token"]

    with segell_server.client(sms_token) as http:
        refused = http.post("/v1/citizens/me/totp")
    with segell_server.client(totp_token) as http:
        allowed = http.post("/v1/citizens/me/totp")

    assert refused.status_code == 409 and error_code(refused) == "totp_enrolled"
    assert allowed.status_code == 201


# -- tokens accepted by citizen-facing services ---------------------------------------------------


def signing_key(server: RunningServer) -> tuple[str, ec.EllipticCurvePrivateKey]:
    runtime = runtime_of(server)
    with runtime.transaction() as session:
        record = session.scalars(select(TokenSigningKey).order_by(TokenSigningKey.created_at.desc())).first()
        assert record is not None
        kid, sealed = record.kid, record.sealed_key
    scalar = Keyring(runtime.master_key).open(sealed, label=f"citizen-token-key:{kid}")
    return kid, ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def claims_for(server: RunningServer, tenant: CitizenApp, **changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": server.url,
        "aud": tenant.code,
        "sub": "cit_" + "0" * 40,
        "amr": ["sms", "otp"],
        "iat": now,
        "exp": now + 300,
        "jti": secrets.token_hex(16),
    }
    return {**claims, **changes}


def test_citizens_me_accepts_a_valid_token(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    token = tenant.login(new_phone())

    response = citizen(segell_server, token)

    assert response.status_code == 200
    body = response.json()
    assert body["administration"] == tenant.code
    assert body["amr"] == ["sms", "otp"]
    assert body["citizen_id"] == jwt.decode(token, options={"verify_signature": False})["sub"]
    assert body["totp"] == "none"


def test_citizens_me_rejects_an_expired_token(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    token = tenant.login(new_phone())
    clock.advance(seconds=segell_server.settings.section(CitizenAuthSettings).token_ttl - 1)
    assert citizen(segell_server, token).status_code == 200
    clock.advance(seconds=1)

    response = citizen(segell_server, token)

    assert response.status_code == 401
    assert error_code(response) == "token_expired"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_citizens_me_rejects_a_token_for_another_audience(segell_server: RunningServer, tenant: CitizenApp) -> None:
    kid, key = signing_key(segell_server)
    foreign = jwt.encode(claims_for(segell_server, tenant, aud="NOT-HERE"), key, "ES256", headers={"kid": kid})
    listed = jwt.encode(claims_for(segell_server, tenant, aud=[tenant.code]), key, "ES256", headers={"kid": kid})
    genuine = jwt.encode(claims_for(segell_server, tenant), key, "ES256", headers={"kid": kid})

    assert citizen(segell_server, foreign).status_code == 401
    assert citizen(segell_server, listed).status_code == 401
    assert citizen(segell_server, genuine).status_code == 200


def test_citizens_me_rejects_a_token_from_another_issuer(segell_server: RunningServer, tenant: CitizenApp) -> None:
    kid, key = signing_key(segell_server)
    token = jwt.encode(
        claims_for(segell_server, tenant, iss="https://elsewhere.example"), key, "ES256", headers={"kid": kid}
    )

    assert citizen(segell_server, token).status_code == 401


def test_citizens_me_rejects_a_tampered_token(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    token = tenant.login(new_phone())
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged_payload = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps({**claims, "sub": "cit_" + "1" * 40}, separators=(",", ":")).encode()
    ).decode()
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BA")

    for forged in (f"{header}.{forged_payload}.{signature}", f"{header}.{payload}.{flipped}"):
        response = citizen(segell_server, forged)
        assert response.status_code == 401
        assert error_code(response) == "invalid_token"


def test_citizens_me_rejects_an_unknown_kid(segell_server: RunningServer, tenant: CitizenApp) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    kid, _ = signing_key(segell_server)

    unknown = jwt.encode(claims_for(segell_server, tenant), other_key, "ES256", headers={"kid": "not-a-key-of-ours"})
    borrowed = jwt.encode(claims_for(segell_server, tenant), other_key, "ES256", headers={"kid": kid})

    assert citizen(segell_server, unknown).status_code == 401
    assert citizen(segell_server, borrowed).status_code == 401


def test_citizens_me_rejects_alg_none_and_hmac_confusion(segell_server: RunningServer, tenant: CitizenApp) -> None:
    kid, key = signing_key(segell_server)
    unsigned = jwt.encode(claims_for(segell_server, tenant), None, algorithm="none", headers={"kid": kid})
    jwks = httpx.get(f"{segell_server.url}/.well-known/jwks.json").text
    header = jwt.utils.base64url_encode(jwt.api_jws.json.dumps({"alg": "HS256", "kid": kid}).encode()).decode()
    payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims_for(segell_server, tenant)).encode()).decode()
    mac = hmac.new(jwks.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{jwt.utils.base64url_encode(mac).decode()}"

    for token in (unsigned, confused, "not.a.token", tenant.key):
        response = citizen(segell_server, token)
        assert response.status_code == 401, token
        assert error_code(response) == "invalid_token"


def test_citizens_me_without_a_token_answers_401(segell_server: RunningServer) -> None:
    with segell_server.client() as http:
        response = http.get("/v1/citizens/me")

    assert response.status_code == 401


def test_the_signing_key_is_sealed_at_rest_and_published(segell_server: RunningServer) -> None:
    kid, key = signing_key(segell_server)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    with runtime_of(segell_server).transaction() as session:
        record = session.get(TokenSigningKey, kid)
        assert record is not None
        sealed = record.sealed_key
    jwks = httpx.get(f"{segell_server.url}/.well-known/jwks.json").json()

    assert scalar.hex() not in sealed and str(key.private_numbers().private_value) not in sealed
    published = next(item for item in jwks["keys"] if item["kid"] == kid)
    assert set(published) == {"kty", "crv", "x", "y", "kid", "use", "alg"}  # no "d"
    public = jwt.PyJWK(published).key
    assert public.public_numbers() == key.public_key().public_numbers()
    with runtime_of(segell_server).transaction() as session:
        again = tokens.ensure_signing_key(session, Keyring(runtime_of(segell_server).master_key), datetime.now(UTC))
        assert again.kid == kid


def test_a_suspended_administrations_tokens_are_refused(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    token = tenant.login(new_phone())
    with segell_server.client(segell_server.governance_key) as governance:
        assert governance.post(f"/v1/administrations/{tenant.code}/suspend").status_code == 200
        try:
            response = citizen(segell_server, token)
        finally:
            governance.post(f"/v1/administrations/{tenant.code}/reinstate")

    assert response.status_code == 403
    assert error_code(response) == "administration_suspended"


# -- tenancy: every endpoint ----------------------------------------------------------------------


def test_request_otp_needs_an_administrations_key(segell_server: RunningServer) -> None:
    with segell_server.client(segell_server.governance_key) as governance, segell_server.client() as anonymous:
        as_governance = governance.post("/v1/auth/otp", json={"phone": new_phone()})
        as_anonymous = anonymous.post("/v1/auth/otp", json={"phone": new_phone()})

    assert as_governance.status_code == 403
    assert as_anonymous.status_code == 401


def test_request_otp_by_another_administration_changes_nothing_for_this_one(tenants: Any, clock: MovableClock) -> None:
    ours, theirs = tenants(), tenants()
    phone = new_phone()
    ours.send(phone)
    code = ours.last_code(phone)

    for _ in range(LIMITS.codes_per_phone + 1):
        theirs.send(phone)  # their own challenges and limits only

    assert ours.send(new_phone()).status_code == 202
    assert ours.verify(phone, code).status_code == 200


def test_verify_otp_with_another_administrations_key_is_404_and_spends_no_try(
    tenants: Any, clock: MovableClock
) -> None:
    ours, theirs = tenants(), tenants()
    phone = new_phone()
    ours.send(phone)
    code = ours.last_code(phone)

    stolen = theirs.verify(phone, code)
    for _ in range(LIMITS.lockout_failures):
        theirs.verify(phone, wrong_code(code))

    assert stolen.status_code == 404
    assert ours.verify(phone, code).status_code == 200


def test_outbox_shows_an_administration_only_its_own_messages(
    segell_server: RunningServer, tenants: Any, clock: MovableClock
) -> None:
    ours, theirs = tenants(), tenants()
    our_phone, their_phone = new_phone(), new_phone()
    ours.send(our_phone)
    theirs.send(their_phone)

    our_items = ours.http.get("/v1/auth/otp/outbox").json()["items"]
    peeking = ours.http.get("/v1/auth/otp/outbox", params={"administration": theirs.code})
    by_number = ours.http.get("/v1/auth/otp/outbox", params={"phone": their_phone}).json()["items"]
    with segell_server.client(segell_server.governance_key) as governance:
        everything = governance.get("/v1/auth/otp/outbox", params={"limit": 1000}).json()["items"]
        theirs_only = governance.get("/v1/auth/otp/outbox", params={"administration": theirs.code}).json()["items"]

    assert {item["administration"] for item in our_items} == {ours.code}
    assert [item["phone"] for item in our_items] == [our_phone]
    assert peeking.status_code == 404
    assert by_number == []
    assert {(item["administration"], item["phone"]) for item in everything} >= {
        (ours.code, our_phone),
        (theirs.code, their_phone),
    }
    assert [item["phone"] for item in theirs_only] == [their_phone]


def test_outbox_needs_a_key(segell_server: RunningServer) -> None:
    with segell_server.client() as anonymous:
        assert anonymous.get("/v1/auth/otp/outbox").status_code == 401


def test_outbox_keeps_neither_the_code_nor_the_number_readable_in_the_database(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    phone = new_phone()
    assert tenant.send(phone).status_code == 202
    code = tenant.last_code(phone)

    rows = raw_outbox(segell_server, tenant.code)

    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    for secret in (code, phone, phone[1:], phone[3:]):
        assert secret not in stored, f"{secret!r} is readable in the outbox table"
    assert [item["phone"] for item in tenant.http.get("/v1/auth/otp/outbox").json()["items"]] == [phone]


def test_outbox_messages_are_deleted_when_their_code_expires(
    segell_server: RunningServer, tenant: CitizenApp, clock: MovableClock
) -> None:
    ttl = timedelta(seconds=segell_server.settings.section(CitizenAuthSettings).code_ttl)
    early, late = new_phone(), new_phone()
    tenant.send(early)
    clock.advance(seconds=1)
    tenant.send(late)
    clock.advance(seconds=ttl.total_seconds() - 1)

    listed = tenant.http.get("/v1/auth/otp/outbox").json()["items"]
    rows = raw_outbox(segell_server, tenant.code)
    clock.advance(seconds=1)
    listed_at_late_expiry = tenant.http.get("/v1/auth/otp/outbox").json()["items"]
    rows_at_late_expiry = raw_outbox(segell_server, tenant.code)

    assert [item["phone"] for item in listed] == [late]
    assert len(rows) == 1
    assert listed_at_late_expiry == [] and rows_at_late_expiry == []


def test_request_otp_deletes_every_expired_outbox_message(
    segell_server: RunningServer, tenants: Any, clock: MovableClock
) -> None:
    ours, theirs = tenants(), tenants()
    ours.send(new_phone())
    clock.advance(seconds=segell_server.settings.section(CitizenAuthSettings).code_ttl)

    assert theirs.send(new_phone()).status_code == 202

    assert raw_outbox(segell_server, ours.code) == []
    assert len(raw_outbox(segell_server, theirs.code)) == 1


def test_totp_verify_with_another_administrations_key_is_404_and_leaves_the_code_unused(
    segell_server: RunningServer, tenants: Any, clock: MovableClock
) -> None:
    ours, theirs = tenants(), tenants()
    phone = new_phone()
    _, totp = enrol(segell_server, ours, phone, clock)
    clock.advance(seconds=30)
    code = totp.at(clock.now)

    stolen = theirs.verify_totp(phone, code)

    assert stolen.status_code == 404
    assert ours.verify_totp(phone, code).status_code == 200


def test_totp_enrolment_belongs_to_the_tokens_administration(
    segell_server: RunningServer, tenants: Any, clock: MovableClock
) -> None:
    ours, theirs = tenants(), tenants()
    phone = new_phone()
    our_token, totp = enrol(segell_server, ours, phone, clock)
    their_token = theirs.login(phone)

    with segell_server.client(their_token) as http:
        their_status = http.get("/v1/citizens/me").json()["totp"]
        confirm = http.post("/v1/citizens/me/totp/confirm", json={"code": totp.at(clock.now)})
        their_enrolment = http.post("/v1/citizens/me/totp")
    clock.advance(seconds=30)

    assert their_status == "none"
    assert confirm.status_code == 404  # nothing pending there: our enrolment is not theirs to confirm
    assert their_enrolment.status_code == 201  # their own, beside ours
    assert citizen(segell_server, our_token).json()["totp"] == "active"
    assert ours.verify_totp(phone, totp.at(clock.now)).status_code == 200


def test_citizen_endpoints_refuse_api_keys(segell_server: RunningServer, tenant: CitizenApp) -> None:
    for method, path in (("GET", "/v1/citizens/me"), ("POST", "/v1/citizens/me/totp")):
        response = tenant.http.request(method, path)
        assert response.status_code == 401
        assert error_code(response) == "invalid_token"


def test_jwks_is_public(segell_server: RunningServer) -> None:
    response = httpx.get(f"{segell_server.url}/.well-known/jwks.json")

    assert response.status_code == 200
    assert all(key["alg"] == "ES256" and key["crv"] == "P-256" for key in response.json()["keys"])


# -- SMS gateways ---------------------------------------------------------------------------------


class FileGateway:
    """A gateway of the kind a deployment registers: here it appends each message to a file."""

    name = "file"

    def __init__(self, path: Path, refuse: bool = False) -> None:
        self.path, self.refuse = path, refuse

    def send(self, session: Session, *, administration_id: int, phone: str, message: str, now: datetime) -> None:
        if self.refuse:
            raise SmsNotDelivered("the provider answered 503")
        with self.path.open("a") as stream:
            stream.write(f"{phone} {message}\n")


def test_an_unknown_gateway_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="outbox"):
        gateway_for(Settings().with_sections(CitizenAuthSettings(sms_gateway="carrier-pigeon")), Keyring(bytes(32)))


def test_a_registered_gateway_is_selected_by_name_and_replaces_the_outbox(
    segell_server: RunningServer, tenant: CitizenApp, tmp_path: Path
) -> None:
    register_gateway("file", lambda settings: FileGateway(tmp_path / "sms.log"))
    gateway = gateway_for(Settings().with_sections(CitizenAuthSettings(sms_gateway="file")), Keyring(bytes(32)))
    auth = dataclasses.replace(CitizenAuth.of(runtime_of(segell_server)), gateway=gateway)
    administration = administration_record(segell_server, tenant.code)
    phone = new_phone()

    sent = request_code(auth, administration, phone, "192.0.2.1")

    assert sent.gateway == "file"
    delivered = (tmp_path / "sms.log").read_text()
    code = CODE_IN_MESSAGE.search(delivered)
    assert delivered.startswith(phone) and code is not None
    assert tenant.http.get("/v1/auth/otp/outbox", params={"phone": phone}).json()["items"] == []
    assert tenant.verify(phone, code.group(1)).status_code == 200


def test_a_gateway_that_refuses_the_message_issues_no_code(
    segell_server: RunningServer, tenant: CitizenApp, tmp_path: Path
) -> None:
    refusing = FileGateway(tmp_path / "sms.log", refuse=True)
    auth = dataclasses.replace(CitizenAuth.of(runtime_of(segell_server)), gateway=refusing)
    administration = administration_record(segell_server, tenant.code)
    phone = new_phone()

    with pytest.raises(Unavailable, match="provider answered 503"):
        request_code(auth, administration, phone, "192.0.2.1")

    assert error_code(tenant.verify(phone, "123456")) == "no_pending_code"
    assert tenant.send(phone).status_code == 202  # nothing was counted against the number either


def test_the_schema_documents_429_with_retry_after_on_every_limited_operation(segell_server: RunningServer) -> None:
    schema = httpx.get(f"{segell_server.url}/openapi.json").json()
    limited = [
        ("/v1/auth/otp", "post"),
        ("/v1/auth/otp/verify", "post"),
        ("/v1/auth/totp/verify", "post"),
        ("/v1/citizens/me/totp/confirm", "post"),
    ]

    for path, method in limited:
        too_many = schema["paths"][path][method]["responses"]["429"]
        assert "Retry-After" in too_many["headers"], path
        assert too_many["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert schema["paths"]["/.well-known/jwks.json"]["get"].get("security") is None


def test_the_signing_key_is_made_at_the_first_start_and_kept_across_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    with contextmanager(serve)(settings) as first:
        before_any_login = httpx.get(f"{first.url}/.well-known/jwks.json").json()["keys"]
        code = f"RS{secrets.token_hex(4).upper()}"
        with first.client(first.admit(code)) as http:
            token = CitizenApp(code, "", http).login(new_phone())
    with contextmanager(serve)(settings) as second:
        after_restart = httpx.get(f"{second.url}/.well-known/jwks.json").json()["keys"]
        accepted = citizen(second, token)

    assert len(before_any_login) == 1
    assert after_restart == before_any_login
    assert jwt.get_unverified_header(token)["kid"] == before_any_login[0]["kid"]
    assert accepted.status_code == 200 and accepted.json()["administration"] == code
