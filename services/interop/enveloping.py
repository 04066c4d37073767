"""Sealing a citizen's national id for the provider that must read it: a CMS EnvelopedData (RFC 5652) to the
provider's seal certificate, which only the holder of that certificate's key opens (its PKCS#12 file).

The recipient's key is an elliptic-curve key, so the content-encryption key reaches it by key agreement (RFC 5753,
ephemeral-static ECDH, ``dhSinglePass-stdDH-sha256kdf-scheme``: the X9.63 KDF with SHA-256, then AES-256 key wrap,
RFC 3394) and the content is encrypted with AES-256-CBC. That is what ``openssl cms -decrypt`` reads, as do Bouncy
Castle and other CMS libraries, so a provider needs no code of Segell's to open it::

    base64 -d <<< "$sealed_subject" > subject.der
    openssl cms -decrypt -inform DER -in subject.der -inkey seal-key.pem -recip seal.pem

Integrity comes from the webhook's signature over the whole body (`Segell-Signature`), as CBC has none of its own.
"""

import os

from asn1crypto import algos, cms, core
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: RFC 5753 / SEC 1: ephemeral-static ECDH, X9.63 KDF with SHA-256.
ECDH_SHA256_KDF = "1.3.132.1.11.1"
_KEY_WRAP = "aes256_wrap"
_KEY_BITS = 256


class _EccCmsSharedInfo(core.Sequence):  # type: ignore[misc]
    """RFC 5753 ECC-CMS-SharedInfo: what the KDF binds the derived key to."""

    _fields = [
        ("key_info", cms.KeyEncryptionAlgorithm),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


def envelope(content: bytes, recipient: x509.Certificate) -> bytes:
    """The DER of a CMS EnvelopedData holding `content`, readable only with the private key of `recipient` (an
    elliptic-curve certificate)."""
    recipient_key = recipient.public_key()
    if not isinstance(recipient_key, ec.EllipticCurvePublicKey):
        raise ValueError("the recipient's certificate does not hold an elliptic-curve key")
    ephemeral = ec.generate_private_key(recipient_key.curve)
    shared_secret = ephemeral.exchange(ec.ECDH(), recipient_key)
    key_wrap_algorithm = cms.KeyEncryptionAlgorithm({"algorithm": _KEY_WRAP})
    shared_info = _EccCmsSharedInfo(
        {"key_info": key_wrap_algorithm, "supp_pub_info": core.OctetString(_KEY_BITS.to_bytes(4, "big"))}
    ).dump()
    key_encryption_key = X963KDF(algorithm=hashes.SHA256(), length=_KEY_BITS // 8, sharedinfo=shared_info).derive(
        shared_secret
    )
    content_key, iv = os.urandom(32), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).encryptor()
    encrypted_content = encryptor.update(padded) + encryptor.finalize()

    recipient_asn1 = asn1_x509.Certificate.load(recipient.public_bytes(Encoding.DER))
    originator_key = asn1_keys.PublicKeyInfo.load(
        ephemeral.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    key_agreement = cms.KeyAgreeRecipientInfo(
        {
            "version": "v3",
            "originator": cms.OriginatorIdentifierOrKey(name="originator_key", value=originator_key),
            "key_encryption_algorithm": cms.KeyEncryptionAlgorithm(
                {"algorithm": ECDH_SHA256_KDF, "parameters": key_wrap_algorithm}
            ),
            "recipient_encrypted_keys": [
                cms.RecipientEncryptedKey(
                    {
                        "rid": cms.KeyAgreementRecipientIdentifier(
                            name="issuer_and_serial_number",
                            value=cms.IssuerAndSerialNumber(
                                {"issuer": recipient_asn1.issuer, "serial_number": recipient_asn1.serial_number}
                            ),
                        ),
                        "encrypted_key": aes_key_wrap(key_encryption_key, content_key),
                    }
                )
            ],
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v2",
            "recipient_infos": [cms.RecipientInfo(name="kari", value=key_agreement)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": algos.EncryptionAlgorithm(
                    {"algorithm": "aes256_cbc", "parameters": core.OctetString(iv)}
                ),
                "encrypted_content": encrypted_content,
            },
        }
    )
    sealed: bytes = cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()
    return sealed
