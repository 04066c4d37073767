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

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic -x url=... upgrade head` from the command line
    url = context.get_x_argument(as_dictionary=True)["url"]
    connection = create_engine(url).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
