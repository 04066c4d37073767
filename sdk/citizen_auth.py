"""Citizen authentication (``client.auth``, ``client.citizens``): the groups and their typed results (one-time
codes, citizen tokens, TOTP enrolment, the SMS outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from ._convert import Json, items, json_object, parse_datetime, strings
from ._transport import Transport, bearer
from .models import Language

__all__ = [
    "Citizen",
    "CitizenAuth",
    "Citizens",
    "CitizenToken",
    "OtpChallenge",
    "SmsMessage",
    "TotpEnrolment",
    "TotpState",
]

TotpState = Literal["none", "pending", "active"]


@dataclass(frozen=True, slots=True)
class OtpChallenge:
    """A one-time code on its way to a citizen's phone.

    Attributes:
        challenge_id: names the code in the outbox and the logs.
        phone: the number it went to, mostly masked (``+34******456``).
        expires_at: the code is refused after this moment (five minutes at most).
        gateway: the SMS gateway that took it; ``"outbox"`` in the sandbox.
    """

    challenge_id: str
    phone: str
    expires_at: datetime
    gateway: str

    @classmethod
    def _from_json(cls, data: Json) -> OtpChallenge:
        return cls(
            challenge_id=str(data["challenge_id"]),
            phone=str(data["phone"]),
            expires_at=parse_datetime(data["expires_at"]),
            gateway=str(data["gateway"]),
        )


@dataclass(frozen=True, slots=True)
class CitizenToken:
    """A short-lived ES256 JWT for a citizen who logged in; its keys are at ``/.well-known/jwks.json``.

    Attributes:
        access_token: the JWT, sent as ``Authorization: Bearer <token>`` to citizen-facing services.
        expires_at: when it stops being accepted.
        expires_in: its lifetime in seconds.
        citizen_id: the citizen's stable pseudonym for this administration (the ``sub`` claim).
        amr: how the citizen logged in: ``("sms", "otp")`` or ``("totp", "otp")``.
    """

    access_token: str
    expires_at: datetime
    expires_in: int
    citizen_id: str
    amr: tuple[str, ...]

    @classmethod
    def _from_json(cls, data: Json) -> CitizenToken:
        return cls(
            access_token=str(data["access_token"]),
            expires_at=parse_datetime(data["expires_at"]),
            expires_in=int(data["expires_in"]),
            citizen_id=str(data["citizen_id"]),
            amr=strings(data["amr"]),
        )


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """A message the sandbox's SMS gateway kept instead of sending it.

    Attributes:
        id: its number in the outbox (grows with time).
        administration: code of the administration whose app asked for it.
        phone: the number it is addressed to (E.164).
        message: its text, with the code in it.
        created_at: when it was 'sent'.
    """

    id: int
    administration: str
    phone: str
    message: str
    created_at: datetime

    @classmethod
    def _from_json(cls, data: Json) -> SmsMessage:
        return cls(
            id=int(data["id"]),
            administration=str(data["administration"]),
            phone=str(data["phone"]),
            message=str(data["message"]),
            created_at=parse_datetime(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """An authenticator app being enrolled (RFC 6238): show ``otpauth_uri`` as a QR code, then confirm.

    Attributes:
        secret: the shared secret in base32, for apps that cannot read the URI; shown once.
        otpauth_uri: ``otpauth://totp/...`` for the authenticator app.
        created_at: when the enrolment started.
    """

    secret: str
    otpauth_uri: str
    created_at: datetime

    @classmethod
    def _from_json(cls, data: Json) -> TotpEnrolment:
        return cls(
            secret=str(data["secret"]),
            otpauth_uri=str(data["otpauth_uri"]),
            created_at=parse_datetime(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class Citizen:
    """Who a citizen token belongs to.

    Attributes:
        citizen_id: the citizen's pseudonym for this administration.
        administration: code of the administration the token is for.
        amr: how the citizen logged in.
        issued_at: when the token was issued.
        expires_at: when it expires.
        totp: whether an authenticator app is enrolled: ``"none"``, ``"pending"`` or ``"active"``.
    """

    citizen_id: str
    administration: str
    amr: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    totp: TotpState

    @classmethod
    def _from_json(cls, data: Json) -> Citizen:
        return cls(
            citizen_id=str(data["citizen_id"]),
            administration=str(data["administration"]),
            amr=strings(data["amr"]),
            issued_at=parse_datetime(data["issued_at"]),
            expires_at=parse_datetime(data["expires_at"]),
            totp=cast(TotpState, str(data["totp"])),
        )


def _confirmed_at(data: Json) -> datetime:
    return parse_datetime(data["confirmed_at"])


class CitizenAuth:
    """``client.auth``: logging citizens in with one-time codes (SMS) or an authenticator app (TOTP).

    An administration's key; the public keys that sign citizen tokens need none.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def request_otp(
        self, phone: str, *, client_address: str | None = None, lang: Language | None = None
    ) -> OtpChallenge:
        """Send a one-time code to a citizen's mobile number. An administration's key.

        Arguments:
            phone: the number in international E.164 form, e.g. ``"+34600123456"``.
            client_address: the citizen's IP address as your app sees it, for the per-address rate limits.
            lang: the language of the SMS (``"ca"``, ``"es"`` or ``"en"``) as the citizen chose it; by default the
                administration's.

        A code sent before to the same number stops working. In the sandbox the message goes to the outbox
        (:meth:`otp_outbox`).

        Raises:
            ValidationError: the number is not in E.164 form.
            RateLimitError: (``rate_limited`` or ``locked_out``) when too many codes were asked for;
                ``retry_after`` says how many seconds to wait.

        Example::

            segell.auth.request_otp("+34600123456")
            token = segell.auth.verify_otp("+34600123456", input("Code: "))
        """
        body = _login(phone, None, client_address)
        if lang is not None:
            body["lang"] = lang
        return self._transport.call("POST", "/v1/auth/otp", OtpChallenge._from_json, json=body)

    def verify_otp(self, phone: str, code: str, *, client_address: str | None = None) -> CitizenToken:
        """Check the code a citizen typed and return their token. An administration's key.

        Raises:
            PermissionDeniedError: the code is wrong (``code == "wrong_code"``, ``details["attempts_left"]``).
            NotFoundError: no code is pending for the number (expired, used, replaced, never sent).
            RateLimitError: too many codes were tried; ``retry_after`` says how many seconds to wait.
        """
        body = _login(phone, code, client_address)
        return self._transport.call("POST", "/v1/auth/otp/verify", CitizenToken._from_json, json=body)

    def verify_totp(self, phone: str, code: str, *, client_address: str | None = None) -> CitizenToken:
        """Log a citizen in with their number and a code of their authenticator app. An administration's key.

        Raises:
            PermissionDeniedError: the code is wrong, or was already used (``code == "wrong_code"``).
            NotFoundError: no authenticator is enrolled for the number.
            RateLimitError: too many codes were tried; ``retry_after`` says how many seconds to wait.
        """
        body = _login(phone, code, client_address)
        return self._transport.call("POST", "/v1/auth/totp/verify", CitizenToken._from_json, json=body)

    def otp_outbox(
        self, *, administration: str | None = None, phone: str | None = None, limit: int = 100
    ) -> list[SmsMessage]:
        """The sandbox SMS gateway's messages, newest first: governance reads all, an administration its own.

        Arguments:
            administration: governance only, one administration's messages.
            phone: only the messages to this number.
            limit: at most this many (1 to 1000).
        """
        params = {"limit": str(limit)}
        if administration is not None:
            params["administration"] = administration
        if phone is not None:
            params["phone"] = phone
        return self._transport.call("GET", "/v1/auth/otp/outbox", items(SmsMessage._from_json), params=params)

    def json_web_keys(self) -> list[dict[str, Any]]:
        """The public keys that sign citizen tokens (``/.well-known/jwks.json``); needs no key."""
        return self._transport.call(
            "GET", "/.well-known/jwks.json", lambda data: [json_object(key) for key in data["keys"]]
        )


