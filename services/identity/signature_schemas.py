"""What the signing and signature validation endpoints answer."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from segell.services.notary.api import Receipt

# ETSI EN 319 102-1, clause 5.1.3: the main indication of a signature validation, and its sub-indications.
Indication = Literal["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]
SubIndication = Literal[
    # with TOTAL_FAILED
    "FORMAT_FAILURE",
    "HASH_FAILURE",
    "SIG_CRYPTO_FAILURE",
    "REVOKED",
    "EXPIRED",
    # with INDETERMINATE
    "SIG_CONSTRAINTS_FAILURE",
    "CHAIN_CONSTRAINTS_FAILURE",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE",
    "CRYPTO_CONSTRAINTS_FAILURE",
    "NOT_YET_VALID",
    "NO_SIGNING_CERTIFICATE_FOUND",
    "NO_CERTIFICATE_CHAIN_FOUND",
    "REVOKED_NO_POE",
    "REVOKED_CA_NO_POE",
    "OUT_OF_BOUNDS_NO_POE",
    "OUT_OF_BOUNDS_NOT_REVOKED",
    "NO_POE",
    "TRY_LATER",
    "SIGNED_DATA_NOT_FOUND",
    "GENERIC",
]
# Why a signature got its indication, for showing it in the reader's language (`message` says it in English).
SignatureReason = Literal[
    # TOTAL_PASSED
    "valid",
    "valid_revoked_later",
    "valid_expired_later",
    # TOTAL_FAILED
    "changed_after_signing",
    "pdf_changed_after_signing",
    "signature_value_wrong",
    "signature_undecodable",
    "signed_after_revocation",
    # INDETERMINATE (or TOTAL_FAILED, as the malformation says)
    "signature_malformed",
    "no_signing_certificate",
    "untrusted_certificate",
    "not_for_signing",
    "not_yet_valid",
    "expired_without_proof",
    "revocation_unknown",
    "revoked_without_proof",
]
SignatureFormat = Literal["PAdES", "CAdES"]
SignerKind = Literal["employee", "seal", "citizen"]


class RegistrationAuthority(BaseModel):
    """The administration that vouched for the signing certificate's holder, as the certificate names it."""

    code: str = Field(description="The administration's code.")
    name: str = Field(description="The administration's name.")


class Signer(BaseModel):
    name: str = Field(description="The signing certificate's common name (a person, or the seal's name).")
    organisation: str | None = Field(description="The certificate's organisation, for employees and seals.")
    kind: SignerKind | None = Field(
        description="employee, seal or citizen for certificates this authority issued; null for any other."
    )
    certificate_serial: str = Field(description="The signing certificate's serial number, hex.")
    issuer: str = Field(description="Who issued the signing certificate (RFC 4514).")
    registration_authority: RegistrationAuthority | None = Field(
        default=None,
        description="The administration that acted as registration authority for the signing certificate (it "
        "asked for it and vouched for its holder); null for certificates this authority did not issue.",
    )


class ProofOfExistence(BaseModel):
    """The notary anchored the signed output at `anchored_at`: the signature existed then."""

    verification_code: str = Field(description="The notarised signed output's verification code.")
    anchored_at: datetime = Field(description="Time of the block that anchored it.")
    block_number: int
    transaction_hash: str


class ReasonDetails(BaseModel):
    """The facts `reason` speaks of; each is null where the reason has none."""

    certificate: str | None = Field(
        default=None, description="Whose certificate the reason is about (its common name): the signer's or a CA's."
    )
    signed_at: datetime | None = Field(default=None, description="When the signer says it signed (not proven).")
    revoked_at: datetime | None = Field(default=None, description="When that certificate was revoked.")
    revocation_reason: str | None = Field(
        default=None, description="The revocation's reason code (RFC 5280 CRLReason, e.g. `keyCompromise`)."
    )
    proven_at: datetime | None = Field(
        default=None, description="When the notary proves the signature existed (its first anchoring)."
    )
    expired_at: datetime | None = Field(default=None, description="When the certificate path expired.")
    valid_from: datetime | None = Field(default=None, description="When that certificate became valid.")
    issuer: str | None = Field(default=None, description="Who issued the untrusted signing certificate (RFC 4514).")
    problem: str | None = Field(
        default=None, description="What the decoder or the revocation check said, in English (technical)."
    )


class SignatureReport(BaseModel):
    format: SignatureFormat
    indication: Indication
    sub_indication: SubIndication | None = Field(description="Why the signature did not pass; null when it passed.")
    message: str = Field(description="What the result means, in plain words (English).")
    reason: SignatureReason = Field(
        description="Why the signature got its indication, a stable code to say `message` in another language: "
        "`valid`; `valid_revoked_later` and `valid_expired_later` (valid, proven to exist before); "
        "`changed_after_signing`, `pdf_changed_after_signing`, `signature_value_wrong`, `signature_undecodable`, "
        "`signed_after_revocation` (failed); `signature_malformed`, `no_signing_certificate`, "
        "`untrusted_certificate`, `not_for_signing`, `not_yet_valid`, `expired_without_proof`, "
        "`revocation_unknown`, `revoked_without_proof` (cannot be confirmed)."
    )
    reason_details: ReasonDetails = Field(description="The facts `reason` speaks of.")
    signer: Signer | None = Field(description="Null only when the signature names no certificate it carries.")
    signing_time: datetime | None = Field(description="When the signer says it signed (not proven).")
    proof_of_existence: ProofOfExistence | None = Field(
        description="The earliest anchoring of the signed output on chain; null when it was never notarised."
    )


class ValidationReport(BaseModel):
    document_hash: str = Field(description="SHA-256 of the file, hex.")
    signed: bool = Field(description="Whether any signature was found (in the PDF, or given alongside).")
    indication: Indication | None = Field(description="The worst of the signatures' indications; null when unsigned.")
    sub_indication: SubIndication | None = Field(description="The sub-indication of that worst signature.")
    signatures: list[SignatureReport]


class SignedDocument(BaseModel):
    """A signed output, notarised under the verification code it shows (PDF) or is bound to (CMS)."""

    format: SignatureFormat = Field(description="PAdES: a signed PDF; CAdES: a detached CMS signature of the file.")
    filename: str = Field(description="A name to save `content` under.")
    media_type: str = Field(description="application/pdf or application/pkcs7-signature.")
    content: str = Field(description="The signed PDF, or the DER CMS signature, in base64.")
    document_hash: str = Field(description="SHA-256 of the file sent, hex.")
    signed_hash: str = Field(description="SHA-256 of `content` (decoded): what was notarised.")
    verification_code: str = Field(description="The code printed in the signed PDF, for anyone to check it.")
    verification_url: str = Field(description="The public verification page of this document.")
    signer: Signer
    signing_time: datetime
    receipt: Receipt = Field(description="The notary's receipt of the signed output.")
