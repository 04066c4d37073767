"""Typed results of citizen authentication: one-time codes, citizen tokens, TOTP enrolment, the SMS outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from ._convert import Json, parse_datetime, strings

__all__ = [
    "Citizen",
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
