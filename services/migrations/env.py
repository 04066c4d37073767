"""Alembic environment: migrations run on an existing connection handed over by `services.db.migrate`.

Autogenerate (`make migration m="..."`) compares the database with the tables of every domain the app serves:
each `Domain` names the modules that hold its models.
"""

import importlib

from alembic import context
from sqlalchemy import create_engine

from segell.services.main import DOMAINS
from segell.services.models import Base

for domain in DOMAINS:
    for module in domain.models:
        importlib.import_module(module)

#: Tables made at run time, not by migrations: the open-data datastore's table of each tabular resource.
RUNTIME_TABLE_PREFIXES = ("datastore_",)


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave out of autogenerate what no model describes: the tables the app makes at run time (and their
    indexes), and the full-text search structures of migrations 0020 and 0027 (SQLite's FTS5 table and its shadow
    tables, PostgreSQL's table of tsvectors and its GIN index), and on PostgreSQL the references of `documents`,
    checked by the triggers of migration 0028 instead of foreign keys."""
    if type_ == "foreign_key_constraint" and compare_to is None and not reflected and _checked_by_triggers(obj):
        return False
    if not reflected or compare_to is not None:
        return True
    table = getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    if (table_name or "").startswith(RUNTIME_TABLE_PREFIXES):
        return False
    if type_ == "table":
        return not (name or "").startswith(("opendata_search_fts", "opendata_search_words"))
    return name not in ("text_vector", "ix_opendata_search_text_vector")


def _checked_by_triggers(constraint: object) -> bool:
    table = getattr(constraint, "table", None)
    referred = getattr(constraint, "referred_table", None)
    return (
        context.get_bind().dialect.name == "postgresql"
        and getattr(table, "name", None) == "documents"
        and getattr(referred, "name", None) in ("administrations", "batches")
    )


connection = context.config.attributes.get("connection")
if connection is None:  # `alembic -x url=... upgrade head` from the command line
    url = context.get_x_argument(as_dictionary=True)["url"]
    connection = create_engine(url).connect()

context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, include_object=include_object
)
with context.begin_transaction():
    context.run_migrations()
