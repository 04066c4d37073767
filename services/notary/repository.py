"""SQL for documents (receipts), their outbox entries and revocations.

Receipts are read as rows of one query (documents, their batch once anchored, their revocation), never as ORM
objects with a batch's tree attached: a batch of 10,000 documents keeps a 640 kB tree that only proofs need.
Writes are Core statements (one statement for a batch of submissions: over `json_each` on SQLite, over `unnest` on
PostgreSQL) that skip rows a concurrent request already inserted, so two identical submissions at once both answer
the same receipt instead of one failing; full batches of a bulk request go in all or nothing (a binary COPY on
PostgreSQL), and are looked up again when refused.
"""

import contextlib
import functools
import json
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Insert,
    Row,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from segell.services.administrations.api import Administration, ChainAccount
from segell.services.models import Hash32, utcnow
from segell.services.notary.bulk import NewDocuments, stamped
from segell.services.notary.models import (
    Batch,
    Document,
    DocumentCopy,
    DocumentSigner,
    DocumentSource,
    OutboxEntry,
    Revocation,
)

documents: Table = Document.__table__  # type: ignore[assignment]
outbox: Table = OutboxEntry.__table__  # type: ignore[assignment]
batches: Table = Batch.__table__  # type: ignore[assignment]
revocations: Table = Revocation.__table__  # type: ignore[assignment]
administrations: Table = Administration.__table__  # type: ignore[assignment]
accounts: Table = ChainAccount.__table__  # type: ignore[assignment]
sources: Table = DocumentSource.__table__  # type: ignore[assignment]
copies: Table = DocumentCopy.__table__  # type: ignore[assignment]
signers: Table = DocumentSigner.__table__  # type: ignore[assignment]

# Well under SQLite's and PostgreSQL's limits on bound parameters per statement.
_IN_CHUNK = 5_000

# Anchored is the batch's status, not written into each document: the worker writes one row per batch.
_STATUS = case(
    (or_(revocations.c.document_id.is_not(None), documents.c.status == "revoked"), "revoked"),
    (batches.c.id.is_not(None), "anchored"),
    else_="pending",
)

_RECEIPT_COLUMNS = (
    documents.c.id,
    documents.c.administration_id,
    documents.c.document_hash,
    documents.c.salt,
    documents.c.public,
    documents.c.kind,
    documents.c.title,
    documents.c.metadata_json,
    documents.c.verification_code,
    documents.c.idempotency_key,
    documents.c.request_fingerprint,
    _STATUS.label("status"),
    documents.c.leaf,
    documents.c.leaf_index,
    documents.c.created_at,
    documents.c.batch_id,
    batches.c.root,
    batches.c.size.label("tree_size"),
    batches.c.account,
    batches.c.chain_id,
    batches.c.contract,
    batches.c.transaction_hash,
    batches.c.block_number,
    batches.c.block_hash,
    batches.c.block_timestamp,
    revocations.c.reason.label("revocation_reason"),
    revocations.c.transaction_hash.label("revocation_transaction_hash"),
    revocations.c.block_number.label("revocation_block_number"),
    revocations.c.block_timestamp.label("revocation_block_timestamp"),
    administrations.c.code.label("administration_code"),
    administrations.c.name.label("administration_name"),
    administrations.c.registry_id.label("administration_registry_id"),
    copies.c.document_id.is_not(None).label("has_public_copy"),
)

# A batch counts only once anchored: between the worker's two transactions it exists but has no chain data yet.
_RECEIPTS = (
    select(*_RECEIPT_COLUMNS)
    .join(administrations, administrations.c.id == documents.c.administration_id)
    .outerjoin(batches, and_(batches.c.id == documents.c.batch_id, batches.c.status == "anchored"))
    .outerjoin(revocations, revocations.c.document_id == documents.c.id)
    .outerjoin(copies, copies.c.document_id == documents.c.id)
)

ReceiptRow = Row[*tuple[Any, ...]]
#: What the read-only lookups of public verification run on: a session, or a plain connection where no ORM is needed.
Reader = Session | Connection


