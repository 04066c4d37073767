"""What every domain's SQLAlchemy models share: `Base` and the column types. Each domain keeps its tables in its
own `models.py`; the service database is Segell's system of record."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every database: SQLite stores no offset, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Hash32(TypeDecorator[str]):
    """A 32-byte hash (SHA-256, keccak-256) stored as its 32 bytes (BLOB on SQLite, BYTEA on PostgreSQL), half the
    size of its 64 hex digits in the table and in every index on it; read and written as 64 lower-case hex digits,
    or written as the 32 bytes themselves."""

    impl = LargeBinary(32)
    cache_ok = True

    def process_bind_param(self, value: str | bytes | None, dialect: Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        try:
            digest = bytes.fromhex(value)
        except (ValueError, TypeError):
            digest = b""
        if len(digest) != 32:
            raise ValueError(f"not a 32-byte hash as 64 hex digits: {value!r}")
        return digest

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return bytes(value).hex() if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}
