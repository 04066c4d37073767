"""What the other domains may use of citizen authentication (`tests/services/test_domain_boundaries.py` holds them
to it): `verify_token` and its `InvalidToken` for a citizen token that arrives outside the kernel's `CitizenDep` (in
a form, say), and the `Clock` type with the `system_clock` that limits and expiries are measured with."""

from segell.services.citizen_auth.service import Clock, system_clock
from segell.services.citizen_auth.tokens import InvalidToken
from segell.services.citizen_auth.tokens import verify as verify_token

__all__ = ["Clock", "InvalidToken", "system_clock", "verify_token"]