def parameter_marker(session: Session) -> str:
    """The driver's placeholder for a bound parameter, for statements sent to the driver directly."""
    paramstyle = session.get_bind().dialect.paramstyle
    if paramstyle == "qmark":
        return "?"
    if paramstyle in ("format", "pyformat"):
        return "%s"
    raise ValueError(f"a driver with the {paramstyle!r} parameter style; Segell supports SQLite and PostgreSQL")


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def insert_skipping_conflicts(session: Session, table: Table) -> Insert:
    """INSERT that leaves out rows violating a unique constraint (ON CONFLICT DO NOTHING), where the database can."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return insert(table)


def receipt(session: Session, administration_id: int, document_id: str) -> ReceiptRow | None:
    query = _RECEIPTS.where(documents.c.id == document_id, documents.c.administration_id == administration_id)
    return session.execute(query).first()


def receipt_by_hash(session: Session, administration_id: int, document_hash: str) -> ReceiptRow | None:
    query = _RECEIPTS.where(
        documents.c.administration_id == administration_id, documents.c.document_hash == document_hash
    )
    return session.execute(query).first()


def receipt_by_idempotency_key(session: Session, administration_id: int, key: str) -> ReceiptRow | None:
    query = _RECEIPTS.where(documents.c.administration_id == administration_id, documents.c.idempotency_key == key)
    return session.execute(query).first()


def receipts_by_hashes(session: Session, administration_id: int, hashes: Sequence[str]) -> dict[str, ReceiptRow]:
    found: dict[str, ReceiptRow] = {}
    for chunk in _chunks(hashes):
        query = _RECEIPTS.where(
            documents.c.administration_id == administration_id, documents.c.document_hash.in_(chunk)
        )
        found.update((row.document_hash, row) for row in session.execute(query))
    return found


@dataclass(frozen=True)
class ReceiptFilter:
    """Which of an administration's receipts a listing or an export takes: `since` inclusive, `until` exclusive."""

    kind: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    anchored: bool = False  # only documents whose batch is anchored (anchored or revoked): those with a bundle


def _filtered(query: Select[Any], administration_id: int, where: ReceiptFilter) -> Select[Any]:
    query = query.where(documents.c.administration_id == administration_id)
    if where.kind is not None:
        query = query.where(documents.c.kind == where.kind)
    if where.status is not None:
        query = query.where(_STATUS == where.status)
    if where.since is not None:
        query = query.where(documents.c.created_at >= where.since)
    if where.until is not None:
        query = query.where(documents.c.created_at < where.until)
    if where.anchored:
        query = query.where(batches.c.id.is_not(None))
    return query


def receipts_page(
    session: Session, administration_id: int, where: ReceiptFilter, *, before: tuple[datetime, str] | None, limit: int
) -> list[ReceiptRow]:
    """Up to `limit` receipts of the administration, newest first (by acceptance time, then id), those after the
    position `before` (the time and id of the last receipt of the previous page) only."""
    return list(session.execute(page_query(administration_id, where, before=before, limit=limit)))


def page_query(
    administration_id: int, where: ReceiptFilter, *, before: tuple[datetime, str] | None, limit: int
) -> Select[Any]:
    """`receipts_page`'s query: keyset pagination over the index on (administration_id, created_at, id), so that a
    page costs the same however deep it is."""
    query = _filtered(_RECEIPTS, administration_id, where)
    if before is not None:
        moment, document_id = before
        position = tuple_(literal(moment, documents.c.created_at.type), literal(document_id, documents.c.id.type))
        query = query.where(tuple_(documents.c.created_at, documents.c.id) < position)
    return query.order_by(documents.c.created_at.desc(), documents.c.id.desc()).limit(limit)


def count_receipts(session: Session, administration_id: int, where: ReceiptFilter) -> int:
    query = (
        select(func.count())
        .select_from(documents)
        .outerjoin(batches, and_(batches.c.id == documents.c.batch_id, batches.c.status == "anchored"))
        .outerjoin(revocations, revocations.c.document_id == documents.c.id)
    )
    return int(session.execute(_filtered(query, administration_id, where)).scalar_one())


def owned_receipts(
    session: Session, administration_id: int, *, ids: Sequence[str] = (), hashes: Sequence[str] = ()
) -> tuple[dict[str, ReceiptRow], dict[str, ReceiptRow]]:
    """The administration's receipts among `ids` and among `hashes`: (by id, by hash)."""
    by_id: dict[str, ReceiptRow] = {}
    for chunk in _chunks(ids):
        query = _RECEIPTS.where(documents.c.administration_id == administration_id, documents.c.id.in_(chunk))
        by_id.update((row.id, row) for row in session.execute(query))
    return by_id, receipts_by_hashes(session, administration_id, hashes)


def trees_of_batches(session: Session, batch_ids: Iterable[int]) -> Iterator[tuple[int, bytes]]:
    """The Merkle trees of batches, one at a time: a tree of 10,000 documents takes 640 kB."""
    for batch_id in sorted(set(batch_ids)):
        yield batch_id, tree_of_batch(session, batch_id)


def statuses(session: Session, document_ids: Sequence[str]) -> dict[str, str]:
    """Each document's status: pending, anchored (its batch is) or revoked."""
    found: dict[str, str] = {}
    for chunk in _chunks(document_ids):
        found.update((row.id, row.status) for row in session.execute(_RECEIPTS.where(documents.c.id.in_(chunk))))
    return found


