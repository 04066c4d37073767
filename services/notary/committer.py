"""Group commit of single submissions: the documents that arrive while one commit runs share the next one.

Each accepted document must be durable before it is acknowledged, and with SQLite (`synchronous=FULL`) a commit is
an fsync: one transaction per request bounds single submissions to the disk's fsync rate, and concurrent requests
queue for the database's one writer. A committer thread instead takes every submission waiting, accepts them all
in one transaction, commits once, and only then answers each of them. The group is whatever arrived during the
previous commit, so a lone request waits for nobody and a flood shares its fsyncs.

A submission refused on its own merits (an `Idempotency-Key` reused for another payload, a verification code in
use) is answered with its error and does not touch the others: those checks happen before it writes anything.
Any other failure rolls the group back, and each of its submissions is then accepted in a transaction of its own.

Requests served by an event loop await `accept` or `accept_as`: the answers of a group reach each loop in one
callback, instead of one thread-safe wake-up and one `concurrent.futures.Future` per request.
"""

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass

from sqlalchemy.orm import Session

from segell.services.errors import SegellError
from segell.services.notary import service
from segell.services.notary.schemas import Receipt
from segell.services.notary.service import Submission
from segell.services.runtime import Runtime

log = logging.getLogger("segell")

#: Most submissions in one transaction.
MAX_GROUP = 512
#: Seconds the committer thread waits idle before it ends; the next submission starts it again.
IDLE_SECONDS = 5.0

Accepted = tuple[Receipt, bool]
#: The administration an API key belongs to, read in the given transaction; `SegellError` when it may not submit.
Identify = Callable[[Session, str], int]


@dataclass
class _Pending:
    administration: int | str  # its id, or the API key to identify it by
    submission: Submission
    idempotency_key: str | None
    future: "Future[Accepted] | asyncio.Future[Accepted]"
    loop: asyncio.AbstractEventLoop | None = None  # the loop `future` belongs to, when it is an asyncio future
    answered: bool = False


#: A submission and its answer: the receipt, or the error it is refused with.
_Answer = tuple[_Pending, Accepted | None, BaseException | None]


