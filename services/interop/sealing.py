"""Sealing answers: a JWS (RFC 7515, compact serialisation) signed ES256 with the provider's seal key, carrying
its certificate chain in ``x5c`` (leaf, issuing CA, root CA), so that anyone holding Segell's root certificate can
check it offline.

Documents are hashed in one canonical form: JSON with sorted keys, no spaces, UTF-8 (`canonical_json`). The JWS
payload is the answer's canonical JSON itself, so its SHA-256 is the answer's notarised hash.
"""

import base64
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

ALGORITHM = "ES256"
JWS_TYPE = "segell-interop-answer+jws"


def canonical_json(document: Any) -> bytes:
    """The one byte form a document is hashed and signed in: sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def x5c_of(certificate: x509.Certificate, chain: list[x509.Certificate]) -> list[str]:
    """The ``x5c`` header: standard base64 of each certificate's DER, the signer's first."""
    return [base64.b64encode(cert.public_bytes(Encoding.DER)).decode() for cert in (certificate, *chain)]


def jws_header(x5c: list[str]) -> str:
    """The protected header of an answer sealed by the signer whose chain `x5c` names, base64url-encoded: the same
    for every answer of one seal, so it is made once per seal (`seal_with_header`)."""
    return b64url(canonical_json({"alg": ALGORITHM, "typ": JWS_TYPE, "x5c": x5c}))


def seal(payload: bytes, private_key: ec.EllipticCurvePrivateKey, x5c: list[str]) -> str:
    """The compact JWS of `payload`, signed ES256 by `private_key`, whose chain `x5c` names."""
    return seal_with_header(payload, private_key, jws_header(x5c))


def seal_with_header(payload: bytes, private_key: ec.EllipticCurvePrivateKey, header: str) -> str:
    """`seal`, with the header `jws_header` made of the signer's chain."""
    signing_input = f"{header}.{b64url(payload)}"
    r, s = decode_dss_signature(private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class InvalidJws(ValueError):
    """A JWS that cannot be read, or whose signature does not check out."""


def open_jws(jws: str) -> tuple[dict[str, Any], bytes, list[x509.Certificate]]:
    """(header, payload, [signer, ..., root]) of a compact JWS whose ES256 signature verifies with the key of the
    first ``x5c`` certificate; `InvalidJws` otherwise. The chain itself is the caller's to check."""
    parts = jws.split(".")
    if len(parts) != 3:
        raise InvalidJws("a compact JWS has three parts separated by dots")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
        certificates = [x509.load_der_x509_certificate(base64.b64decode(entry)) for entry in header["x5c"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidJws(f"the JWS is unreadable: {exc}") from None
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise InvalidJws(f"the JWS is not signed {ALGORITHM}")
    if len(signature) != 64 or not certificates:
        raise InvalidJws("the JWS signature is not an ES256 signature")
    public_key = certificates[0].public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise InvalidJws("the signer's certificate does not hold an elliptic-curve key")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except Exception:  # cryptography raises InvalidSignature
        raise InvalidJws(
            "the signature does not match the answer: it was altered, or sealed with another key"
        ) from None
    return header, payload, certificates
