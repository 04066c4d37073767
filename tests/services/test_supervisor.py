"""The supervisor of `segell up --workers N`: a process killed while it is checked is replaced at once."""

import multiprocessing
import os
import signal
import threading
import time
from typing import Any

from segell.services.processes import _WatchedProcess


def _sleep() -> None:
    time.sleep(600)


def _health_check_of_a_killed_process(timeout: float) -> list[Any]:
    """The health check of a process killed before it could answer, as the supervisor makes it: both ends of the
    pipe stay open in the supervisor, so only the process's end tells it is gone. Returns what the check gave, if
    it ended within 60 s."""
    watched = object.__new__(_WatchedProcess)
    watched.parent_conn, watched.child_conn = multiprocessing.Pipe()
    watched.process = multiprocessing.get_context("spawn").Process(target=_sleep, daemon=True)  # type: ignore[assignment]
    watched.process.start()
    try:
        assert watched.process.pid is not None
        os.kill(watched.process.pid, signal.SIGKILL)
        answer: list[Any] = []
        checking = threading.Thread(target=lambda: answer.append(watched._healthcheck(timeout)), daemon=True)
        checking.start()
        checking.join(60)
        return answer
    finally:
        watched.process.kill()
        watched.process.join()


def test_health_check_of_a_process_killed_before_it_answers_ends_when_the_process_is_gone() -> None:
    # uvicorn's own check waits the whole timeout (120 s in `segell up`), and starts no process meanwhile.
    assert _health_check_of_a_killed_process(timeout=600) == [None]
