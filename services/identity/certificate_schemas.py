"""What the certificate authority's endpoints take and answer."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, WithJsonSchema

from segell.services.display_text import DisplayText
from segell.services.identity import certificates as service
from segell.services.identity.certificates import Profile, RevocationReason
from segell.services.json_types import JsonInteger
from segell.services.notary.api import Anchor

CSR_FORMAT = "pkcs10-pem"
CERTIFICATE_FORMAT = "x509-certificate"

# No control characters: terminals, logs, and PostgreSQL refuses NUL.
_TEXT = r"^[^\x00-\x1f\x7f-\x9f]+$"
# In the certificate's subject: 64 characters at most, as RFC 5280 bounds a common name.
HolderName = Annotated[str, DisplayText(max_length=64)]
NationalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$")
]
# The local part in RFC 5322 atoms and dots: `;`, `<`, `(`, `"` and the like made the address unreadable to the
# subjectAltName (a 500).
Email = Annotated[
    str,
    StringConstraints(
        max_length=254, pattern=r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$"
    ),
]
Passphrase = Annotated[str, StringConstraints(min_length=service.MIN_PASSPHRASE_LENGTH, max_length=1024, pattern=_TEXT)]
# A JWS compact serialisation, as the citizen login returns it.
CitizenToken = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[A-Za-z0-9_.=-]+$")]
# The format says what no pattern can: a PKCS#10 request whose signature verifies, of an accepted key type.
CsrPem = Annotated[
    str,
    StringConstraints(min_length=1, max_length=16384, pattern=r"^[\x09\x0a\x0d\x20-\x7e]+$"),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 16384,
            "pattern": r"^[\x09\x0a\x0d\x20-\x7e]+$",
            "format": CSR_FORMAT,
        }
    ),
]
CertificateStatus = Literal["valid", "revoked", "expired", "not_yet_valid"]


# What `certificates._check_request` refuses, said in the schema: which holder fields each profile takes, and a CSR
# without a passphrase (no PKCS#12 file is made for a key the server never holds).
_PROFILE_RULES: list[JsonValue] = [
    {
        "if": {"properties": {"profile": {"enum": ["employee", "citizen"]}}},
        "then": {
            "required": ["name", "national_id"],
            "properties": {"name": {"type": "string"}, "national_id": {"type": "string"}},
        },
        "else": {"properties": {"national_id": {"type": "null"}}},
    },
    {
        "if": {"properties": {"profile": {"const": "employee"}}},
        "else": {"properties": {"position": {"type": "null"}}},
    },
    {
        "if": {"properties": {"profile": {"const": "citizen"}}},
        "else": {"properties": {"citizen_token": {"type": "null"}}},
    },
    {
        "not": {
            "required": ["csr", "passphrase"],
            "properties": {"csr": {"type": "string"}, "passphrase": {"type": "string"}},
        }
    },
]


class IssueCertificateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"allOf": _PROFILE_RULES})

    profile: Profile = Field(description="employee, seal (the administration's own) or citizen.")
    name: HolderName | None = Field(
        default=None, description="The holder's full name (employee, citizen); a seal defaults to the administration."
    )
    national_id: NationalId | None = Field(
        default=None, description="The holder's national id (employee, citizen): stored only as a salted hash."
    )
    email: Email | None = Field(default=None, description="Put in the subjectAltName (rfc822Name).")
    position: HolderName | None = Field(default=None, description="An employee's position, as the subject's title.")
    csr: CsrPem | None = Field(
        default=None, description="A PEM certificate signing request: certify its key instead of generating one."
    )
    passphrase: Passphrase | None = Field(
        default=None, description="Protects the PKCS#12 file; omitted: one is generated and returned once."
    )
    validity_days: JsonInteger = Field(default=service.DEFAULT_VALIDITY_DAYS, ge=1, le=service.MAX_VALIDITY_DAYS)
    citizen_token: CitizenToken | None = Field(
        default=None,
        description="Citizen profile (required): the token the citizen got by logging in with this administration "
        "(`POST /v1/auth/otp/verify` or `/v1/auth/totp/verify`). The certificate names the token's citizen.",
    )


class RevokeCertificateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RevocationReason = Field(description="RFC 5280 reason code name.")


class CertificateRevocation(BaseModel):
    revoked_at: datetime
    reason: str


class LogReference(BaseModel):
    document_id: str | None = Field(description="The notary receipt of the log entry (the issuer's key reads it).")
    verification_code: str | None = Field(description="The log entry's verification code; null in lists.")


class PublicAdministration(BaseModel):
    code: str
    name: str


_REGISTRATION_AUTHORITY = "The administration that acted as registration authority, as the certificate names it."
_CITIZEN_ID = "Citizen certificates: the pseudonym (token `sub`) of the citizen who logged in to consent; else null."


class CertificateOut(BaseModel):
    serial: str = Field(description="40 lower-case hex digits; also the certificate's id in this API.")
    profile: Profile
    status: CertificateStatus
    subject: str = Field(description="RFC 4514 distinguished name.")
    common_name: str
    email: str | None
    registration_authority: PublicAdministration = Field(description=_REGISTRATION_AUTHORITY)
    citizen_id: str | None = Field(description=_CITIZEN_ID)
    key_origin: Literal["server", "csr"]
    key_algorithm: str
    key_held: bool = Field(description="The server holds the key and can sign on the holder's behalf.")
    fingerprint_sha256: str
    issuer: str
    not_before: datetime
    not_after: datetime
    certificate_pem: str
    revocation: CertificateRevocation | None
    log: LogReference
    created_at: datetime


class IssuedCertificateOut(CertificateOut):
    pkcs12: str | None = Field(
        description="Base64 PKCS#12 (key, certificate, chain) when the key was generated here. Shown only once."
    )
    passphrase: str | None = Field(description="The PKCS#12 passphrase when it was generated here. Shown only once.")


class CertificateList(BaseModel):
    items: list[CertificateOut]


class CertificateStatusOut(BaseModel):
    serial: str
    status: CertificateStatus
    profile: Profile
    administration: PublicAdministration
    not_before: datetime
    not_after: datetime
    revocation: CertificateRevocation | None
    crl_url: str


class LogRecord(BaseModel):
    document_hash: str = Field(description="What was notarised: SHA-256 of the certificate's DER, or of the record.")
    verification_code: str
    status: Literal["pending", "anchored", "revoked"]
    logged_at: datetime
    anchor: Anchor | None = Field(description="Where the entry is anchored on chain; null while pending.")
    bundle: str = Field(description="Path of the proof bundle (409 until anchored).")


class LogEntryOut(BaseModel):
    serial: str
    fingerprint_sha256: str
    profile: Profile
    administration: PublicAdministration
    registration_authority: PublicAdministration = Field(description=_REGISTRATION_AUTHORITY)
    citizen_id: str | None = Field(description=_CITIZEN_ID)
    issuer: str
    not_before: datetime
    not_after: datetime
    issuance: LogRecord | None
    revocation: LogRecord | None
    revocation_record: dict[str, str] | None = Field(
        description="The record whose canonical JSON (sorted keys, no spaces) has revocation.document_hash."
    )


class CertificateAuthorityOut(BaseModel):
    root_pem: str
    issuing_pem: str
    root_crl_url: str
    issuing_crl_url: str