# Whether a receipt has sources or signers: verification reads them only then, one query instead of three.
_VERIFICATION = _RECEIPTS.add_columns(
    select(sources.c.document_id).where(sources.c.document_id == documents.c.id).exists().label("has_sources"),
    select(signers.c.document_id).where(signers.c.document_id == documents.c.id).exists().label("has_signers"),
)


def receipts_for_verification(
    session: Session, *, document_hash: str | None = None, code: str | None = None
) -> list[ReceiptRow]:
    """Every administration's receipt of a hash, or the one receipt with a verification code, each with whether it
    has sources (`has_sources`) and signers (`has_signers`)."""
    return _lookup(session, _VERIFICATION, document_hash=document_hash, code=code)


# Public verification's own query: only the columns a match shows, 19 of the 35 above. Reading a row's columns
# took more of a lookup's time than finding it.
_MATCHES = (
    select(
        documents.c.id,
        documents.c.document_hash,
        documents.c.salt,
        documents.c.public,
        documents.c.kind,
        documents.c.title,
        documents.c.verification_code,
        batches.c.root,
        batches.c.chain_id,
        batches.c.transaction_hash,
        batches.c.block_number,
        batches.c.block_timestamp,
        revocations.c.reason.label("revocation_reason"),
        revocations.c.block_timestamp.label("revocation_block_timestamp"),
        administrations.c.code.label("administration_code"),
        administrations.c.name.label("administration_name"),
        copies.c.document_id.is_not(None).label("has_public_copy"),
    )
    .select_from(documents)
    .join(administrations, administrations.c.id == documents.c.administration_id)
    .outerjoin(batches, and_(batches.c.id == documents.c.batch_id, batches.c.status == "anchored"))
    .outerjoin(revocations, revocations.c.document_id == documents.c.id)
    .outerjoin(copies, copies.c.document_id == documents.c.id)
    .add_columns(*_VERIFICATION.selected_columns[-2:])
)


class _DriverQuery:
    """A select compiled once for a dialect, run on the driver's own connection, its rows converted as SQLAlchemy
    converts them (hashes to hex, SQLite's integers to booleans): a verification spent more CPU in SQLAlchemy's
    execution (the statement's cache key, the execution context, the result's metadata) than in its query."""

    def __init__(self, query: Select[Any], dialect: Dialect, lookups: Sequence[str]) -> None:
        compiled = query.compile(dialect=dialect)
        self.sql = compiled.string
        self.positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        binds = {name: bind.type.bind_processor(dialect) for name, bind in compiled.binds.items()}
        self.params = {name: value for name, value in compiled.params.items() if name not in lookups}
        for name, value in self.params.items():
            process = binds.get(name)
            self.params[name] = process(value) if process is not None else value
        self.lookups = {name: binds.get(name) for name in lookups}
        columns = list(query.selected_columns)
        self.row: Any = namedtuple("VerificationRow", [column.key for column in columns])  # type: ignore[misc]
        self.processors = [
            (index, process)
            for index, column in enumerate(columns)
            if (process := column.type.result_processor(dialect, None)) is not None
        ]

    def parameters(self, **values: Any) -> dict[str, Any] | tuple[Any, ...]:
        params = dict(self.params)
        for name, process in self.lookups.items():
            params[name] = process(values[name]) if process is not None else values[name]
        return params if self.positions is None else tuple(params[name] for name in self.positions)

    def rows(self, found: Iterable[Sequence[Any]]) -> list[Any]:
        make, processors, rows = self.row._make, self.processors, []
        for values in found:
            converted = list(values)
            for index, process in processors:
                converted[index] = process(converted[index])
            rows.append(make(converted))
        return rows


_DRIVER_QUERIES: dict[tuple[str, str, str], _DriverQuery] = {}


def _driver_query(dialect: Dialect, by: str) -> _DriverQuery:
    """Public verification's query: by one `hash`, one `code`, or (on PostgreSQL) `both` arrays of them at once."""
    key = (dialect.name, dialect.driver, by)
    query = _DRIVER_QUERIES.get(key)
    if query is None:
        if by == "both":
            select_ = _MATCHES.where(
                or_(
                    documents.c.document_hash == any_(bindparam("hashes", type_=postgresql.ARRAY(Hash32()))),
                    documents.c.verification_code == any_(bindparam("codes", type_=postgresql.ARRAY(String()))),
                )
            )
            lookups: tuple[str, ...] = ("hashes", "codes")
        else:
            column = documents.c.verification_code if by == "code" else documents.c.document_hash
            select_ = _MATCHES.where(column == bindparam(by))
            lookups = (by,)
        if by != "code":
            select_ = select_.order_by(administrations.c.code)
        query = _DRIVER_QUERIES.setdefault(key, _DriverQuery(select_, dialect, lookups))
    return query


