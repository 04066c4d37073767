"""Signing and validating signatures (``client.signatures``): the group and its typed, immutable results.

Indications follow ETSI EN 319 102-1: ``TOTAL_PASSED``, ``TOTAL_FAILED`` or ``INDETERMINATE``, with a
sub-indication such as ``HASH_FAILURE``, ``NO_CERTIFICATE_CHAIN_FOUND``, ``REVOKED``, ``OUT_OF_BOUNDS_NO_POE`` or
``TRY_LATER`` saying why a signature did not pass. Timestamps are timezone-aware :class:`datetime.datetime`
objects in UTC.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from ._convert import Json, optional, optional_datetime, optional_str, parse_datetime
from ._transport import Transport
from .certificates import RegistrationAuthority
from .models import Receipt

__all__ = [
    "Indication",
    "ProofOfExistence",
    "SignatureFormat",
    "SignatureReport",
    "Signatures",
    "SignatureValidation",
    "SignedDocument",
    "Signer",
    "SignerKind",
]

Indication = Literal["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]
SignatureFormat = Literal["PAdES", "CAdES"]
SignerKind = Literal["employee", "seal", "citizen"]


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signed: the signing certificate's holder.

    Attributes:
        name: the certificate's common name (a person, or the seal's name).
        organisation: its organisation, for employees and seals.
        kind: ``"employee"``, ``"seal"`` or ``"citizen"`` for certificates Segell's CA issued, else ``None``.
        certificate_serial: the certificate's serial number in hex.
        issuer: the certificate's issuer (RFC 4514).
        registration_authority: the administration that asked for the certificate and vouched for its holder,
            as the certificate names it; ``None`` for certificates that name none.
    """

    name: str
    organisation: str | None
    kind: SignerKind | None
    certificate_serial: str
    issuer: str
    registration_authority: RegistrationAuthority | None = None

    @classmethod
    def _from_json(cls, data: Json) -> Signer:
        kind = data.get("kind")
        return cls(
            name=str(data["name"]),
            organisation=optional_str(data.get("organisation")),
            kind=None if kind is None else cast(SignerKind, str(kind)),
            certificate_serial=str(data["certificate_serial"]),
            issuer=str(data["issuer"]),
            registration_authority=optional(RegistrationAuthority._from_json, data.get("registration_authority")),
        )


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """A signed output: a signed PDF (PAdES) or a detached CMS signature (CAdES), notarised.

    Attributes:
        format: ``"PAdES"`` or ``"CAdES"``.
        filename: a name to save :attr:`content` under, e.g. ``acta-signed.pdf`` or ``acta.csv.p7s``.
        media_type: ``application/pdf`` or ``application/pkcs7-signature``.
        content: the signed PDF, or the DER signature.
        document_hash: SHA-256 of the file that was signed.
        signed_hash: SHA-256 of :attr:`content`, which is what was notarised.
        verification_code: the code printed in the signed PDF (``XXXX-XXXX-XXXX-XXXX-C``).
        verification_url: the public verification page of the document, also in the PDF's QR code.
        signer: whose certificate signed.
        signing_time: when it was signed.
        receipt: the notary's receipt of the signed output (``pending`` until anchored).
    """

    format: SignatureFormat
    filename: str
    media_type: str
    content: bytes
    document_hash: str
    signed_hash: str
    verification_code: str
    verification_url: str
    signer: Signer
    signing_time: datetime
    receipt: Receipt

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`content` to ``path`` (a directory: under :attr:`filename` in it); return the file's path."""
        target = Path(path)
        if target.is_dir():
            # Only the name: a filename from the server never leads the file out of `path`.
            target = target / (Path(self.filename).name or "signed")
        target.write_bytes(self.content)
        return target

    @classmethod
    def _from_json(cls, data: Json) -> SignedDocument:
        return cls(
            format=cast(SignatureFormat, str(data["format"])),
            filename=str(data["filename"]),
            media_type=str(data["media_type"]),
            content=base64.b64decode(str(data["content"]), validate=True),
            document_hash=str(data["document_hash"]),
            signed_hash=str(data["signed_hash"]),
            verification_code=str(data["verification_code"]),
            verification_url=str(data["verification_url"]),
            signer=Signer._from_json(data["signer"]),
            signing_time=parse_datetime(data["signing_time"]),
            receipt=Receipt._from_json(data["receipt"]),
        )


