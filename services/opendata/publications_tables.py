"""The blocks of mandatory publications (Llei 19/2014) and their files: each block's Table Schema
(``blocks/<block>.json``), reading a CSV, XLSX or JSON file into rows, validating them against the schema (every bad
row with its line and reason) and the figures a portal charts.

Lines: a CSV file's line (the header is line 1), an XLSX sheet's row, a JSON array's item (from 1).
"""

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

from segell.chain.gateway import MAX_JSON_DEPTH, json_depth

Block = Literal["budget", "salaries", "personnel", "contracts", "agreements", "subsidies", "debt"]
BLOCKS: tuple[Block, ...] = ("budget", "salaries", "personnel", "contracts", "agreements", "subsidies", "debt")
FileFormat = Literal["CSV", "XLSX", "JSON"]
#: At most this many problems are listed in a refusal; its message gives the total.
MAX_PROBLEMS = 1000
_SCHEMAS = Path(__file__).parent / "blocks"
_CONSTRAINT = re.compile(r'constraint "(\w+)"')
_POSITION = re.compile(r"position (\d+)")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a file: at `line` (None for the file as a whole), in `field` when one column."""

    line: int | None
    field: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class InvalidFile(Exception):
    """The file does not hold the block: every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass
class Table:
    """A file's header and its rows as text, each with its line."""

    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    header_line: int | None = 1


@dataclass(frozen=True)
class CheckedTable:
    """A file that holds the block: its typed rows (in the schema's column order) and its figures."""

    file_format: FileFormat
    rows: list[dict[str, Any]]
    figures: dict[str, Any]


@cache
def table_schema(block: str) -> dict[str, Any]:
    """The block's Table Schema (frictionless), as in ``services/opendata/blocks/<block>.json``."""
    schema: dict[str, Any] = json.loads((_SCHEMAS / f"{block}.json").read_text(encoding="utf-8"))
    return schema


def field_names(block: str) -> list[str]:
    return [spec["name"] for spec in table_schema(block)["fields"]]


