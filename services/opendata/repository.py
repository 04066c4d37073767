"""The catalogue's SQL, as keyword-only functions."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, Row, Table, any_, func, literal, or_, select
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.opendata.datastore_models import DatastoreTable
from segell.services.opendata.models import Dataset, DatasetVersion, Resource, SearchEntry

_DATASETS = cast(Table, Dataset.__table__)
_RESOURCES = cast(Table, Resource.__table__)
_DATASTORE = cast(Table, DatastoreTable.__table__)


def dataset_by_id_or_name(session: Session, *, id_or_name: str, for_update: bool = False) -> Dataset | None:
    query = select(Dataset).where(or_(Dataset.id == id_or_name, Dataset.name == id_or_name))
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def name_taken(session: Session, *, name: str, other_than: str | None = None) -> bool:
    query = select(Dataset.id).where(Dataset.name == name)
    if other_than is not None:
        query = query.where(Dataset.id != other_than)
    return session.scalars(query).first() is not None


def visible_datasets(
    session: Session, *, administration_id: int | None, include_private: bool, words: Sequence[str] = ()
) -> list[Dataset]:
    """Active datasets: public ones, and `administration_id`'s private ones when `include_private`; each of
    `words` (lower case) somewhere in the dataset's text."""
    query = select(Dataset).where(Dataset.state == "active")
    if include_private and administration_id is not None:
        query = query.where(or_(Dataset.private.is_(False), Dataset.administration_id == administration_id))
    else:
        query = query.where(Dataset.private.is_(False))
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Dataset.search_text.like(f"%{escaped}%", escape="\\"))
    return list(session.scalars(query.order_by(Dataset.name)))


def datasets_by_ids(session: Session, *, ids: Sequence[str]) -> list[Dataset]:
    if not ids:
        return []
    return list(session.scalars(select(Dataset).where(Dataset.id.in_(ids))))


def _among(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column` is one of `values`: on PostgreSQL one array parameter, so that the statement is the same for any
    number of values (psycopg prepares it on the server once it has run a few times); elsewhere a list of
    parameters."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(ColumnElement[bool], column == any_(literal(list(values), ARRAY(column.type))))
    return cast(ColumnElement[bool], column.in_(values))


def shown_datasets(session: Session, *, ids: Sequence[str]) -> list[Row[Any]]:
    """What a package dict shows of the datasets `ids`, as plain rows rather than ORM objects (a page of search
    results reads a hundred of them): every column of the dataset but its search text, and its publisher's
    ``publisher_code``, ``publisher_name`` and ``publisher_admitted_at``."""
    if not ids:
        return []
    query = (
        select(
            *(column for column in _DATASETS.c if column.name != "search_text"),
            Administration.code.label("publisher_code"),
            Administration.name.label("publisher_name"),
            Administration.admitted_at.label("publisher_admitted_at"),
        )
        .join(Administration, Administration.id == _DATASETS.c.administration_id)
        .where(_among(session, _DATASETS.c.id, ids))
    )
    return list(session.execute(query))


def shown_resources(session: Session, *, dataset_ids: Sequence[str]) -> list[Row[Any]]:
    """The resources of the datasets by position, as plain rows, each with its datastore registry entry's report
    (``datastore_resource_id``, null for a resource without one, ``rows_loaded``, ``rows_rejected``, ``errors``,
    ``failure``, ``seconds``, ``loaded_at``)."""
    if not dataset_ids:
        return []
    query = (
        select(
            *_RESOURCES.c,
            _DATASTORE.c.resource_id.label("datastore_resource_id"),
            _DATASTORE.c.rows_loaded,
            _DATASTORE.c.rows_rejected,
            _DATASTORE.c.errors,
            _DATASTORE.c.failure,
            _DATASTORE.c.seconds,
            _DATASTORE.c.loaded_at,
        )
        .outerjoin(_DATASTORE, _DATASTORE.c.resource_id == _RESOURCES.c.id)
        .where(_among(session, _RESOURCES.c.dataset_id, dataset_ids))
        .order_by(_RESOURCES.c.position)
    )
    return list(session.execute(query))


def unindexed_datasets(session: Session) -> list[Dataset]:
    """Active datasets without a search entry."""
    indexed = select(SearchEntry.dataset_id).where(SearchEntry.dataset_id == Dataset.id)
    query = select(Dataset).where(Dataset.state == "active", ~indexed.exists()).order_by(Dataset.name)
    return list(session.scalars(query))


def resources_of(session: Session, *, dataset_ids: Sequence[str]) -> list[Resource]:
    if not dataset_ids:
        return []
    query = select(Resource).where(Resource.dataset_id.in_(dataset_ids)).order_by(Resource.position)
    return list(session.scalars(query))


def resource_by_id(session: Session, *, resource_id: str) -> Resource | None:
    return session.get(Resource, resource_id)


def next_resource_position(session: Session, *, dataset_id: str) -> int:
    last = session.scalar(select(func.max(Resource.position)).where(Resource.dataset_id == dataset_id))
    return 0 if last is None else last + 1


def versions_of(session: Session, *, dataset_id: str) -> list[DatasetVersion]:
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
    return list(session.scalars(query.order_by(DatasetVersion.number.desc())))


def version_of(session: Session, *, dataset_id: str, number: int) -> DatasetVersion | None:
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == number)
    return session.scalars(query).first()


def latest_version(session: Session, *, dataset_id: str) -> DatasetVersion | None:
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
    return session.scalars(query.order_by(DatasetVersion.number.desc()).limit(1)).first()


def administrations(session: Session, *, ids: Sequence[int] | None = None) -> list[Administration]:
    query = select(Administration).order_by(Administration.code)
    if ids is not None:
        query = query.where(Administration.id.in_(ids))
    return list(session.scalars(query))


def administration_by_code(session: Session, *, code: str) -> Administration | None:
    return session.scalars(select(Administration).where(func.lower(Administration.code) == code.lower())).first()


def dataset_counts_by_administration(session: Session) -> dict[int, int]:
    query = (
        select(Dataset.administration_id, func.count())
        .where(Dataset.state == "active", Dataset.private.is_(False))
        .group_by(Dataset.administration_id)
    )
    return {row[0]: row[1] for row in session.execute(query)}
