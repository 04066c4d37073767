"""Engine, sessions and migrations. SQLite under SEGELL_HOME by default, PostgreSQL with SEGELL_DATABASE_URL."""

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Requests run in a pool of 40 threads: enough connections kept open for all of them, rather than opening
        # (and setting up) a new one for each request beyond the default 5 + 10.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": _SQLiteConnection},
            pool_size=20,
            max_overflow=30,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # 16 KiB pages for a new database (an existing one keeps its size): a batch of 10,000 documents dirties
            # most pages of the indexes on hashes and codes, and a commit writes them in a quarter of the frames.
            cursor.execute("PRAGMA page_size=16384")
            # WAL keeps readers off writers' backs; foreign keys are off by default in SQLite.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # A 128 MiB page cache (the default is 2 MiB) keeps the documents table's indexes in memory while a
            # batch of 10,000 rows is inserted and placed; sorts and temporary indexes stay in memory too.
            cursor.execute("PRAGMA cache_size=-131072")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


# Statements that take SQLite's write lock (the first of a transaction's writes opens it).
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "WITH"})
_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


def _writes(sql: str) -> bool:
    first = sql.lstrip()[:7].split(None, 1)
    return bool(first) and first[0].upper() in _WRITES


class _SQLiteConnection(sqlite3.Connection):
    """A SQLite connection that waits for its database's writer lock, shared by the process's connections, before
    the first write of a transaction, and hands it on as soon as the transaction ends.

    SQLite lets one transaction write at a time; a writer that finds the database locked polls with growing sleeps
    (up to 100 ms each), so a writer could sleep long after the database was free again. Waiting on a lock of the
    process instead, the next writer starts the moment the previous one commits. Writers of other processes (a
    separate `segell worker`) are still waited for by SQLite's own polling.
    """

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._lock_timeout = float(kwargs.get("timeout", args[0] if args else 5.0))
        name = os.fspath(database) if not isinstance(database, bytes) else database.decode()
        self._writer_lock: threading.Lock | None = None
        if name and name != ":memory:" and not name.startswith("file:"):
            with _writer_locks_guard:
                self._writer_lock = _writer_locks.setdefault(os.path.realpath(name), threading.Lock())
        self._writing = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _SQLiteCursor)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._end_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._end_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end_write()

    def _begin_write(self, sql: str) -> None:
        if self._writing or self._writer_lock is None or not _writes(sql):
            return
        if not self._writer_lock.acquire(timeout=self._lock_timeout):
            raise sqlite3.OperationalError("database is locked")
        self._writing = True

    def _end_write(self) -> None:
        if self._writing:
            self._writing = False
            assert self._writer_lock is not None
            self._writer_lock.release()

    def _after_statement(self) -> None:
        # A write outside a transaction (autocommit) is over as soon as it ran.
        if self._writing and not self.in_transaction:
            self._end_write()


class _SQLiteCursor(sqlite3.Cursor):
    connection: _SQLiteConnection

    def execute(self, sql: str, parameters: Any = (), /) -> "_SQLiteCursor":
        self.connection._begin_write(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection._after_statement()

    def executemany(self, sql: str, parameters: Any, /) -> "_SQLiteCursor":
        self.connection._begin_write(sql)
        try:
            return super().executemany(sql, parameters)
        finally:
            self.connection._after_statement()


def _migrations_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> str:
    """Apply every Alembic migration not yet applied; returns the revision the database is at."""
    config = _migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def head_revision() -> str:
    """The newest revision of the migrations shipped with Segell."""
    head = ScriptDirectory.from_config(_migrations_config()).get_current_head()
    assert head is not None, "the migrations directory holds revisions"
    return head


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with sessions() as session, session.begin():
        yield session
