"""Turns at the Solidity compiler, shared fairly between administrations.

Compiling takes a core and a few hundred MB for seconds, so an API process runs one compilation at a time. Who
goes next is decided by administration, not by arrival: the administration whose last turn is the oldest (or that
has had none) goes first, so one administration sending many contracts waits behind each of the others once per
round instead of holding everyone back. Each administration may have only a few compilations waiting, since each
waits in one of the API's worker threads; more are refused at once.

    queue = CompileQueue(max_waiting_per_owner=4, max_wait=60)
    with queue.turn(administration_id):
        run_the_compiler()

Several API processes on PostgreSQL (`segell up --workers N`) share the compiler and the limits: given the
database's `engine`, a compilation also holds one of its owner's `max_waiting_per_owner` waiting places while it
waits (advisory locks, so an owner has at most that many waiting in all the processes together), and the compiler
lock while it compiles (one compilation at a time in the deployment). Within a process the turns go round the
administrations as above; the processes' next compilations wait for the compiler lock in the order they asked.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count

from sqlalchemy import Engine

from segell.services.errors import Unavailable
from segell.services.locks import HeldLock, is_shared_database, take_one_of, wait_for

__all__ = ["CompileQueue", "CompilerBusy"]


class CompilerBusy(Unavailable):
    code = "compiler_busy"


@dataclass
class _Ticket:
    order: int
    granted: bool = False


@dataclass
class _Owner:
    waiting: deque[_Ticket] = field(default_factory=deque)
    last_turn: int = -1


class CompileQueue:
    """One compilation at a time, in round-robin order between owners (administrations).

    Args:
        max_waiting_per_owner: compilations one owner may have waiting; one more is refused with `CompilerBusy`.
        max_wait: seconds a compilation may wait for its turn before it gives up with `CompilerBusy`.
    """

    def __init__(self, *, max_waiting_per_owner: int = 4, max_wait: float = 60.0, engine: Engine | None = None) -> None:
        self.max_waiting_per_owner = max_waiting_per_owner
        self.max_wait = max_wait
        # The processes' shared database, when there may be several processes.
        self.engine = engine if engine is not None and is_shared_database(engine) else None
        self._changed = threading.Condition()
        self._owners: dict[Hashable, _Owner] = {}
        self._running = False
        self._arrivals = count()
        self._turns = count()

    @contextmanager
    def turn(self, owner: Hashable) -> Iterator[None]:
        """Wait until it is `owner`'s turn, then hold the compiler until the block ends."""
        if self.engine is None:
            with self._local_turn(owner, time.monotonic() + self.max_wait):
                yield
            return
        deadline = time.monotonic() + self.max_wait
        place = self._waiting_place(owner)
        try:
            with self._local_turn(owner, deadline):
                compiler = wait_for(self.engine, "compiler", deadline - time.monotonic())
                if compiler is None:
                    raise self._waited_too_long()
                place.release()
                try:
                    yield
                finally:
                    compiler.release()
        finally:
            place.release()

    def _waiting_place(self, owner: Hashable) -> HeldLock:
        assert self.engine is not None
        names = [f"compiler-waiting:{owner}:{place}" for place in range(self.max_waiting_per_owner)]
        place = take_one_of(self.engine, names)
        if place is None:
            raise self._too_many_waiting(self.max_waiting_per_owner)
        return place

    def _too_many_waiting(self, waiting: int) -> CompilerBusy:
        return CompilerBusy(
            f"You already have {waiting} compilations waiting for the compiler; wait for their "
            "answers before sending more.",
            details={"waiting": waiting, "limit": self.max_waiting_per_owner},
        )

    def _waited_too_long(self) -> CompilerBusy:
        return CompilerBusy(
            f"The Solidity compiler is busy with other administrations' contracts: yours waited "
            f"{self.max_wait:g} seconds for its turn. Try again in a minute."
        )

    @contextmanager
    def _local_turn(self, owner: Hashable, deadline: float) -> Iterator[None]:
        with self._changed:
            state = self._owners.setdefault(owner, _Owner())
            if len(state.waiting) >= self.max_waiting_per_owner:
                raise self._too_many_waiting(len(state.waiting))
            ticket = _Ticket(next(self._arrivals))
            state.waiting.append(ticket)
            self._dispatch()
            while not ticket.granted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    state.waiting.remove(ticket)
                    raise self._waited_too_long()
                self._changed.wait(remaining)
        try:
            yield
        finally:
            with self._changed:
                self._running = False
                self._dispatch()

    def waiting(self, owner: Hashable) -> int:
        """How many compilations of `owner` wait for their turn."""
        with self._changed:
            state = self._owners.get(owner)
            return len(state.waiting) if state else 0

    def _dispatch(self) -> None:
        # Called with the condition held: give the free compiler to the least recently served owner that waits.
        if self._running:
            return
        candidates = [
            (state.last_turn, state.waiting[0].order, state) for state in self._owners.values() if state.waiting
        ]
        if not candidates:
            return
        _, _, chosen = min(candidates, key=lambda candidate: candidate[:2])
        chosen.waiting.popleft().granted = True
        chosen.last_turn = next(self._turns)
        self._running = True
        self._changed.notify_all()
