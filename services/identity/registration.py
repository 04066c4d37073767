"""The registration authority: the administration that vouched for a certificate's holder, named in the certificate.

Every certificate the CA issues carries a non-critical extension ``id-segell-registration``, OID
2.25.126652922568905327709366477144747643032 (a UUID OID, ITU-T X.667: unique without a registry), whose value is::

    SegellRegistration ::= SEQUENCE {
        raCode               UTF8String,                 -- the administration's code (as organizationIdentifier)
        raName               UTF8String,                 -- the administration's name
        citizen          [0] IMPLICIT UTF8String OPTIONAL -- citizen certificates: the `sub` of the citizen's token
    }

Non-critical: readers that do not know it still accept the certificate; `openssl x509 -text` shows its DER.
"""

from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509

REGISTRATION_OID = x509.ObjectIdentifier("2.25.126652922568905327709366477144747643032")


class _SegellRegistration(core.Sequence):  # type: ignore[misc]
    _fields = [
        ("ra_code", core.UTF8String),
        ("ra_name", core.UTF8String),
        ("citizen", core.UTF8String, {"implicit": 0, "optional": True}),
    ]


@dataclass(frozen=True)
class Registration:
    """Who acted as registration authority (`code`, `name`) and, for a citizen, the pseudonym that consented."""

    code: str
    name: str
    citizen_id: str | None = None


def registration_extension(registration: Registration) -> x509.UnrecognizedExtension:
    value = {"ra_code": registration.code, "ra_name": registration.name}
    if registration.citizen_id is not None:
        value["citizen"] = registration.citizen_id
    return x509.UnrecognizedExtension(REGISTRATION_OID, _SegellRegistration(value).dump())


def registration_of(certificate: x509.Certificate) -> Registration | None:
    """The registration the certificate names; None when it has none, or one that does not parse."""
    try:
        extension = certificate.extensions.get_extension_for_oid(REGISTRATION_OID).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if not isinstance(extension, x509.UnrecognizedExtension):
        return None
    try:
        parsed = _SegellRegistration.load(extension.value, strict=True).native
    except Exception:  # asn1crypto fails on malformed DER with more than ValueError (AttributeError, ...)
        return None
    code, name, citizen = parsed["ra_code"], parsed["ra_name"], parsed["citizen"]
    if not (isinstance(code, str) and isinstance(name, str) and (citizen is None or isinstance(citizen, str))):
        return None
    return Registration(code, name, citizen)
