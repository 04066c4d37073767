"""What the other domains may use of the interoperability domain (`tests/services/test_domain_boundaries.py` holds
them to it):

- `subject_key(master_key, national_id)`: the keyed hash a citizen's national id is stored as, the same whichever
  administration asks (pass ``runtime.master_key``); the access log, the exchanges and the providers' records are
  keyed by it;
- `accesses_of(session, subject_key, now)`: the citizen's access-log entries (`AccessLogEntry`), newest first,
  without those still hidden at `now` (an investigation's `hidden_until`);
- `administration_names(session, ids)`: ``{id: (code, name)}`` of the administrations the entries name;
- `verify_day(session, consumer_id, day)`: whether an administration's access log of a day is still what was
  notarised (`LogDayVerification`: `intact` False when an entry was deleted, added or altered);
- `close_day(session, consumer_id, day)`: notarise a day's log now (days are closed on their own once over);
- `verify_evidence` and `EvidenceVerification`: check an exchange's evidence file offline.

Example, for a citizen's page::

    key = interop.subject_key(runtime.master_key, national_id)
    with runtime.transaction() as session:
        entries = interop.accesses_of(session, key, datetime.now(UTC))
        names = interop.administration_names(session, {entry.consumer_id for entry in entries})
"""

from datetime import datetime

from sqlalchemy.orm import Session

from segell.services.interop import repository, service
from segell.services.interop.evidence import EvidenceVerification, verify_evidence
from segell.services.interop.models import AccessLogEntry, LogDigest
from segell.services.interop.schemas import LogDayVerification
from segell.services.interop.service import close_day, subject_key, verify_day

__all__ = [
    "AccessLogEntry",
    "EvidenceVerification",
    "LogDayVerification",
    "LogDigest",
    "accesses_of",
    "administration_names",
    "close_day",
    "subject_key",
    "verify_day",
    "verify_evidence",
]


def accesses_of(session: Session, subject_key: str, now: datetime) -> list[AccessLogEntry]:
    """Every access to the data of the citizen keyed `subject_key`, newest first, except those hidden until after
    `now`. Each entry names `consumer_id` (who asked), `officer`, `at`, `service_code`, `provider_id`,
    `procedure_code`, `case_id`, `legal_basis`, `consent_reference`, `hidden_until`."""
    return service.accesses_of(session, subject_key, now)


def administration_names(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    """``{id: (code, name)}`` of administrations, for showing who asked."""
    return repository.administration_codes(session, ids)
