"""Group commit of exchanges: the exchanges whose answers are ready while one commit runs share the next one.

An exchange is acknowledged only once its request, answer, access-log entry and both notarisations are committed,
and with SQLite (`synchronous=FULL`) a commit is an fsync that concurrent requests would otherwise queue for one
by one. A committer thread takes every exchange waiting, writes them all in one transaction, commits once, and
only then answers each. The group is whatever arrived during the previous commit, so a lone exchange waits for
nobody. If a group fails, each of its exchanges is written again in a transaction of its own, so that one bad
exchange answers its own error and the others are still written.
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

#: Most exchanges in one transaction.
MAX_GROUP = 256
#: Seconds the committer thread waits idle before it ends; the next exchange starts it again.
IDLE_SECONDS = 5.0

Write = Callable[[Session], Any]


class GroupWriter:
    """Runs writes in shared transactions: `write` returns the write's result once it is committed, or raises the
    write's own error."""

    def __init__(self, runtime: Runtime, *, max_group: int = MAX_GROUP, idle_seconds: float = IDLE_SECONDS) -> None:
        self.runtime = runtime
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
                threading.Thread(target=self._run, name="segell-interop-commits", daemon=True).start()
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
                log.exception("writing a group of %s exchanges failed", len(group))

    def _commit(self, group: list[tuple[Write, "Future[Any]"]]) -> None:
        try:
            with self.runtime.transaction() as session:
                results = [job(session) for job, _ in group]
            self.groups += 1
        except Exception:
            if len(group) > 1:
                log.warning("a group of %s exchanges failed; writing each alone", len(group), exc_info=True)
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


_writers: "weakref.WeakKeyDictionary[Engine, GroupWriter]" = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def group_writer(runtime: Runtime) -> GroupWriter:
    """The one group writer of the runtime's database in this process."""
    with _writers_lock:
        writer = _writers.get(runtime.engine)
        if writer is None:
            writer = _writers[runtime.engine] = GroupWriter(runtime)
    return writer
