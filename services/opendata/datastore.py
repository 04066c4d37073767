"""The datastore: a tabular resource's rows loaded into a table of their own, typed, and queried as CKAN's
``datastore_search`` does.

Loading reads the file once: CSV with the `csv` module (XLSX with openpyxl, JSON arrays of objects), its SHA-256
checked as it is read. The Table Schema is inferred by frictionless from the first rows; then each column of a batch
of rows is cast by one function per type (Table Schema's rules: missing value ``""``, ``decimalChar``, ``trueValues``),
never cell by cell through frictionless, and the batch goes into the table in one statement (SQLite's
``executemany``, PostgreSQL's ``COPY``), inside the caller's transaction, so the rows, the load report and the
dataset version that names the file are committed together. A row that cannot be cast is skipped and reported with
its line, its column and why; the rest loads.

The tables are ``datastore_<resource id>``, their columns ``_id`` and ``c0``, ``c1``... in the order of the fields:
no name a user wrote ever reaches SQL. Queries are built with SQLAlchemy Core from the registry's fields
(`opendata_datastore_tables`), and every field, filter and sort a caller names is checked against them first.
"""

import codecs
import csv
import gc
import hashlib
import io
import json
import math
import re
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session

from segell.services.opendata.datastore_models import DatastoreTable
from segell.services.opendata.errors import NotFoundError, ValidationError

TABLE_PREFIX = "datastore_"
BATCH_ROWS = 20_000
SAMPLE_ROWS = 1_000
MAX_ERRORS = 1_000
#: Rejected rows a resource dict shows; `datastore_info` shows every one kept.
ERRORS_IN_RESOURCE = 20
DEFAULT_LIMIT = 100
MAX_LIMIT = 32_000
TABULAR_FORMATS = ("CSV", "XLSX", "JSON")
TYPES = ("integer", "number", "boolean", "date", "datetime", "string")
#: CKAN's names of the datastore's column types.
CKAN_TYPES = {
    "integer": "int",
    "number": "float8",
    "boolean": "bool",
    "date": "date",
    "datetime": "timestamp",
    "string": "text",
}
# Without `string`, which would otherwise win the race as soon as 90% of the sample is read, before a type that
# one bad value set back by two: a column is text when no other type fits 90% of its sampled values.
_CANDIDATES = [{"type": name} for name in ("datetime", "date", "integer", "number", "boolean")]
_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]
_NOT_FINITE = re.compile("[nN]")
_LEADING_ZERO = re.compile(r"^[+-]?0\d")
_COMMA_NUMBER = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")


class Unloadable(Exception):
    """A file that holds no table the datastore can load (no header, not an array of objects...)."""


@dataclass
class LoadReport:
    rows_loaded: int
    rows_rejected: int
    errors: list[dict[str, Any]]
    fields: list[dict[str, Any]]
    seconds: float
    failure: str | None = None


# -- reading the files -------------------------------------------------------------------------------------------


class _HashingReader(io.RawIOBase):
    """A binary file whose bytes are hashed as they are read."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        if count:
            self.digest.update(memoryview(buffer)[:count])
        return count or 0


class _Lines:
    """The line each row of a batch started on: counted from the rows' own line breaks when a quoted value held one."""

    def __init__(self, first: int, rows: Sequence[Sequence[str]], exact: bool) -> None:
        self._first, self._rows, self._exact = first, rows, exact
        self._starts: list[int] | None = None

    def __call__(self, index: int) -> int:
        if self._exact:
            return self._first + index
        if self._starts is None:
            starts, line = [], self._first
            for row in self._rows:
                starts.append(line)
                line += 1 + sum(value.count("\n") + value.count("\r") - value.count("\r\n") for value in row)
            self._starts = starts
        return self._starts[index]


Batch = tuple[list[list[str]], Callable[[int], int]]


@dataclass
class _Table:
    """A file read as a header and batches of rows of text, each row's line at hand for the errors."""

    header: list[str]
    batches: Iterator[Batch]
    check: Callable[[], None]
    close: Callable[[], None] = lambda: None


