"""Chain account keys: generated here, sealed at rest under a master key, never the public development keys.

A private key at rest is sealed with AES-256-GCM under a 32-byte master key. The sealed form is a compact JSON
string::

    {"v": 1, "alg": "AES-256-GCM", "kid": "<master key id>", "nonce": "<base64>", "ct": "<base64>"}

The caller's ``label`` (for instance the account address) is bound as associated data, so a sealed key copied
to another record does not open there. ``kid`` names the master key (a truncated hash, not the key) so that a
wrong master key is reported as such.

Example::

    master_key = load_or_create_master_key(Path(".segell/master.key"), os.environ.get("SEGELL_MASTER_KEY"))
    account = generate_account()
    sealed = seal_private_key(account.key, master_key, label=account.address)
    assert open_private_key(sealed, master_key, label=account.address) == account.key

Exceptions::

    KeyHandlingError
    ├── KeySealError            a sealed key does not open (other master key, other label, altered)
    ├── MasterKeyError          a master key is malformed, or its file is readable by others
    └── DevelopmentKeyRefused   a well-known development key on a chain that is not a local development chain
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.hdaccount import seed_from_mnemonic
from eth_account.hdaccount.deterministic import HDPath
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address

from segell.chain.durable import fsync_directory, replace_atomically, write_temporary

__all__ = [
    "DEVELOPMENT_KEYS",
    "DEVELOPMENT_MNEMONIC",
    "DevelopmentKeyRefused",
    "KeyHandlingError",
    "KeySealError",
    "MasterKeyError",
    "generate_account",
    "is_development_key",
    "load_or_create_master_key",
    "load_sealed_account",
    "open_private_key",
    "refuse_development_key",
    "save_sealed_account",
    "seal_private_key",
]

SEAL_VERSION = 1
_ALGORITHM = "AES-256-GCM"
_AAD_PREFIX = b"segell.sealed-key.v1\x00"


class KeyHandlingError(Exception):
    """Base of the errors raised by `chain.keys`."""


class KeySealError(KeyHandlingError):
    """A sealed key cannot be opened."""


class MasterKeyError(KeyHandlingError):
    """A master key is malformed, or stored where others can read it."""


class DevelopmentKeyRefused(KeyHandlingError):
    """A publicly known development key was offered for a chain that is not a local development chain."""


# ----------------------------------------------------------------------------------------------------
# Development keys

#: The mnemonic anvil and hardhat fund their ten default accounts from.
DEVELOPMENT_MNEMONIC = "test test test test test test test test test test test junk"


def _derive_development_keys() -> tuple[bytes, ...]:
    # eth-account's HD wallet code, used directly: Account.enable_unaudited_hdwallet_features() would switch
    # mnemonic support on for the whole process.
    seed = seed_from_mnemonic(DEVELOPMENT_MNEMONIC, "")
    return tuple(HDPath(f"m/44'/60'/0'/0/{index}").derive(seed) for index in range(10))


#: The private keys of anvil's (and hardhat's) ten default accounts: public knowledge, for local chains only.
DEVELOPMENT_KEYS: tuple[bytes, ...] = _derive_development_keys()

# Also public: eth-tester's default accounts (private keys 1..10).
_TESTER_KEYS = tuple(index.to_bytes(32, "big") for index in range(1, 11))
_WELL_KNOWN: dict[ChecksumAddress, str] = {
    **{Account.from_key(k).address: f"eth-tester default account #{i}" for i, k in enumerate(_TESTER_KEYS)},
    **{Account.from_key(k).address: f"anvil default account #{i}" for i, k in enumerate(DEVELOPMENT_KEYS)},
}


def _address_of(key_or_address: bytes | str | LocalAccount) -> ChecksumAddress:
    if isinstance(key_or_address, LocalAccount):
        return key_or_address.address
    if isinstance(key_or_address, str) and is_address(key_or_address):
        return to_checksum_address(key_or_address)
    account: LocalAccount = Account.from_key(key_or_address)
    return account.address


def is_development_key(key_or_address: bytes | str | LocalAccount) -> bool:
    """True if the key (or the address it controls) is one of the publicly known development accounts."""
    return _address_of(key_or_address) in _WELL_KNOWN


def refuse_development_key(key_or_address: bytes | str | LocalAccount, *, is_local_dev: bool) -> None:
    """Raise `DevelopmentKeyRefused` if a publicly known key is used on a chain that is not local development.

    Anyone can sign with these keys, so on a shared chain (Besu, a testnet) an account using one belongs to
    everybody. On a local development chain (embedded, anvil) they are harmless and allowed.

    Example::

        refuse_development_key(governance.key, is_local_dev=node.is_local_dev)
    """
    address = _address_of(key_or_address)
    if address in _WELL_KNOWN and not is_local_dev:
        raise DevelopmentKeyRefused(
            f"{address} is the {_WELL_KNOWN[address]}: its private key is public, so anyone could sign as it "
            "on this chain. Use a generated key (chain.keys.generate_account, stored sealed), or a local "
            "development chain (--chain embedded or anvil)"
        )


# ----------------------------------------------------------------------------------------------------
# Generating and sealing


def generate_account() -> LocalAccount:
    """A new account from the operating system's random source."""
    account: LocalAccount = Account.from_key(_new_private_key())
    return account


