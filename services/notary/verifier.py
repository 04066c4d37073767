"""Public verifications that arrive together are read together: one statement for the group.

A verification is one indexed read, and on PostgreSQL most of what it costs is the work around that read, on both
sides: the hand-over to a worker thread and back, a pooled connection taken and given back, a statement sent, run and
answered, and planned again at every run for a statement of arrays. `GroupVerifier` hands the lookups waiting in the
event loop to a worker thread, which reads them all with one statement on a connection of its own, planned once
(`service.verify_many`, `repository.MatchesReader`), and writes each one's JSON; the lookups that arrive meanwhile
make the next group. A lone request waits for nobody.

Nothing is kept from one group to the next: every answer is read from the database when it is asked for, so whatever
another process has committed by then (an anchoring, a revocation, another administration's receipt) is in it.
"""

import asyncio

from segell.services.notary import service
from segell.services.notary.repository import MatchesReader
from segell.services.notary.service import AnchoredRoots, Lookup
from segell.services.runtime import Runtime
from segell.services.short_calls import run_short

#: Most lookups in one statement.
MAX_GROUP = 256

_Answer = bytes | Exception  # the JSON, or the error the lookup is refused with


class GroupVerifier:
    """Answers `GET /v1/verify` and `POST /v1/verify` (the JSON of a `Verification`) in groups, in one event loop.

    Example::

        verifier = GroupVerifier(runtime, AnchoredRoots())
        answer = await verifier.verify(Lookup(document_hash="9f86d0..."))
    """

    def __init__(self, runtime: Runtime, anchored_roots: AnchoredRoots, *, max_group: int = MAX_GROUP) -> None:
        self.runtime = runtime
        self.anchored_roots = anchored_roots
        self.max_group = max_group
        self.reader = MatchesReader(runtime.engine)
        self._waiting: list[tuple[Lookup, asyncio.Future[bytes]]] = []
        self._reading: asyncio.Task[None] | None = None

    async def verify(self, lookup: Lookup) -> bytes:
        """The verification's JSON; the `SegellError` it is refused with is raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._waiting.append((lookup, future))
        reading = self._reading
        if reading is None or reading.done() or reading.get_loop() is not loop:
            self._reading = loop.create_task(self._read_groups())
        return await future

    async def _read_groups(self) -> None:
        while self._waiting:
            group = self._waiting[: self.max_group]
            del self._waiting[: self.max_group]
            lookups = [lookup for lookup, _ in group]
            answers: list[_Answer]
            try:
                answers = await run_short(self._answers, lookups)
            except Exception as failure:
                answers = [failure] * len(group)
            for (_, future), answer in zip(group, answers, strict=True):
                if future.done() or future.get_loop().is_closed():
                    continue  # its request is gone
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    def _answers(self, lookups: list[Lookup]) -> list[_Answer]:
        runtime = self.runtime
        verifications = service.verify_many(
            runtime.engine, runtime.notary, self.anchored_roots, lookups, matches=self.reader
        )
        return [
            answer if isinstance(answer, Exception) else answer.model_dump_json(by_alias=True).encode()
            for answer in verifications
        ]

    def close(self) -> None:
        """Close the reader's connection (a group read after this opens another)."""
        self.reader.close()