def _read_matches(
    cursor: Any, dialect: Dialect, hashes: Sequence[str], codes: Sequence[str], *, in_one: bool
) -> list[Any]:
    """`hashes`' and `codes`' matches on `cursor`: with one statement comparing each column to an array (`in_one`,
    PostgreSQL), or with one statement for each hash and each code."""
    if in_one:
        query = _driver_query(dialect, "both")
        cursor.execute(query.sql, query.parameters(hashes=list(hashes), codes=list(codes)))
        return query.rows(cursor.fetchall())
    found: list[Any] = []
    seen: set[str] = set()  # a receipt found by its hash and by its code is found once
    for by, values in (("hash", hashes), ("code", codes)):
        query = _driver_query(dialect, by)
        for value in values:
            cursor.execute(query.sql, query.parameters(**{by: value}))
            rows = query.rows(cursor.fetchall())
            found.extend(row for row in rows if row.id not in seen)
            seen.update(row.id for row in rows)
    return found


def matches_on_driver(engine: Engine, *, hashes: Sequence[str] = (), codes: Sequence[str] = ()) -> list[Any]:
    """Every administration's receipt of each of `hashes`, and the one receipt with each of `codes`, with only what
    public verification shows of them (`_MATCHES`); those of a hash in the order of their administrations' codes.

    On a connection of `engine`'s pool, through the driver alone, one statement for each hash and each code. On
    PostgreSQL in autocommit mode: no BEGIN and ROLLBACK around them, and psycopg prepares each once it has run a few
    times on a connection (until a request's ROLLBACK on that connection deallocates it again). Busy callers read
    many at once with a `MatchesReader`."""
    connection = engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        autocommit = isinstance(driver, psycopg.Connection)
        if autocommit:
            driver.autocommit = True
        cursor = connection.cursor()
        try:
            found = _read_matches(cursor, engine.dialect, hashes, codes, in_one=False)
        finally:
            cursor.close()
        if autocommit:
            driver.autocommit = False
    except Exception:
        connection.invalidate()  # in whatever state the failure left it: not given to another request
        raise
    connection.close()  # back to the pool
    return found


class MatchesReader:
    """`matches_on_driver` for a caller that reads one group of hashes and codes at a time (`GroupVerifier`).

    On PostgreSQL the whole group is one statement (each column compared to an array), on a connection the reader
    keeps for itself, in autocommit mode, where the statement is prepared at once and planned once
    (`plan_cache_mode = force_generic_plan`): for a parameter that is an array, PostgreSQL otherwise plans the
    statement again at every run (0.35 ms of its CPU, four times what running it for 8 hashes takes). The setting is
    the connection's, and the connection is not the pool's: no other statement is planned by it. A connection that
    fails is closed, and the group read once more on a new one (it only reads). Elsewhere each group goes to
    `matches_on_driver`: SQLite answers in the process, with no round trip to save.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: psycopg.Connection[Any] | None = None

    def read(self, hashes: Sequence[str], codes: Sequence[str]) -> list[Any]:
        if self.engine.dialect.name != "postgresql":
            return matches_on_driver(self.engine, hashes=hashes, codes=codes)
        try:
            return self._read(hashes, codes)
        except psycopg.OperationalError:
            self.close()  # lost (a restart, an idle timeout): a new connection reads the group again
        return self._read(hashes, codes)

    def _read(self, hashes: Sequence[str], codes: Sequence[str]) -> list[Any]:
        if self._connection is None:
            self._connection = self._connect()
        try:
            cursor = self._connection.cursor()
            try:
                return _read_matches(cursor, self.engine.dialect, hashes, codes, in_one=True)
            finally:
                cursor.close()
        except psycopg.OperationalError:
            raise
        except Exception:
            self.close()  # in whatever state the failure left it
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        pooled = self.engine.raw_connection()
        connection: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
        pooled.detach()  # closed by this reader, never handed to another caller
        connection.autocommit = True
        connection.prepare_threshold = 0
        connection.execute("SET plan_cache_mode = force_generic_plan")
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()


def _lookup(session: Reader, query: Select[Any], *, document_hash: str | None, code: str | None) -> list[ReceiptRow]:
    if code is not None:
        query = query.where(documents.c.verification_code == code)
    else:
        query = query.where(documents.c.document_hash == document_hash).order_by(administrations.c.code)
    return list(session.execute(query))


def code_in_use(session: Session, code: str) -> bool:
    query = select(documents.c.id).where(documents.c.verification_code == code).limit(1)
    return session.execute(query).first() is not None


def insert_document(session: Session, row: dict[str, Any]) -> bool:
    """Insert one document; False when a unique constraint (hash, idempotency key, code) already holds it."""
    statement = insert_skipping_conflicts(session, documents).returning(documents.c.id)
    return session.connection().execute(statement, row).first() is not None


def insert_documents(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert many documents in one executemany, skipping conflicts; how many went in, or -1 when the driver
    does not say (SQLite always does)."""
    return _insert_many(session, documents, rows, skip_conflicts=True)