class GroupCommitter:
    """Accepts single submissions in shared transactions; `submit` answers once the document is committed.

    Example::

        committer = GroupCommitter(runtime)
        receipt, created = committer.submit(administration_id, Submission(document_hash), None).result()
    """

    def __init__(
        self,
        runtime: Runtime,
        identify: Identify | None = None,
        *,
        max_group: int = MAX_GROUP,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.identify = identify
        self.max_group = max_group
        self.idle_seconds = idle_seconds
        self._waiting: deque[_Pending] = deque()
        self._changed = threading.Condition()
        self._running = False
        self.groups = 0  # transactions committed, for tests and figures

    def submit(self, administration_id: int, submission: Submission, idempotency_key: str | None) -> "Future[Accepted]":
        """A future of (receipt, created), resolved after the commit that holds the document (as `service.submit`)."""
        future: Future[Accepted] = Future()
        self._enqueue(_Pending(administration_id, submission, idempotency_key, future))
        return future

    def submit_as(self, api_key: str, submission: Submission, idempotency_key: str | None) -> "Future[Accepted]":
        """`submit` for the administration of `api_key`, identified in the same transaction (with `identify`): a
        group of requests made with one key reads it once, and a key revoked or an administration suspended
        before the commit is refused."""
        self._check_identify()
        future: Future[Accepted] = Future()
        self._enqueue(_Pending(api_key, submission, idempotency_key, future))
        return future

    async def accept(self, administration_id: int, submission: Submission, idempotency_key: str | None) -> Accepted:
        """`submit`, awaited from an event loop."""
        return await self._accept_in_loop(administration_id, submission, idempotency_key)

    async def accept_as(self, api_key: str, submission: Submission, idempotency_key: str | None) -> Accepted:
        """`submit_as`, awaited from an event loop."""
        self._check_identify()
        return await self._accept_in_loop(api_key, submission, idempotency_key)

    async def _accept_in_loop(
        self, administration: int | str, submission: Submission, idempotency_key: str | None
    ) -> Accepted:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Accepted] = loop.create_future()
        self._enqueue(_Pending(administration, submission, idempotency_key, future, loop))
        return await future

    def _check_identify(self) -> None:
        if self.identify is None:
            raise ValueError("this committer was made without `identify`: submit by administration id")

    def _enqueue(self, pending: _Pending) -> None:
        with self._changed:
            self._waiting.append(pending)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="segell-notary-commits", daemon=True).start()
            self._changed.notify()

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
                _answer([(pending, None, exc) for pending in group if not pending.answered])
                log.exception("accepting a group of %s submissions failed", len(group))

    def _commit(self, group: list[_Pending]) -> None:
        answers: list[_Answer] = []
        try:
            with self.runtime.transaction() as session:
                identified: dict[str, int | SegellError] = {}
                answers, rest = self._accept_new(session, group, identified)
                for pending in rest:
                    try:
                        accepted = self._accept(session, pending, identified)
                    except SegellError as refused:
                        answers.append((pending, None, refused))
                    else:
                        answers.append((pending, accepted, None))
            self.groups += 1
        except Exception:
            if len(group) == 1:
                raise
            log.warning("a group of %s submissions failed; accepting each alone", len(group), exc_info=True)
            for pending in group:
                try:
                    with self.runtime.transaction() as session:
                        accepted = self._accept(session, pending, {})
                except Exception as exc:
                    _answer([(pending, None, exc)])
                else:
                    _answer([(pending, accepted, None)])
            return
        # Committed: now, and only now, the answers go out.
        _answer(answers)

    def _accept_new(
        self, session: Session, group: list[_Pending], identified: dict[str, int | SegellError]
    ) -> tuple[list[_Answer], list[_Pending]]:
        """Store the group's plain documents (no `Idempotency-Key`, no pre-allocated code, no public copy, first of
        their hash in the group) in one statement, without looking them up first: the database refuses those it
        holds already, which are then accepted one by one and answered the receipt they have. Their answers, and the
        submissions left to accept one by one."""
        plain: list[tuple[_Pending, int]] = []
        rest: list[_Pending] = []
        first: set[tuple[int, str]] = set()
        for pending in group:
            administration = self._administration(session, pending, identified)
            submission = pending.submission
            if (
                isinstance(administration, int)
                and (administration, submission.document_hash) not in first
                and pending.idempotency_key is None
                and submission.verification_code is None
                and submission.copy is None
            ):
                # A later submission of the same document in this group finds this one's row.
                first.add((administration, submission.document_hash))
                plain.append((pending, administration))
            else:
                rest.append(pending)
        answers: list[_Answer] = []
        if not plain:
            return answers, rest
        receipts = service.accept_new(session, [(administration, p.submission) for p, administration in plain])
        refused = []
        for (pending, _), receipt in zip(plain, receipts, strict=True):
            if receipt is None:
                refused.append(pending)  # accepted alone, after a lookup
            else:
                answers.append((pending, (receipt, True), None))
        # Before the later submissions of the same documents, which find the rows these find or store.
        return answers, refused + rest

    def _administration(
        self, session: Session, pending: _Pending, identified: dict[str, int | SegellError]
    ) -> int | SegellError:
        administration = pending.administration
        if isinstance(administration, int):
            return administration
        if administration not in identified:
            assert self.identify is not None
            try:
                identified[administration] = self.identify(session, administration)
            except SegellError as refused:
                identified[administration] = refused
        return identified[administration]

    def _accept(self, session: Session, pending: _Pending, identified: dict[str, int | SegellError]) -> Accepted:
        administration = self._administration(session, pending, identified)
        if isinstance(administration, SegellError):
            raise administration
        return service.accept(session, administration, pending.submission, pending.idempotency_key)


def _answer(answers: list[_Answer]) -> None:
    """Resolve the futures of `answers`: `concurrent.futures` ones at once, each event loop's in one callback."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
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


def _settle(answers: list[_Answer]) -> None:
    for pending, accepted, error in answers:
        if pending.future.done():  # a request cancelled meanwhile (its client went away)
            continue
        try:
            if error is not None:
                pending.future.set_exception(error)
            else:
                assert accepted is not None
                pending.future.set_result(accepted)
        except InvalidStateError:  # a `concurrent.futures` one cancelled from another thread since
            pass