@dataclass(frozen=True, slots=True)
class ProofOfExistence:
    """The notary anchored the signed output on chain at :attr:`anchored_at`: the signature existed then.

    Attributes:
        verification_code: the notarised output's verification code.
        anchored_at: the time of the block that anchored it.
        block_number: that block.
        transaction_hash: the anchoring transaction.
    """

    verification_code: str
    anchored_at: datetime
    block_number: int
    transaction_hash: str

    @classmethod
    def _from_json(cls, data: Json) -> ProofOfExistence:
        return cls(
            verification_code=str(data["verification_code"]),
            anchored_at=parse_datetime(data["anchored_at"]),
            block_number=int(data["block_number"]),
            transaction_hash=str(data["transaction_hash"]),
        )


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """The validation of one signature.

    Attributes:
        format: ``"PAdES"`` or ``"CAdES"``.
        indication: ``"TOTAL_PASSED"``, ``"TOTAL_FAILED"`` or ``"INDETERMINATE"``.
        sub_indication: why it did not pass (ETSI EN 319 102-1), ``None`` when it passed.
        message: what the result means, in plain words.
        signer: whose certificate signed; ``None`` when the signature does not carry it.
        signing_time: when the signer says it signed (not proof).
        proof_of_existence: the earliest anchoring of the signed output, if it was notarised.
        reason: why it got its indication, a stable code (``"valid"``, ``"changed_after_signing"``,
            ``"signed_after_revocation"``, ...) to say ``message`` in the reader's language.
        reason_details: the facts the reason speaks of (``certificate``, ``revoked_at``, ``proven_at``, ...),
            as the server sent them; only those it gave.
    """

    format: SignatureFormat
    indication: Indication
    sub_indication: str | None
    message: str
    signer: Signer | None
    signing_time: datetime | None
    proof_of_existence: ProofOfExistence | None
    reason: str | None = None
    reason_details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.indication == "TOTAL_PASSED"

    @classmethod
    def _from_json(cls, data: Json) -> SignatureReport:
        signer, signing_time, proof = data.get("signer"), data.get("signing_time"), data.get("proof_of_existence")
        return cls(
            format=cast(SignatureFormat, str(data["format"])),
            indication=cast(Indication, str(data["indication"])),
            sub_indication=optional_str(data.get("sub_indication")),
            message=str(data["message"]),
            signer=optional(Signer._from_json, signer),
            signing_time=optional_datetime(signing_time),
            proof_of_existence=optional(ProofOfExistence._from_json, proof),
            reason=optional_str(data.get("reason")),
            reason_details={
                name: value for name, value in (data.get("reason_details") or {}).items() if value is not None
            },
        )


@dataclass(frozen=True, slots=True)
class SignatureValidation:
    """The validation report of a file.

    Attributes:
        document_hash: SHA-256 of the file.
        signed: whether any signature was found.
        indication: the worst of the signatures' indications; ``None`` when unsigned.
        sub_indication: that signature's sub-indication.
        signatures: one report per signature, in the order they were made.
    """

    document_hash: str
    signed: bool
    indication: Indication | None
    sub_indication: str | None
    signatures: tuple[SignatureReport, ...]

    @property
    def passed(self) -> bool:
        """``True`` when the file is signed and every signature passed."""
        return self.indication == "TOTAL_PASSED"

    @classmethod
    def _from_json(cls, data: Json) -> SignatureValidation:
        indication = data.get("indication")
        return cls(
            document_hash=str(data["document_hash"]),
            signed=bool(data["signed"]),
            indication=None if indication is None else cast(Indication, str(indication)),
            sub_indication=optional_str(data.get("sub_indication")),
            signatures=tuple(SignatureReport._from_json(item) for item in data["signatures"]),
        )


