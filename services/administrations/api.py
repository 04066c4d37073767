"""What the other domains may use of the administrations domain (`tests/services/test_domain_boundaries.py` holds
them to it):

- `Administration` and `ChainAccount`, the records other tables refer to and the anchoring signs with;
- `AdministrationCode`, the type of an administration's code in a request;
- `get_by_code`, an administration by its code;
- `sms_template_for`, the text of an administration's one-time-code SMS in a language;
- `authenticate` and `hold_caller`, for a route that reads its API key outside FastAPI's dependencies (the notary's
  streamed submissions): the kernel's `AdministrationDep` is the way for every other route;
- `hold_administration_key`, `authenticate` with `hold` in one statement for a key that may act (the notary's group
  committer reads one per group of submissions).
"""

from segell.services.administrations.models import Administration, ChainAccount
from segell.services.administrations.repository import get_by_code
from segell.services.administrations.schemas import AdministrationCode
from segell.services.administrations.service import (
    authenticate,
    hold_administration_key,
    hold_caller,
    sms_template_for,
)

__all__ = [
    "Administration",
    "AdministrationCode",
    "ChainAccount",
    "authenticate",
    "get_by_code",
    "hold_administration_key",
    "hold_caller",
    "sms_template_for",
]
