"""What the other domains may use of citizen authentication (`tests/services/test_domain_boundaries.py` holds them
to it): `verify_token` and its `InvalidToken` for a citizen token that arrives outside the kernel's `CitizenDep` (in
a form, say), `verify_token_with_held_keys` for a route served from the event loop (no database: None when the
token's key was not read yet), the `Clock` type with the `system_clock` that limits and expiries are measured with, and
`citizen_id_of`: the citizen id a login with a phone number gives, for a census kept by pseudonym
(the participation domain's)."""

from segell.services.citizen_auth.keyring import Keyring
from segell.services.citizen_auth.schemas import Phone
from segell.services.citizen_auth.service import Clock, system_clock
from segell.services.citizen_auth.tokens import InvalidToken, TokenClaims
from segell.services.citizen_auth.tokens import verify as verify_token
from segell.services.citizen_auth.tokens import verify_with_held_keys as verify_token_with_held_keys

__all__ = [
    "Clock",
    "InvalidToken",
    "Phone",
    "TokenClaims",
    "citizen_id_of",
    "system_clock",
    "verify_token",
    "verify_token_with_held_keys",
]


def citizen_id_of(master_key: bytes, administration_id: int, phone: str) -> str:
    """The citizen id (``cit_...``, a token's ``sub``) that a login of `phone` (E.164, as `Phone` normalises it) with
    `administration_id` gives: a keyed hash, the same for every login of that number with that administration."""
    return Keyring(master_key).citizen_id(administration_id, phone)