def _new_private_key() -> bytes:
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    while True:
        key = secrets.token_bytes(32)
        if 0 < int.from_bytes(key, "big") < order:
            return key


def master_key_id(master_key: bytes) -> str:
    """A short public name for a master key (a truncated hash), to tell keys apart in messages."""
    return hashlib.sha256(b"segell.master-key-id\x00" + master_key).hexdigest()[:16]


def _check_master_key(master_key: bytes) -> None:
    if not isinstance(master_key, bytes) or len(master_key) != 32:
        raise MasterKeyError("the master key must be 32 bytes (AES-256)")


def _aad(label: str) -> bytes:
    return _AAD_PREFIX + label.encode()


def seal_private_key(key: bytes, master_key: bytes, *, label: str) -> str:
    """Encrypt a 32-byte private key under ``master_key``; ``label`` must be given again to open it.

    Example::

        sealed = seal_private_key(account.key, master_key, label=account.address)
    """
    if len(key) != 32:
        raise KeyHandlingError(f"a private key is 32 bytes, got {len(key)}")
    return seal_secret(key, master_key, label=label)


def open_private_key(sealed: str, master_key: bytes, *, label: str) -> bytes:
    """Decrypt what `seal_private_key` returned; raise `KeySealError` if it does not open.

    Example::

        key = open_private_key(sealed, master_key, label=account.address)
    """
    return open_secret(sealed, master_key, label=label)


def seal_secret(secret: bytes, master_key: bytes, *, label: str) -> str:
    """Encrypt any secret (a key, a TOTP seed...) under ``master_key``; ``label`` must be given again to open it."""
    _check_master_key(master_key)
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(master_key).encrypt(nonce, bytes(secret), _aad(label))
    envelope = {
        "v": SEAL_VERSION,
        "alg": _ALGORITHM,
        "kid": master_key_id(master_key),
        "nonce": base64.b64encode(nonce).decode(),
        "ct": base64.b64encode(ciphertext).decode(),
    }
    return json.dumps(envelope, separators=(",", ":"))


def open_secret(sealed: str, master_key: bytes, *, label: str) -> bytes:
    """Decrypt what `seal_secret` (or `seal_private_key`) returned; raise `KeySealError` if it does not open."""
    _check_master_key(master_key)
    try:
        envelope = json.loads(sealed)
        version, algorithm = envelope["v"], envelope["alg"]
        nonce = base64.b64decode(envelope["nonce"], validate=True)
        ciphertext = base64.b64decode(envelope["ct"], validate=True)
        kid = envelope.get("kid")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise KeySealError(f"not a sealed key ({type(exc).__name__}: {exc})") from exc
    if version != SEAL_VERSION or algorithm != _ALGORITHM:
        raise KeySealError(f"sealed key version {version!r} ({algorithm!r}) is not supported by this Segell")
    if kid is not None and kid != master_key_id(master_key):
        raise KeySealError(
            f"the key labelled {label!r} was sealed under master key {kid}, but the master key in use is "
            f"{master_key_id(master_key)}: set SEGELL_MASTER_KEY (or the master key file) to the key it was "
            "sealed with"
        )
    try:
        return AESGCM(master_key).decrypt(nonce, ciphertext, _aad(label))
    except InvalidTag:
        raise KeySealError(
            f"the key labelled {label!r} does not open: it was sealed for another label, or was altered"
        ) from None


