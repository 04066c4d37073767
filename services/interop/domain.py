"""The interoperability domain: data exchanged between administrations with a purpose, sealed answers, evidence
anyone can check, and an access log citizens can read."""

import threading
from datetime import UTC, datetime

from fastapi import FastAPI

from segell.services.deps import Clock, app_clock, system_clock
from segell.services.domains import Domain
from segell.services.interop import service
from segell.services.interop.access_router import router as access_router
from segell.services.interop.once_only_router import router as once_only_router
from segell.services.interop.router import router
from segell.services.interop.settings import InteropSettings
from segell.services.runtime import Runtime


def _close_past_days(app: FastAPI, runtime: Runtime) -> None:
    """Notarise the access log of the days that ended while the service was down, then keep closing days as they
    end, even when no exchange follows them."""
    service.close_days(runtime, datetime.now(UTC))
    closer = LogDayCloser(runtime, clock=lambda: app_clock(app)())
    app.state.interop_log_closer = closer
    closer.start()


def _stop_closing_days(app: FastAPI) -> None:
    closer: LogDayCloser | None = getattr(app.state, "interop_log_closer", None)
    if closer is not None:
        closer.stop()


class LogDayCloser:
    """A thread that closes the access log's days as they end (`service.close_days`), every
    `log_close_interval_seconds`; with several processes, each day is still closed once."""

    def __init__(self, runtime: Runtime, clock: Clock = system_clock) -> None:
        """`clock`: the time the app's rules use (`deps.get_clock`, which tests move)."""
        self.runtime, self.clock = runtime, clock
        self.interval = runtime.settings.section(InteropSettings).log_close_interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="segell-interop-log-days", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            service.close_days(self.runtime, self.clock())  # logs its failures, and tries again later


domain = Domain(
    name="interop",
    routers=(router, once_only_router, access_router),
    models=("segell.services.interop.models", "segell.services.interop.once_only_models"),
    settings=InteropSettings,
    start=(_close_past_days,),
    stop=(_stop_closing_days,),
)
