"""Rules of citizen authentication (NIST SP 800-63B): one-time codes by SMS, TOTP, rate limits and lock-out.

Every rule is per administration: a citizen-facing app calls with its administration's API key, and nothing one
administration does (codes, failures, limits, enrolments) is seen or felt by another.

Failures must be remembered even though the request fails, so each operation runs its own transaction and raises
only after it has committed what the attempt counted.

Every limit is exact under concurrent requests, from one API process or several: an operation first takes the turn
of the number, client address or citizen it counts for (`repository.take_turns`), and holds it while it reads the
counts, checks the code and records what happened, so the next operation on that subject reads the counts this one
committed.
"""

import hmac
import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address

import pyotp
from sqlalchemy.orm import Session

from segell.services.administrations import api as administrations
from segell.services.administrations.api import Administration
from segell.services.citizen_auth import repository, tokens
from segell.services.citizen_auth.gateways import SmsGateway, SmsNotDelivered, gateway_for, outbox_label
from segell.services.citizen_auth.keyring import Keyring
from segell.services.citizen_auth.models import OtpChallenge, TotpEnrolment
from segell.services.citizen_auth.settings import CitizenAuthSettings
from segell.services.errors import Conflict, Forbidden, NotFound, SegellError, TooManyRequests, Unavailable
from segell.services.languages import Language
from segell.services.runtime import Runtime

Clock = Callable[[], datetime]

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
AMR_SMS = ["sms", "otp"]
AMR_TOTP = ["totp", "otp"]

# The SMS with a one-time code, where the administration has no text of its own in that language. `{minutes}` is
# how long the code works; an administration's own text has only `{code}` and `{administration}`.
DEFAULT_SMS_TEXTS: dict[Language, str] = {
    "ca": "{administration}: el teu codi és {code}. Caduca d'aquí a {minutes} min. No el comparteixis: ningú de "
    "l'administració te'l demanarà.",
    "es": "{administration}: tu código es {code}. Caduca en {minutes} min. No lo compartas: nadie de la "
    "administración te lo pedirá.",
    "en": "{code} is your {administration} code. It expires in {minutes} minutes. Never share it: nobody from the "
    "administration will ask for it.",
}
_SMS_PLACEHOLDER = re.compile(r"\{(code|administration|minutes)\}")


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """How often codes may be sent and tried. Counted per administration."""

    code_ttl: timedelta = timedelta(minutes=5)
    tries_per_code: int = 5  # wrong codes before a challenge is spent; TOTP: per number within code_ttl
    window: timedelta = timedelta(minutes=15)
    codes_per_phone: int = 3  # codes sent to one number per window
    codes_per_address: int = 10  # codes asked for from one client address per window
    logins_per_address: int = 30  # codes tried from one client address per window
    lockout_failures: int = 10  # wrong codes for one number (any factor, no success between) before lock-out
    lockout_period: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class CitizenAuth:
    """What the rules need: the database, the keys, the gateway, the limits and the time."""

    runtime: Runtime
    keyring: Keyring
    gateway: SmsGateway
    limits: Limits
    clock: Clock = system_clock

    @classmethod
    def of(cls, runtime: Runtime, clock: Clock = system_clock, limits: Limits | None = None) -> "CitizenAuth":
        settings = runtime.settings
        keyring = Keyring(runtime.master_key)
        return cls(
            runtime=runtime,
            keyring=keyring,
            gateway=gateway_for(settings, keyring),
            limits=limits or Limits(code_ttl=timedelta(seconds=settings.section(CitizenAuthSettings).code_ttl)),
            clock=clock,
        )


@dataclass(frozen=True)
class SentCode:
    challenge_id: str
    phone: str
    expires_at: datetime
    gateway: str


@dataclass(frozen=True)
class NewTotp:
    secret: str
    otpauth_uri: str
    created_at: datetime


def start(runtime: Runtime) -> None:
    """At start: refuse an unknown gateway name, and make the token signing key if there is none yet."""
    keyring = Keyring(runtime.master_key)
    gateway_for(runtime.settings, keyring)
    with runtime.transaction() as session:
        tokens.ensure_signing_key(session, keyring, system_clock())


def mask_phone(phone: str) -> str:
    return phone[:3] + "*" * (len(phone) - 6) + phone[-3:]


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


class _Subjects:
    """The keyed names under which a number's and an address's events are counted."""

    def __init__(self, auth: CitizenAuth, administration: Administration, phone: str, address: str) -> None:
        keyring = auth.keyring
        self.phone_hash = keyring.phone_hash(administration.id, phone)
        self.phone = "phone:" + self.phone_hash
        self.address = "address:" + keyring.address_hash(administration.id, address)


