"""Group commit of writes: the writes that arrive while one commit runs share the next transaction.

A write that is acknowledged must be durable first (an interoperability exchange with its request, answer,
access-log entry and both notarisations; a ballot), and with SQLite (`synchronous=FULL`) a commit is an fsync that
concurrent requests would otherwise queue for one by one. A committer thread takes every job waiting and hands them
all to one function (`WriteGroup`) in one transaction, which may check, read and write them together (one query or
statement for the group where each would make its own, as interop's exchanges do), commits once, and only then
answers each. The group is whatever arrived during the previous commit, and what the other threads hand in while
the committer lets them run before it takes the group (as long as they keep adding to it), so a lone write waits for
nobody. Without a group function, each job is a function of the session run in turn (as ballots are).

A job refused on its own merits (an API key, an authorisation) is answered with its error and does not touch the
others: the group function returns the refusal before it writes (a job run alone should likewise return its
refusal rather than raise it, once it has written nothing). If the group fails otherwise, each of its jobs is
written again in a transaction of its own, so that one bad job answers its own error and the others are still
written.

Requests served by an event loop await `submit`: the answers of a group reach each loop in one callback; threads
call `write`. Each use has a writer of its own per database (`group_writer(runtime, "ballots")`).
"""

import asyncio
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from segell.services.runtime import Runtime

log = logging.getLogger("segell")

#: Most writes in one transaction.
MAX_GROUP = 256
#: Most times the committer thread yields to the others while they keep handing in writes for its next group.
GATHER_YIELDS = 4
#: Seconds the committer thread waits idle before it ends; the next write starts it again.
IDLE_SECONDS = 5.0

#: Writes a group of jobs in the given transaction: for each job, its result or the exception it is refused with
#: (nothing of a refused job is written; any exception raised instead fails the whole group).
WriteGroup = Callable[[Session, list[Any]], Sequence[Any]]


def _each(session: Session, jobs: list[Callable[[Session], Any]]) -> list[Any]:
    """The group function of a writer made without one: each job is a function of the session, run in turn."""
    return [job(session) for job in jobs]


@dataclass
class _Pending:
    job: Any
    future: "Future[Any] | asyncio.Future[Any]"
    loop: asyncio.AbstractEventLoop | None = None  # the loop `future` belongs to, when it is an asyncio future
    answered: bool = False


class GroupWriter:
    """Runs jobs through `write_group` in shared transactions; a job's result once it is committed, or its error.
    `after_commit` runs in the committer thread after each committed group has been answered."""

    def __init__(
        self,
        runtime: Runtime,
        name: str = "writes",
        write_group: "WriteGroup | None" = None,
        *,
        after_commit: Callable[[], object] | None = None,
        max_group: int = MAX_GROUP,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.write_group = write_group or _each
        self.after_commit = after_commit
        self.max_group = max_group
        self.idle_seconds = idle_seconds
        self._waiting: deque[_Pending] = deque()
        self._changed = threading.Condition()
        self._running = False
        self.groups = 0  # transactions committed, for tests and figures

    def write(self, job: Any) -> Any:
        """The job's result, from a thread: blocks until its group is committed."""
        future: Future[Any] = Future()
        self._enqueue(_Pending(job, future))
        return future.result()

    async def submit(self, job: Any) -> Any:
        """The job's result, awaited from an event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._enqueue(_Pending(job, future, loop))
        return await future

    def _enqueue(self, pending: _Pending) -> None:
        with self._changed:
            self._waiting.append(pending)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name=f"segell-{self.name}-commits", daemon=True).start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting:
                    if not self._changed.wait(self.idle_seconds) and not self._waiting:
                        self._running = False
                        return
            # Let the threads that are handing in writes (an event loop reading requests) run before the group is
            # taken, for as long as they keep adding to it: on a busy process the writes already received then
            # share this transaction rather than the next, and a lone write still waits for nobody.
            waiting = len(self._waiting)
            for _ in range(GATHER_YIELDS):
                time.sleep(0)
                if len(self._waiting) in (waiting, self.max_group):
                    break
                waiting = len(self._waiting)
            with self._changed:
                group = [self._waiting.popleft() for _ in range(min(self.max_group, len(self._waiting)))]
            try:
                self._commit(group)
                if self.after_commit is not None:
                    self.after_commit()
            except BaseException as exc:  # never leave a request waiting for an answer that cannot come
                _answer([(pending, exc) for pending in group if not pending.answered])
                log.exception("writing a group of %s %s failed", len(group), self.name)

    def _commit(self, group: list[_Pending]) -> None:
        try:
            with self.runtime.transaction() as session:
                outcomes = self.write_group(session, [pending.job for pending in group])
            self.groups += 1
        except Exception as failed:
            if len(group) == 1:  # a job alone answers its own error
                _answer([(group[0], failed)])
                return
            log.warning("a group of %s %s failed; writing each alone", len(group), self.name, exc_info=True)
            for pending in group:
                try:
                    with self.runtime.transaction() as session:
                        (outcome,) = self.write_group(session, [pending.job])
                except Exception as exc:
                    outcome = exc
                _answer([(pending, outcome)])
            return
        # Committed: now, and only now, the answers go out.
        _answer(list(zip(group, outcomes, strict=True)))


def _answer(answers: list[tuple[_Pending, Any]]) -> None:
    """Resolve the futures of `answers` (an exception is raised by its job's caller): `concurrent.futures` ones at
    once, each event loop's in one callback."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, Any]]] = {}
    for answer in answers:
        pending = answer[0]
        pending.answered = True
        if pending.loop is None:
            _settle([answer])
        else:
            by_loop.setdefault(pending.loop, []).append(answer)
    for loop, in_loop in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, in_loop)
        except RuntimeError:  # the loop was closed: nobody is waiting any more
            pass


def _settle(answers: list[tuple[_Pending, Any]]) -> None:
    for pending, outcome in answers:
        if pending.future.done():  # a request cancelled meanwhile (its client went away)
            continue
        try:
            if isinstance(outcome, BaseException):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)
        except InvalidStateError:  # a `concurrent.futures` one cancelled from another thread since
            pass


_writers: "weakref.WeakKeyDictionary[Engine, dict[str, GroupWriter]]" = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def group_writer(
    runtime: Runtime,
    name: str,
    write_group: "WriteGroup | None" = None,
    *,
    after_commit: Callable[[], object] | None = None,
) -> GroupWriter:
    """The one group writer called `name` of the runtime's database in this process (made with `write_group` and
    `after_commit` the first time; without `write_group`, each job is a function of the session)."""
    with _writers_lock:
        writers = _writers.setdefault(runtime.engine, {})
        writer = writers.get(name)
        if writer is None:
            writer = writers[name] = GroupWriter(runtime, name, write_group, after_commit=after_commit)
    return writer