# ----------------------------------------------------------------------------------------------------
# Master key


def parse_master_key(value: str) -> bytes:
    """A master key written as 64 hex digits (optionally 0x-prefixed) or as base64 of 32 bytes."""
    text = value.strip()
    hex_text = text[2:] if text.lower().startswith("0x") else text
    if len(hex_text) == 64:
        try:
            return bytes.fromhex(hex_text)
        except ValueError:
            pass
    try:
        url_safe = "-" in text or "_" in text
        decoded = base64.b64decode(text, altchars=b"-_" if url_safe else None, validate=True)
    except (ValueError, binascii.Error):
        decoded = b""
    if len(decoded) == 32:
        return decoded
    raise MasterKeyError(
        "the master key must be 32 bytes written as 64 hex digits or base64 "
        '(generate one with: python -c "import secrets; print(secrets.token_hex(32))")'
    )


def load_or_create_master_key(path: Path, env_value: str | None) -> bytes:
    """The master key: from ``env_value`` when given, else from ``path``, created (mode 0600) if missing.

    A key file readable by group or others is refused. Creation is atomic: a key file either does not exist
    or holds a whole key, and of two processes starting together both end up with the same key.

    Example::

        master_key = load_or_create_master_key(home / "master.key", os.environ.get("SEGELL_MASTER_KEY"))
    """
    if env_value:
        return parse_master_key(env_value)
    try:
        return _read_master_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    temporary = write_temporary(path, key.hex().encode() + b"\n")
    try:
        os.link(temporary, path)  # fails if the file appeared meanwhile: never overwrite a key
    except FileExistsError:
        return _read_master_key_file(path)
    finally:
        temporary.unlink()
    fsync_directory(path.parent)
    return key


def _read_master_key_file(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            raise MasterKeyError(
                f"{path} is readable by group or others (mode {mode:04o}); the master key opens every sealed "
                f"account key. Run `chmod 600 {path}` and start again"
            )
        content = os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)
    try:
        return parse_master_key(content)
    except MasterKeyError as exc:
        raise MasterKeyError(f"{path}: {exc}") from None


# ----------------------------------------------------------------------------------------------------
# Key files: one sealed account per JSON file


def save_sealed_account(path: Path, account: LocalAccount, master_key: bytes) -> None:
    """Write ``account`` sealed under ``master_key`` to the JSON file ``path`` (mode 0600, atomically).

    The file holds ``{"version": 1, "address": ..., "sealed": ...}``; the address is the sealing label.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = {
        "version": SEAL_VERSION,
        "address": account.address,
        "sealed": seal_private_key(account.key, master_key, label=account.address),
    }
    replace_atomically(path, json.dumps(record, indent=2).encode() + b"\n")


def load_sealed_account(path: Path, master_key: bytes) -> LocalAccount:
    """Read an account written by `save_sealed_account`; raise `KeySealError` if it does not open."""
    try:
        record = json.loads(path.read_text())
        address, sealed = str(record["address"]), str(record["sealed"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeySealError(f"{path} is not a sealed account file ({type(exc).__name__}: {exc})") from exc
    try:
        account: LocalAccount = Account.from_key(open_private_key(sealed, master_key, label=address))
    except KeySealError as exc:
        raise KeySealError(f"{path}: {exc}") from None
    if account.address != address:
        raise KeySealError(f"{path}: the sealed key controls {account.address}, not the recorded {address}")
    return account
