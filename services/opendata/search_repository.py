"""The search index's SQL: writing a dataset's entry and facet rows, and answering a `SearchRequest` with the
database's own full-text search (FTS5 on SQLite, migration 0020; a GIN-indexed ``tsvector`` in a narrow table of
its own on PostgreSQL, migration 0027).

The candidates are the entry ids the words of `q` match, always found by the database's full-text search (or, for
`fq` alone, those holding its rarest facet value); each process keeps them per full-text query while the entries'
version (`SearchVersion`) the database names is the same, so that a query asked again before any write costs one
read of the version. What each entry holds (visibility, facet values, sort keys, dataset id and code, and how often
each word occurs in it) is read once per process into arrays indexed by entry id (`_Entries`), with which entries
exist at the entries' version (`SearchVersion`, migration 0029: a new random one with every write), read again when
the version the database names has moved (at most once a second). While they are current, each word's rarity is
counted there, and an `fq` alone finds its entries there; else the database counts the words and reads the facet
rows. The database scores none of the matches. The arrays filter the candidates by `fq` and visibility, count the
facets of the matches in one pass, and rank them by BM25 (`relevance`). An entry id names one content forever: a
changed dataset's entry is deleted and written again under a new id, and ids are never reused (migration 0021), so
what a process holds of an entry is never stale, whichever process wrote the change. The page comes from the BM25
scores or the dates held (the best rows and all those tied with the last, sorted by every clause), from the database
sorting the matches' ids, or from walking a sort column's index. A search with no `q` and no `fq` reads its count
and facets from the values' counters and its page straight from a sort column's index. The packages of the pages
shown are kept per entry id too, as JSON (`ShownEntries`), for the service to show them again without reading them.
"""

import json
import math
import threading
import time
import uuid
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from segell.services.opendata.models import SearchEntry, SearchFacet, SearchValue
from segell.services.opendata.relevance import WordIndex, bm25
from segell.services.opendata.search import FACET_FIELDS, IndexEntry, Phrase, SearchRequest

_CHUNK = 500
_ORGANIZATION = FACET_FIELDS.index("organization")
_ENTRIES = cast(Table, SearchEntry.__table__)
_VALUES = cast(Table, SearchValue.__table__)
_FACETS = cast(Table, SearchFacet.__table__)


@dataclass(frozen=True)
class SearchResult:
    count: int
    #: (dataset id, current version's verification code) of the page, in order.
    page: list[tuple[str, str | None]]
    #: For each facet field asked for: (value, datasets) by count, then value.
    facets: dict[str, list[tuple[str, int]]]
    #: The search entry of each dataset of the page, in its order (an entry id names one content forever).
    page_entries: list[int]


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- writing -----------------------------------------------------------------------------------------------------


