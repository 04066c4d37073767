"""A citizen's view of the access log: every access to their data that is no longer hidden, and its export."""

import csv
import io
import json
from datetime import datetime

from sqlalchemy.orm import Session

from segell.services.deps import AuthenticatedCitizen
from segell.services.errors import Conflict, NotFound
from segell.services.interop import api as interop
from segell.services.interop import once_only_repository as repository
from segell.services.interop import once_only_service
from segell.services.interop import repository as interop_repository
from segell.services.interop import service as interop_service
from segell.services.interop.access_schemas import Access, AccessAnchor, AccessLog, AccessLogDay
from segell.services.interop.once_only_schemas import AdministrationRef
from segell.services.interop.sealing import canonical_json, sha256_hex
from segell.services.notary import api as notary

#: The export's columns, in order: the CSV's header, and the JSON's keys.
EXPORT_COLUMNS = (
    "at",
    "consumer_code",
    "consumer_name",
    "provider_code",
    "provider_name",
    "data",
    "officer",
    "procedure_code",
    "case_id",
    "legal_basis",
    "consent_reference",
    "id",
)


def access_log(session: Session, citizen: AuthenticatedCitizen, now: datetime) -> AccessLog:
    """The accesses to the logged-in citizen's data at `now`, newest first; `NotFound` `citizen_not_identified`
    before their login is bound to their national id."""
    subject = once_only_service.subject_of(session, citizen)
    names: dict[int, AdministrationRef] = {}

    def named(administration_id: int) -> AdministrationRef:
        if administration_id not in names:
            row = repository.administration(session, administration_id)
            names[administration_id] = AdministrationRef(code=row.code, name=row.name)
        return names[administration_id]

    accesses = [
        Access(
            id=entry.exchange_id,
            at=entry.at,
            consumer=named(entry.consumer_id),
            provider=named(entry.provider_id),
            data=entry.service_code,
            officer=entry.officer,
            procedure_code=entry.procedure_code,
            case_id=entry.case_id,
            legal_basis=entry.legal_basis,
            consent_reference=entry.consent_reference,
        )
        for entry in interop.accesses_of(session, subject, now)
    ]
    administration = AdministrationRef(code=citizen.administration.code, name=citizen.administration.name)
    return AccessLog(administration=administration, accesses=accesses)


def _rows(log: AccessLog) -> list[dict[str, str | None]]:
    return [
        {
            "at": access.at.isoformat().replace("+00:00", "Z"),
            "consumer_code": access.consumer.code,
            "consumer_name": access.consumer.name,
            "provider_code": access.provider.code,
            "provider_name": access.provider.name,
            "data": access.data,
            "officer": access.officer,
            "procedure_code": access.procedure_code,
            "case_id": access.case_id,
            "legal_basis": access.legal_basis,
            "consent_reference": access.consent_reference,
            "id": access.id,
        }
        for access in log.accesses
    ]


def _cell(value: str | None) -> str:
    # A cell a spreadsheet would read as a formula is written as text.
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(log: AccessLog) -> bytes:
    """The accesses as CSV (RFC 4180, UTF-8 with a byte order mark so that spreadsheets read the accents)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in _rows(log):
        writer.writerow([_cell(row[column]) for column in EXPORT_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


def export_json(log: AccessLog, now: datetime) -> bytes:
    document = {
        "format": "segell-access-log-export/1",
        "exported_at": now.isoformat().replace("+00:00", "Z"),
        "administration": log.administration.model_dump(),
        "accesses": _rows(log),
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def access_anchor(session: Session, citizen: AuthenticatedCitizen, access_id: str, now: datetime) -> AccessAnchor:
    """The evidence that one access to the citizen's data is in its day's notarised log: `NotFound` when it is
    not one of theirs (or still hidden), `Conflict` `day_not_closed` before the day is closed, `not_anchored` until
    the day's document is anchored."""
    subject = once_only_service.subject_of(session, citizen)
    entry = interop_repository.access_of(session, subject_key=subject, exchange_id=access_id, now=now)
    if entry is None:
        raise NotFound(f"No access {access_id} to your data: `GET /v1/me/access` lists them.")
    digest = interop_repository.digest_of(session, consumer_id=entry.consumer_id, day=entry.day)
    if digest is None:
        raise Conflict(
            f"The access log of {entry.day.isoformat()} is not closed yet: a day is closed and notarised a few "
            "minutes after it ends (UTC). Ask again then.",
            code="day_not_closed",
        )
    day_entries = interop_repository.log_entries_of_day(session, consumer_id=entry.consumer_id, day=entry.day)
    codes = interop_repository.administration_codes(
        session, {entry.consumer_id, *(other.provider_id for other in day_entries)}
    )
    entry_hashes = [
        sha256_hex(
            canonical_json(
                interop_service.access_entry_document(other, codes[other.consumer_id][0], codes[other.provider_id][0])
            )
        )
        for other in day_entries
    ]
    document = interop_service.access_entry_document(entry, codes[entry.consumer_id][0], codes[entry.provider_id][0])
    bundle = notary.bundle(session, entry.consumer_id, digest.receipt_id)
    return AccessAnchor(
        entry=document,
        entry_hash=sha256_hex(canonical_json(document)),
        entry_hashes=entry_hashes,
        day=AccessLogDay(
            format="segell-interop-access-log-day/1",
            consumer=codes[entry.consumer_id][0],
            day=entry.day.isoformat(),
            entry_count=digest.entry_count,
            entries_digest=digest.entries_digest,
        ),
        day_hash=digest.document_hash,
        bundle=bundle,
    )
