"""The rows two tabular files differ by: rows added, removed and changed, with a bounded listing.

Rows are matched by a key, chosen in this order: the Table Schema's `primaryKey`, else an id-like column (`id`,
`codi`, `code`...), each only when every row of both files has a value for it and no two rows share one; else whole
rows are compared as multisets (so a row that changed is one removed and one added). Values are compared on the
columns both files have; the columns added and removed are listed apart.

Files are read as streams (CSV, XLSX in openpyxl's read-only mode), a few times over: memory grows with the number
of rows (a key and a 16-byte digest each), never with their width, and at most `limit` rows of each kind are held;
files of more than `max_rows` rows are not compared (`TooManyRows`).
A JSON file is tabular when it is an array of objects, and is read whole.
"""

import csv
import datetime
import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from segell.chain.gateway import MAX_JSON_DEPTH, json_depth

TABULAR_FORMATS = ("CSV", "XLSX", "JSON")
#: Column names taken as a row's identity when no Table Schema names one, best first (compared in lower case).
ID_COLUMNS = ("id", "_id", "codi", "code", "codigo", "código", "identificador", "identifier", "key", "clau")
_CSV_DELIMITERS = ",;\t|"

Row = dict[str, Any]
RowSource = Callable[[], Iterator[Row]]


class NotTabular(Exception):
    """The file cannot be read as a table; the message says why."""


class TooManyRows(NotTabular):
    """A file has more rows than a difference compares."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(f"A file has more than {max_rows:,} rows: too many to compare row by row.")


@dataclass
class Table:
    """A tabular file: its columns and a way to read its rows from the start, as often as needed."""

    columns: list[str]
    rows: RowSource
    #: Whether a value may be a list or an object (JSON files), to be compared as canonical JSON text.
    nested: bool = False


@dataclass
class RowChange:
    key: dict[str, Any]
    changes: dict[str, dict[str, Any]]


@dataclass
class RowDiff:
    #: The columns rows are matched by; empty when whole rows were compared.
    key: list[str]
    #: `primaryKey` (the Table Schema's), `id column` or `whole rows`.
    matched_by: str
    columns_added: list[str]
    columns_removed: list[str]
    old_rows: int = 0
    new_rows: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    added_rows: list[Row] = field(default_factory=list)
    removed_rows: list[Row] = field(default_factory=list)
    changed_rows: list[RowChange] = field(default_factory=list)


def read_table(path: Path, file_format: str) -> Table:
    """The table a stored file holds; `NotTabular` if it holds none."""
    if file_format == "CSV":
        return _csv_table(path)
    if file_format == "XLSX":
        return _xlsx_table(path)
    if file_format == "JSON":
        return _json_table(path)
    raise NotTabular(f"{file_format} files are not compared row by row.")


def _csv_table(path: Path) -> Table:
    with path.open(encoding="utf-8-sig", newline="") as file:
        sample = file.read(64 * 1024)
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=_CSV_DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    with path.open(encoding="utf-8-sig", newline="") as file:
        header = next((row for row in csv.reader(file, dialect) if row), None)
    if header is None:
        raise NotTabular("The CSV file has no header row.")
    columns = _column_names(header)

    def rows() -> Iterator[Row]:
        with path.open(encoding="utf-8-sig", newline="") as file:
            records = (record for record in csv.reader(file, dialect) if record)
            next(records, None)
            for record in records:
                yield {column: record[i] if i < len(record) else "" for i, column in enumerate(columns)}

    return Table(columns, rows)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _xlsx_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    # A file object, not the path: openpyxl refuses a path without an .xlsx extension, as stored files are named.
    file = path.open("rb")
    with warnings.catch_warnings():
        # openpyxl warns about styles and extensions it does not read; only the values matter here.
        warnings.simplefilter("ignore")
        try:
            workbook = load_workbook(file, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a workbook it cannot read
            file.close()
            raise NotTabular(f"The workbook cannot be read: {error}.") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as error:  # a sheet's XML openpyxl cannot read, whatever the way it fails
                raise NotTabular(f"The workbook's first sheet cannot be read: {error}.") from None
            if any(value is not None and value != "" for value in values):
                yield tuple(_cell(value) for value in values)
    finally:
        workbook.close()
        file.close()


def _xlsx_table(path: Path) -> Table:
    header = next(_xlsx_rows(path), None)
    if header is None:
        raise NotTabular("The workbook's first sheet is empty.")
    columns = _column_names(["" if value is None else str(value) for value in header])

    def rows() -> Iterator[Row]:
        records = _xlsx_rows(path)
        next(records, None)
        for record in records:
            yield {column: record[i] if i < len(record) else None for i, column in enumerate(columns)}

    return Table(columns, rows)


def _json_table(path: Path) -> Table:
    body = path.read_bytes()
    if json_depth(body) > MAX_JSON_DEPTH:
        raise NotTabular(f"The JSON file is nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotTabular("The file is not valid JSON.") from None
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise NotTabular("The JSON file is not an array of objects.")
    columns = list(dict.fromkeys(name for item in document for name in item))

    def rows() -> Iterator[Row]:
        for item in document:
            yield {column: item.get(column) for column in columns}

    return Table(columns, rows, nested=True)


def _column_names(header: Sequence[str]) -> list[str]:
    """The header's names, stripped; an empty or repeated one is numbered, so every column has its own name."""
    names: list[str] = []
    for position, raw in enumerate(header, start=1):
        name = raw.strip() or f"column {position}"
        while name in names:
            name = f"{name} ({position})"
        names.append(name)
    return names