def insert_new_documents(session: Session, rows: Sequence[dict[str, Any]]) -> bool:
    """Insert documents that must all be new, all of them or none: False, with none of them kept, when one is
    refused (a hash the administration already notarised, or a verification code taken).

    On PostgreSQL the rows go in with a binary COPY under a savepoint: the driver writes them in C, and the server
    inserts them without the speculative insertion `ON CONFLICT` costs per row (for 10,000 documents, a tenth of the
    client's CPU of `unnest` and a quarter less of the server's). A concurrent request inserting one of the same
    hashes makes the COPY wait for its commit, then fail: the caller looks the hashes up. Elsewhere, an insert
    skipping conflicts whose rows are deleted again when it did not take them all.
    """
    if not rows:
        return True
    if session.get_bind().dialect.name != "postgresql":
        if insert_documents(session, rows) == len(rows):
            return True
        for chunk in _chunks([row["id"] for row in rows]):
            session.execute(delete(documents).where(documents.c.id.in_(chunk)))
        return False
    try:
        with session.begin_nested():
            # In the order of the hash index: two requests sharing hashes wait for each other, never in a circle.
            _copy_rows(session, documents, sorted(rows, key=itemgetter("document_hash")))
    except psycopg.errors.UniqueViolation:
        return False
    return True


