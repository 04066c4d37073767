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


# Full-text search structures no model can describe (migration 0019): SQLite's FTS5 table and its shadow tables,
# PostgreSQL's generated tsvector column and its GIN index. Autogenerate leaves them alone.
def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if not reflected or compare_to is not None or name is None:
        return True
    if type_ == "table":
        return not name.startswith("opendata_search_fts")
    return name not in ("text_vector", "ix_opendata_search_text_vector")


connection = context.config.attributes.get("connection")
if connection is None:  # `alembic -x url=... upgrade head` from the command line
    url = context.get_x_argument(as_dictionary=True)["url"]
    connection = create_engine(url).connect()

context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, include_object=include_object
)
with context.begin_transaction():
    context.run_migrations()
