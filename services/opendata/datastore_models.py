"""The datastore's registry: for each tabular resource, the table its rows were loaded into, its Table Schema and
the load's report. The tables themselves (``datastore_<resource id>``) are made and dropped at run time."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class DatastoreTable(Base):
    __tablename__ = "opendata_datastore_tables"

    resource_id: Mapped[str] = mapped_column(ForeignKey("opendata_resources.id"), primary_key=True)
    #: ``datastore_`` and the resource id's hex digits; its columns are ``c0``, ``c1``... in the order of `fields`.
    table_name: Mapped[str] = mapped_column(String(63), unique=True)
    #: The SHA-256 of the file the rows were read from, checked as it was read.
    sha256: Mapped[str] = mapped_column(String(64))
    #: The Table Schema fields, each ``{"name", "type"}`` (and ``decimalChar``, ``groupChar``, ``trueValues``...).
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rows_loaded: Mapped[int] = mapped_column(BigInteger)
    rows_rejected: Mapped[int] = mapped_column(BigInteger)
    #: The first rejected rows, each ``{"line", "column", "reason"}`` (``column`` null for a row of the wrong width).
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: Why nothing could be loaded (no header, a file that is not a table), else null.
    failure: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