def copy_new_documents(session: Session, new: NewDocuments) -> bool:
    """`insert_new_documents` of documents held as arrays: all of them or none, False when one is refused.

    On PostgreSQL their rows are written as a binary COPY built as one fixed-width record per document (the
    columns every row shares written once into a template, the others in at their offsets), in the order of their
    hashes, under a savepoint; the columns left out (title, metadata, idempotency key, fingerprint, and the salt or
    kind when there are none) are NULL. Elsewhere as `insert_new_documents` of their rows.
    """
    if not len(new):
        return True
    if session.get_bind().dialect.name != "postgresql":
        return insert_new_documents(session, new.rows())
    names, records = _binary_records(new)
    order = np.lexsort(new.hash_bytes.view(">u8")[:, ::-1].T)
    payload = b"".join((_COPY_SIGNATURE, records[order].tobytes(), _COPY_TRAILER))
    try:
        with session.begin_nested():
            # The savepoint is emitted once the nested transaction's connection is asked for.
            cursor = session.connection().connection.cursor()
            try:
                # In the order of the hash index: two requests sharing hashes wait for each other, never in a circle.
                with cursor.copy(f"COPY documents ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(payload)
            finally:
                cursor.close()
    except psycopg.errors.UniqueViolation:
        return False
    return True


# The binary COPY stream's header (signature, flags, no extension) and its end.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _binary_records(new: NewDocuments) -> tuple[list[str], npt.NDArray[np.uint8]]:
    """The columns and the (n, width) records of `new` in PostgreSQL's binary COPY format: a field count, then
    each field's length (4 bytes) and value."""
    count = len(new)

    def big_endian(values: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
        return values.astype(">i4").view(np.uint8).reshape(count, 4)

    microseconds = (new.created_at - _POSTGRES_EPOCH) // timedelta(microseconds=1)
    salts = new.salt_hex()
    fields: list[tuple[str, bytes | npt.NDArray[np.uint8] | None]] = [
        ("id", new.ids),
        ("administration_id", new.administration_id.to_bytes(4, "big", signed=True)),
        ("document_hash", new.hash_bytes),
        ("salt", salts),
        ("public", b"\x01" if new.public else b"\x00"),
        ("kind", new.kind.encode() if new.kind is not None else None),
        ("verification_code", new.codes),
        ("status", b"pending"),
        ("batch_id", big_endian(new.batch_ids)),
        ("leaf_index", big_endian(new.leaf_indexes)),
        ("leaf", new.leaves),
        ("created_at", microseconds.to_bytes(8, "big", signed=True)),
    ]
    names = [name for name, value in fields if value is not None]
    template = bytearray(len(names).to_bytes(2, "big"))
    spans: list[tuple[int, npt.NDArray[np.uint8]]] = []  # where the values that vary by row go
    for _, value in fields:
        if value is None:
            continue
        if isinstance(value, bytes):
            template += len(value).to_bytes(4, "big") + value
        else:
            template += value.shape[1].to_bytes(4, "big")
            spans.append((len(template), value))
            template += bytes(value.shape[1])
    return names, stamped(template, spans, count)


def _copy_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """PostgreSQL: `COPY table FROM STDIN` in binary format. Values go through their column type's own conversion
    (hex hashes to bytes, times to UTC), not the driver-level wrapping SQLAlchemy adds for its own statements."""
    dialect = session.get_bind().dialect
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    types = [column.type.compile(dialect).lower().partition("(")[0] for column in columns]
    converted = [
        (index, column.type.process_bind_param)
        for index, column in enumerate(columns)
        if isinstance(column.type, TypeDecorator)
    ]
    cursor = session.connection().connection.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            write, values_of = copy.write_row, itemgetter(*names)
            for row in rows:
                values = list(values_of(row))
                for index, convert in converted:
                    values[index] = convert(values[index], dialect)
                write(values)
    finally:
        cursor.close()


def stored_ids(session: Session, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(session.execute(select(documents.c.id).where(documents.c.id.in_(chunk))).scalars())
    return found


def insert_documents_queued(session: Session, rows: Sequence[dict[str, Any]], first_seq: int) -> set[str]:
    """Insert documents skipping conflicts, each one that goes in with its outbox entry (sequence numbers from
    `first_seq` on, in the order of `rows`): the ids of those that went in.

    On PostgreSQL in one statement, the outbox entries inserted from the documents' own `RETURNING`: a group of
    single submissions is a few rows, and a round trip fewer is a fifth less of its statements. Elsewhere the
    documents, then the outbox entries of those that went in."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect
    ids = [row["id"] for row in rows]
    if dialect.name != "postgresql":
        stored = set(ids) if insert_documents(session, rows) == len(rows) else stored_ids(session, ids)
        queued = [
            {
                "document_id": row["id"],
                "administration_id": row["administration_id"],
                "seq": first_seq + i,
                "created_at": row["created_at"],
            }
            for i, row in enumerate(rows)
            if row["id"] in stored
        ]
        add_to_outbox(session, queued)
        return stored
    names, columns = _bound_columns(documents, rows, dialect)
    types = [_column_codec(documents, name, dialect)[1] for name in names]
    insert_sql, parameters = _insert_from_arrays(documents.name, names, types, columns, " ON CONFLICT DO NOTHING")
    id_type, seq_type = _column_codec(outbox, "document_id", dialect)[1], _column_codec(outbox, "seq", dialect)[1]
    sql = (
        f"WITH stored AS ({insert_sql} RETURNING id, administration_id, created_at) "
        f"INSERT INTO {outbox.name} (document_id, administration_id, seq, created_at) "
        "SELECT stored.id, stored.administration_id, queued.seq, stored.created_at FROM stored "
        f"JOIN unnest(%s::{id_type}[], %s::{seq_type}[]) AS queued(id, seq) ON queued.id = stored.id "
        "RETURNING document_id"
    )
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, [*parameters, ids, list(range(first_seq, first_seq + len(rows)))])
        return {row[0] for row in cursor.fetchall()}
    finally:
        cursor.close()


def add_to_outbox(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    _insert_many(session, outbox, list(rows), skip_conflicts=False)


def _insert_many(session: Session, table: Table, rows: Sequence[dict[str, Any]], *, skip_conflicts: bool) -> int:
    """Insert many rows with one statement sent straight to the driver: SQLAlchemy's parameter handling costs more
    than the statement for 10,000 rows. Values go through each column type's bind processing, once per distinct
    value object (the rows of a batch share their timestamp). How many rows went in, or -1 when the driver does not
    say (SQLite always does).

    On SQLite the rows travel as one JSON array read by `json_each`, with the values all rows share bound once: a
    single step of the statement, during which the driver lets other threads run. An executemany instead hands the
    interpreter back and forth once per row, and any other busy thread then stalls it for a switch interval per row.
    On PostgreSQL they travel as one array per column read by `unnest`: one statement, where an executemany sends
    and executes one per row (10,000 documents: 1.4-1.6 s against 1.7-2.7 s, measured on a loaded machine).
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    names, columns = _bound_columns(table, rows, dialect)
    conflicts = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    cursor = session.connection().connection.cursor()
    try:
        if dialect.name == "sqlite":
            cursor.execute(*_insert_from_json(table.name, names, columns, conflicts))
        elif dialect.name == "postgresql":
            types = [_column_codec(table, name, dialect)[1] for name in names]
            cursor.execute(*_insert_from_arrays(table.name, names, types, columns, conflicts))
        else:
            mark = parameter_marker(session)
            sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))}){conflicts}"
            cursor.executemany(sql, list(zip(*columns, strict=True)))
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _bound_columns(table: Table, rows: Sequence[dict[str, Any]], dialect: Dialect) -> tuple[list[str], list[list[Any]]]:
    """The column names of `rows` and one list of values per column, each through its column type's bind
    processing, once per distinct value object (the rows of a batch share their timestamp)."""
    names = list(rows[0])
    columns = [[row[name] for row in rows] for name in names]
    for name, values in zip(names, columns, strict=True):
        process = _column_codec(table, name, dialect)[0]
        if process is not None:
            cache: dict[int, Any] = {}
            for i, value in enumerate(values):
                key = id(value)
                if key not in cache:
                    cache[key] = (value, process(value))  # the value is kept so that its id is not reused
                values[i] = cache[key][1]
    return names, columns