class Citizens:
    """``client.citizens``: what a logged-in citizen does, with the token of their login instead of an API key."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def me(self, token: str) -> Citizen:
        """Who a citizen token belongs to (sent with ``token``, not the client's API key)."""
        return self._transport.call("GET", "/v1/citizens/me", Citizen._from_json, headers=bearer(token))

    def enrol_totp(self, token: str) -> TotpEnrolment:
        """Start enrolling an authenticator app for the citizen whose token this is.

        Replacing an active authenticator needs a token from a TOTP login (:class:`ConflictError` otherwise).

        Example::

            enrolment = segell.citizens.enrol_totp(token.access_token)
            show_qr(enrolment.otpauth_uri)
            segell.citizens.confirm_totp(token.access_token, input("First code: "))
        """
        return self._transport.call("POST", "/v1/citizens/me/totp", TotpEnrolment._from_json, headers=bearer(token))

    def confirm_totp(self, token: str, code: str) -> datetime:
        """Confirm the pending enrolment with the first code the app shows; returns when it became active."""
        return self._transport.call(
            "POST",
            "/v1/citizens/me/totp/confirm",
            _confirmed_at,
            json={"code": code},
            headers=bearer(token),
        )


def _login(phone: str, code: str | None, client_address: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"phone": phone}
    if code is not None:
        body["code"] = code
    if client_address is not None:
        body["client_address"] = client_address
    return body