def _enforce(
    session: Session,
    administration: Administration,
    kind: str,
    subject: str,
    *,
    limit: int,
    window: timedelta,
    now: datetime,
    message: str,
) -> None:
    times = repository.recent_event_times(session, administration.id, kind, subject, since=now - window, limit=limit)
    if len(times) >= limit:
        raise TooManyRequests(message, retry_after=times[-1] + window - now)


def _refuse_locked(
    session: Session, auth: CitizenAuth, administration: Administration, subject: str, now: datetime
) -> None:
    limits = auth.limits
    failures = repository.recent_event_times(
        session, administration.id, "failed", subject, since=now - limits.lockout_period, limit=limits.lockout_failures
    )
    if len(failures) >= limits.lockout_failures:
        raise TooManyRequests(
            f"This number is locked after {limits.lockout_failures} wrong codes: no code is sent or accepted for it "
            "until the lock-out ends.",
            retry_after=failures[0] + limits.lockout_period - now,
            code="locked_out",
        )


def _refuse_busy_address(
    session: Session, auth: CitizenAuth, administration: Administration, subject: str, now: datetime
) -> None:
    _enforce(
        session,
        administration,
        "attempt",
        subject,
        limit=auth.limits.logins_per_address,
        window=auth.limits.window,
        now=now,
        message=f"Too many codes tried from this client address (at most {auth.limits.logins_per_address} "
        f"per {_seconds(auth.limits.window) // 60} minutes).",
    )