@functools.cache
def _column_codec(table: Table, name: str, dialect: Dialect) -> tuple[Callable[[Any], Any] | None, str]:
    """A column's bind processing and its type in SQL: worked out once, where a group of single submissions
    inserts a few rows at a time and working them out again cost more than the rest of the insert. The type is the
    element type alone: a collation (`VARCHAR(32) COLLATE "C"`) is the column's, not an array's."""
    type_ = table.c[name].type
    return type_.dialect_impl(dialect).bind_processor(dialect), type_.compile(dialect).partition(" COLLATE ")[0]


def _insert_from_json(table: str, names: list[str], columns: list[list[Any]], conflicts: str) -> tuple[str, list[Any]]:
    """`INSERT ... SELECT ... FROM json_each(?)` and its parameters: the values every row shares are bound once,
    the others (text, numbers or NULL) are read from one JSON array of rows, and binary values of one width (the
    32-byte hashes) from one blob of them all, row k's at offset k * width (JSON holds no bytes, and SQLite before
    3.41 has no `unhex`)."""
    selected: list[str] = []
    bound: list[Any] = []
    varying: list[list[Any]] = []
    for name, values in zip(names, columns, strict=True):
        first = values[0]
        if values.count(first) == len(values):
            selected.append("?")
            bound.append(first)
        elif isinstance(first, bytes | memoryview):
            width = len(first)
            if not all(isinstance(value, bytes | memoryview) and len(value) == width for value in values):
                raise ValueError(f"column {name}: binary values of one width, without NULL, are inserted together")
            selected.append(f"substr(?, key * {width} + 1, {width})")
            bound.append(b"".join(values))
        else:
            selected.append(f"json_extract(value, '$[{len(varying)}]')")
            varying.append(values)
    rows = json.dumps([*zip(*varying, strict=True)] if varying else [0] * len(columns[0]), ensure_ascii=False)
    # `WHERE true` keeps SQLite from reading ON CONFLICT as part of the SELECT.
    source = f"SELECT {', '.join(selected)} FROM json_each(?) WHERE true"
    return f"INSERT INTO {table} ({', '.join(names)}) {source}{conflicts}", [*bound, rows]


def _insert_from_arrays(
    table: str, names: list[str], types: list[str], columns: list[list[Any]], conflicts: str
) -> tuple[str, list[Any]]:
    """PostgreSQL: `INSERT ... SELECT ... FROM unnest(...)` and its parameters: the values every row shares are bound
    once, the others as one array per column, cast to the column's type."""
    selected: list[str] = []
    shared: list[Any] = []
    arrays: list[str] = []
    varying: list[list[Any]] = []
    for values, type_ in zip(columns, types, strict=True):
        if values.count(values[0]) == len(values):
            selected.append(f"%s::{type_}")
            shared.append(values[0])
        else:
            selected.append(f"rows.c{len(arrays)}")
            arrays.append(f"%s::{type_}[]")
            varying.append(values)
    if not arrays:  # every row alike: as many of them as there are
        arrays.append("%s::integer[]")
        varying.append(list(range(len(columns[0]))))
    aliases = ", ".join(f"c{i}" for i in range(len(arrays)))
    source = f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS rows({aliases})"
    return f"INSERT INTO {table} ({', '.join(names)}) {source}{conflicts}", [*shared, *varying]


def insert_built_batch(session: Session, *, administration_id: int, root: str, size: int, tree: bytes) -> int | None:
    """A batch filled when its documents were accepted (status "built": for the worker to anchor); None when a
    batch with the same root exists (the same documents, stored by a concurrent request)."""
    statement = (
        insert_skipping_conflicts(session, batches)
        .values(
            administration_id=administration_id, root=root, size=size, tree=tree, status="built", created_at=utcnow()
        )
        .returning(batches.c.id)
    )
    return session.execute(statement).scalar()


def discard_batches(session: Session, batch_ids: Sequence[int]) -> None:
    """Remove built batches and the documents placed in them, in the transaction that stored them."""
    session.execute(delete(documents).where(documents.c.batch_id.in_(batch_ids)))
    session.execute(delete(batches).where(batches.c.id.in_(batch_ids)))


def tree_of_batch(session: Session, batch_id: int) -> bytes:
    return bytes(session.execute(select(batches.c.tree).where(batches.c.id == batch_id)).scalar_one())


def sealed_key(session: Session, administration_id: int, address: str | None) -> tuple[str, str] | None:
    """(address, sealed key) of the administration's account `address`, else of its first account."""
    query = select(accounts.c.address, accounts.c.sealed_key).where(accounts.c.administration_id == administration_id)
    if address is not None:
        row = session.execute(query.where(accounts.c.address == address)).first()
        if row is not None:
            return row[0], row[1]
    row = session.execute(query.order_by(accounts.c.created_at, accounts.c.address).limit(1)).first()
    return (row[0], row[1]) if row else None


