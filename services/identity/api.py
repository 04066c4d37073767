"""What the other domains may use of the identity domain (`tests/services/test_domain_boundaries.py` holds them to
it): `signing_identity`, the held key and certificate chain to seal or sign with for an administration, and
`certificate_authorities`, the deployment's root and issuing CAs."""

from segell.services.identity.ca import CertificateAuthorities, CertificateAuthority
from segell.services.identity.certificates import SigningIdentity, certificate_authorities, signing_identity

__all__ = [
    "CertificateAuthorities",
    "CertificateAuthority",
    "SigningIdentity",
    "certificate_authorities",
    "signing_identity",
]
