"""Signing documents with a certificate the server holds: PAdES for PDFs, detached CAdES for any other file.

Every signed output carries, or is bound to, a verification code allocated before signing: a PDF shows it in a
visible stamp, with the verification page's URL and a QR code of that URL, inside the signed revision. The
signed output (the signed PDF, or the CMS signature) is then notarised under that same code, so that its
anchoring time later proves that the signature existed (`services.identity.validation`).

    sign_pdf       PDF ─> PAdES B-B: /ETSI.CAdES.detached, signing-certificate-v2, visible stamp with a QR code
    sign_detached  any file ─> CAdES B-B: detached CMS SignedData, signing-certificate-v2 and signing-time
"""

import asyncio
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import tzlocal
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from segell.services.identity.stamp_choices import AUTO, Placement, StampPlacementRefused
from segell.services.languages import DEFAULT_LANGUAGE, Language

if TYPE_CHECKING:
    from pyhanko.sign import signers

SignatureFormat = Literal["PAdES", "CAdES"]
PDF_MEDIA_TYPE = "application/pdf"
CMS_MEDIA_TYPE = "application/pkcs7-signature"
DIGEST_ALGORITHM = "sha256"


class UnreadablePdf(ValueError):
    """The file looks like a PDF but cannot be signed as one (damaged, encrypted, ...)."""


@dataclass(frozen=True)
class SigningIdentity:
    """A private key, its certificate and the certificates above it (nearest first)."""

    private_key: CertificateIssuerPrivateKeyTypes
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate]


@dataclass(frozen=True)
class SignedOutput:
    format: SignatureFormat
    content: bytes  # the signed PDF, or the DER CMS signature
    media_type: str
    signing_time: datetime

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def is_pdf(data: bytes) -> bool:
    # Readers accept the header anywhere in the first kilobyte.
    return b"%PDF-" in data[:1024]


def name_attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


# pyHanko (and the stamp's fontTools, pdfium and qrcode) load at the first signing, not with the application: a
# quarter of a second of every API process's start that the routes without signatures never need.


def _signer(identity: SigningIdentity) -> "signers.SimpleSigner":
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_der = identity.private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return signers.SimpleSigner(
        signing_cert=_asn1_certificate(identity.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([_asn1_certificate(c) for c in identity.chain]),
    )


def sign_detached(data: bytes, identity: SigningIdentity, *, signing_time: datetime | None = None) -> SignedOutput:
    """A detached CAdES B-B signature of `data`: DER CMS SignedData holding the signer's certificate chain.

    >>> signature = sign_detached(b"acta", identity).content  # openssl cms -verify -binary -content acta ...
    """
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    moment = (signing_time or datetime.now(UTC)).replace(microsecond=0)
    content_info = asyncio.run(
        _signer(identity).async_sign_general_data(
            data,
            DIGEST_ALGORITHM,
            detached=True,
            use_cades=True,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=moment),
        )
    )
    return SignedOutput("CAdES", content_info.dump(), CMS_MEDIA_TYPE, moment)


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    verification_code: str,
    verification_url: str,
    reason: str | None = None,
    language: Language = DEFAULT_LANGUAGE,
    placement: Placement = AUTO,
) -> SignedOutput:
    """A PAdES B-B signature of `pdf`, added as an incremental update with a visible stamp.

    The stamp shows, in `language`, the signer, the verification code and the verification page's URL, with a
    QR code of that URL; it goes where `placement` says without covering the document's content (on a page added
    for it if need be), and it is part of what is signed. A page or corner `placement` cannot use raises
    `StampPlacementRefused`.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from segell.services.identity.stamp import (
        STAMP_TIME_FORMAT,
        UnrenderablePdf,
        add_blank_page,
        find_spot,
        stamp_style,
        stamp_text,
    )

    subject = identity.certificate.subject
    signer_name = name_attribute(subject, NameOID.COMMON_NAME) or subject.rfc4514_string()
    organisation = name_attribute(subject, NameOID.ORGANIZATION_NAME) or ""
    field_name = f"Segell-{verification_code.replace('-', '')[:16]}"
    text = stamp_text(
        language,
        signer=signer_name,
        organisation=organisation,
        code=verification_code,
        url=verification_url,
        timestamp=datetime.now(tzlocal.get_localzone()).strftime(STAMP_TIME_FORMAT),
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        if writer.security_handler is not None:
            raise UnreadablePdf("The PDF is encrypted; sign an unencrypted copy.")
        spot = find_spot(pdf, placement, text)
        if spot.new_page is not None:
            add_blank_page(writer, spot.new_page)
        metadata = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=DIGEST_ALGORITHM,
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason or f"Verification code {verification_code}",
            name=text.params["signer"],
        )
        pdf_signer = signers.PdfSigner(
            metadata,
            signer=_signer(identity),
            stamp_style=stamp_style(text, spot),
            new_field_spec=fields.SigFieldSpec(field_name, on_page=spot.page_index, box=spot.box),
        )
        output = io.BytesIO()
        pdf_signer.sign_pdf(writer, output=output, appearance_text_params=dict(text.params))
    except (UnreadablePdf, StampPlacementRefused):
        raise
    except UnrenderablePdf as exc:
        raise UnreadablePdf(f"The PDF cannot be read to sign it ({exc}); send an intact, unencrypted PDF.") from exc
    except Exception as exc:  # noqa: BLE001
        # A damaged PDF makes the parser raise nearly anything (zlib errors, NotImplementedError for unknown
        # filters, ValueError, ...): the upload cannot be signed, which is not a server error.
        raise UnreadablePdf(f"The PDF cannot be read to sign it ({exc}); send an intact, unencrypted PDF.") from exc
    signed = output.getvalue()
    return SignedOutput("PAdES", signed, PDF_MEDIA_TYPE, _pdf_signing_time(signed))


def _pdf_signing_time(signed: bytes) -> datetime:
    from pyhanko.pdf_utils.reader import PdfFileReader

    signature = PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures[-1]
    moment = signature.self_reported_timestamp
    return moment.astimezone(UTC) if moment is not None else datetime.now(UTC)