def _value_ids(session: Session, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The id of each (field, value), made for those new to the catalogue."""
    ids: dict[tuple[int, str], int] = {}
    wanted = sorted(pairs)
    for attempt in range(2):
        for chunk in _chunks(wanted):
            query = select(_VALUES.c.id, _VALUES.c.field, _VALUES.c.value).where(
                tuple_(_VALUES.c.field, _VALUES.c.value).in_(chunk)
            )
            ids.update({(field, value): value_id for value_id, field, value in session.execute(query)})
        wanted = [pair for pair in wanted if pair not in ids]
        if not wanted or attempt:
            break
        # Another transaction may be adding the same value: the one that loses keeps the winner's row.
        session.execute(
            text(
                "INSERT INTO opendata_search_values (field, value, folded, public_datasets)"
                " VALUES (:field, :value, :folded, 0) ON CONFLICT (field, value) DO NOTHING"
            ),
            [{"field": field, "value": value, "folded": value.lower()} for field, value in wanted],
        )
    assert not wanted, f"facet values not stored: {wanted[:5]}"
    return ids


def _count_public(session: Session, value_ids: Iterable[int], sign: int) -> None:
    counts = Counter(value_ids)
    if not counts:
        return
    # In id order, so that concurrent writers lock the counters in the same order.
    session.execute(
        update(_VALUES)
        .where(_VALUES.c.id == bindparam("value_key"))
        .values(public_datasets=_VALUES.c.public_datasets + bindparam("delta")),
        [{"value_key": value_id, "delta": sign * count} for value_id, count in sorted(counts.items())],
    )


def _drop_facets(session: Session, entries: Sequence[tuple[int, bool]]) -> None:
    """Remove the facet rows of these (entry id, private) entries, uncounting the public ones."""
    public = [entry_id for entry_id, private in entries if not private]
    for chunk in _chunks(public):
        values = session.scalars(select(_FACETS.c.value_id).where(_FACETS.c.entry_id.in_(chunk)))
        _count_public(session, values, -1)
    for chunk in _chunks([entry_id for entry_id, _ in entries]):
        session.execute(delete(_FACETS).where(_FACETS.c.entry_id.in_(chunk)))


def _existing(session: Session, dataset_ids: Sequence[str]) -> dict[str, tuple[int, bool]]:
    found: dict[str, tuple[int, bool]] = {}
    for chunk in _chunks(dataset_ids):
        query = select(_ENTRIES.c.dataset_id, _ENTRIES.c.id, _ENTRIES.c.private).where(_ENTRIES.c.dataset_id.in_(chunk))
        found.update({dataset_id: (entry_id, private) for dataset_id, entry_id, private in session.execute(query)})
    return found


def _new_version(session: Session) -> None:
    """Give the entries a new random version (`SearchVersion`): the first write of `index` and `unindex`, so that
    every writer takes this row's lock before any other of the index's, always in the same order."""
    session.execute(
        text(
            "INSERT INTO opendata_search_version (id, version) VALUES (1, :version)"
            " ON CONFLICT (id) DO UPDATE SET version = excluded.version"
        ),
        {"version": uuid.uuid4().hex},
    )


def index(session: Session, entries: Sequence[IndexEntry]) -> None:
    """Write the entries (new, or replacing a dataset's entry) and their facet rows, in the caller's transaction.

    A replaced entry is deleted and written again under a new id, never updated in place: an entry id names one
    content forever (ids are never reused: AUTOINCREMENT on SQLite, a sequence on PostgreSQL), which is what lets
    every process keep what it has read of an entry (`_Entries`) without ever being wrong."""
    if not entries:
        return
    _new_version(session)
    existing = _existing(session, [entry.dataset_id for entry in entries])
    _drop_facets(session, list(existing.values()))
    for chunk in _chunks([entry_id for entry_id, _ in existing.values()]):
        session.execute(delete(_ENTRIES).where(_ENTRIES.c.id.in_(chunk)))
    rows: list[dict[str, Any]] = [
        {
            "dataset_id": entry.dataset_id,
            "administration_id": entry.administration_id,
            "private": entry.private,
            "name": entry.name,
            "title": entry.title,
            "created_at": entry.created_at,
            "modified_at": entry.modified_at,
            "verification_code": entry.verification_code,
            "text": entry.text,
        }
        for entry in entries
    ]
    inserted = session.execute(
        insert(_ENTRIES).returning(_ENTRIES.c.dataset_id, _ENTRIES.c.id, sort_by_parameter_order=True), rows
    )
    ids = {row[0]: row[1] for row in inserted}
    value_ids = _value_ids(session, {pair for entry in entries for pair in entry.facets})
    facets = [
        {"entry_id": ids[entry.dataset_id], "field": field, "value_id": value_ids[(field, value)]}
        for entry in entries
        for field, value in entry.facets
    ]
    for chunk in _chunks(facets, 5000):
        session.execute(insert(_FACETS), chunk)
    _count_public(session, (value_ids[pair] for entry in entries if not entry.private for pair in entry.facets), 1)


def unindex(session: Session, dataset_ids: Sequence[str]) -> None:
    """Remove the datasets' entries (a deleted dataset is found by no search)."""
    existing = _existing(session, dataset_ids)
    if not existing:
        return
    _new_version(session)
    _drop_facets(session, list(existing.values()))
    session.execute(delete(_ENTRIES).where(_ENTRIES.c.id.in_([entry_id for entry_id, _ in existing.values()])))


def entry_count(session: Session) -> int:
    return session.scalar(select(text("count(*)")).select_from(_ENTRIES)) or 0


# -- searching ---------------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: How many facet values of each entry are kept in a row of their own (most datasets hold 6 to 14; one holding
#: more is read from its list of values, slower).
_PADDED = 16
#: Past this many entry ids, a process forgets what it has read and starts again (ids grow with every change).
_MOST_IDS = 4_000_000
#: Up to this many matches are sorted by the database from their ids; more, by walking the sort column's index
#: (which reads at most as many index rows as there are entries) and keeping the matches.
_SORT_IN_DATABASE = 5000
#: Up to this many entries not read yet are read by id; more, by ranges of this many ids.
_READ_BY_ID = 1000
_READ_RANGE = 20_000
#: How many entry ids a process keeps of the matches of the full-text queries it has asked (8 bytes each).
_MOST_MATCHES = 2_000_000
#: How many bytes of packages (about 4 kB each, as JSON) a process keeps for pages of results.
_MOST_SHOWN_BYTES = 32_000_000
#: A process reads again which entries exist at most this often (seconds): in between, a search made after the
#: entries changed asks the database.
_READ_LIVE_EVERY = 1.0

Ints = NDArray[np.int64]


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


class _Entries:
    """What one process has read of the search entries, by entry id, and of the facet values, by value id.

    Both are written once and never changed (`index` gives a changed dataset a new entry id), so what is held here
    is never stale: a search takes its matches from the database, in its own transaction, and reads here only what
    those ids have held since they were written; ids it has not seen yet are read first. Entries no longer in the
    database are never matched again, and are forgotten when ids outgrow `_MOST_IDS`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shown = ShownEntries()
        self._reset(1024)

    def _reset(self, capacity: int) -> None:
        self.known = np.zeros(capacity, dtype=np.bool_)
        self.private = np.zeros(capacity, dtype=np.bool_)
        self.administration = np.zeros(capacity, dtype=np.int64)
        self.keys = {key: np.zeros(capacity, dtype=np.int64) for key in ("modified_at", "created_at")}
        self.start = np.zeros(capacity, dtype=np.int64)
        self.length = np.zeros(capacity, dtype=np.int64)
        #: Each entry's value ids in a row of `_PADDED` (0 after the last; all 0 for an entry holding more, which
        #: only `start` and `length` find).
        self.padded = np.zeros((capacity, _PADDED), dtype=np.int32)
        self.value_ids = np.zeros(8192, dtype=np.int64)
        #: The entry holding each value of `value_ids`.
        self.value_owners = np.zeros(8192, dtype=np.int64)
        #: The field of each value id read (-1: none read).
        self.value_field = np.full(1024, -1, dtype=np.int64)
        self.used = 0
        self.texts: dict[str, list[str]] = {key: [""] * capacity for key in ("name", "title", "dataset_id")}
        self.codes: list[str | None] = [None] * capacity
        self.values: dict[int, str] = {}
        self.words = WordIndex(capacity)
        #: The entries that exist at the entries' version `live_version` (None: not read yet), read at
        #: `live_read_at` (`time.monotonic()`).
        self.live = np.zeros(capacity, dtype=np.bool_)
        self.live_version: str | None = None
        #: The entries of `live` holding any of some facet values (value ids in order), found when first asked.
        self.value_holders: dict[tuple[int, ...], Ints] = {}
        self.live_read_at = -math.inf
        #: The entries each full-text query matched (by its expression, the latest used last) at the entries'
        #: version `matches_version`, as the database's full-text search found them.
        self.matches: OrderedDict[str, Ints] = OrderedDict()
        self.matches_version: str | None = None
        self.matches_held = 0

    def matched(self, version: str | None, expression: str) -> Ints | None:
        """The entries `expression` matched at the entries' version `version`, if this process has found them."""
        if version is None or version != self.matches_version or expression not in self.matches:
            return None
        self.matches.move_to_end(expression)
        return self.matches[expression]

    def hold_matches(self, version: str | None, expression: str, ids: Ints) -> None:
        """Keep the entries `expression` matches at `version` (all the matches of an older version are dropped),
        forgetting the least recently used past `_MOST_MATCHES` ids in all."""
        if version is None:
            return
        if version != self.matches_version:
            self.matches, self.matches_version, self.matches_held = OrderedDict(), version, 0
        ids.flags.writeable = False
        self.matches[expression] = ids
        self.matches_held += len(ids)
        while self.matches_held > _MOST_MATCHES and len(self.matches) > 1:
            self.matches_held -= len(self.matches.popitem(last=False)[1])

    def _grow(self, largest: int) -> None:
        capacity = len(self.known)
        if largest < capacity:
            return
        if largest >= _MOST_IDS:
            self._reset(largest + 1)
            return
        size = max(largest + 1, capacity * 2)
        for name in ("known", "private", "administration", "start", "length", "live", "padded"):
            old = getattr(self, name)
            grown = np.zeros((size, *old.shape[1:]), dtype=old.dtype)
            grown[:capacity] = old
            setattr(self, name, grown)
        for key, old in self.keys.items():
            self.keys[key] = np.concatenate([old, np.zeros(size - capacity, dtype=np.int64)])
        for strings in self.texts.values():
            strings.extend([""] * (size - capacity))
        self.codes.extend([None] * (size - capacity))
        self.words.grow(size)

    def _append_values(self, owner: int, values: list[int], fields: list[int]) -> int:
        first = self.used
        end = first + len(values)
        if end > len(self.value_ids):
            size = max(end, len(self.value_ids) * 2)
            for name in ("value_ids", "value_owners"):
                old = getattr(self, name)
                setattr(self, name, np.concatenate([old, np.zeros(size - len(old), dtype=np.int64)]))
        self.value_ids[first:end] = values
        self.value_owners[first:end] = owner
        self.used = end
        if values:
            largest = max(values)
            if largest >= len(self.value_field):
                grown = np.full(max(largest + 1, len(self.value_field) * 2), -1, dtype=np.int64)
                grown[: len(self.value_field)] = self.value_field
                self.value_field = grown
            self.value_field[values] = fields
        return first

    def ensure(self, session: Session, ids: Ints) -> None:
        """Read the entries among `ids` not read yet: by id when they are few, else every entry in their range of
        ids at once (a process's first searches read most of the catalogue so, in a few statements)."""
        if not len(ids):
            return
        self._grow(int(ids.max()))
        missing = np.unique(ids[~self.known[ids]]).tolist()
        if len(missing) <= _READ_BY_ID:
            for chunk in _chunks(missing, _READ_BY_ID):
                self._read(session, _FACETS.c.entry_id.in_(chunk), _ENTRIES.c.id.in_(chunk))
            return
        for low in range(missing[0], missing[-1] + 1, _READ_RANGE):
            high = min(low + _READ_RANGE, missing[-1] + 1)
            facets = _FACETS.c.entry_id.between(low, high - 1)
            self._read(session, facets, _ENTRIES.c.id.between(low, high - 1))

    def _read(self, session: Session, facets_where: Any, entries_where: Any) -> None:
        facets: dict[int, tuple[list[int], list[int]]] = {}
        query = (
            select(_FACETS.c.entry_id, _FACETS.c.field, _FACETS.c.value_id)
            .where(facets_where)
            .order_by(_FACETS.c.entry_id, _FACETS.c.field, _FACETS.c.value_id)
        )
        for entry_id, field, value_id in session.execute(query):
            held = facets.setdefault(entry_id, ([], []))
            held[0].append(value_id)
            held[1].append(field)
        columns = (
            _ENTRIES.c.id, _ENTRIES.c.private, _ENTRIES.c.administration_id, _ENTRIES.c.modified_at,
            _ENTRIES.c.created_at, _ENTRIES.c.name, _ENTRIES.c.title, _ENTRIES.c.dataset_id,
            _ENTRIES.c.verification_code, _ENTRIES.c.text,
        )  # fmt: skip
        texts: list[tuple[int, str]] = []
        for entry_id, private, administration, modified, created, name, title, dataset, code, text_ in session.execute(
            select(*columns).where(entries_where)
        ):
            if self.known[entry_id]:
                continue
            texts.append((entry_id, text_))
            values, fields = facets.get(entry_id, ([], []))
            self.start[entry_id] = self._append_values(entry_id, values, fields)
            self.length[entry_id] = len(values)
            if len(values) <= _PADDED:
                self.padded[entry_id, : len(values)] = values
            self.private[entry_id] = private
            self.administration[entry_id] = administration
            self.keys["modified_at"][entry_id] = _microseconds(modified)
            self.keys["created_at"][entry_id] = _microseconds(created)
            self.texts["name"][entry_id] = name
            self.texts["title"][entry_id] = title
            self.texts["dataset_id"][entry_id] = dataset
            self.codes[entry_id] = code
            self.known[entry_id] = True
        self.words.add(texts)

    def value_names(self, session: Session, value_ids: Iterable[int]) -> dict[int, str]:
        wanted = set(value_ids)
        missing = sorted(wanted - self.values.keys())
        for chunk in _chunks(missing):
            query = select(_VALUES.c.id, _VALUES.c.value).where(_VALUES.c.id.in_(chunk))
            self.values.update((value_id, value) for value_id, value in session.execute(query))
        return {value_id: self.values[value_id] for value_id in wanted}

    def held_values(self, ids: Ints) -> "_HeldValues":
        """The facet values the entries `ids` hold."""
        rows = self.padded[ids]
        long = np.flatnonzero(self.length[ids] > _PADDED)
        lengths = self.length[ids[long]]
        owners = np.repeat(long, lengths)
        offsets = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(
            self.start[ids[long]] - (np.cumsum(lengths) - lengths), lengths
        )
        return _HeldValues(rows, owners, self.value_ids[offsets])


@dataclass(frozen=True)
class _HeldValues:
    """The facet value ids some entries hold: a row of `_PADDED` for each (0 after the last), and for those
    holding more, (position among the entries, value id) of each of their values."""

    rows: NDArray[np.int32]
    long_owners: Ints
    long_values: Ints

    def holding(self, value_ids: Sequence[int]) -> NDArray[np.bool_]:
        """Which of the entries hold any of `value_ids`."""
        holds = cast(NDArray[np.bool_], np.isin(self.rows, value_ids).any(axis=1))
        holds[self.long_owners[np.isin(self.long_values, value_ids)]] = True
        return holds

    def of(self, keep: NDArray[np.bool_]) -> Ints:
        """The value ids the entries `keep` picks hold, one for each entry and value it holds (and 0s)."""
        return np.concatenate([self.rows[keep].ravel(), self.long_values[keep[self.long_owners]]])


class ShownEntries:
    """What a page of results shows of each entry (its package, as the JSON bytes an answer holds), kept by one
    process per (entry id, API URL), the least recently shown forgotten past `_MOST_SHOWN_BYTES`.

    Exact whichever process changes the catalogue: an entry id names one content forever (`index` writes a changed
    dataset under a new id, in the change's transaction), and every change to what a package dict shows (the
    dataset, its resources and their datastore tables) is a new version of the dataset, indexed anew. Each is kept
    encoded: an answer splices the bytes in as they are, with nothing to decode or encode again, and no objects
    for the garbage collector to walk (tens of thousands of dicts held would make each of its full collections
    take a hundred milliseconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self._bytes = 0

    def held(self, entry_ids: Iterable[int], api_url: str) -> dict[int, bytes]:
        """The packages kept of `entry_ids`, as JSON (those not kept are missing)."""
        found: dict[int, bytes] = {}
        with self._lock:
            for entry_id in entry_ids:
                package = self._held.get((entry_id, api_url))
                if package is not None:
                    self._held.move_to_end((entry_id, api_url))
                    found[entry_id] = package
        return found

    def keep(self, packages: dict[int, bytes], api_url: str) -> None:
        """Keep the packages of these entries, as JSON."""
        with self._lock:
            for entry_id, package in packages.items():
                previous = self._held.pop((entry_id, api_url), None)
                self._bytes += len(package) - (len(previous) if previous is not None else 0)
                self._held[entry_id, api_url] = package
            while self._bytes > _MOST_SHOWN_BYTES and self._held:
                self._bytes -= len(self._held.popitem(last=False)[1])


def shown_entries(session: Session) -> ShownEntries:
    """The packages this process keeps of the entries of the session's database, as JSON."""
    return _entries_of(session).shown


_CACHES: "weakref.WeakKeyDictionary[Engine | Connection, _Entries]" = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _entries_of(session: Session) -> _Entries:
    """The entries this process has read from the session's database (one store per engine)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    with _CACHES_LOCK:
        entries = _CACHES.get(engine)
        if entries is None:
            entries = _CACHES[engine] = _Entries()
    return entries


def _match_expression(phrases: Sequence[Phrase], dialect: str) -> str:
    """The full-text query of all `phrases`, in the dialect's syntax (the words are letters and digits only)."""
    if dialect == "sqlite":
        return " ".join(f'"{" ".join(phrase.words)}"' + ("*" if phrase.prefix else "") for phrase in phrases)
    return " & ".join(
        "(" + " <-> ".join(f"'{word}'" for word in phrase.words) + (":*" if phrase.prefix else "") + ")"
        for phrase in phrases
    )


def _facet_fields(request: SearchRequest) -> list[int]:
    return [FACET_FIELDS.index(name) for name in request.facet_fields]


def _ids(session: Session, statement: Any, params: dict[str, Any]) -> Ints:
    return np.fromiter(session.scalars(statement, params), dtype=np.int64)


def _id_set(session: Session, sql: str, params: dict[str, Any], expanding: Sequence[str] = ()) -> Ints:
    """The ids `sql` selects (as `id`), in no order: joined into one value by the database, which is much quicker
    to hand over and read than a row per id."""
    aggregate = _id_aggregate(session.get_bind().dialect.name)
    statement = text(f"SELECT {aggregate} FROM ({sql}) AS found")
    if expanding:
        statement = statement.bindparams(*(bindparam(name, expanding=True) for name in expanding))
    return _joined_ids(session.scalar(statement, params))


def _id_aggregate(dialect: str, order: str = "") -> str:
    """The aggregate joining a query's ids (`id`) into one value: on SQLite their digits joined by commas; on
    PostgreSQL (in `order`, if given) their 4 bytes each (``int4send``, big-endian), which cost the database less
    to make and this process less to read than digits."""
    if dialect == "sqlite":
        return "group_concat(id)"
    return f"string_agg(int4send(id), ''{f' ORDER BY {order}' if order else ''})"


def _joined_ids(joined: str | bytes | None) -> Ints:
    """The ids `_id_aggregate` joined (None: none)."""
    if not joined:
        return np.zeros(0, dtype=np.int64)
    if isinstance(joined, str):
        return np.fromstring(joined, dtype=np.int64, sep=",")
    return np.frombuffer(joined, dtype=">i4").astype(np.int64)


def _matches(dialect: str) -> str:
    """The condition of an entry (`id`) matching the full-text query `:match`, without scoring it."""
    if dialect == "sqlite":
        return "SELECT rowid AS id FROM opendata_search_fts WHERE opendata_search_fts MATCH :match"
    return "SELECT id FROM opendata_search_words WHERE text_vector @@ to_tsquery('simple', :match)"


#: How many entries each phrase matches alone, and how many public datasets there are (for each phrase's IDF).
PhraseMatches = tuple[list[int], int]
_VERSION = "(SELECT version FROM opendata_search_version WHERE id = 1)"
_PUBLIC = "(SELECT COALESCE(SUM(public_datasets), 0) FROM opendata_search_values WHERE field = :organization)"


def _matching_ids(session: Session, entries: _Entries, request: SearchRequest) -> Ints:
    """The entry ids the words of `q` match, found by the database's full-text search: once per version of the
    entries (`SearchVersion`) in each process, which keeps them while the version the database names is the same
    (a broad word's 40,000 matches cost the database tens of milliseconds to find and hand over)."""
    dialect = session.get_bind().dialect.name
    expression = _match_expression(request.phrases, dialect)
    if expression in entries.matches:
        held = entries.matched(session.scalar(text(f"SELECT {_VERSION}")), expression)
        if held is not None:
            return held
    statement = f"SELECT {_VERSION}, (SELECT {_id_aggregate(dialect)} FROM ({_matches(dialect)}) AS found)"
    version, joined = session.execute(text(statement), {"match": expression}).one()
    ids = _joined_ids(joined)
    entries.hold_matches(version, expression, ids)
    return ids


def _holding_values(session: Session, entries: _Entries, value_ids: list[int]) -> Ints:
    """The entries holding any of the facet values `value_ids`: among the entries this process knows to exist at
    the version the database names (`_live_now`), found once per version; else from the database's facet rows."""
    version = session.scalar(text(f"SELECT {_VERSION}"))
    if not _live_now(session, entries, version, np.zeros(0, dtype=np.int64)):
        holders = "SELECT DISTINCT entry_id AS id FROM opendata_search_facets WHERE value_id IN :values"
        return _id_set(session, holders, {"values": value_ids}, ["values"])
    key = tuple(sorted(value_ids))
    if key not in entries.value_holders:
        holding = np.zeros(len(entries.live), dtype=np.bool_)
        holding[entries.value_owners[: entries.used][np.isin(entries.value_ids[: entries.used], key)]] = True
        entries.value_holders[key] = np.flatnonzero(holding & entries.live).astype(np.int64)
    return entries.value_holders[key]


def _live_now(session: Session, entries: _Entries, version: str | None, candidates: Ints) -> bool:
    """Whether this process knows which entries exist at `version` (the database's, just read): as it holds them,
    or read again now, unless they were read less than `_READ_LIVE_EVERY` ago."""
    if version is None:
        return False
    if version == entries.live_version:
        return True
    if time.monotonic() - entries.live_read_at < _READ_LIVE_EVERY:
        return False
    _read_live(session, entries, candidates)
    return True


def _phrase_matches(session: Session, entries: _Entries, phrases: Sequence[Phrase], candidates: Ints) -> PhraseMatches:
    """How many entries each phrase matches alone, and how many public datasets there are, for a `q` matched by the
    database: a phrase of one word (or a prefix) counted among the entries this process knows to exist
    (`_live_now`), a phrase of several words by the database, in the statement that reads the entries' version (or
    every phrase, when this process cannot know which entries exist). `candidates` are the entries the search holds
    read."""
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {"organization": _ORGANIZATION}
    columns = [_VERSION, _PUBLIC]
    for number, phrase in enumerate(phrases):
        params[f"match{number}"] = _match_expression([phrase], dialect)
        columns.append(_count(dialect, number) if len(phrase.words) > 1 else "NULL")
    version, public, *counts = session.execute(text("SELECT " + ", ".join(columns)), params).one()
    if not _live_now(session, entries, version, candidates):
        every = [_count(dialect, number) for number in range(len(phrases))]
        return [int(count) for count in session.execute(text("SELECT " + ", ".join(every)), params).one()], int(public)
    found = []
    for phrase, count in zip(phrases, counts, strict=True):
        if count is None:
            count = np.count_nonzero(entries.words.holding(entries.words.phrase_word_ids(phrase, 0)) & entries.live)
        found.append(int(count))
    return found, int(public)


def _count(dialect: str, number: int) -> str:
    """The database's count of the entries the full-text query `:match<number>` matches."""
    return f"(SELECT count(*) FROM ({_matches(dialect).replace(':match', f':match{number}')}) AS matched{number})"


def _read_live(session: Session, entries: _Entries, candidates: Ints) -> None:
    """Read which entries exist, with the version they are at (in one statement, so that both are of the same
    moment), and every one of them this process has not read yet (with the `candidates` again, should the store
    start afresh)."""
    aggregate = _id_aggregate(session.get_bind().dialect.name)
    version, joined = session.execute(text(f"SELECT {_VERSION}, (SELECT {aggregate} FROM opendata_search)")).one()
    ids = _joined_ids(joined)
    entries.ensure(session, np.concatenate([ids, candidates]))
    entries.live[:] = False
    entries.live[ids] = True
    entries.live_version = version
    entries.value_holders = {}
    entries.live_read_at = time.monotonic()


def _term_values(session: Session, field: int, value: str) -> tuple[list[int], int]:
    """The ids of the values a facet term matches (case aside), and how many public datasets hold them."""
    query = select(_VALUES.c.id, _VALUES.c.public_datasets).where(
        _VALUES.c.field == field, _VALUES.c.folded == value.lower()
    )
    found = session.execute(query).all()
    return [value_id for value_id, _ in found], sum(held for _, held in found)


def search(session: Session, request: SearchRequest) -> SearchResult:
    """Count, facets and one page of the datasets `request` finds: the database's full-text search (or the facet
    index, for `fq` alone) gives the candidate entry ids; what those entries hold, read once per process, filters,
    counts and sorts them."""
    if not request.phrases and not request.terms:
        return _browse(session, request)
    # Each term as (kind, argument): facet terms by their value ids, the rarest first.
    facet_terms: list[tuple[int, list[int], int]] = []
    for name, value in request.terms:
        if name in FACET_FIELDS:
            field = FACET_FIELDS.index(name)
            value_ids, held = _term_values(session, field, value)
            if not value_ids:
                return SearchResult(0, [], {field_name: [] for field_name in request.facet_fields}, [])
            facet_terms.append((field, value_ids, held))
    facet_terms.sort(key=lambda term: term[2])
    names = [value.lower() for name, value in request.terms if name == "name"]
    privates = [value.lower() == "true" for name, value in request.terms if name == "private"]
    entries = _entries_of(session)
    held_by_all = 0
    with entries.lock:
        if request.phrases:
            candidates = _matching_ids(session, entries, request)
        elif names:
            candidates = _ids(session, select(_ENTRIES.c.id).where(_ENTRIES.c.name == names[0]), {})
        elif facet_terms:
            candidates = _holding_values(session, entries, facet_terms[0][1])
            held_by_all = 1  # the candidates hold the first term's values
        else:
            candidates = _ids(session, select(_ENTRIES.c.id).where(_ENTRIES.c.private.is_(privates[0])), {})
        entries.ensure(session, candidates)
        keep = ~entries.private[candidates]
        if request.private_of is not None:
            keep |= entries.administration[candidates] == request.private_of
        for private in privates:
            keep &= entries.private[candidates] == private
        for name in names:
            keep &= np.array([entries.texts["name"][entry_id] == name for entry_id in candidates.tolist()], bool)
        facets: dict[str, list[tuple[str, int]]] = {}
        if facet_terms[held_by_all:] or request.facet_fields:
            values_held = entries.held_values(candidates)
            for _, value_ids, _ in facet_terms[held_by_all:]:  # a value id names its field too
                keep &= values_held.holding(value_ids)
            if request.facet_fields:
                facets = _count_facets(session, entries, request, values_held.of(keep))
        matched = candidates[keep]
        page = _page(session, entries, request, matched, candidates) if request.rows else []
        return SearchResult(
            len(matched),
            [(entries.texts["dataset_id"][entry_id], entries.codes[entry_id]) for entry_id in page],
            facets,
            page,
        )


def _count_facets(
    session: Session, entries: _Entries, request: SearchRequest, held: Ints
) -> dict[str, list[tuple[str, int]]]:
    """The facets of the matches, from the value ids they hold (one per dataset and value): each value's field is
    known from its id, so one count serves every field."""
    counts = np.bincount(held)
    counts[:1] = 0  # 0 is no value: the padding of the values' rows
    present = np.flatnonzero(counts >= max(request.facet_mincount, 1))
    facets: dict[str, list[tuple[str, int]]] = {}
    for name in request.facet_fields:
        value_ids = present[entries.value_field[present] == FACET_FIELDS.index(name)].tolist()
        labels = entries.value_names(session, value_ids)
        ranked = sorted(
            ((labels[value_id], int(counts[value_id])) for value_id in value_ids), key=lambda item: (-item[1], item[0])
        )
        facets[name] = ranked if request.facet_limit < 0 else ranked[: request.facet_limit]
    return facets


def _order(request: SearchRequest, prefix: str = "") -> str:
    clauses = [(column, descending) for column, descending in request.order if column != "score" or request.by_score]
    if not clauses:
        clauses = [("modified_at", True)]
    last_descending = clauses[-1][1]
    rendered = [f"{prefix}{column} {'DESC' if descending else 'ASC'}" for column, descending in clauses]
    return ", ".join([*rendered, f"{prefix}id {'DESC' if last_descending else 'ASC'}"])


def _visible(request: SearchRequest, params: dict[str, Any]) -> str:
    if request.private_of is None:
        return "s.private = false"
    params["me"] = request.private_of
    return "(s.private = false OR s.administration_id = :me)"


def _clauses(request: SearchRequest) -> list[tuple[str, bool]]:
    clauses = [(column, descending) for column, descending in request.order if column != "score" or request.by_score]
    return clauses or [("modified_at", True)]


def _page(
    session: Session,
    entries: _Entries,
    request: SearchRequest,
    matched: Ints,
    candidates: Ints,
) -> list[int]:
    """The entry ids of the page, in order: by the sort's columns, the last tie broken by entry id in the last
    column's direction (as `_browse` and the sort indexes order them)."""
    wanted = request.start + request.rows
    if request.start >= len(matched):
        return []
    clauses = _clauses(request)
    if any(column == "score" for column, _ in clauses):
        return _page_by_score(session, entries, request, matched, clauses, candidates)
    if all(column in entries.keys for column, _ in clauses):  # dates only: this process holds every key
        return _best(entries, matched, clauses, None, wanted)[request.start :]
    if len(matched) <= _SORT_IN_DATABASE:
        # The ids as one value (an array; JSON on SQLite): binding thousands of parameters costs more than sorting.
        if session.get_bind().dialect.name == "sqlite":
            among, ids = "IN (SELECT value FROM json_each(:ids))", json.dumps(matched.tolist())
        else:
            among, ids = "= ANY(CAST(:ids AS integer[]))", matched.tolist()
        statement = text(f"SELECT id FROM opendata_search WHERE id {among} ORDER BY {_order(request)} LIMIT :limit")
        ordered: list[int] = _ids(session, statement, {"ids": ids, "limit": wanted}).tolist()
        return ordered[request.start :]
    if len(clauses) == 1:
        return _walk(session, entries, clauses[0], matched, wanted)[request.start : wanted]
    return _sort_keys(entries, matched, clauses)[request.start : wanted]


def _sort_keys(
    entries: _Entries, matched: Ints, clauses: Sequence[tuple[str, bool]], scores: NDArray[np.float64] | None = None
) -> list[int]:
    """`matched` sorted by the clauses (string columns by Python's order of `str`, as the indexes'), the last tie
    broken by entry id in the last clause's direction; `scores` are the matches' relevance, in their order."""
    last_descending = clauses[-1][1]
    if all(column == "score" or column in entries.keys for column, _ in clauses):
        # Numbers only: one lexicographic sort, the last key first (the entry id breaking the last ties).
        keys: list[Any] = [-matched if last_descending else matched]
        for column, descending in reversed(clauses):
            key: Any = scores if column == "score" else entries.keys[column][matched]
            keys.append(-key if descending else key)
        return cast(list[int], matched[np.lexsort(keys)].tolist())
    positions = sorted(range(len(matched)), key=matched.__getitem__, reverse=last_descending)
    for column, descending in reversed(clauses):
        if column == "score":
            assert scores is not None
            values: Any = scores.tolist()
        elif column in entries.keys:
            values = entries.keys[column][matched].tolist()
        else:
            strings = entries.texts[column]
            values = [strings[entry_id] for entry_id in matched.tolist()]
        positions.sort(key=values.__getitem__, reverse=descending)
    return cast(list[int], matched[positions].tolist())


def _walk(session: Session, entries: _Entries, clause: tuple[str, bool], matched: Ints, wanted: int) -> list[int]:
    """The first `wanted` of `matched` in the order of one sort column, read off that column's index."""
    column, descending = clause
    inside = np.zeros(len(entries.known), dtype=np.bool_)
    inside[matched] = True
    direction = "DESC" if descending else "ASC"
    order = f"{column} {direction}, id {direction}"
    postgresql = session.get_bind().dialect.name == "postgresql"
    # On PostgreSQL joined into one value in the walk's order: thousands of ids are quicker handed over so.
    walk = (
        f"SELECT {_id_aggregate('postgresql', order)} FROM (SELECT id, {column} FROM opendata_search"
        f" ORDER BY {order} LIMIT :limit OFFSET :offset) AS walked"
        if postgresql
        else f"SELECT id FROM opendata_search ORDER BY {order} LIMIT :limit OFFSET :offset"
    )
    found: list[int] = []
    # Enough rows, at the share of the entries the matches are, to find the page in one walk most times.
    share = len(matched) / max(int(np.count_nonzero(entries.known)), 1)
    offset, batch = 0, max(int(wanted / max(share, 1e-6) * 1.25), wanted * 2, 200)
    while True:
        params = {"limit": batch, "offset": offset}
        if postgresql:
            walked = _joined_ids(session.scalar(text(walk), params))
        else:
            walked = _ids(session, text(walk), params)
        walked = walked[walked < len(inside)]
        found.extend(walked[inside[walked]].tolist())
        if len(found) >= wanted or len(walked) < batch:
            return found[:wanted]
        offset += batch
        batch *= 2


def _page_by_score(
    session: Session,
    entries: _Entries,
    request: SearchRequest,
    matched: Ints,
    clauses: Sequence[tuple[str, bool]],
    candidates: Ints,
) -> list[int]:
    """The page by relevance: BM25 of each match computed over the words this process holds of each entry
    (`relevance`); the best (and all those tied with the last wanted) are sorted by every clause."""
    wanted = request.start + request.rows
    if len(request.phrases) == 1:
        holders, public = [len(candidates)], len(candidates)
    else:
        holders, public = _phrase_matches(session, entries, request.phrases, candidates)
    scores = bm25(entries.words, request.phrases, matched, matched=candidates, phrase_matches=holders, entries=public)
    return _best(entries, matched, clauses, scores, wanted)[request.start :]


def _best(
    entries: _Entries,
    matched: Ints,
    clauses: Sequence[tuple[str, bool]],
    scores: NDArray[np.float64] | None,
    wanted: int,
) -> list[int]:
    """The first `wanted` of `matched` in the clauses' order: those whose first key is at least as good as the
    `wanted`-th best (ties at the cut included), sorted by every clause."""
    column, descending = clauses[0]
    if len(matched) > wanted and (column == "score" or column in entries.keys):
        first: Any = scores if column == "score" else entries.keys[column][matched]
        ranked = -first if descending else first
        best = ranked <= np.partition(ranked, wanted - 1)[wanted - 1]
        matched = matched[best]
        scores = scores[best] if scores is not None else None
    return _sort_keys(entries, matched, clauses, scores)[:wanted]


def _browse(session: Session, request: SearchRequest) -> SearchResult:
    """No `q`, no `fq`: the counters hold the public datasets' facet counts; the page walks a sort index."""
    params: dict[str, Any] = {}
    visible = _visible(request, params)
    count = session.scalar(
        select(text("COALESCE(SUM(public_datasets), 0)")).select_from(_VALUES).where(_VALUES.c.field == _ORGANIZATION)
    )
    own: list[int] = []
    if request.private_of is not None:
        own = list(
            session.scalars(
                select(_ENTRIES.c.id).where(
                    _ENTRIES.c.administration_id == request.private_of, _ENTRIES.c.private.is_(True)
                )
            )
        )
    facets: dict[str, list[tuple[str, int]]] = {}
    for field in request.facet_fields:
        number = FACET_FIELDS.index(field)
        counts: Counter[str] = Counter()
        query = select(_VALUES.c.value, _VALUES.c.public_datasets).where(
            _VALUES.c.field == number, _VALUES.c.public_datasets > 0
        )
        if not own and request.facet_limit >= 0:
            query = query.where(_VALUES.c.public_datasets >= request.facet_mincount)
            query = query.order_by(_VALUES.c.public_datasets.desc(), _VALUES.c.value).limit(request.facet_limit)
        for value, n in session.execute(query):
            counts[value] += n
        for chunk in _chunks(own):
            private = (
                select(_VALUES.c.value, text("count(*)"))
                .select_from(_FACETS.join(_VALUES, _VALUES.c.id == _FACETS.c.value_id))
                .where(_FACETS.c.field == number, _FACETS.c.entry_id.in_(chunk))
                .group_by(_VALUES.c.value)
            )
            for value, n in session.execute(private):
                counts[value] += n
        ranked = sorted(
            ((value, n) for value, n in counts.items() if n >= max(request.facet_mincount, 1)),
            key=lambda item: (-item[1], item[0]),
        )
        facets[field] = ranked if request.facet_limit < 0 else ranked[: request.facet_limit]
    page: list[tuple[str, str | None]] = []
    page_entries: list[int] = []
    if request.rows:
        params.update(rows=request.rows, start=request.start)
        statement = text(
            f"SELECT s.id, s.dataset_id, s.verification_code FROM opendata_search s WHERE {visible}"
            f" ORDER BY {_order(request, 's.')} LIMIT :rows OFFSET :start"
        )
        for entry_id, dataset_id, code in session.execute(statement, params):
            page.append((dataset_id, code))
            page_entries.append(entry_id)
    return SearchResult((count or 0) + len(own), page, facets, page_entries)


def public_page(session: Session, *, offset: int, limit: int) -> tuple[int, list[tuple[str, str | None]]]:
    """How many public datasets there are, and (dataset id, verification code) of `limit` of them by name."""
    total = session.scalar(
        select(text("COALESCE(SUM(public_datasets), 0)")).select_from(_VALUES).where(_VALUES.c.field == _ORGANIZATION)
    )
    query = (
        select(_ENTRIES.c.dataset_id, _ENTRIES.c.verification_code)
        .where(_ENTRIES.c.private.is_(False))
        .order_by(_ENTRIES.c.name, _ENTRIES.c.id)
        .offset(offset)
        .limit(limit)
    )
    return total or 0, [(dataset_id, code) for dataset_id, code in session.execute(query)]
