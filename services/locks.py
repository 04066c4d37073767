"""Locks that hold across the API processes of one deployment: PostgreSQL advisory locks.

Several API processes (`segell up --workers N`) and `segell worker` share one PostgreSQL database; what only one of
them may do at a time is guarded by an advisory lock of that database. A lock is held by a database session, so
the server releases it the moment the process holding it dies (kill -9 included): its connection closes.

- `LeaderLock`: a session-level lock on a connection of its own, held for as long as the process leads
  (the anchoring leader). That connection also listens for `wake_leader`: any process can wake the leader when
  its transaction commits, instead of leaving the work to the leader's next poll.
- `CrossProcessLock`: a lock held around a short sequence (the governance account's transactions); a
  `threading.Lock` orders the process's own threads, the advisory lock the processes.
- `account_lock`: the lock under which a transaction's nonce is read and the transaction sent from one account.

On SQLite there is one process (`segell up` refuses `--workers` above 1 there), so the thread locks are enough and
no advisory lock is taken.

Keys are 64-bit numbers made from a name and the database's current schema, so two deployments sharing one
PostgreSQL database in two schemas never wait for each other.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

log = logging.getLogger("segell")

#: The application_name a leader's connection takes: `pg_stat_activity` then says which process leads.
LEADER_APPLICATION_NAME = "segell {name} leader pid={pid}"


def is_shared_database(engine: Engine) -> bool:
    """Whether several processes may use `engine`'s database at once (PostgreSQL), so advisory locks are needed."""
    return engine.dialect.name == "postgresql"


def lock_key(connection: Connection, name: str) -> int:
    """The advisory lock key of `name` in the connection's current schema (a signed 64-bit integer)."""
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    digest = hashlib.sha256(f"segell:{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# The channel `name`'s leader listens on: one per schema, as the lock keys are (an identifier of at most 63 bytes).
_WAKE_CHANNEL = "'segell_' || :name || '_' || left(md5(current_schema()), 16)"


def wake_leader(connection: Connection, name: str) -> None:
    """Wake `name`'s leader (`LeaderLock.wait_for_wake`) when the connection's transaction commits; nothing is sent
    when it rolls back."""
    connection.execute(text(f"SELECT pg_notify({_WAKE_CHANNEL}, '')"), {"name": name})


class LeaderLock:
    """A session-level advisory lock on a dedicated connection: whoever holds it leads.

    `try_lead()` takes the lock when nobody holds it and says whether this process leads; it checks that the
    connection still lives (a connection that broke lost the lock with it). `resign()` gives it up.

    Example::

        leader = LeaderLock(engine, "anchoring")
        if leader.try_lead():
            ...  # only this process does what the lock guards
        leader.resign()
    """

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._connection: Connection | None = None
        self._key: int | None = None

    @property
    def leading(self) -> bool:
        return self._connection is not None

    def try_lead(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("the %s leader's database connection broke: it no longer leads", self.name)
                self._connection.invalidate()
                self._drop()
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            key = lock_key(connection, self.name)
            taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one())
            if taken:
                application_name = LEADER_APPLICATION_NAME.format(name=self.name, pid=os.getpid())
                name_it = text("SELECT set_config('application_name', :name, false)")
                connection.execute(name_it, {"name": application_name})
                channel = connection.execute(text(f"SELECT {_WAKE_CHANNEL}"), {"name": self.name}).scalar_one()
                connection.execute(text(f'LISTEN "{channel}"'))
        except BaseException:
            connection.invalidate()
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._connection, self._key = connection, key
        return True

    def wait_for_wake(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a `wake_leader` committed since the last wait (at once if one was);
        whether one came. False at once when this process does not lead, or when its connection broke (the next
        `try_lead` finds that out)."""
        if self._connection is None:
            return False
        driver = self._connection.connection.driver_connection
        woken = False
        try:
            # Consumed to its end: the generator holds the connection's lock until then.
            for _ in driver.notifies(timeout=timeout, stop_after=1):  # type: ignore[union-attr]
                woken = True
        except Exception:
            return False
        return woken

    def resign(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._connection.execute(text("RESET application_name"))
            self._connection.execute(text("UNLISTEN *"))  # back in the pool, it would gather every wake-up
        except Exception:
            self._connection.invalidate()  # the lock goes with the connection
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # a broken connection: its lock went with it
                pass
        self._connection, self._key = None, None


def leader_pid(engine: Engine, name: str) -> int | None:
    """The process id of the process that holds `name`'s `LeaderLock`, or None when nobody leads."""
    with engine.connect() as connection:
        key = lock_key(connection, name)
        unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
        row = connection.execute(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid = CAST(:high AS oid) AND l.objid = CAST(:low AS oid)"
            ),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF},
        ).first()
    if row is None or "pid=" not in str(row[0]):
        return None
    return int(str(row[0]).rsplit("pid=", 1)[1])


class CrossProcessLock:
    """A lock for a short sequence that one thread of one process at a time may run, whatever the process.

    Example::

        with governance_lock:
            ...  # no other thread, here or in another API process, is inside
    """

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._threads = threading.Lock()
        self._connection: Connection | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        if not is_shared_database(self.engine):
            return
        try:
            connection = self.engine.connect()
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(connection, self.name)})
        except BaseException:
            self._threads.release()
            raise
        self._connection = connection

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        connection, self._connection = self._connection, None
        try:
            if connection is not None:
                connection.rollback()  # ends the transaction, and the lock with it
                connection.close()
        finally:
            self._threads.release()


def account_lock(engine: Engine) -> Callable[[str], AbstractContextManager[None]]:
    """The lock one account's transactions are sent under, for `chain.transactions.guard_nonces`: on PostgreSQL,
    an advisory lock per address held in a transaction of its own; elsewhere nothing more than the thread lock
    `send_transaction` takes anyway."""

    @contextmanager
    def locked(address: str) -> Iterator[None]:
        if not is_shared_database(engine):
            yield
            return
        with engine.connect() as connection:
            key = lock_key(connection, f"nonce:{address.lower()}")
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.rollback()

    return locked


class HeldLock:
    """A session-level advisory lock held on a connection of its own until `release()`."""

    def __init__(self, connection: Connection, key: int) -> None:
        self._connection: Connection | None = connection
        self._key = key

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        except Exception:
            connection.invalidate()  # the lock goes with the connection
        finally:
            connection.close()


def take_one_of(engine: Engine, names: list[str]) -> HeldLock | None:
    """The first of `names`' advisory locks nobody holds, taken; None when every one is held (a semaphore of
    `len(names)` places shared by the processes)."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        for name in names:
            key = lock_key(connection, name)
            if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one():
                return HeldLock(connection, key)
    except BaseException:
        connection.invalidate()
        connection.close()
        raise
    connection.close()
    return None


def wait_for(engine: Engine, name: str, timeout: float) -> HeldLock | None:
    """`name`'s advisory lock, waited for at most `timeout` seconds; None when it was not free in time."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        key = lock_key(connection, name)
        connection.execute(
            text("SELECT set_config('lock_timeout', :ms, false)"), {"ms": f"{max(1, int(timeout * 1000))}"}
        )
        try:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            taken = True
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available: the timeout passed
                raise
            taken = False
        # The connection goes back to the pool: no other use of it may inherit the timeout.
        connection.execute(text("RESET lock_timeout"))
        if not taken:
            connection.close()
            return None
    except BaseException:
        connection.invalidate()
        connection.close()
        raise
    return HeldLock(connection, key)
