import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyAddress, WithJsonSchema

from segell.services.languages import Language

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SEPARATORS = re.compile(r"[ ().-]")
_CODE = re.compile(r"[0-9]{6}")


def _normalise_phone(value: str) -> str:
    compact = _SEPARATORS.sub("", value) if len(value) <= 32 else value
    if not _E164.fullmatch(compact):
        raise ValueError(
            "must be a mobile number in international E.164 form: + then country code and number, "
            "7 to 15 digits, e.g. +34600123456 (spaces, dots, dashes and brackets are ignored)"
        )
    return compact


def _check_code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError("must be the 6 digits of the code, e.g. 042817")
    return value


def _address_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be an IPv4 or IPv6 address as text, e.g. 203.0.113.7")
    return value


# E.164: stored and sent without separators.
Phone = Annotated[
    str,
    AfterValidator(_normalise_phone),
    WithJsonSchema({"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$", "examples": ["+34600123456"]}),
]
Code = Annotated[
    str,
    AfterValidator(_check_code),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{6}$", "examples": ["042817"]}),
]
ClientAddress = Annotated[
    # Text only: the lax IPvAnyAddress would read `false` or `1234` as an IPv4 address.
    Annotated[
        IPvAnyAddress,
        BeforeValidator(_address_text),
        WithJsonSchema({"anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]}),
    ]
    | None,
    Field(
        description="The citizen's IP address as your app sees it: the per-address rate limits count it. "
        "When absent, the address the request comes from is counted."
    ),
]


class OtpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone = Field(description="The citizen's mobile number, E.164.")
    client_address: ClientAddress = None
    lang: Language | None = Field(
        default=None,
        description="The language of the SMS (ca, es or en), as the citizen chose it in your app; when absent, the "
        "administration's language.",
    )


class CodeLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone = Field(description="The citizen's mobile number, E.164.")
    code: Code = Field(description="The 6-digit code the citizen typed.")
    client_address: ClientAddress = None


class TotpConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="The first 6-digit code the authenticator app shows.")


class OtpChallenge(BaseModel):
    challenge_id: str = Field(description="Names this code in the outbox and the logs.")
    phone: str = Field(description="The number the code went to, mostly masked.")
    expires_at: datetime = Field(description="The code is refused after this moment.")
    gateway: str = Field(description="The SMS gateway that took the message; `outbox` in the sandbox.")


class CitizenToken(BaseModel):
    access_token: str = Field(description="A JWT (ES256); send it as `Authorization: Bearer <token>`.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds the token stays valid.")
    expires_at: datetime
    citizen_id: str = Field(description="The citizen's stable pseudonym for this administration (the `sub` claim).")
    amr: list[str] = Field(description="How the citizen authenticated: `sms` and `otp`, or `totp` and `otp`.")


class OutboxMessage(BaseModel):
    id: int
    administration: str = Field(description="Code of the administration whose app asked for the message.")
    phone: str
    message: str
    created_at: datetime


class OutboxList(BaseModel):
    items: list[OutboxMessage] = Field(description="Newest first; only messages whose code has not expired.")


class TotpEnrolment(BaseModel):
    status: Literal["pending"] = "pending"
    secret: str = Field(description="The shared secret in base32, for apps that cannot read the URI. Shown once.")
    otpauth_uri: str = Field(description="`otpauth://totp/...`: show it as a QR code to the authenticator app.")
    created_at: datetime


class TotpStatus(BaseModel):
    status: Literal["active"] = "active"
    confirmed_at: datetime


class Citizen(BaseModel):
    citizen_id: str = Field(description="The citizen's pseudonym for this administration.")
    administration: str = Field(description="Code of the administration the token is for (its audience).")
    amr: list[str]
    issued_at: datetime
    expires_at: datetime
    totp: Literal["none", "pending", "active"] = Field(description="Whether a TOTP authenticator is enrolled.")


class JsonWebKey(BaseModel):
    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str
    y: str
    kid: str
    use: Literal["sig"]
    alg: Literal["ES256"]


class JsonWebKeySet(BaseModel):
    keys: list[JsonWebKey]