def sms_text(administration: Administration, code: str, code_ttl: timedelta, language: Language | None = None) -> str:
    """The SMS that carries `code`: in `language`, else the administration's, with its own text where it has one."""
    template = administrations.sms_template_for(administration, language)
    values = {
        "code": code,
        "administration": administration.name,
        "minutes": str(_seconds(code_ttl) // 60 or 1),
    }
    # In one pass: a name holding "{code}" stays as it is.
    text = template.text or DEFAULT_SMS_TEXTS[template.language]
    return _SMS_PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def request_code(
    auth: CitizenAuth,
    administration: Administration,
    phone: str,
    address: str | IPv4Address | IPv6Address,
    *,
    language: Language | None = None,
) -> SentCode:
    """Send a new 6-digit code to `phone`, in `language` or the administration's; any code sent before to that
    number stops working."""
    now, limits = auth.clock(), auth.limits
    subjects = _Subjects(auth, administration, phone, str(address))
    with auth.runtime.transaction() as session:
        repository.take_turns(session, administration.id, (subjects.phone, subjects.address), now)
        _refuse_locked(session, auth, administration, subjects.phone, now)
        minutes = _seconds(limits.window) // 60
        _enforce(
            session,
            administration,
            "sent",
            subjects.phone,
            limit=limits.codes_per_phone,
            window=limits.window,
            now=now,
            message=f"Too many codes sent to this number (at most {limits.codes_per_phone} per {minutes} minutes).",
        )
        _enforce(
            session,
            administration,
            "sent",
            subjects.address,
            limit=limits.codes_per_address,
            window=limits.window,
            now=now,
            message=f"Too many codes asked for from this client address "
            f"(at most {limits.codes_per_address} per {minutes} minutes).",
        )
        repository.prune(session, administration.id, before=now - max(limits.lockout_period, limits.window))
        repository.delete_expired_messages(session, now=now)
        repository.supersede_pending(session, administration.id, subjects.phone_hash)
        challenge_id = secrets.token_hex(16)
        code = f"{secrets.randbelow(10**6):06d}"
        expires_at = now + limits.code_ttl
        session.add(
            OtpChallenge(
                id=challenge_id,
                administration_id=administration.id,
                phone_hash=subjects.phone_hash,
                code_hash=auth.keyring.code_hash(challenge_id, code),
                status="pending",
                attempts=0,
                created_at=now,
                expires_at=expires_at,
            )
        )
        repository.add_event(session, administration.id, "sent", subjects.phone, now)
        repository.add_event(session, administration.id, "sent", subjects.address, now)
        message = sms_text(administration, code, limits.code_ttl, language)
        try:
            auth.gateway.send(session, administration_id=administration.id, phone=phone, message=message, now=now)
        except SmsNotDelivered as exc:
            raise Unavailable(
                f"The SMS gateway {auth.gateway.name!r} did not take the message ({exc}); try again."
            ) from exc
    return SentCode(challenge_id, mask_phone(phone), expires_at, auth.gateway.name)


def _issue(
    session: Session, auth: CitizenAuth, administration: Administration, phone: str, amr: list[str], now: datetime
) -> tokens.IssuedToken:
    settings = auth.runtime.settings
    return tokens.issue(
        session,
        auth.keyring,
        issuer=settings.api_url,
        audience=administration.code,
        citizen_id=auth.keyring.citizen_id(administration.id, phone),
        amr=amr,
        ttl=timedelta(seconds=settings.section(CitizenAuthSettings).token_ttl),
        now=now,
    )


def _wrong_code(message: str, attempts_left: int | None = None) -> Forbidden:
    # 403, not 400: the request is well formed; the credential it carries does not grant a login.
    details = None if attempts_left is None else {"attempts_left": attempts_left}
    return Forbidden(message, code="wrong_code", details=details)


def verify_code(
    auth: CitizenAuth, administration: Administration, phone: str, code: str, address: str | IPv4Address | IPv6Address
) -> tokens.IssuedToken:
    """Check a code sent by `request_code`; a token for the citizen when it is right."""
    now, limits = auth.clock(), auth.limits
    subjects = _Subjects(auth, administration, phone, str(address))
    failure: SegellError | None = None
    with auth.runtime.transaction() as session:
        repository.take_turns(session, administration.id, (subjects.phone, subjects.address), now)
        _refuse_locked(session, auth, administration, subjects.phone, now)
        _refuse_busy_address(session, auth, administration, subjects.address, now)
        repository.add_event(session, administration.id, "attempt", subjects.address, now)
        challenge = repository.pending_challenge(session, administration.id, subjects.phone_hash)
        if challenge is not None and challenge.expires_at <= now:
            repository.set_challenge_status(session, challenge.id, "expired")
            challenge = None
        if challenge is None or not repository.take_attempt(session, challenge.id, limits.tries_per_code, now):
            failure = NotFound(
                "No code is pending for this number: it expired, was used, was replaced by a newer one, or was never "
                "sent. Ask for a new one with POST /v1/auth/otp.",
                code="no_pending_code",
            )
        elif hmac.compare_digest(auth.keyring.code_hash(challenge.id, code), challenge.code_hash):
            if repository.set_challenge_status(session, challenge.id, "used", used_at=now):
                repository.clear_events(session, administration.id, ("failed",), subjects.phone)
                return _issue(session, auth, administration, phone, AMR_SMS, now)
            failure = NotFound("This code was just used; ask for a new one.", code="no_pending_code")
        else:
            repository.add_event(session, administration.id, "failed", subjects.phone, now)
            attempts_left = limits.tries_per_code - (challenge.attempts + 1)
            if attempts_left <= 0:
                repository.set_challenge_status(session, challenge.id, "exhausted")
                failure = _wrong_code("Wrong code, and the last try for it: ask for a new one.", 0)
            else:
                failure = _wrong_code(f"Wrong code; {attempts_left} tries left for it.", attempts_left)
    raise failure


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    administration: str
    phone: str
    message: str
    created_at: datetime


def read_outbox(
    auth: CitizenAuth, session: Session, *, administration_id: int | None, phone: str | None, limit: int
) -> list[OutboxMessage]:
    """The sandbox gateway's messages whose code still works, newest first, opened; expired ones are deleted."""
    now = auth.clock()
    phone_hash = None if phone is None else auth.keyring.outbox_phone_hash(phone)
    repository.delete_expired_messages(session, now=now)
    entries = repository.outbox(
        session, administration_id=administration_id, phone_hash=phone_hash, now=now, limit=limit
    )
    messages = []
    for entry, code in entries:
        opened = auth.keyring.open(entry.sealed_message, label=outbox_label(entry.administration_id, entry.phone_hash))
        content = json.loads(opened)
        messages.append(OutboxMessage(entry.id, code, content["phone"], content["message"], entry.created_at))
    return messages


# -- TOTP ---------------------------------------------------------------------------------------


def _totp_label(enrolment_id: str) -> str:
    return f"citizen-totp:{enrolment_id}"


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code is `code`, allowing one step either side for clock drift (RFC 6238 §5.2)."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    matched = None
    for step in (current - 1, current, current + 1):
        # Every candidate is compared, in constant time, whatever matched before.
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    return matched


def _refuse_totp_guessing(
    session: Session, auth: CitizenAuth, administration: Administration, subject: str, now: datetime
) -> None:
    _enforce(
        session,
        administration,
        "totp_failed",
        subject,
        limit=auth.limits.tries_per_code,
        window=auth.limits.code_ttl,
        now=now,
        message=f"Too many wrong authenticator codes ({auth.limits.tries_per_code}).",
    )


def enrol_totp(auth: CitizenAuth, administration: Administration, citizen_id: str, amr: list[str]) -> NewTotp:
    """Start a TOTP enrolment for a logged-in citizen; it works once confirmed with a first code."""
    now = auth.clock()
    with auth.runtime.transaction() as session:
        active = repository.totp_enrolment(session, administration.id, citizen_id, "active")
        if active is not None and "totp" not in amr:
            raise Conflict(
                "An authenticator is already enrolled: log in with it (POST /v1/auth/totp/verify) to replace it, "
                "so that a code intercepted by SMS cannot.",
                code="totp_enrolled",
            )
        repository.delete_totp(session, administration.id, citizen_id, "pending")
        enrolment_id = secrets.token_hex(16)
        secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        session.add(
            TotpEnrolment(
                id=enrolment_id,
                administration_id=administration.id,
                citizen_id=citizen_id,
                sealed_secret=auth.keyring.seal(secret.encode(), label=_totp_label(enrolment_id)),
                status="pending",
                created_at=now,
            )
        )
    uri = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=f"{administration.code}-{citizen_id[4:12]}", issuer_name=administration.name
    )
    return NewTotp(secret, uri, now)


