"""Group commit of writes: the writes that arrive while one commit runs share the next one.

A write that is acknowledged must be durable first (an interoperability exchange with its access-log entry and
notarisations, a ballot), and with SQLite (`synchronous=FULL`) a commit is an fsync that concurrent requests would
otherwise queue for one by one. A committer thread takes every write waiting, runs them all in one transaction,
commits once, and only then answers each. The group is whatever arrived during the previous commit, so a lone write
waits for nobody. If a group fails, each of its writes runs again in a transaction of its own, so that one bad
write answers its own error and the others are still committed. A write that refuses should therefore return its
refusal rather than raise it, once it has written nothing: the rest of its group then commits as it is.

Each use has a writer of its own per database (`group_writer(runtime, "ballots")`).
"""

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from segell.services.runtime import Runtime

log = logging.getLogger("segell")

#: Most writes in one transaction.
MAX_GROUP = 256
#: Seconds the committer thread waits idle before it ends; the next write starts it again.
IDLE_SECONDS = 5.0

Write = Callable[[Session], Any]


class GroupWriter:
    """Runs writes in shared transactions: `write` returns the write's result once it is committed, or raises the
    write's own error."""

    def __init__(
        self, runtime: Runtime, name: str = "writes", *, max_group: int = MAX_GROUP, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.max_group = max_group
        self.idle_seconds = idle_seconds
        self._waiting: deque[tuple[Write, Future[Any]]] = deque()
        self._changed = threading.Condition()
        self._running = False
        self.groups = 0  # transactions committed, for tests and figures

    def write(self, job: Write) -> Any:
        future: Future[Any] = Future()
        with self._changed:
            self._waiting.append((job, future))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name=f"segell-{self.name}-commits", daemon=True).start()
            self._changed.notify()
        return future.result()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting:
                    if not self._changed.wait(self.idle_seconds) and not self._waiting:
                        self._running = False
                        return
                group = [self._waiting.popleft() for _ in range(min(self.max_group, len(self._waiting)))]
            try:
                self._commit(group)
            except BaseException as exc:  # never leave a request waiting for an answer that cannot come
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                log.exception("writing a group of %s %s failed", len(group), self.name)

    def _commit(self, group: list[tuple[Write, "Future[Any]"]]) -> None:
        try:
            with self.runtime.transaction() as session:
                results = [job(session) for job, _ in group]
            self.groups += 1
        except Exception:
            if len(group) > 1:
                log.warning("a group of %s %s failed; writing each alone", len(group), self.name, exc_info=True)
            for job, future in group:
                try:
                    with self.runtime.transaction() as session:
                        result = job(session)
                except Exception as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            return
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)


_writers: "weakref.WeakKeyDictionary[Engine, dict[str, GroupWriter]]" = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def group_writer(runtime: Runtime, name: str) -> GroupWriter:
    """The one group writer called `name` of the runtime's database in this process."""
    with _writers_lock:
        writers = _writers.setdefault(runtime.engine, {})
        writer = writers.get(name)
        if writer is None:
            writer = writers[name] = GroupWriter(runtime, name)
    return writer
