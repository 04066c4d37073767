"""The search index's SQL: writing a dataset's entry and facet rows, and answering a `SearchRequest` with the
database's own full-text search (FTS5 on SQLite, a GIN-indexed ``tsvector`` on PostgreSQL; migration 0020).

A search evaluates its match once, as a materialised common table expression, and one statement answers from it
the count, the facet counts (by integer value ids) and the page of dataset ids. A search with no `q` and no `fq`
reads its count and facets from the values' counters and its page straight from a sort column's index.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from segell.services.opendata.models import SearchEntry, SearchFacet, SearchValue
from segell.services.opendata.search import FACET_FIELDS, IndexEntry, SearchRequest

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


def index(session: Session, entries: Sequence[IndexEntry]) -> None:
    """Write the entries (new, or replacing a dataset's entry) and their facet rows, in the caller's transaction."""
    if not entries:
        return
    existing = _existing(session, [entry.dataset_id for entry in entries])
    _drop_facets(session, list(existing.values()))
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
    ids = {dataset_id: entry_id for dataset_id, (entry_id, _) in existing.items()}
    changed = [
        {"entry": ids[row["dataset_id"]], **{f"new_{name}": value for name, value in row.items()}}
        for row in rows
        if row["dataset_id"] in ids
    ]
    if changed:
        session.execute(
            update(_ENTRIES)
            .where(_ENTRIES.c.id == bindparam("entry"))
            .values({name: bindparam(f"new_{name}") for name in rows[0] if name != "dataset_id"}),
            changed,
        )
    new = [row for row in rows if row["dataset_id"] not in ids]
    if new:
        inserted = session.execute(
            insert(_ENTRIES).returning(_ENTRIES.c.dataset_id, _ENTRIES.c.id, sort_by_parameter_order=True), new
        )
        ids.update((row[0], row[1]) for row in inserted)
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
    _drop_facets(session, list(existing.values()))
    session.execute(delete(_ENTRIES).where(_ENTRIES.c.id.in_([entry_id for entry_id, _ in existing.values()])))


def entry_count(session: Session) -> int:
    return session.scalar(select(text("count(*)")).select_from(_ENTRIES)) or 0


# -- searching ---------------------------------------------------------------------------------------------------


def _match_expression(request: SearchRequest, dialect: str) -> str:
    """The full-text query of `request.phrases`, in the dialect's syntax (the words are letters and digits only)."""
    if dialect == "sqlite":
        return " ".join(f'"{" ".join(phrase.words)}"' + ("*" if phrase.prefix else "") for phrase in request.phrases)
    return " & ".join(
        "(" + " <-> ".join(f"'{word}'" for word in phrase.words) + (":*" if phrase.prefix else "") + ")"
        for phrase in request.phrases
    )


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


def _facet_fields(request: SearchRequest) -> list[int]:
    return [FACET_FIELDS.index(name) for name in request.facet_fields]


def search(session: Session, request: SearchRequest) -> SearchResult:
    """Count, facets and one page of the datasets `request` finds."""
    if not request.phrases and not request.terms:
        return _browse(session, request)
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {}
    expanding: list[str] = []
    conditions = [_visible(request, params)]
    for number, (name, value) in enumerate(request.terms):
        if name == "name":
            conditions.append(f"s.name = :name{number}")
            params[f"name{number}"] = value.lower()
        elif name == "private":
            conditions.append(f"s.private = :private{number}")
            params[f"private{number}"] = value.lower() == "true"
        else:
            field = FACET_FIELDS.index(name)
            found = session.scalars(
                select(_VALUES.c.id).where(_VALUES.c.field == field, _VALUES.c.folded == value.lower())
            ).all()
            if not found:
                return SearchResult(0, [], {field: [] for field in request.facet_fields})
            holders = f"SELECT entry_id FROM opendata_search_facets WHERE value_id IN :values{number}"
            conditions.append(f"s.id IN ({holders})")
            params[f"values{number}"] = list(found)
            expanding.append(f"values{number}")
    columns = "s.id, s.dataset_id, s.verification_code, s.name, s.title, s.created_at, s.modified_at"
    if not request.phrases:
        matched = f"SELECT {columns}, 0 AS score FROM opendata_search s WHERE {' AND '.join(conditions)}"
    elif dialect == "sqlite":
        params["match"] = _match_expression(request, dialect)
        score = "-bm25(opendata_search_fts)" if request.by_score else "0"
        matched = (
            f"SELECT {columns}, {score} AS score FROM opendata_search_fts"
            " JOIN opendata_search s ON s.id = opendata_search_fts.rowid"
            f" WHERE opendata_search_fts MATCH :match AND {' AND '.join(conditions)}"
        )
    else:
        params["match"] = _match_expression(request, dialect)
        score = "ts_rank(s.text_vector, to_tsquery('simple', :match))" if request.by_score else "0"
        matched = (
            f"SELECT {columns}, {score} AS score FROM opendata_search s"
            f" WHERE s.text_vector @@ to_tsquery('simple', :match) AND {' AND '.join(conditions)}"
        )
    parts = ["SELECT 0 AS part, 0 AS n, COUNT(*) AS c, NULL AS label, NULL AS code FROM matched"]
    if request.facet_fields:
        params.update(fields=_facet_fields(request), mincount=max(request.facet_mincount, 1))
        expanding.append("fields")
        ranked = (
            "SELECT t.field, t.c, v.value,"
            " ROW_NUMBER() OVER (PARTITION BY t.field ORDER BY t.c DESC, v.value) AS position"
            " FROM (SELECT f.field AS field, f.value_id AS value_id, COUNT(*) AS c"
            " FROM matched m JOIN opendata_search_facets f ON f.entry_id = m.id WHERE f.field IN :fields"
            " GROUP BY f.field, f.value_id HAVING COUNT(*) >= :mincount) t"
            " JOIN opendata_search_values v ON v.id = t.value_id"
        )
        limit = ""
        if request.facet_limit >= 0:
            params["facet_limit"] = request.facet_limit
            limit = " WHERE r.position <= :facet_limit"
        parts.append(f"SELECT 1, r.field, r.c, r.value, NULL FROM ({ranked}) r{limit}")
    if request.rows:
        params.update(rows=request.rows, start=request.start)
        parts.append(
            f"SELECT 2, ROW_NUMBER() OVER (ORDER BY {_order(request, 'p.')}), 0, p.dataset_id, p.verification_code"
            f" FROM (SELECT * FROM matched ORDER BY {_order(request)} LIMIT :rows OFFSET :start) p"
        )
    statement = text(f"WITH matched AS MATERIALIZED ({matched}) " + " UNION ALL ".join(parts))
    if expanding:
        statement = statement.bindparams(*(bindparam(name, expanding=True) for name in expanding))
    count = 0
    page: list[tuple[int, str, str | None]] = []
    facets: dict[str, list[tuple[str, int]]] = {field: [] for field in request.facet_fields}
    for part, number, counted, label, code in session.execute(statement, params):
        if part == 0:
            count = counted
        elif part == 1:
            facets[FACET_FIELDS[number]].append((label, counted))
        else:
            page.append((number, label, code))
    for items in facets.values():
        items.sort(key=lambda item: (-item[1], item[0]))
    return SearchResult(count, [(dataset_id, code) for _, dataset_id, code in sorted(page)], facets)


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
    if request.rows:
        params.update(rows=request.rows, start=request.start)
        statement = text(
            f"SELECT s.dataset_id, s.verification_code FROM opendata_search s WHERE {visible}"
            f" ORDER BY {_order(request, 's.')} LIMIT :rows OFFSET :start"
        )
        page = [(dataset_id, code) for dataset_id, code in session.execute(statement, params)]
    return SearchResult((count or 0) + len(own), page, facets)


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