class Signatures:
    """``client.signatures``: signing with the administration's certificates (its key) and validating (public)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def sign(
        self,
        document: str | os.PathLike[str] | bytes,
        *,
        sign_as: Literal["employee", "seal"],
        certificate: str | None = None,
        format: Literal["auto", "pades", "cades"] = "auto",
        filename: str | None = None,
        placement: str = "auto",
        lang: Literal["ca", "es", "en"] | None = None,
        public_copy: bool = False,
    ) -> SignedDocument:
        """Sign a document with one of the administration's certificates; the signed output is notarised.

        A PDF is signed as PAdES: it gets a visible stamp with the verification code, the verification page's
        URL and a QR code of it, which never covers the document's content. Any other file gets a detached
        CAdES signature (``.p7s``).

        Arguments:
            document: the file's path, or its bytes.
            sign_as: ``"employee"`` or ``"seal"`` (the administration's own seal).
            certificate: the serial of the certificate to sign with; omitted: the seal, or the only employee
                certificate.
            format: ``"auto"`` (PAdES for PDFs), ``"pades"`` or ``"cades"``.
            filename: the name the server records (defaults to the path's name).
            placement: where a PDF's stamp goes: ``"auto"`` (where the last page has room, else on a page
                added for it), ``"new-page"``, or ``"PAGE:CORNER"`` such as ``"last:bottom-right"`` or
                ``"1:top-left"`` (PAGE ``first``, ``last`` or a number; any case).
            lang: the stamp's language, ``"ca"``, ``"es"`` or ``"en"``; omitted: the administration's.
            public_copy: let whoever holds the verification code download the signed output (the signed PDF, or
                the ``.p7s``) with :meth:`Documents.download` and on the verification page, until it is revoked.

        Raises:
            NotFoundError: no such certificate for this administration.
            ConflictError: the certificate is revoked or expired, there is none to sign with, or several
                employees could sign and none is named; or the ``PAGE:CORNER`` placement names a page the PDF
                lacks, or a corner with content in it.
            ValidationError: ``sign_as`` does not match the certificate, or ``placement`` or ``lang`` is not one
                of the values above.

        Example::

            signed = segell.signatures.sign(Path("resolucio.pdf"), sign_as="seal", lang="es")
            signed.save(Path("resolucio-signed.pdf"))
            print(signed.verification_code, signed.verification_url)
        """
        if isinstance(document, bytes | bytearray | memoryview):
            name, data = filename or "document", bytes(document)
        else:
            name, data = filename or Path(document).name, Path(document).read_bytes()
        form: dict[str, str] = {"as": sign_as, "format": format, "placement": placement}
        if certificate is not None:
            form["certificate"] = certificate
        if lang is not None:
            form["lang"] = lang
        if public_copy:
            form["public_copy"] = "true"
        return self._transport.call(
            "POST", "/v1/signatures", SignedDocument._from_json, files={"file": (name, data)}, data=form
        )

    def validate(
        self,
        document: str | os.PathLike[str] | bytes,
        signature: str | os.PathLike[str] | bytes | None = None,
    ) -> SignatureValidation:
        """Validate a signed PDF, or a file and its detached CMS signature. Needs no API key.

        The answer uses the ETSI EN 319 102-1 indications; a signature whose signed output was notarised
        carries the notary's proof of when it existed, which keeps it valid after its certificate is revoked
        or expires.

        Example::

            report = segell.signatures.validate(Path("resolucio-signed.pdf"))
            for signature in report.signatures:
                print(signature.indication, signature.sub_indication, signature.message)
        """

        def read(source: str | os.PathLike[str] | bytes) -> bytes:
            if isinstance(source, bytes | bytearray | memoryview):
                return bytes(source)
            return Path(source).read_bytes()

        files = {"file": ("document", read(document))}
        if signature is not None:
            files["signature"] = ("signature.p7s", read(signature))
        return self._transport.call("POST", "/v1/signatures/validate", SignatureValidation._from_json, files=files)
