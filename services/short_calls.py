"""Short blocking calls of busy routes (the one query of a group of verifications) run on worker threads of their own.

Starlette's `run_in_threadpool` goes through anyio: a capacity limiter, a cancel scope, the caller's context
variables copied, a worker thread of anyio's own. For a call of a few hundred microseconds that machinery is a
tenth of the request: 48 µs of the process's CPU per call against 17 µs for the event loop's own hand-over to a
`ThreadPoolExecutor` (measured with 16 calls at once on uvloop). `run_short` uses the latter, for calls that need
no context variable of the caller (none of the request's) and that finish by themselves: a call is not cancelled
with the request that awaits it, as with anyio.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Threads for short calls in each process: as many lookups at once as the clients of one process need on two cores,
#: well within the 30 connections of a process's database pool.
SHORT_CALL_THREADS = 16

_executor = ThreadPoolExecutor(max_workers=SHORT_CALL_THREADS, thread_name_prefix="segell-short")


async def run_short(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` on a worker thread, awaited from the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_executor, function, *args)
