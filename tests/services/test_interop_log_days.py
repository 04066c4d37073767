"""The access log's days are closed (digested, counted and notarised) when the service starts after downtime, and
exactly once when several processes start together on PostgreSQL.

Exchanges are made two days ago with the app's clock moved back (`movable_clock`; two days, so that the day is
closable at any time of today, even within `CLOSING_GRACE` of midnight); then the service is stopped, and started
again today."""

import multiprocessing
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Date, bindparam, create_engine, text

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound, start_node
from segell.services.interop import domain as interop_domain
from segell.services.interop.settings import InteropSettings
from segell.services.runtime import Runtime
from segell.services.settings import Settings
from tests.helpers import PostgresSchemas, RunningServer, ServerThread, make_settings, movable_clock
from tests.services.test_interop import CITIZEN, Party, ask, authorise, register_service

try:
    find_anvil(None)
    HAVE_ANVIL = True
except AnvilNotFound:
    HAVE_ANVIL = False

pytestmark = [pytest.mark.anvil, pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed (make setup)")]

PROCESSES = 3


@dataclass
class PastDay:
    day: date
    #: consumer code -> exchanges it made that day
    exchanges: dict[str, int]
    #: consumer code -> its API key
    keys: dict[str, str]


def running(thread: ServerThread, settings: Settings) -> RunningServer:
    return RunningServer(
        url=settings.api_url,
        home=settings.home_dir,
        governance_key=settings.governance_key_path.read_text().strip(),
        settings=settings,
        app=thread.app,
    )


def exchange_in_the_past(settings: Settings) -> PastDay:
    """Start the service, have two town halls ask a register about a citizen two days ago (2 and 1 exchanges), stop
    it."""
    thread = ServerThread(settings)
    thread.start()
    try:
        return exchanges_in_the_past(running(thread, settings))
    finally:
        thread.stop()


def exchanges_in_the_past(server: RunningServer) -> PastDay:
    """Two town halls ask a register about a citizen two days ago, by the app's clock (2 and 1 exchanges)."""
    register = Party(server, "Consell Comarcal del Gironès")
    service = register_service(register)
    records = {"records": [{"national_id": CITIZEN, "data": {"municipality": "Salt", "since": "2021-06-15"}}]}
    assert register.http.put(f"/v1/interop/services/{service['id']}/records", json=records).status_code == 200
    town_halls = [Party(server, "Ajuntament de Salt"), Party(server, "Ajuntament de Celrà")]
    for town_hall in town_halls:
        authorise(town_hall, register, "RESIDENCE", "PADRO-ALTA")
    with movable_clock(server) as clock:
        clock.advance(days=-2)
        made = {town_halls[0].code: 2, town_halls[1].code: 1}
        for town_hall in town_halls:
            for _ in range(made[town_hall.code]):
                assert ask(town_hall, register).status_code == 201
        # Not closed yet: the day is not over.
        day = clock.now.date()
        open_day = town_halls[0].http.get(f"/v1/interop/log/{day.isoformat()}").json()
    assert (open_day["entry_count"], open_day["notarised_count"], open_day["intact"]) == (2, None, None)
    keys = {party.code: str(party.http.headers["Authorization"]).removeprefix("Bearer ") for party in town_halls}
    for party in [register, *town_halls]:
        party.http.close()
    return PastDay(day=day, exchanges=made, keys=keys)


def closed_days(database_url: str, day: date) -> list[tuple[str, int, int]]:
    """(consumer code, entry count, notarised documents of that day's log) of each digest of `day`."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT a.code, d.entry_count, "
                    "(SELECT count(*) FROM documents n WHERE n.administration_id = d.consumer_id "
                    "AND n.kind = 'interop-access-log' AND n.title LIKE a.code || :title) "
                    "FROM interop_log_digests d JOIN administrations a ON a.id = d.consumer_id "
                    "WHERE d.day = :day ORDER BY a.code"
                ).bindparams(bindparam("day", type_=Date)),
                {"day": day, "title": f" {day.isoformat()}:%"},
            )
            return [(row[0], row[1], row[2]) for row in rows]
    finally:
        engine.dispose()


def test_days_left_open_during_downtime_are_closed_when_the_service_starts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", chain="anvil")
    past = exchange_in_the_past(settings)

    # Started again today: the start closes that day's log of each town hall, with its count.
    thread = ServerThread(settings)
    thread.start()
    try:
        server = running(thread, settings)
        verified = {}
        for code, key in past.keys.items():
            with server.client(key) as town_hall:
                verified[code] = town_hall.get(f"/v1/interop/log/{past.day.isoformat()}").json()
    finally:
        thread.stop()

    assert {code: (day["entry_count"], day["notarised_count"], day["intact"]) for code, day in verified.items()} == {
        code: (count, count, True) for code, count in past.exchanges.items()
    }
    assert closed_days(settings.sqlalchemy_url, past.day) == sorted(
        (code, count, 1) for code, count in past.exchanges.items()
    )


def _start_and_close(settings: Settings, barrier: Any) -> None:
    """One process of the service starting: its runtime opened, then the interop domain's start hooks run at the
    same moment as the other processes'."""
    runtime, app = Runtime.start(settings), FastAPI()
    try:
        barrier.wait(timeout=60)
        for hook in interop_domain.domain.start:
            hook(app, runtime)
        for stop in interop_domain.domain.stop:
            stop(app)
    finally:
        runtime.stop()


@pytest.mark.postgres
def test_days_are_closed_exactly_once_when_several_processes_start_together(
    postgres: PostgresSchemas, tmp_path: Path
) -> None:
    node = start_node("anvil", state_dir=tmp_path / "chain")
    try:
        assert node.ipc_path is not None  # type: ignore[attr-defined]
        with postgres.schema("segell_interop_days") as database_url:
            settings = make_settings(tmp_path / "home", chain=str(node.ipc_path), database_url=database_url)  # type: ignore[attr-defined]
            past = exchange_in_the_past(settings)

            context = multiprocessing.get_context("fork")
            barrier = context.Barrier(PROCESSES)
            processes = [context.Process(target=_start_and_close, args=(settings, barrier)) for _ in range(PROCESSES)]
            for process in processes:
                process.start()
            for process in processes:
                process.join(timeout=120)

            assert [process.exitcode for process in processes] == [0] * PROCESSES
            # Each town hall's day closed once, by whichever process got there first: one digest, one notarisation.
            assert closed_days(database_url, past.day) == sorted(
                (code, count, 1) for code, count in past.exchanges.items()
            )
    finally:
        node.stop()


def test_days_are_closed_as_they_end_without_an_exchange_or_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", InteropSettings(log_close_interval_seconds=0.2))
    thread = ServerThread(settings)
    thread.start()
    try:
        server = running(thread, settings)
        past = exchanges_in_the_past(server)
        # The clock is back to today; no exchange follows, the service keeps running: its closer closes the day.
        deadline = time.monotonic() + 30
        while closed_days(settings.sqlalchemy_url, past.day) != sorted(
            (code, count, 1) for code, count in past.exchanges.items()
        ):
            assert time.monotonic() < deadline, "the day was not closed while the service ran"
            time.sleep(0.1)
        code, key = next(iter(past.keys.items()))
        with server.client(key) as town_hall:
            verified = town_hall.get(f"/v1/interop/log/{past.day.isoformat()}").json()
    finally:
        thread.stop()

    assert (verified["notarised_count"], verified["intact"]) == (past.exchanges[code], True)
