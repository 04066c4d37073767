"""SQLite writes: the process's writers of one database take turns on a lock, and many rows go in as one statement."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segell.services import db
from segell.services.administrations.models import Administration
from segell.services.notary import repository

WAIT = 10.0  # seconds a writer that must not be held up gets; it is held up forever when the lock is not handed on


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'segell.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE entries (n INTEGER PRIMARY KEY)"))
    yield engine
    engine.dispose()


def write_in_thread(engine: Engine, n: int) -> threading.Event:
    """Insert `n` in a transaction of its own on another thread; the event is set once it committed."""
    done = threading.Event()

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO entries VALUES (:n)"), {"n": n})
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done


def entries(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT n FROM entries ORDER BY rowid")).scalars())


def test_writer_waits_for_the_open_write_transaction_and_goes_on_when_it_commits(engine: Engine) -> None:
    with engine.connect() as first:
        first.execute(text("INSERT INTO entries VALUES (1)"))
        second = write_in_thread(engine, 2)
        assert not second.wait(0.3)
        first.commit()
        assert second.wait(WAIT)
    assert entries(engine) == [1, 2]


def test_readers_are_not_held_up_by_an_open_write_transaction(engine: Engine) -> None:
    with engine.connect() as writer:
        writer.execute(text("INSERT INTO entries VALUES (1)"))
        with engine.connect() as reader:
            assert list(reader.execute(text("SELECT n FROM entries")).scalars()) == []
        writer.rollback()


def test_rolled_back_transaction_hands_the_lock_on(engine: Engine) -> None:
    with engine.connect() as first:
        first.execute(text("INSERT INTO entries VALUES (1)"))
        second = write_in_thread(engine, 2)
        first.rollback()
        assert second.wait(WAIT)
    assert entries(engine) == [2]


def test_failed_write_then_rollback_hands_the_lock_on(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO entries VALUES (1)"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO entries VALUES (1)"))
    assert write_in_thread(engine, 2).wait(WAIT)
    assert entries(engine) == [1, 2]


def test_autocommit_write_hands_the_lock_on_at_once(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("INSERT INTO entries VALUES (1)"))
        assert write_in_thread(engine, 2).wait(WAIT)
    assert entries(engine) == [1, 2]


def test_write_transaction_on_one_database_does_not_hold_up_another(engine: Engine, tmp_path: Path) -> None:
    other = db.create_db_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with other.begin() as connection:
            connection.execute(text("CREATE TABLE entries (n INTEGER PRIMARY KEY)"))
        with engine.connect() as first:
            first.execute(text("INSERT INTO entries VALUES (1)"))
            assert write_in_thread(other, 2).wait(WAIT)
            first.rollback()
        assert entries(other) == [2]
    finally:
        other.dispose()


def test_many_rows_keep_their_values_through_one_statement(tmp_path: Path) -> None:
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'segell.db'}")
    db.migrate(engine)
    created_at = datetime(2026, 11, 27, 12, 30, 15, 123456, tzinfo=UTC)
    kinds = ['resolució "núm. 7"', "back\\slash", "款", None]
    rows = [
        {
            "id": f"{n:032x}",
            "administration_id": 1,
            "document_hash": f"{n:064x}",
            "kind": kinds[n % len(kinds)],
            "verification_code": f"{n:017d}",
            "status": "pending",
            "leaf_index": n if n % 3 else None,
            "created_at": created_at,
        }
        for n in range(1, 301)
    ]
    try:
        with Session(engine) as session, session.begin():
            session.add(Administration(id=1, code="L01", registry_id="0x" + "01" * 32, name="Ajuntament"))
            session.flush()
            assert repository.insert_documents(session, rows) == 300
            # Again: every row is refused by the unique constraints, and none goes in twice.
            assert repository.insert_documents(session, rows) == 0
        with Session(engine) as session:
            stored = session.execute(select(*(repository.documents.c[name] for name in rows[0]))).all()
    finally:
        engine.dispose()
    assert [row._asdict() for row in stored] == rows