def _canonical(value: Any) -> Any:
    """The value itself when it is a scalar; a nested JSON value as its text with sorted keys, so equal ones match."""
    if value is None or isinstance(value, str | int | float):
        return value
    return json.dumps(value, sort_keys=True, default=str)


RowValues = Callable[[Row], tuple[Any, ...]]


def _values_of(columns: Sequence[str], nested: bool) -> RowValues:
    """A function answering a row's values in `columns`, comparable and hashable; a C getter on the hot path."""
    if not columns:
        return lambda row: ()
    getter = itemgetter(*columns)
    values: RowValues = getter if len(columns) > 1 else lambda row: (getter(row),)
    if nested:
        return lambda row: tuple(_canonical(value) for value in values(row))
    return values


def _digest(values: tuple[Any, ...]) -> bytes:
    return hashlib.blake2b(repr(values).encode(), digest_size=16).digest()


def _identity(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row's key values; `_KeyNotUnique` when one is empty, since such a row cannot be told apart."""
    if None in values or "" in values:
        raise _KeyNotUnique
    return values


class _KeyNotUnique(Exception):
    pass


def _candidate_keys(schema_key: Sequence[str], old: Table, new: Table) -> list[tuple[list[str], str]]:
    common = [column for column in new.columns if column in old.columns]
    candidates: list[tuple[list[str], str]] = []
    if schema_key and all(column in common for column in schema_key):
        candidates.append((list(schema_key), "primaryKey"))
    by_name = {column.lower(): column for column in common}
    candidates.extend(([by_name[name]], "id column") for name in ID_COLUMNS if name in by_name)
    return candidates


def diff_tables(
    old: Table, new: Table, *, schema_key: Sequence[str] = (), limit: int = 1000, max_rows: int = 1_000_000
) -> RowDiff:
    """How `new` differs from `old`, row by row; at most `limit` rows of each kind listed, all counted.
    `TooManyRows` when either file has more than `max_rows` rows: memory grows with the rows compared."""
    common = [column for column in new.columns if column in old.columns]
    columns_added = [column for column in new.columns if column not in old.columns]
    columns_removed = [column for column in old.columns if column not in new.columns]
    for key, matched_by in _candidate_keys(schema_key, old, new):
        result = RowDiff(key, matched_by, columns_added, columns_removed)
        try:
            _keyed(result, old, new, common, limit, max_rows)
        except _KeyNotUnique:
            continue
        return result
    result = RowDiff([], "whole rows", columns_added, columns_removed)
    _whole_rows(result, old, new, common, limit, max_rows)
    return result


def _keyed(result: RowDiff, old: Table, new: Table, common: Sequence[str], limit: int, max_rows: int) -> None:
    nested = old.nested or new.nested
    key_of, values_of = _values_of(result.key, nested), _values_of(common, nested)
    old_digests: dict[tuple[Any, ...], bytes] = {}
    for row in old.rows():
        identity = _identity(key_of(row))
        if identity in old_digests:
            raise _KeyNotUnique
        if len(old_digests) == max_rows:
            raise TooManyRows(max_rows)
        old_digests[identity] = _digest(values_of(row))
    result.old_rows = len(old_digests)
    seen: set[tuple[Any, ...]] = set()
    changed_new: dict[tuple[Any, ...], Row] = {}
    for row in new.rows():
        identity = _identity(key_of(row))
        if identity in seen:
            raise _KeyNotUnique
        if len(seen) == max_rows:
            raise TooManyRows(max_rows)
        seen.add(identity)
        before = old_digests.get(identity)
        if before is None:
            result.added += 1
            if len(result.added_rows) < limit:
                result.added_rows.append(row)
        elif before != _digest(values_of(row)):
            result.changed += 1
            if len(changed_new) < limit:
                changed_new[identity] = row
    result.new_rows = len(seen)
    removed = [identity for identity in old_digests if identity not in seen]
    result.removed = len(removed)
    wanted_removed = set(removed[:limit])
    if not wanted_removed and not changed_new:
        return
    changed_old: dict[tuple[Any, ...], Row] = {}
    for row in old.rows():
        identity = key_of(row)
        if identity in wanted_removed:
            result.removed_rows.append(row)
        elif identity in changed_new:
            changed_old[identity] = row
    for identity, row in changed_new.items():
        before_row = changed_old[identity]
        changes = {
            column: {"old": before_row.get(column), "new": row.get(column)}
            for column in common
            if _canonical(before_row.get(column)) != _canonical(row.get(column))
        }
        result.changed_rows.append(RowChange({column: row.get(column) for column in result.key}, changes))


def _whole_rows(result: RowDiff, old: Table, new: Table, common: Sequence[str], limit: int, max_rows: int) -> None:
    values_of = _values_of(common, old.nested or new.nested)
    remaining: Counter[bytes] = Counter()
    for row in old.rows():
        if result.old_rows == max_rows:
            raise TooManyRows(max_rows)
        remaining[_digest(values_of(row))] += 1
        result.old_rows += 1
    for row in new.rows():
        if result.new_rows == max_rows:
            raise TooManyRows(max_rows)
        result.new_rows += 1
        digest = _digest(values_of(row))
        if remaining[digest] > 0:
            remaining[digest] -= 1
            continue
        result.added += 1
        if len(result.added_rows) < limit:
            result.added_rows.append(row)
    result.removed = sum(count for count in remaining.values() if count > 0)
    if not result.removed or not limit:
        return
    for row in old.rows():
        digest = _digest(values_of(row))
        if remaining[digest] > 0:
            remaining[digest] -= 1
            result.removed_rows.append(row)
            if len(result.removed_rows) >= limit:
                return
