"""An administration's own documents: listed page by page, and their proof bundles fetched in bulk.

Listings go newest first, by the time each document was accepted and then by id, with keyset pagination: a page
ends with an opaque cursor holding the position of its last receipt, and the next page starts after it. A page
costs the same however deep it is, and documents accepted meanwhile never shift the pages still to come.

Dates are RFC 3339 (ISO 8601), in UTC unless they say otherwise: `since` takes documents accepted at or after it;
`until` those accepted before it, and a date alone takes that whole day.
"""

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from segell.services.errors import ValidationFailed
from segell.services.notary import repository, service
from segell.services.notary.repository import ReceiptFilter
from segell.services.notary.schemas import Receipt
from segell.services.runtime import Runtime

# RFC 3339: a full date, or a date and time with its offset (`T` and `Z` in either case, as its grammar allows).
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
MOMENT_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
    "examples": ["2026-03-01", "2026-03-01T09:30:00+01:00"],
}
# A cursor is opaque: the schema names its format only, as no pattern tells a cursor this server gave from others.
CURSOR_FORMAT = "segell-cursor"
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,200}")
_CURSOR_VERSION = 1
_RECEIPT_ID = re.compile(r"[0-9a-f]{32}")
_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
# Receipts read per transaction while an export streams.
EXPORT_PAGE = 200


def _invalid(location: str, problem: str, *, code: str = "validation_error") -> ValidationFailed:
    return ValidationFailed(
        f"Invalid request. {location}: {problem}", code=code, details=[{"location": location, "message": problem}]
    )


def parse_moment(text: str, *, location: str, end_of_day: bool = False) -> datetime:
    """A date or a date and time (RFC 3339) as a UTC datetime; a date alone is its midnight in UTC, or with
    `end_of_day` the next midnight (so that `until=2026-03-31` takes all of the 31st). `ValidationFailed` (422)
    says what is wrong with it at `location`."""
    value = text.strip()
    date_only = _DATE.fullmatch(value) is not None
    if not date_only and _DATE_TIME.fullmatch(value) is None:
        raise _invalid(
            location,
            f"{text!r} is not a date (2026-03-01) nor a date and time with its offset (2026-03-01T09:30:00Z, "
            "2026-03-01T09:30:00+01:00)",
        )
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise _invalid(location, f"{text!r} is not a valid date or time: {exc}") from None
    if date_only:
        moment = moment.replace(tzinfo=UTC)
        if end_of_day:
            return moment + timedelta(days=1) if moment.date() < _LATEST.date() else _LATEST
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # Within an hour of year 1 or year 10000 once in UTC: as early or as late as can be.
        return _EARLIEST if moment.year == 1 else _LATEST


def receipt_filter(kind: str | None, status: str | None, since: str | None, until: str | None) -> ReceiptFilter:
    """The filter of a listing's or an export's query parameters; `ValidationFailed` (422) for a date it cannot read."""
    return ReceiptFilter(
        kind=kind,
        status=status,
        since=parse_moment(since, location="query.since") if since is not None else None,
        until=parse_moment(until, location="query.until", end_of_day=True) if until is not None else None,
    )


@dataclass(frozen=True)
class Position:
    """Where a page ended: the acceptance time and id of its last receipt."""

    created_at: datetime
    document_id: str


def encode_cursor(position: Position) -> str:
    payload = {"v": _CURSOR_VERSION, "t": position.created_at.isoformat(), "i": position.document_id}
    text = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, location: str = "query.cursor") -> Position:
    """The position a cursor of `encode_cursor` holds; `ValidationFailed` (422 `invalid_cursor`) for any other text."""
    problem = "not a cursor this server gave: pass the `next_cursor` of the previous page as it is"
    if _CURSOR.fullmatch(cursor) is None:
        raise _invalid(location, problem, code="invalid_cursor")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(payload, dict) or set(payload) != {"v", "t", "i"} or payload["v"] != _CURSOR_VERSION:
            raise ValueError("not a cursor")
        document_id, created_at = payload["i"], datetime.fromisoformat(payload["t"])
        if not isinstance(document_id, str) or _RECEIPT_ID.fullmatch(document_id) is None:
            raise ValueError("not a receipt id")
        if created_at.tzinfo is None:
            raise ValueError("no offset")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _invalid(location, problem, code="invalid_cursor") from None
    return Position(created_at.astimezone(UTC), document_id)


@dataclass(frozen=True)
class Page:
    items: list[Receipt]
    next_cursor: str | None


def list_receipts(
    session: Session, administration_id: int, where: ReceiptFilter, *, cursor: str | None, limit: int
) -> Page:
    """One page of the administration's receipts, newest first, and the cursor of the next one (None: the last)."""
    before = decode_cursor(cursor) if cursor is not None else None
    rows = repository.receipts_page(
        session,
        administration_id,
        where,
        before=(before.created_at, before.document_id) if before is not None else None,
        limit=limit + 1,
    )
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = encode_cursor(Position(rows[-1].created_at, rows[-1].id)) if more else None
    return Page([service.receipt_from_row(row) for row in rows], next_cursor)


def bundles_of(
    session: Session, administration_id: int, *, ids: Sequence[str], hashes: Sequence[str]
) -> dict[str, Any]:
    """The proof bundles of the administration's documents asked for by id and by hash, as `BundleSet` JSON: the
    anchored ones' bundles, the pending ones' ids, and what matched none of its documents (another administration's
    included: they are not disclosed)."""
    by_id, by_hash = repository.owned_receipts(session, administration_id, ids=ids, hashes=hashes)
    asked: dict[str, repository.ReceiptRow] = {}  # each document once, in the order asked
    missing: list[str] = []
    for key, found in [*((i, by_id.get(i)) for i in ids), *((h, by_hash.get(h)) for h in hashes)]:
        if found is None:
            missing.append(key)
        else:
            asked.setdefault(found.id, found)
    anchored = [row for row in asked.values() if row.root is not None]
    return {
        "items": service.bundles_json(session, anchored),
        "pending": [row.id for row in asked.values() if row.root is None],
        "missing": list(dict.fromkeys(missing)),
    }


def count_pending(session: Session, administration_id: int, where: ReceiptFilter) -> int:
    """How many of the documents `where` takes are not anchored yet (an export leaves them out)."""
    return repository.count_receipts(session, administration_id, replace(where, status="pending"))


def export_bundles(runtime: Runtime, administration_id: int, where: ReceiptFilter) -> Iterator[bytes]:
    """The proof bundles of the administration's anchored documents that `where` takes, newest first, as lines of
    JSON; each page is read in a transaction of its own, none held open while the lines are sent."""
    anchored = replace(where, anchored=True)
    before: tuple[datetime, str] | None = None
    while True:
        with runtime.transaction() as session:
            rows = repository.receipts_page(session, administration_id, anchored, before=before, limit=EXPORT_PAGE)
            bundles = service.bundles_json(session, rows)
        if bundles:
            yield "".join(
                json.dumps(bundle, ensure_ascii=False, separators=(",", ":")) + "\n" for bundle in bundles
            ).encode()
        if len(rows) < EXPORT_PAGE:
            return
        before = (rows[-1].created_at, rows[-1].id)
