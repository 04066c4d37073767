"""Keys derived from the deployment's master key, and what they protect: keyed hashes, pseudonyms, sealed secrets.

Six-digit codes and phone numbers are guessable, so a plain SHA-256 of one hides nothing: whoever reads the table
tries all 10^6 codes, or every number of a country, in seconds. They are hashed with HMAC-SHA256 under keys derived
from the master key, which never sits in the database. Secrets that must be read back (TOTP secrets, the token
signing key) are sealed with AES-256-GCM under a derived key, the record's identity bound as associated data.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chain.keys import master_key_id

_SEAL_VERSION = 1


class SealedSecretError(Exception):
    """A sealed secret does not open: another master key, another record, or altered."""


@dataclass(frozen=True)
class Keyring:
    """The citizen-authentication keys of one deployment, each derived from the master key for one purpose."""

    master_key: bytes

    def _derived(self, purpose: str) -> bytes:
        return hmac.new(self.master_key, b"segell.citizen-auth." + purpose.encode(), hashlib.sha256).digest()

    def _mac(self, purpose: str, *parts: str) -> str:
        message = b"\x00".join(part.encode() for part in parts)
        return hmac.new(self._derived(purpose), message, hashlib.sha256).hexdigest()

    def code_hash(self, challenge_id: str, code: str) -> str:
        """The stored form of a one-time code, bound to its challenge."""
        return self._mac("code", challenge_id, code)

    def phone_hash(self, administration_id: int, phone: str) -> str:
        return self._mac("phone", str(administration_id), phone)

    def address_hash(self, administration_id: int, address: str) -> str:
        return self._mac("address", str(administration_id), address)

    def citizen_id(self, administration_id: int, phone: str) -> str:
        """A stable pseudonym of the citizen, different for each administration (they cannot link citizens)."""
        return "cit_" + self._mac("citizen", str(administration_id), phone)[:40]

    def seal(self, secret: bytes, *, label: str) -> str:
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(self._derived("seal")).encrypt(nonce, secret, label.encode())
        envelope = {
            "v": _SEAL_VERSION,
            "alg": "AES-256-GCM",
            "kid": master_key_id(self.master_key),
            "nonce": base64.b64encode(nonce).decode(),
            "ct": base64.b64encode(ciphertext).decode(),
        }
        return json.dumps(envelope, separators=(",", ":"))

    def open(self, sealed: str, *, label: str) -> bytes:
        try:
            envelope = json.loads(sealed)
            nonce = base64.b64decode(envelope["nonce"], validate=True)
            ciphertext = base64.b64decode(envelope["ct"], validate=True)
            kid = envelope.get("kid")
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise SealedSecretError(f"{label}: not a sealed secret ({type(exc).__name__})") from exc
        if kid != master_key_id(self.master_key):
            raise SealedSecretError(
                f"{label} was sealed under master key {kid}, but the master key in use is "
                f"{master_key_id(self.master_key)}: set SEGELL_MASTER_KEY to the key it was sealed with"
            )
        try:
            return AESGCM(self._derived("seal")).decrypt(nonce, ciphertext, label.encode())
        except InvalidTag:
            raise SealedSecretError(f"{label} does not open: sealed for another record, or altered") from None