def file_format_of(path: Path) -> FileFormat:
    """CSV, XLSX or JSON, by the file's first bytes (whatever its name says): a ZIP package is a workbook, text that
    opens an array or object is JSON, any other is taken as CSV."""
    with path.open("rb") as file:
        head = file.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "XLSX"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{"):
        return "JSON"
    return "CSV"


# -- reading ------------------------------------------------------------------------------------------------------


def read_table(path: Path, file_format: FileFormat) -> Table:
    """The file's header and rows as text; `InvalidFile` when it cannot be read as its format."""
    if file_format == "XLSX":
        return _read_xlsx(path)
    if file_format == "JSON":
        return _read_json(path)
    return _read_csv(path)


def _read_csv(path: Path) -> Table:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidFile(
            [Problem(None, None, f"The file is not UTF-8 text (byte {error.start}): save it as UTF-8.")]
        ) from None
    if "\x00" in text:
        raise InvalidFile([Problem(None, None, "The file holds binary data: send a CSV, XLSX or JSON file.")])
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table: Table | None = None
    try:
        start = 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if table is None:
                table = Table(header=[cell.strip() for cell in cells], header_line=line)
            elif any(cell.strip() for cell in cells):
                table.rows.append((line, cells))
    except csv.Error as error:
        raise InvalidFile([Problem(reader.line_num, None, f"The CSV cannot be read: {error}.")]) from None
    if table is None:
        raise InvalidFile([Problem(None, None, "The file is empty: send the block's header and its rows.")])
    return table


def _xlsx_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    with path.open("rb") as file:  # a file object: openpyxl judges a path by its extension, and stored files have none
        try:
            workbook = load_workbook(file, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
            problem = Problem(None, None, f"The file is not an XLSX workbook ({type(error).__name__}).")
            raise InvalidFile([problem]) from None
        try:
            table: Table | None = None
            for line, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
                cells = [_xlsx_text(value) for value in values]
                if table is None:
                    if any(cells):
                        table = Table(header=[cell.strip() for cell in cells], header_line=line)
                elif any(cell.strip() for cell in cells):
                    table.rows.append((line, cells))
        finally:
            workbook.close()
    if table is None:
        raise InvalidFile([Problem(None, None, "The workbook's first sheet is empty: put the header and rows there.")])
    while table.header and not table.header[-1]:
        table.header.pop()
    return table


def _json_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        return str(value)
    return None


def _read_json(path: Path) -> Table:
    body = path.read_bytes()
    if json_depth(body) > MAX_JSON_DEPTH:
        raise InvalidFile([Problem(None, None, f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.")])
    try:
        items = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidFile(
            [Problem(None, None, "The file is not valid JSON: send an array of objects, one a row.")]
        ) from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidFile([Problem(None, None, "The JSON must be an array of objects, one a row.")])
    header: list[str] = []
    for item in items:
        header += [str(key) for key in item if str(key) not in header]
    table = Table(header=header, header_line=None)
    problems = []
    for line, item in enumerate(items, start=1):
        cells = []
        for name in header:
            text = _json_text(item.get(name))
            if text is None:
                problems.append(Problem(line, name, f"{name}: give a number or a text, not {json.dumps(item[name])}."))
                text = ""
            cells.append(text)
        table.rows.append((line, cells))
    if problems:
        raise InvalidFile(problems)
    return table


# -- checking -----------------------------------------------------------------------------------------------------


def _header_problems(block: str, table: Table) -> list[Problem]:
    specs = table_schema(block)["fields"]
    known = {spec["name"] for spec in specs}
    required = [spec["name"] for spec in specs if spec.get("constraints", {}).get("required")]
    problems = []
    seen: set[str] = set()
    for name in table.header:
        if name in seen:
            problems.append(Problem(table.header_line, name, f"The column {name!r} appears twice."))
        seen.add(name)
    unknown = [name for name in table.header if name not in known]
    if unknown:
        problems.append(
            Problem(
                table.header_line,
                None,
                f"Unknown columns {', '.join(map(repr, unknown))}: the {block} block's columns are "
                f"{', '.join(field_names(block))}.",
            )
        )
    missing = [name for name in required if name not in table.header]
    if missing:
        problems.append(
            Problem(table.header_line, None, f"Missing columns {', '.join(missing)}: add them to the header.")
        )
    return problems


def _aligned(block: str, table: Table) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """Each row's cells in the schema's column order (absent optional columns empty)."""
    names = field_names(block)
    positions = {name: index for index, name in enumerate(table.header)}
    rows, problems = [], []
    for line, cells in table.rows:
        if len(cells) != len(table.header) and table.header_line is not None:
            problems.append(
                Problem(line, None, f"The row has {len(cells)} cells and the header {len(table.header)} columns.")
            )
            continue
        rows.append((line, [cells[positions[name]].strip() if name in positions else "" for name in names]))
    return rows, problems


def _reason(block: str, error: Any, cell: str) -> str:
    name = error.field_name
    spec: dict[str, Any] = next((spec for spec in table_schema(block)["fields"] if spec["name"] == name), {})
    kind = error.type
    if kind == "type-error":
        wanted = {"integer": "a whole number", "number": "a number (e.g. 1234.56)", "date": "a date YYYY-MM-DD"}
        return f"{name}: {cell!r} is not {wanted.get(spec.get('type', ''), spec.get('type', 'valid'))}."
    if kind == "constraint-error":
        constraint = _CONSTRAINT.search(error.note or "")
        which = constraint.group(1) if constraint else ""
        constraints = spec.get("constraints", {})
        if which == "required":
            return f"{name} is empty: give a value."
        if which == "enum":
            return f"{name}: {cell!r} is not one of {', '.join(constraints['enum'])}."
        if which == "minimum":
            return f"{name}: {cell} is below {constraints['minimum']}."
        if which == "maximum":
            return f"{name}: {cell} is above {constraints['maximum']}."
        if which in ("minLength", "maxLength"):
            return f"{name}: the text must be {constraints.get('minLength', 0)} to {constraints['maxLength']} long."
        if which == "pattern":
            return f"{name}: {cell!r} is not of the form {constraints['pattern']}."
    return str(error.message)


def _rule_problems(block: str, rows: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    """What a Table Schema cannot say: a budget has both directions, filled positions are positions, ..."""
    problems = []
    if block == "budget":
        directions = {row["direction"] for _, row in rows}
        for direction in ("expense", "income"):
            if direction not in directions:
                problems.append(Problem(None, "direction", f"The budget has no {direction} chapters: add them."))
    for line, row in rows:
        if block == "personnel" and row["filled"] > row["positions"]:
            problems.append(
                Problem(line, "filled", f"filled: {row['filled']} exceeds the {row['positions']} positions.")
            )
        if block == "personnel" and row["women"] > row["filled"]:
            problems.append(Problem(line, "women", f"women: {row['women']} exceeds the {row['filled']} filled."))
        if block == "contracts" and row["amount_incl_vat"] < row["amount_excl_vat"]:
            problems.append(Problem(line, "amount_incl_vat", "amount_incl_vat is less than amount_excl_vat."))
        if block == "debt" and row["outstanding"] > row["principal"]:
            problems.append(Problem(line, "outstanding", "outstanding exceeds the principal borrowed."))
    return problems


def _typed(block: str, cells: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for spec, cell in zip(table_schema(block)["fields"], cells, strict=True):
        kind = spec["type"]
        if cell == "":
            row[spec["name"]] = None
        elif kind == "integer":
            row[spec["name"]] = int(cell)
        elif kind == "number":
            row[spec["name"]] = Decimal(cell)
        elif kind == "date":
            row[spec["name"]] = date.fromisoformat(cell)
        else:
            row[spec["name"]] = cell
    return row


def check_table(block: str, table: Table) -> list[dict[str, Any]]:
    """The typed rows of a table that holds the block; `InvalidFile` with every problem otherwise."""
    from frictionless import Resource, Schema

    problems = _header_problems(block, table)
    if problems:
        raise InvalidFile(problems)
    if not table.rows:
        raise InvalidFile([Problem(None, None, "The file has no rows: a mandatory publication must be complete.")])
    rows, problems = _aligned(block, table)
    names = field_names(block)
    data = [names, *(cells for _, cells in rows)]
    resource = Resource(data=data, schema=Schema.from_descriptor(table_schema(block)))
    report = resource.validate(limit_errors=MAX_PROBLEMS * 2)
    for error in report.tasks[0].errors:
        row_number: int = getattr(error, "row_number", None) or 0
        field_name: str | None = getattr(error, "field_name", None)
        line = rows[row_number - 2][0] if 2 <= row_number < len(rows) + 2 else None
        if error.type == "primary-key":
            earlier = _POSITION.search(error.note or "")
            first = rows[int(earlier.group(1)) - 2][0] if earlier and int(earlier.group(1)) >= 2 else None
            key = ", ".join(table_schema(block)["primaryKey"])
            problems.append(Problem(line, None, f"The row repeats the one at line {first}: one row per {key}."))
            continue
        cell = rows[row_number - 2][1][names.index(field_name)] if line is not None and field_name in names else ""
        problems.append(Problem(line, field_name, _reason(block, error, cell)))
    if problems:
        raise InvalidFile(sorted(problems, key=lambda p: (p.line or 0, p.field or "")))
    typed = [(line, _typed(block, cells)) for line, cells in rows]
    problems = _rule_problems(block, typed)
    if problems:
        raise InvalidFile(problems)
    return [row for _, row in typed]


def check_file(block: str, path: Path) -> CheckedTable:
    """Read and check a submitted file; `InvalidFile` with every problem found."""
    file_format = file_format_of(path)
    rows = check_table(block, read_table(path, file_format))
    return CheckedTable(file_format, rows, figures(block, rows))


def aligned_rows(block: str, path: Path, file_format: FileFormat) -> list[list[str]]:
    """The rows of a file already checked, as text in the schema's column order (for the consolidated CSV)."""
    rows, _ = _aligned(block, read_table(path, file_format))
    return [cells for _, cells in rows]


def stored_rows(block: str, path: Path) -> list[dict[str, Any]]:
    """The rows of a file already checked (CSV, XLSX or JSON), typed by the block's Table Schema, as JSON values."""
    return jsonable_rows([_typed(block, cells) for cells in aligned_rows(block, path, file_format_of(path))])


# -- figures ------------------------------------------------------------------------------------------------------


def _euros(value: Decimal) -> float:
    return float(round(value, 2))


def _sums(rows: list[dict[str, Any]], *amounts: str, count: bool = True) -> dict[str, Any]:
    totals: dict[str, Any] = {"count": len(rows)} if count else {}
    for amount in amounts:
        totals[amount] = _euros(sum((row[amount] or Decimal(0) for row in rows), Decimal(0)))
    return totals


def _grouped(rows: list[dict[str, Any]], key: str, *amounts: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row[key]), []).append(row)
    return {name: _sums(members, *amounts) for name, members in sorted(groups.items())}


def figures(block: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The totals a portal charts, by block (docs/transparency.md lists them)."""
    if block == "budget":
        budget: dict[str, Any] = {"expense": {}, "income": {}}
        for direction in ("expense", "income"):
            chapters: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                if row["direction"] == direction:
                    chapters.setdefault(str(row["chapter"]), []).append(row)
            for chapter in sorted(chapters, key=int):
                sums = _sums(chapters[chapter], "initial_credit", "final_credit", "executed", count=False)
                budget[direction][chapter] = {
                    "initial": sums["initial_credit"],
                    "final": sums["final_credit"],
                    "executed": sums["executed"],
                }
        return budget
    if block == "salaries":
        return {**_sums(rows, "annual_gross", "allowances"), "by_category": _grouped(rows, "category", "annual_gross")}
    if block == "personnel":
        totals = {
            "positions": sum(row["positions"] for row in rows),
            "filled": sum(row["filled"] for row in rows),
            "women": sum(row["women"] for row in rows),
            "annual_cost": _sums(rows, "annual_cost")["annual_cost"],
        }
        by_employment: dict[str, Any] = {}
        for row in rows:
            entry = by_employment.setdefault(row["employment"], {"positions": 0, "filled": 0})
            entry["positions"] += row["positions"]
            entry["filled"] += row["filled"]
        return {**totals, "vacant": totals["positions"] - totals["filled"], "by_employment": by_employment}
    if block == "contracts":
        return {
            **_sums(rows, "amount_excl_vat", "amount_incl_vat"),
            "by_type": _grouped(rows, "type", "amount_excl_vat"),
            "by_procedure": _grouped(rows, "procedure", "amount_excl_vat"),
        }
    if block == "agreements":
        return _sums(rows, "obligations")
    if block == "subsidies":
        return {**_sums(rows, "amount"), "by_procedure": _grouped(rows, "procedure", "amount")}
    if block == "debt":
        return {**_sums(rows, "principal", "outstanding"), "by_type": _grouped(rows, "type", "outstanding")}
    raise ValueError(f"unknown block {block!r}")


def jsonable_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Typed rows as JSON values: numbers as numbers, dates as ISO text."""

    def value(item: Any) -> Any:
        if isinstance(item, Decimal):
            return int(item) if item == item.to_integral_value() else float(item)
        if isinstance(item, date):
            return item.isoformat()
        return item

    return [{name: value(item) for name, item in row.items()} for row in rows]
