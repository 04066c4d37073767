"""Group commit of single submissions: the documents that arrive while one commit runs share the next one.

Each accepted document must be durable before it is acknowledged, and with SQLite (`synchronous=FULL`) a commit is
an fsync: one transaction per request bounds single submissions to the disk's fsync rate, and concurrent requests
queue for the database's one writer. A committer thread instead takes every submission waiting, accepts them all
in one transaction, commits once, and only then answers each of them. The group is whatever arrived during the
previous commit, so a lone request waits for nobody and a flood shares its fsyncs.

A submission refused on its own merits (an `Idempotency-Key` reused for another payload, a verification code in
use) is answered with its error and does not touch the others: those checks happen before it writes anything.
Any other failure rolls the group back, and each of its submissions is then accepted in a transaction of its own.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from services.errors import SegellError
from services.notary import repository, service
from services.notary.schemas import Receipt
from services.notary.service import Submission
from services.runtime import Runtime

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
    future: "Future[Accepted]" = field(default_factory=Future)


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
        return self._enqueue(_Pending(administration_id, submission, idempotency_key))

    def submit_as(self, api_key: str, submission: Submission, idempotency_key: str | None) -> "Future[Accepted]":
        """`submit` for the administration of `api_key`, identified in the same transaction (with `identify`): a
        group of requests made with one key reads it once, and a key revoked or an administration suspended
        before the commit is refused."""
        if self.identify is None:
            raise ValueError("this committer was made without `identify`: submit by administration id")
        return self._enqueue(_Pending(api_key, submission, idempotency_key))

    def _enqueue(self, pending: _Pending) -> "Future[Accepted]":
        with self._changed:
            self._waiting.append(pending)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="segell-notary-commits", daemon=True).start()
            self._changed.notify()
        return pending.future

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
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                log.exception("accepting a group of %s submissions failed", len(group))

    def _commit(self, group: list[_Pending]) -> None:
        answers: list[tuple[_Pending, Accepted | None, SegellError | None]] = []
        try:
            with self.runtime.transaction() as session:
                identified: dict[str, int | SegellError] = {}
                new = self._new_hashes(session, group, identified)
                for pending in group:
                    try:
                        accepted = self._accept(session, pending, identified, new)
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
                        accepted = self._accept(session, pending, {}, set())
                except Exception as exc:
                    pending.future.set_exception(exc)
                else:
                    pending.future.set_result(accepted)
            return
        # Committed: now, and only now, the answers go out.
        for pending, accepted, refused in answers:
            if refused is not None:
                pending.future.set_exception(refused)
            else:
                assert accepted is not None
                pending.future.set_result(accepted)

    def _new_hashes(
        self, session: Session, group: list[_Pending], identified: dict[str, int | SegellError]
    ) -> set[tuple[int, str]]:
        """(administration id, hash) of the group's documents that have no receipt yet: one query per
        administration instead of one per document."""
        hashes: dict[int, set[str]] = {}
        for pending in group:
            administration = self._administration(session, pending, identified)
            if isinstance(administration, int):
                hashes.setdefault(administration, set()).add(pending.submission.document_hash)
        new: set[tuple[int, str]] = set()
        for administration, wanted in hashes.items():
            known = repository.receipts_by_hashes(session, administration, sorted(wanted))
            new.update((administration, h) for h in wanted if h not in known)
        return new

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

    def _accept(
        self,
        session: Session,
        pending: _Pending,
        identified: dict[str, int | SegellError],
        new: set[tuple[int, str]],
    ) -> Accepted:
        administration = self._administration(session, pending, identified)
        if isinstance(administration, SegellError):
            raise administration
        document = (administration, pending.submission.document_hash)
        known_new = document in new
        # A second submission of the same document in this group finds the first one's row.
        new.discard(document)
        return service.accept(session, administration, pending.submission, pending.idempotency_key, known_new=known_new)