def record_revocation(
    session: Session, *, document_id: str, reason: str, transaction_hash: str, block_number: int, block_timestamp: int
) -> None:
    """Record the revocation and mark the document revoked; a revocation already recorded is kept as it is."""
    session.execute(
        insert_skipping_conflicts(session, revocations),
        {
            "document_id": document_id,
            "reason": reason,
            "transaction_hash": transaction_hash,
            "block_number": block_number,
            "block_timestamp": block_timestamp,
            "created_at": utcnow(),
        },
    )
    session.execute(update(documents).where(documents.c.id == document_id).values(status="revoked"))


# --- provenance -----------------------------------------------------------------------------------------------


def receipts_by_ids(session: Session, document_ids: Sequence[str]) -> dict[str, ReceiptRow]:
    """Receipts of any administration by id (for links between receipts: the caller decides who may see them)."""
    found: dict[str, ReceiptRow] = {}
    for chunk in _chunks(document_ids):
        found.update((row.id, row) for row in session.execute(_RECEIPTS.where(documents.c.id.in_(chunk))))
    return found


def add_sources(session: Session, document_id: str, source_ids: Sequence[str]) -> None:
    """Link a document just stored to the receipts it was made from, in the order given."""
    if source_ids:
        now = utcnow()
        session.execute(
            insert(sources),
            [
                {"document_id": document_id, "source_id": source_id, "position": position, "created_at": now}
                for position, source_id in enumerate(source_ids)
            ],
        )


def add_links(session: Session, links: Sequence[tuple[str, str, int]]) -> None:
    """`add_sources` for many documents in one statement: (document id, source id, position) each."""
    if links:
        now = utcnow()
        session.execute(
            insert(sources),
            [
                {"document_id": document_id, "source_id": source_id, "position": position, "created_at": now}
                for document_id, source_id, position in links
            ],
        )


def sources_of(session: Reader, document_ids: Sequence[str]) -> dict[str, list[ReceiptRow]]:
    """The receipts each document was made from, in the order they were named; documents without any are left out."""
    found: dict[str, list[ReceiptRow]] = {}
    for chunk in _chunks(document_ids):
        query = (
            _RECEIPTS.add_columns(sources.c.document_id.label("derived_id"))
            .join(sources, sources.c.source_id == documents.c.id)
            .where(sources.c.document_id.in_(chunk))
            .order_by(sources.c.document_id, sources.c.position)
        )
        for row in session.execute(query):
            found.setdefault(row.derived_id, []).append(row)
    return found


# --- public copies and signers ----------------------------------------------------------------------------------


def add_copy(session: Session, document_id: str, *, content: bytes, file_name: str | None, media_type: str) -> None:
    """Keep the file of a document for whoever holds its code; a copy already kept stays as it is."""
    session.execute(
        insert_skipping_conflicts(session, copies),
        {
            "document_id": document_id,
            "file_name": file_name,
            "media_type": media_type,
            "size": len(content),
            "content": content,
            "created_at": utcnow(),
        },
    )


def copies_of(session: Reader, document_ids: Sequence[str]) -> dict[str, ReceiptRow]:
    """(file name, media type, size) of the copies kept of these documents, without their content."""
    found: dict[str, ReceiptRow] = {}
    query = select(copies.c.document_id, copies.c.file_name, copies.c.media_type, copies.c.size)
    for chunk in _chunks(document_ids):
        found.update((row.document_id, row) for row in session.execute(query.where(copies.c.document_id.in_(chunk))))
    return found


def copy_content(session: Session, document_id: str) -> ReceiptRow | None:
    """The copy of a document: file name, media type and content; None when none is kept."""
    query = select(copies.c.file_name, copies.c.media_type, copies.c.content).where(copies.c.document_id == document_id)
    return session.execute(query).first()


def add_signers(session: Session, document_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Record who signed a document just stored, in the order given (name, organisation, kind, issuer, signed_at)."""
    if rows:
        now = utcnow()
        session.execute(
            insert(signers),
            [
                {**row, "document_id": document_id, "position": position, "created_at": now}
                for position, row in enumerate(rows)
            ],
        )


def signers_of(session: Reader, document_ids: Sequence[str]) -> dict[str, list[ReceiptRow]]:
    """Who signed each document, in order; documents without signers are left out."""
    found: dict[str, list[ReceiptRow]] = {}
    for chunk in _chunks(document_ids):
        query = (
            select(signers).where(signers.c.document_id.in_(chunk)).order_by(signers.c.document_id, signers.c.position)
        )
        for row in session.execute(query):
            found.setdefault(row.document_id, []).append(row)
    return found
