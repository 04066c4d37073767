"""Keys derived from the deployment's master key, and what they protect: keyed hashes, pseudonyms, sealed secrets.

Six-digit codes and phone numbers are guessable, so a plain SHA-256 of one hides nothing: whoever reads the table
tries all 10^6 codes, or every number of a country, in seconds. They are hashed with HMAC-SHA256 under keys derived
from the master key, which never sits in the database. Secrets that must be read back (TOTP secrets, the token
signing key, the sandbox outbox's messages) are sealed like every private key of the deployment
(`chain.keys.seal_secret`: AES-256-GCM under the master key), the record's identity bound as associated data.
"""

import hashlib
import hmac
from dataclasses import dataclass

from segell.chain.keys import open_secret, seal_secret


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

    def outbox_phone_hash(self, phone: str) -> str:
        """A number's name in the SMS outbox, the same in every administration: the operator finds it in all."""
        return self._mac("outbox-phone", phone)

    def citizen_id(self, administration_id: int, phone: str) -> str:
        """A stable pseudonym of the citizen, different for each administration (they cannot link citizens)."""
        return "cit_" + self._mac("citizen", str(administration_id), phone)[:40]

    def seal(self, secret: bytes, *, label: str) -> str:
        return seal_secret(secret, self.master_key, label=label)

    def open(self, sealed: str, *, label: str) -> bytes:
        """The secret `seal` sealed under `label`; `chain.keys.KeySealError` when it does not open."""
        return open_secret(sealed, self.master_key, label=label)