def _delimiter(path: Path) -> str:
    with path.open("rb") as file:
        head = file.read(64 * 1024)
    text = codecs.getincrementaldecoder("utf-8-sig")("replace").decode(head, final=False)
    lines = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(lines, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path, sha256: str) -> _Table:
    delimiter = _delimiter(path)
    raw = path.open("rb")
    hashing = _HashingReader(raw)
    text = io.TextIOWrapper(io.BufferedReader(hashing, 1 << 20), encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raw.close()
        raise Unloadable("the file has no header row")

    def batches() -> Iterator[Batch]:
        try:
            while True:
                start = reader.line_num
                rows = list(islice(reader, BATCH_ROWS))
                if not rows:
                    return
                yield rows, _Lines(start + 1, rows, reader.line_num - start == len(rows))
        except csv.Error as error:
            raise Unloadable(f"line {reader.line_num}: {error}") from None

    def check() -> None:
        while text.read(1 << 20):
            pass
        raw.close()
        if hashing.digest.hexdigest() != sha256:
            raise Unloadable("the stored file no longer matches its SHA-256")

    return _Table(header, batches(), check, raw.close)


def _text(value: Any) -> str:
    """A spreadsheet's or a JSON document's value as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_checked(path: Path, sha256: str) -> None:
    if _file_hash(path) != sha256:
        raise Unloadable("the stored file no longer matches its SHA-256")


def _in_batches(rows: Iterator[tuple[int, list[str]]]) -> Iterator[Batch]:
    while True:
        chunk = list(islice(rows, BATCH_ROWS))
        if not chunk:
            return
        lines = [line for line, _ in chunk]
        yield [row for _, row in chunk], lines.__getitem__


def _read_xlsx(path: Path, sha256: str) -> _Table:
    import openpyxl

    _hash_checked(path, sha256)
    try:
        # A file object: the stored file's name has no extension for openpyxl to check.
        workbook = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, openpyxl.utils.exceptions.InvalidFileException) as error:
        raise Unloadable(f"the workbook cannot be read: {error}") from None
    sheet = workbook.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    first = next(values, None)
    if first is None or not any(cell is not None for cell in first):
        workbook.close()
        raise Unloadable("the first sheet has no header row")
    header = [_text(cell) for cell in first]
    while header and header[-1] == "":
        header.pop()

    def rows() -> Iterator[tuple[int, list[str]]]:
        for line, row in enumerate(values, start=2):
            cells = [_text(cell) for cell in row]
            while len(cells) > len(header) and cells[-1] == "":
                cells.pop()
            if any(cells):
                yield line, cells

    return _Table(header, _in_batches(rows()), lambda: None, workbook.close)


def _read_json(path: Path, sha256: str) -> _Table:
    _hash_checked(path, sha256)
    try:
        document = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise Unloadable("the file is not JSON") from None
    if isinstance(document, dict) and isinstance(document.get("records"), list):
        document = document["records"]  # as CKAN's datastore dumps it
    if not isinstance(document, list) or not document or not all(isinstance(item, dict) for item in document):
        raise Unloadable("the file is not an array of objects")
    header = list(dict.fromkeys(str(key) for item in document for key in item))
    if not header:
        raise Unloadable("the objects have no keys")

    def rows() -> Iterator[tuple[int, list[str]]]:
        for position, item in enumerate(document, start=1):
            yield position, [_text(item.get(key)) for key in header]

    return _Table(header, _in_batches(rows()), lambda: None)


READERS: dict[str, Callable[[Path, str], _Table]] = {"CSV": _read_csv, "XLSX": _read_xlsx, "JSON": _read_json}


# -- the Table Schema --------------------------------------------------------------------------------------------


def _names(header: Sequence[str]) -> list[str]:
    """Field names from a header: stripped, a name for an empty one, duplicates numbered, `_id` kept for the key."""
    names: list[str] = []
    for position, label in enumerate(header, start=1):
        name = label.strip() or f"field{position}"
        candidate, count = name, 1
        while candidate in names or candidate == "_id":
            count += 1
            candidate = f"{name}_{count}"
        names.append(candidate)
    return names


def infer_fields(names: Sequence[str], sample: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """The Table Schema fields frictionless infers from `sample` (90% of a column's values must fit its type);
    a text column of numbers written with a decimal comma is a number with ``decimalChar`` ``,``."""
    import frictionless

    rows = [list(row) for row in sample if len(row) == len(names)]
    detector = frictionless.Detector(sample_size=max(len(rows), 1), field_confidence=0.9)
    schema = detector.detect_schema(rows, labels=list(names), field_candidates=_CANDIDATES) if rows else None
    fields: list[dict[str, Any]] = []
    for position, name in enumerate(names):
        kind = schema.fields[position].type if schema is not None else "string"
        field: dict[str, Any] = {"name": name, "type": kind if kind in TYPES else "string"}
        if field["type"] == "string":
            values = [row[position] for row in rows if row[position]]
            fitting = sum(1 for value in values if _COMMA_NUMBER.match(value))
            if values and fitting >= 0.9 * len(values) and any("," in value for value in values):
                field = {"name": name, "type": "number", "decimalChar": ","}
                if any("." in value for value in values):
                    field["groupChar"] = "."
        if field["type"] == "integer" and any(_LEADING_ZERO.match(row[position]) for row in rows):
            field["type"] = "string"  # codes such as 001 or 08001 keep their zeros
        if field["type"] == "boolean":
            field.update(trueValues=_TRUE, falseValues=_FALSE)
        fields.append(field)
    return fields


# -- casting: one function per column and type -------------------------------------------------------------------

ColumnCast = Callable[[Sequence[str]], list[Any]]
ValueCast = Callable[[str], Any]


def _date(value: str) -> str:
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise ValueError
    date.fromisoformat(value)
    return value


def _datetime(value: str) -> str:
    if len(value) < 19 or value[16] != ":":
        raise ValueError
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return value if len(value) == 19 and value[10] == "T" else moment.isoformat()
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value[:19]
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def _integers(column: Sequence[str]) -> list[int | None]:
    if "" in column:
        return [int(v) if v else None for v in column]
    return list(map(int, column))


def _dates(column: Sequence[str]) -> list[str | None]:
    # A column of dates repeats them: each distinct one is checked once.
    for value in set(column):
        if value:
            _date(value)
    return [v or None for v in column]


def _datetimes(column: Sequence[str]) -> list[str | None]:
    if "" not in column and set(map(len, column)) <= {19, 20}:
        # Read in C without a Python call per value; when each is `YYYY-MM-DDThh:mm:ss`, naive or `Z`, its first
        # 19 characters are what is kept.
        moments = list(map(datetime.fromisoformat, column))
        if {moment.tzinfo for moment in moments} <= {None, UTC} and {value[10] for value in column} == {"T"}:
            return [value[:19] for value in column]
    return [_datetime(v) if v else None for v in column]


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise ValueError
    return number


def _casts(field: Mapping[str, Any], postgres: bool) -> tuple[ColumnCast, ValueCast]:
    """The function casting a whole column of text to the field's type (raising on the first value that does not
    fit), and the one casting one value (raising `ValueError`)."""
    kind = field["type"]
    if kind == "integer":
        return _integers, int
    if kind == "number":
        decimal, group = field.get("decimalChar", "."), field.get("groupChar", "")

        def number(value: str) -> float:
            if group:
                value = value.replace(group, "")
            if decimal != ".":
                value = value.replace(decimal, ".")
            return _finite(float(value))

        if decimal == "." and not group:

            def numbers(column: Sequence[str]) -> list[Any]:
                values: list[Any]
                if "" in column:
                    values = [float(v) if v else None for v in column]
                    total = math.fsum(value for value in values if value is not None)
                else:
                    values = list(map(float, column))
                    total = sum(values)
                if not math.isfinite(total):  # a nan or an infinity among them (or a sum too large: each is checked)
                    raise ValueError
                return values

            return numbers, number
        return (lambda column: [number(v) if v else None for v in column]), number
    if kind == "boolean":
        truth = dict.fromkeys(field.get("trueValues", _TRUE), True)
        truth.update(dict.fromkeys(field.get("falseValues", _FALSE), False))

        def boolean(value: str) -> bool:
            if value not in truth:
                raise ValueError
            return truth[value]

        return (lambda column: [truth[v] if v else None for v in column]), boolean
    if kind == "date":
        return _dates, _date
    if kind == "datetime":
        return _datetimes, _datetime
    if postgres:
        # PostgreSQL's text holds no NUL character.
        def text(value: str) -> str:
            return value.replace("\x00", "")

        return (lambda column: [v.replace("\x00", "") if v else None for v in column]), text
    return (lambda column: [v or None for v in column]), str


_REASONS = {
    "integer": "is not an integer",
    "number": "is not a number",
    "boolean": "is not a boolean (true or false)",
    "date": "is not a date (YYYY-MM-DD)",
    "datetime": "is not a date and time (YYYY-MM-DDThh:mm:ss)",
    "string": "is not text",
}


# -- the tables --------------------------------------------------------------------------------------------------


def table_name(resource_id: str) -> str:
    return TABLE_PREFIX + resource_id.replace("-", "").lower()


def _column_type(kind: str, postgres: bool) -> Any:
    if kind == "integer":
        return sa.BigInteger()
    if kind == "number":
        return sa.Double()
    if kind == "boolean":
        return sa.Boolean(create_constraint=False)
    if postgres and kind == "date":
        return sa.Date()
    if postgres and kind == "datetime":
        return sa.DateTime()
    return sa.Text()


def _table(name: str, fields: Sequence[Mapping[str, Any]], postgres: bool) -> sa.Table:
    columns = [sa.Column(f"c{i}", _column_type(field["type"], postgres)) for i, field in enumerate(fields)]
    key = sa.Column("_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    return sa.Table(name, sa.MetaData(), key, *columns)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _in_transaction(session: Session) -> None:
    """Make sure the table is made inside the caller's transaction: Python's sqlite3 opens one only before a row is
    written, so a CREATE TABLE coming first would be committed on its own."""
    session.flush()
    dbapi = session.connection().connection.dbapi_connection
    if isinstance(dbapi, sqlite3.Connection) and not dbapi.in_transaction:
        dbapi.cursor().execute("BEGIN")


ROWS_PER_INSERT = 100


def _flattened(rows: Iterator[tuple[Any, ...]], count: int, rest: list[tuple[Any, ...]]) -> Iterator[list[Any]]:
    """The parameters of `count` rows at a time; the rows left over (fewer) go to `rest`."""
    while True:
        block = list(islice(rows, count))
        if len(block) < count:
            rest.extend(block)
            return
        yield list(chain.from_iterable(block))


class _Writer:
    """Rows into a table in the caller's transaction: `executemany` on SQLite, one `COPY` on PostgreSQL."""

    def __init__(self, session: Session, table: sa.Table, postgres: bool) -> None:
        self._postgres = postgres
        dbapi = session.connection().connection.dbapi_connection
        assert dbapi is not None
        self._cursor = dbapi.cursor()
        names = ", ".join(f"c{i}" for i in range(len(table.columns) - 1))
        if postgres:
            self._copy_context = self._cursor.copy(f"COPY {table.name} ({names}) FROM STDIN")
            self._copy = self._copy_context.__enter__()
        else:
            marks = "(" + ", ".join("?" for _ in range(len(table.columns) - 1)) + ")"
            self._insert = f"INSERT INTO {table.name} ({names}) VALUES {marks}"
            # A hundred rows a statement: a third less time than one (SQLite steps once per statement).
            # SQLite takes at most 32,766 parameters a statement.
            self._per_insert = max(1, min(ROWS_PER_INSERT, 32_000 // (len(table.columns) - 1)))
            self._insert_many = f"INSERT INTO {table.name} ({names}) VALUES {', '.join([marks] * self._per_insert)}"

    def write(self, rows: Iterable[tuple[Any, ...]]) -> None:
        if self._postgres:
            write_row = self._copy.write_row
            for row in rows:
                write_row(row)
        else:
            rest: list[tuple[Any, ...]] = []
            self._cursor.executemany(self._insert_many, _flattened(iter(rows), self._per_insert, rest))  # type: ignore[arg-type]
            if rest:
                self._cursor.executemany(self._insert, rest)

    def close(self, failed: BaseException | None = None) -> None:
        if self._postgres:
            if failed is None:
                self._copy_context.__exit__(None, None, None)
            else:
                self._copy_context.__exit__(type(failed), failed, failed.__traceback__)
        self._cursor.close()


def _cast_batch(
    rows: list[list[str]],
    line_of: Callable[[int], int],
    fields: Sequence[Mapping[str, Any]],
    casts: Sequence[tuple[ColumnCast, ValueCast]],
    errors: list[dict[str, Any]],
) -> tuple[Iterable[tuple[Any, ...]], int, int]:
    """The batch's rows cast to their fields' types, how many they are, and how many rows were rejected (each
    added to `errors`; empty lines are neither)."""
    width = len(fields)
    rejected: dict[int, dict[str, Any]] = {}
    if set(map(len, rows)) != {width}:
        kept = []
        for index, row in enumerate(rows):
            if len(row) == width:
                kept.append(row)
            elif any(row):
                rejected[index] = {
                    "line": line_of(index),
                    "column": None,
                    "reason": f"the row has {len(row)} values where the header has {width}",
                }
                kept.append([""] * width)
            else:
                kept.append([""] * width)  # an empty line: skipped, not an error
                rejected[index] = {}
        rows = kept
    columns: list[Sequence[str]] = list(zip(*rows, strict=True)) if rows else [()] * width
    typed: list[list[Any]] = []
    for position, (cast_column, cast_value) in enumerate(casts):
        column = columns[position]
        try:
            typed.append(cast_column(column))
            continue
        except (ValueError, KeyError, TypeError, OverflowError):
            pass
        values: list[Any] = []
        for index, value in enumerate(column):
            if not value:
                values.append(None)
                continue
            try:
                values.append(cast_value(value))
            except (ValueError, KeyError, TypeError, OverflowError):
                values.append(None)
                if index not in rejected:
                    rejected[index] = {
                        "line": line_of(index),
                        "column": fields[position]["name"],
                        "reason": f"{value[:100]!r} {_REASONS[fields[position]['type']]}",
                    }
        typed.append(values)
    if not rejected:
        return zip(*typed, strict=True), len(rows), 0
    cast_rows = zip(*typed, strict=True)
    reported = [error for _, error in sorted(rejected.items()) if error]
    errors.extend(reported[: max(0, MAX_ERRORS - len(errors))])
    kept_rows = (row for index, row in enumerate(cast_rows) if index not in rejected)
    return kept_rows, len(rows) - len(rejected), len(reported)


_gc_lock = threading.Lock()
_gc_pauses = 0


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while rows are loaded: the millions of short-lived row lists would
    otherwise set it off every few hundred allocations, to walk them all for cycles they never have (half the
    load's time). Concurrent loads share the pause; it ends with the last of them."""
    global _gc_pauses
    with _gc_lock:
        if _gc_pauses == 0:
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.enable()


_DECLARED_KEYS = ("decimalChar", "groupChar", "trueValues", "falseValues")


def declared_fields(inferred: Sequence[dict[str, Any]], table_schema: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The inferred fields, each replaced by the field of the same name the publisher's Table Schema declares with a
    type the datastore holds: what the publisher says of a column wins over what a sample suggests."""
    declared = {
        field["name"]: field
        for field in (table_schema or {}).get("fields", [])
        if isinstance(field, Mapping) and isinstance(field.get("name"), str) and field.get("type") in TYPES
    }
    fields = []
    for field in inferred:
        given = declared.get(field["name"])
        if given is None:
            fields.append(field)
            continue
        chosen = {"name": field["name"], "type": given["type"]}
        chosen.update({key: given[key] for key in _DECLARED_KEYS if key in given})
        if chosen["type"] == "boolean":
            chosen.setdefault("trueValues", _TRUE)
            chosen.setdefault("falseValues", _FALSE)
        fields.append(chosen)
    return fields


def _load_rows(
    session: Session,
    source: _Table,
    name: str,
    postgres: bool,
    errors: list[dict[str, Any]],
    table_schema: Mapping[str, Any] | None,
) -> tuple[list[dict[str, Any]], int, int]:
    """Make the table `name` for the source's fields (declared by the resource's Table Schema, else inferred) and
    load its rows: the fields, the rows loaded and the rows rejected (the first `MAX_ERRORS` of them added to
    `errors`)."""
    first = next(source.batches, None)
    inferred = infer_fields(_names(source.header), first[0][:SAMPLE_ROWS] if first else [])
    fields = declared_fields(inferred, table_schema)
    table = _table(name, fields, postgres)
    table.create(session.connection())
    casts = [_casts(field, postgres) for field in fields]
    writer = _Writer(session, table, postgres)
    loaded = rejected = 0
    try:
        batch = first
        while batch is not None:
            rows, count, bad = _cast_batch(batch[0], batch[1], fields, casts, errors)
            writer.write(rows)
            loaded += count
            rejected += bad
            batch = next(source.batches, None)
        source.check()
    except BaseException as error:
        writer.close(error)
        raise
    writer.close()
    return fields, loaded, rejected


def load(
    session: Session,
    *,
    resource_id: str,
    path: Path,
    file_format: str,
    sha256: str,
    table_schema: Mapping[str, Any] | None = None,
) -> LoadReport | None:
    """Load a resource's file into its table (made anew) and record the report, in the session's transaction;
    `table_schema` is the resource's own, whose declared field types win over inferred ones. None for a format the
    datastore does not hold (GeoJSON)."""
    drop(session, resource_id=resource_id)
    if file_format not in READERS:
        return None
    started = time.perf_counter()
    postgres = _is_postgres(session)
    _in_transaction(session)
    name = table_name(resource_id)
    errors: list[dict[str, Any]] = []
    failure: str | None = None
    try:
        with _collector_paused():
            source = READERS[file_format](path, sha256)
            try:
                fields, loaded, rejected = _load_rows(session, source, name, postgres, errors, table_schema)
            finally:
                source.close()
    except Unloadable as unloadable:
        session.connection().execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        fields, loaded, rejected, errors, failure = [], 0, 0, [], str(unloadable)
    report = LoadReport(loaded, rejected, errors, fields, time.perf_counter() - started, failure)
    session.add(
        DatastoreTable(
            resource_id=resource_id,
            table_name=name,
            sha256=sha256,
            fields=fields,
            rows_loaded=loaded,
            rows_rejected=rejected,
            errors=errors,
            failure=failure,
            seconds=report.seconds,
        )
    )
    session.flush()
    return report


def drop(session: Session, *, resource_id: str) -> None:
    """Drop a resource's table and its report, if it has them."""
    entry = session.get(DatastoreTable, resource_id)
    if entry is None:
        return
    session.connection().execute(sa.text(f"DROP TABLE IF EXISTS {entry.table_name}"))
    session.delete(entry)
    session.flush()
    session.info.pop("datastore_entries", None)


# -- what a resource dict says -----------------------------------------------------------------------------------


def preload(session: Session, resource_ids: Sequence[str]) -> None:
    """Read the registry entries of many resources at once, for `resource_fields`."""
    entries: dict[str, DatastoreTable | None] = dict.fromkeys(resource_ids)
    if resource_ids:
        query = sa.select(DatastoreTable).where(DatastoreTable.resource_id.in_(resource_ids))
        entries.update({entry.resource_id: entry for entry in session.scalars(query)})
    session.info.setdefault("datastore_entries", {}).update(entries)


def _entry(session: Session, resource_id: str) -> DatastoreTable | None:
    known: dict[str, DatastoreTable | None] = session.info.get("datastore_entries", {})
    if resource_id in known:
        return known[resource_id]
    return session.get(DatastoreTable, resource_id)


def _report(entry: DatastoreTable | sa.Row[Any], error_limit: int | None) -> dict[str, Any]:
    return {
        "rows_loaded": entry.rows_loaded,
        "rows_rejected": entry.rows_rejected,
        "errors": entry.errors if error_limit is None else entry.errors[:error_limit],
        "failure": entry.failure,
        "seconds": round(entry.seconds, 3),
        "loaded_at": entry.loaded_at.astimezone(UTC).replace(tzinfo=None).isoformat(),
    }


def resource_fields(session: Session, resource_id: str) -> dict[str, Any]:
    """What a resource dict says of its datastore: ``datastore_active`` and the load's report."""
    return registry_fields(_entry(session, resource_id))


def registry_fields(entry: DatastoreTable | sa.Row[Any] | None) -> dict[str, Any]:
    """`resource_fields` from the resource's registry entry (or a row holding its report's columns), or None."""
    if entry is None:
        return {"datastore_active": False}
    return {
        "datastore_active": entry.failure is None,
        "datastore_load": _report(entry, ERRORS_IN_RESOURCE),
    }


# -- querying ----------------------------------------------------------------------------------------------------


def _active(session: Session, resource_id: str) -> DatastoreTable:
    entry = _entry(session, resource_id)
    if entry is None or entry.failure is not None:
        raise NotFoundError(f"Resource {resource_id!r} has no datastore table.")
    return entry


def _ckan_fields(entry: DatastoreTable) -> list[dict[str, Any]]:
    return [{"id": "_id", "type": "int"}] + [
        {"id": field["name"], "type": CKAN_TYPES[field["type"]]} for field in entry.fields
    ]


def info(session: Session, resource_id: str) -> dict[str, Any]:
    """`datastore_info`: the table's size, its fields with their Table Schema, and the load's report."""
    entry = _active(session, resource_id)
    table = _table(entry.table_name, entry.fields, _is_postgres(session))
    count = session.scalar(sa.select(sa.func.count()).select_from(table))
    return {
        "meta": {"id": resource_id, "count": count, "table_type": "BASE TABLE", "sha256": entry.sha256},
        "fields": [
            {"id": field["name"], "type": CKAN_TYPES[field["type"]], "schema": dict(field)} for field in entry.fields
        ],
        "schema": {"fields": entry.fields, "missingValues": [""]},
        "load": _report(entry, None),
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _filter_value(field: Mapping[str, Any], value: Any, postgres: bool) -> Any:
    """A filter's value as the column holds it; `ValidationError` when it cannot be one."""
    if value is None:
        return None
    text = value if isinstance(value, str) else _text(value)
    kind = field["type"]
    try:
        if kind == "number" and not isinstance(value, str):
            return float(value)
        if kind == "boolean" and isinstance(value, bool):
            return value
        cast = _casts({"type": kind} if kind == "number" else field, postgres)[1]
        typed = cast(text)
    except (ValueError, KeyError, TypeError, OverflowError):
        raise ValidationError(fields={"filters": [f"{text!r} {_REASONS[kind]} ({field['name']})"]}) from None
    if postgres and kind == "date":
        return date.fromisoformat(typed)
    if postgres and kind == "datetime":
        return datetime.fromisoformat(typed)
    return typed


def _json_param(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise ValidationError(fields={name: ["Cannot read this JSON"]}) from None
    return value


def _integer(params: Mapping[str, Any], name: str, default: int, high: int) -> int:
    value = params.get(name, default)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValidationError(fields={name: ["Invalid integer"]})
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(fields={name: ["Invalid integer"]}) from None
    if not 0 <= number <= high:
        raise ValidationError(fields={name: [f"Must be between 0 and {high}"]})
    return number


def _boolean(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ValidationError(fields={name: ["Must be true or false"]})


def _names_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return list(value)
    raise ValidationError(fields={name: ["Must be a list of field names, or them separated by commas"]})


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"\s+", text.strip()) if word][:20]


def _contains(column: Any, kind: str, word: str, postgres: bool) -> Any:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    text = column if kind == "string" else sa.cast(column, sa.Text())
    if postgres:
        return text.ilike(f"%{escaped}%", escape="\\")
    return text.like(f"%{escaped}%", escape="\\")


_SORT_CLAUSE = re.compile(r'^\s*(?:"((?:[^"]|"")+)"|([^\s"]+))\s*(?:\s(asc|desc))?\s*$', re.IGNORECASE)


def search(session: Session, resource_id: str, params: Mapping[str, Any], api_url: str) -> dict[str, Any]:
    """`datastore_search` with CKAN's parameters: `filters`, `q`, `fields`, `sort`, `limit`, `offset`,
    `include_total`."""
    entry = _active(session, resource_id)
    postgres = _is_postgres(session)
    table = _table(entry.table_name, entry.fields, postgres)
    by_name = {field["name"]: (field, table.c[f"c{i}"]) for i, field in enumerate(entry.fields)}
    by_name["_id"] = ({"name": "_id", "type": "integer"}, table.c["_id"])
    known = ", ".join(by_name)
    limit = _integer(params, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _integer(params, "offset", 0, 10**9)
    include_total = _boolean(params, "include_total", _boolean(params, "total", True))

    wanted = list(by_name) if params.get("fields") in (None, "", []) else _names_list(params["fields"], "fields")
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        problems = [f"field {name!r} not in the table (its fields: {known})" for name in unknown]
        raise ValidationError(fields={"fields": problems})
    wanted = list(dict.fromkeys(wanted))

    conditions: list[Any] = []
    filters = _json_param(params, "filters") or {}
    if not isinstance(filters, dict):
        raise ValidationError(fields={"filters": ["Must be a JSON object of field: value"]})
    for name, value in filters.items():
        if name not in by_name:
            raise ValidationError(fields={"filters": [f"field {name!r} not in the table (its fields: {known})"]})
        field, column = by_name[name]
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > 1000:
            raise ValidationError(fields={"filters": [f"Give {name!r} between 1 and 1000 values"]})
        if any(isinstance(item, dict | list) for item in values):
            raise ValidationError(fields={"filters": [f"The values of {name!r} must be plain values"]})
        typed = [_filter_value(field, item, postgres) for item in values]
        present = [item for item in typed if item is not None]
        options = [column.in_(present)] if present else []
        if len(present) != len(typed):
            options.append(column.is_(None))
        conditions.append(sa.or_(*options))

    query = _json_param(params, "q")
    if isinstance(query, dict):
        for name, text in query.items():
            if name not in by_name:
                raise ValidationError(fields={"q": [f"field {name!r} not in the table (its fields: {known})"]})
            if not isinstance(text, str):
                raise ValidationError(fields={"q": [f"The text to find in {name!r} must be a string"]})
            field, column = by_name[name]
            conditions.extend(_contains(column, field["type"], word, postgres) for word in _words(text))
    elif isinstance(query, str):
        searched = [(field["type"], column) for field, column in by_name.values() if field["name"] != "_id"]
        for word in _words(query):
            conditions.append(sa.or_(*(_contains(column, kind, word, postgres) for kind, column in searched)))
    elif query is not None:
        raise ValidationError(fields={"q": ["Must be a string, or a JSON object of field: text"]})

    order: list[Any] = []
    sort = params.get("sort")
    if sort not in (None, ""):
        if not isinstance(sort, str):
            raise ValidationError(fields={"sort": ["Must be a string: field [asc|desc], ..."]})
        for clause in _sort_clauses(sort):
            match = _SORT_CLAUSE.match(clause)
            name = (match.group(1).replace('""', '"') if match.group(1) else match.group(2)) if match else None
            if match is None or name not in by_name:
                raise ValidationError(fields={"sort": [f"Cannot sort by {clause.strip()!r}: fields are {known}"]})
            column = by_name[name][1]
            ordered = column.desc() if (match.group(3) or "asc").lower() == "desc" else column.asc()
            order.append(ordered.nulls_last())  # empty values last either way, on SQLite as on PostgreSQL
    order.append(table.c["_id"].asc())

    selected = [by_name[name][1].label(f"f{i}") for i, name in enumerate(wanted)]
    statement = sa.select(*selected).where(*conditions).order_by(*order).limit(limit).offset(offset)
    records = [
        {name: _json_value(value) for name, value in zip(wanted, row, strict=True)}
        for row in session.execute(statement)
    ]
    result: dict[str, Any] = {
        "resource_id": resource_id,
        "fields": [field for field in _ckan_fields(entry) if field["id"] in wanted],
        "records": records,
        "limit": limit,
        "offset": offset,
        "records_format": "objects",
        "_links": _links(api_url, params, resource_id, limit, offset),
    }
    if filters:
        result["filters"] = filters
    if query is not None:
        result["q"] = query
    if sort not in (None, ""):
        result["sort"] = sort
    if include_total:
        result["total"] = session.scalar(sa.select(sa.func.count()).select_from(table).where(*conditions))
        result["total_was_estimated"] = False
    return result


def _sort_clauses(sort: str) -> list[str]:
    """`sort` split at the commas outside double quotes."""
    clauses: list[str] = []
    current: list[str] = []
    quoted = False
    for character in sort:
        if character == '"':
            quoted = not quoted
        if character == "," and not quoted:
            clauses.append("".join(current))
            current = []
        else:
            current.append(character)
    clauses.append("".join(current))
    return [clause for clause in clauses if clause.strip()]


def _links(api_url: str, params: Mapping[str, Any], resource_id: str, limit: int, offset: int) -> dict[str, str]:
    def link(at: int) -> str:
        kept = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in params.items()
            if key not in ("offset", "resource_id") and value is not None
        }
        return "/api/3/action/datastore_search?" + urlencode({"resource_id": resource_id, **kept, "offset": at})

    return {"start": link(0).replace("&offset=0", ""), "next": link(offset + limit)}


# -- dumps -------------------------------------------------------------------------------------------------------

DUMP_ROWS = 5_000


def dump_header(session: Session, resource_id: str) -> list[dict[str, Any]]:
    """The fields of a resource's table (`_id` first), for a dump; `NotFoundError` without one."""
    return _ckan_fields(_active(session, resource_id))


def dump_rows(session: Session, resource_id: str, after: int, count: int = DUMP_ROWS) -> list[tuple[Any, ...]]:
    """Up to `count` rows of the table whose `_id` is past `after`, in `_id` order, each `_id` first."""
    entry = _active(session, resource_id)
    table = _table(entry.table_name, entry.fields, _is_postgres(session))
    statement = sa.select(*table.columns).where(table.c["_id"] > after).order_by(table.c["_id"]).limit(count)
    return [tuple(row) for row in session.execute(statement)]


def csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
