"""Citizen tokens: short-lived JWTs signed with ES256, and the JSON Web Key Set that publishes their keys.

The signing key is created at the first start and sealed at rest under the master key; its public half is kept
beside it as a JWK, named (`kid`) by its RFC 7638 thumbprint. Claims::

    iss  the API's public URL            aud  the administration's code, the one tenant the token is good for
    sub  the citizen's pseudonym         amr  how the citizen proved it: ["sms", "otp"] or ["totp", "otp"]
    iat, exp (seconds), jti (random)
"""

import base64
import hashlib
import json
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from segell.services.citizen_auth.keyring import Keyring
from segell.services.citizen_auth.models import TokenSigningKey

ALGORITHM = "ES256"
# Clocks of the services that check a token differ a little from ours.
CLOCK_SKEW = timedelta(seconds=60)


class InvalidToken(Exception):
    """The token was not issued here, is altered, expired, or meant for something else; the message says which."""

    def __init__(self, message: str, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class IssuedToken:
    token: str
    citizen_id: str
    amr: list[str]
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    citizen_id: str
    audience: str
    amr: list[str]
    issued_at: datetime
    expires_at: datetime
    token_id: str


def _label(kid: str) -> str:
    return f"citizen-token-key:{kid}"


def _thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = dict(ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    public = {name: jwk[name] for name in ("kty", "crv", "x", "y")}
    return {**public, "kid": _thumbprint(public), "use": "sig", "alg": ALGORITHM}


def ensure_signing_key(session: Session, keyring: Keyring, now: datetime) -> TokenSigningKey:
    """The newest signing key; a new one is made when there is none (at the first start)."""
    current = session.scalars(select(TokenSigningKey).order_by(TokenSigningKey.created_at.desc()).limit(1)).first()
    if current is not None:
        return current
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = _public_jwk(private_key)
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    record = TokenSigningKey(
        kid=jwk["kid"],
        sealed_key=keyring.seal(scalar, label=_label(jwk["kid"])),
        public_jwk=json.dumps(jwk, separators=(",", ":")),
        created_at=now,
    )
    session.add(record)
    session.flush()
    return record


def json_web_key_set(session: Session) -> list[dict[str, Any]]:
    keys = session.scalars(select(TokenSigningKey).order_by(TokenSigningKey.created_at.desc())).all()
    return [json.loads(key.public_jwk) for key in keys]


class TokenSigner:
    """The newest signing key, opened once, issuing tokens with it: a login issues one (`issue`), a census of test
    voters many."""

    def __init__(self, record: TokenSigningKey, keyring: Keyring) -> None:
        scalar = keyring.open(record.sealed_key, label=_label(record.kid))
        self._private_key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
        self._headers = {"kid": record.kid, "typ": "JWT"}

    def issue(
        self, *, issuer: str, audience: str, citizen_id: str, amr: list[str], ttl: timedelta, now: datetime
    ) -> IssuedToken:
        issued_at = now.replace(microsecond=0)
        expires_at = issued_at + ttl
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": citizen_id,
            "amr": amr,
            "iat": int(issued_at.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": secrets.token_hex(16),
        }
        token = jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers=self._headers)
        return IssuedToken(token, citizen_id, amr, issued_at, expires_at)


def signer(session: Session, keyring: Keyring, now: datetime) -> TokenSigner:
    """A signer with the newest signing key (made at the first start when there is none)."""
    return TokenSigner(ensure_signing_key(session, keyring, now), keyring)


def issue(
    session: Session,
    keyring: Keyring,
    *,
    issuer: str,
    audience: str,
    citizen_id: str,
    amr: list[str],
    ttl: timedelta,
    now: datetime,
) -> IssuedToken:
    return signer(session, keyring, now).issue(
        issuer=issuer, audience=audience, citizen_id=citizen_id, amr=amr, ttl=ttl, now=now
    )


# Public keys by database and kid, read once per process: a kid is the thumbprint of its key, and a key is never
# changed nor removed, so what was read stays true (a kid not found is looked up again each time).
_public_keys: "weakref.WeakKeyDictionary[object, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _public_key(session: Session, kid: str) -> Any:
    """The public key named `kid` in the session's database, or None."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    known = _public_keys.get(engine)
    if known is None:
        known = _public_keys.setdefault(engine, {})
    key = known.get(kid)
    if key is None:
        record = session.get(TokenSigningKey, kid)
        if record is None:
            return None
        key = known[kid] = jwt.PyJWK(json.loads(record.public_jwk)).key
    return key


def verify(session: Session, token: str, *, issuer: str, now: datetime) -> TokenClaims:
    """Check a token's signature, issuer and lifetime; the caller checks that its audience is a live tenant."""
    return _verify(token, lambda kid: _public_key(session, kid), issuer=issuer, now=now)


class _KeyNotHeld(Exception):
    """The token's key is not among those this process has read: the database must be asked."""


def verify_with_held_keys(engine: object, token: str, *, issuer: str, now: datetime) -> TokenClaims | None:
    """`verify` without a database, for a token whose key this process has read from `engine`'s database before;
    None when it has not (then `verify` in a transaction answers). Checks and errors are `verify`'s."""

    def held(kid: str) -> Any:
        key = _public_keys.get(engine, {}).get(kid)
        if key is None:
            raise _KeyNotHeld
        return key

    try:
        return _verify(token, held, issuer=issuer, now=now)
    except _KeyNotHeld:
        return None


def _verify(token: str, public_key_of: Callable[[str], Any], *, issuer: str, now: datetime) -> TokenClaims:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("Not a citizen token: send the token `POST /v1/auth/otp/verify` returned.") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"Citizen tokens are signed with {ALGORITHM}; this one says {header.get('alg')!r}.")
    kid = header.get("kid")
    public_key = public_key_of(kid) if isinstance(kid, str) and len(kid) <= 64 else None
    if public_key is None:
        raise InvalidToken(
            "The token's signing key (kid) is not one of this server's; /.well-known/jwks.json lists them."
        )
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            # Time is checked below against the injected clock; the audience by the caller.
            options={
                "require": ["iss", "aud", "sub", "amr", "iat", "exp", "jti"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
            },
        )
    except jwt.InvalidIssuerError:
        raise InvalidToken(f"The token was issued by another server; this one is {issuer}.") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The token does not verify ({exc}); log in again.") from None
    audience, subject, amr = claims["aud"], claims["sub"], claims["amr"]
    issued_at, expires_at = claims["iat"], claims["exp"]
    if not (
        isinstance(audience, str)
        and isinstance(subject, str)
        and isinstance(amr, list)
        and all(isinstance(method, str) for method in amr)
        and isinstance(issued_at, int)
        and isinstance(expires_at, int)
    ):
        raise InvalidToken("The token's claims are not those of a citizen token; log in again.")
    try:
        expires, issued = datetime.fromtimestamp(expires_at, UTC), datetime.fromtimestamp(issued_at, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken("The token's times are out of range; log in again.") from None
    if expires <= now:
        raise InvalidToken("The token expired; log in again.", "token_expired")
    if issued > now + CLOCK_SKEW:
        raise InvalidToken("The token was issued in the future; check the clocks.")
    return TokenClaims(subject, audience, list(amr), issued, expires, str(claims["jti"]))