def confirm_totp(auth: CitizenAuth, administration: Administration, citizen_id: str, code: str) -> datetime:
    """Activate the pending enrolment with a first code; it replaces any authenticator enrolled before."""
    now = auth.clock()
    subject = "citizen:" + citizen_id
    failure: SegellError
    with auth.runtime.transaction() as session:
        repository.take_turns(session, administration.id, (subject,), now)
        _refuse_totp_guessing(session, auth, administration, subject, now)
        pending = repository.totp_enrolment(session, administration.id, citizen_id, "pending")
        if pending is None:
            raise NotFound("No authenticator enrolment is pending: start one with POST /v1/citizens/me/totp.")
        secret = auth.keyring.open(pending.sealed_secret, label=_totp_label(pending.id)).decode()
        step = _matching_step(secret, code, now)
        if step is not None:
            repository.delete_totp(session, administration.id, citizen_id, "active")
            pending.status, pending.confirmed_at, pending.last_step = "active", now, step
            repository.clear_events(session, administration.id, ("totp_failed",), subject)
            return now
        repository.add_event(session, administration.id, "totp_failed", subject, now)
        failure = _wrong_code("Wrong code: type the one the authenticator app shows now.")
    raise failure


def verify_totp(
    auth: CitizenAuth, administration: Administration, phone: str, code: str, address: str | IPv4Address | IPv6Address
) -> tokens.IssuedToken:
    """Log in with the phone number and a code of the citizen's authenticator app."""
    now = auth.clock()
    subjects = _Subjects(auth, administration, phone, str(address))
    failure: SegellError
    with auth.runtime.transaction() as session:
        repository.take_turns(session, administration.id, (subjects.phone, subjects.address), now)
        _refuse_locked(session, auth, administration, subjects.phone, now)
        _refuse_busy_address(session, auth, administration, subjects.address, now)
        _refuse_totp_guessing(session, auth, administration, subjects.phone, now)
        repository.add_event(session, administration.id, "attempt", subjects.address, now)
        citizen_id = auth.keyring.citizen_id(administration.id, phone)
        enrolment = repository.totp_enrolment(session, administration.id, citizen_id, "active")
        step = None
        if enrolment is None:
            failure = NotFound(
                "No authenticator is enrolled for this number: log in with an SMS code, then enrol one with "
                "POST /v1/citizens/me/totp.",
                code="totp_not_enrolled",
            )
        else:
            secret = auth.keyring.open(enrolment.sealed_secret, label=_totp_label(enrolment.id)).decode()
            step = _matching_step(secret, code, now)
            if step is None:
                failure = _wrong_code("Wrong code: type the one the authenticator app shows now.")
            elif repository.advance_totp_step(session, enrolment.id, step):
                repository.clear_events(session, administration.id, ("failed", "totp_failed"), subjects.phone)
                return _issue(session, auth, administration, phone, AMR_TOTP, now)
            else:
                failure = _wrong_code("This code was already used: wait for the next one the app shows.")
        if enrolment is not None:
            repository.add_event(session, administration.id, "failed", subjects.phone, now)
            repository.add_event(session, administration.id, "totp_failed", subjects.phone, now)
    raise failure


def totp_status(session: Session, administration: Administration, citizen_id: str) -> str:
    for status in ("active", "pending"):
        if repository.totp_enrolment(session, administration.id, citizen_id, status) is not None:
            return status
    return "none"
