"""`segell ...` under cProfile, for `bench/api_cpu.py --profile`: SIGUSR1 starts profiling, SIGUSR2 writes the
profile of every thread since then (CPU time of each thread, `time.thread_time`) to `$SEGELL_PROFILE_DIR/<pid>.prof`.

The event loop's thread is profiled from the signal on; worker threads while they run a call handed to them
(`anyio.to_thread.run_sync`, or a `ThreadPoolExecutor`'s as `services.short_calls` hands them), and threads started
after the signal (the group committer's) for their whole life.

    .venv/bin/python bench/profiled_api.py up --chain anvil --port 8000
"""

from __future__ import annotations

import cProfile
import marshal
import os
import signal
import sys
import threading
import time
from concurrent.futures import thread as futures_thread
from pathlib import Path
from typing import Any

import anyio.to_thread

_active = False
_generation = 0
_profiles: list[cProfile.Profile] = []
_main: cProfile.Profile | None = None
_lock = threading.Lock()
_local = threading.local()


def _thread_profile() -> cProfile.Profile:
    profile: cProfile.Profile | None = getattr(_local, "profile", None)
    if profile is None or _local.generation != _generation:
        profile = cProfile.Profile(time.thread_time)
        _local.profile, _local.generation = profile, _generation
        with _lock:
            _profiles.append(profile)
    return profile


_run_sync = anyio.to_thread.run_sync


async def _profiled_run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
    if not _active:
        return await _run_sync(func, *args, **kwargs)

    def profiled(*call_args: Any) -> Any:
        profile = _thread_profile()
        profile.enable()
        try:
            return func(*call_args)
        finally:
            profile.disable()

    return await _run_sync(profiled, *args, **kwargs)


_work_item_run = futures_thread._WorkItem.run


def _profiled_work_item_run(self: Any) -> None:
    # A call handed to a `ThreadPoolExecutor` (`services.short_calls`), profiled in the thread that runs it.
    if not _active:
        _work_item_run(self)
        return
    profile = _thread_profile()
    profile.enable()
    try:
        _work_item_run(self)
    finally:
        profile.disable()


_thread_run = threading.Thread.run


def _profiled_thread_run(self: threading.Thread) -> None:
    if not _active:
        _thread_run(self)
        return
    profile = _thread_profile()
    profile.enable()
    try:
        _thread_run(self)
    finally:
        profile.disable()


def _start(*_: Any) -> None:
    global _active, _generation, _main
    _generation += 1
    _profiles.clear()
    _main = cProfile.Profile(time.thread_time)
    _active = True
    _main.enable()


def _write(*_: Any) -> None:
    global _active
    _active = False
    if _main is None:
        return
    _main.disable()
    merged: dict[Any, Any] = {}
    for profile in [_main, *_profiles]:
        profile.snapshot_stats()
        for function, (calls, primitive, own, total, callers) in profile.stats.items():  # type: ignore[attr-defined]
            if function not in merged:
                merged[function] = (calls, primitive, own, total, dict(callers))
                continue
            calls0, primitive0, own0, total0, callers0 = merged[function]
            for caller, figures in callers.items():
                before = callers0.get(caller)
                summed = figures if before is None else tuple(a + b for a, b in zip(before, figures, strict=True))
                callers0[caller] = summed
            merged[function] = (calls0 + calls, primitive0 + primitive, own0 + own, total0 + total, callers0)
    out = Path(os.environ.get("SEGELL_PROFILE_DIR", ".")) / f"{os.getpid()}.prof"
    with out.open("wb") as file:
        marshal.dump(merged, file)
    print(f"profile written to {out}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    # The checkout this script is in, as `python -m segell.services.cli` run there would import it (not the one the
    # environment's editable install names).
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    anyio.to_thread.run_sync = _profiled_run_sync  # type: ignore[assignment]
    futures_thread._WorkItem.run = _profiled_work_item_run  # type: ignore[method-assign]
    threading.Thread.run = _profiled_thread_run  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _write)
    from segell.services.cli import main

    sys.argv = ["segell", *sys.argv[1:]]
    main()
