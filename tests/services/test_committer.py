"""The group committer awaited from an event loop, as `POST /v1/documents` awaits it: answers after the commit."""

import asyncio
import secrets
import sqlite3
from collections.abc import Iterator

import pytest

from segell.services.errors import Unauthenticated
from segell.services.notary.committer import GroupCommitter
from segell.services.notary.router import new_committer
from segell.services.notary.service import Submission
from segell.services.notary.settings import NotarySettings
from tests.helpers import RunningServer, make_settings, new_hash, serve


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No anchoring worker: nothing but the committer writes."""
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-committer"), NotarySettings(anchoring_worker=False)))


def committer_of(server: RunningServer) -> GroupCommitter:
    return new_committer(server.app.state.runtime)  # type: ignore[attr-defined]


def hold_write_lock(server: RunningServer) -> sqlite3.Connection:
    """The database's one write lock, held as a long transaction of another process would; ROLLBACK frees it."""
    connection = sqlite3.connect(server.home / "segell.db", timeout=30, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    return connection


def stored(server: RunningServer, hashes: list[str]) -> set[str]:
    with sqlite3.connect(server.home / "segell.db") as connection:
        marks = ",".join("?" * len(hashes))
        # Hashes are stored as their 32 bytes.
        query = f"SELECT lower(hex(document_hash)) FROM documents WHERE document_hash IN ({marks})"
        return {row[0] for row in connection.execute(query, [bytes.fromhex(h) for h in hashes])}


def test_awaited_submissions_are_answered_after_their_shared_commit(quiet_server: RunningServer) -> None:
    key = quiet_server.admit()
    committer = committer_of(quiet_server)
    hashes = [new_hash() for _ in range(24)]

    async def submit_all() -> list[tuple[object, bool]]:
        lock = hold_write_lock(quiet_server)
        try:
            waiting = [asyncio.ensure_future(committer.accept_as(key, Submission(h), None)) for h in hashes]
            await asyncio.sleep(0.3)
            # Nothing is answered before it is committed.
            assert [task.done() for task in waiting] == [False] * len(hashes)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return await asyncio.gather(*waiting)

    answers = asyncio.run(submit_all())
    assert [created for _, created in answers] == [True] * len(hashes)
    assert [receipt.document_hash for receipt, _ in answers] == hashes  # type: ignore[attr-defined]
    assert stored(quiet_server, hashes) == set(hashes)
    # The first transaction waited for the lock with what had arrived; the others shared the second.
    assert committer.groups <= 2


def test_an_unknown_key_is_refused_without_refusing_its_group(quiet_server: RunningServer) -> None:
    key = quiet_server.admit()
    committer = committer_of(quiet_server)
    accepted, refused = new_hash(), new_hash()

    async def submit_both() -> list[object]:
        lock = hold_write_lock(quiet_server)
        try:
            waiting = [
                asyncio.ensure_future(committer.accept_as(key, Submission(accepted), None)),
                asyncio.ensure_future(committer.accept_as("sk_" + secrets.token_hex(16), Submission(refused), None)),
            ]
            await asyncio.sleep(0.1)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return await asyncio.gather(*waiting, return_exceptions=True)

    (receipt, created), error = asyncio.run(submit_both())  # type: ignore[misc]
    assert (receipt.document_hash, created) == (accepted, True)
    assert isinstance(error, Unauthenticated)
    assert stored(quiet_server, [accepted, refused]) == {accepted}


def test_a_request_that_stops_waiting_leaves_the_others_answered(quiet_server: RunningServer) -> None:
    key = quiet_server.admit()
    committer = committer_of(quiet_server)
    hashes = [new_hash() for _ in range(3)]

    async def cancel_one() -> list[object]:
        lock = hold_write_lock(quiet_server)
        try:
            waiting = [asyncio.ensure_future(committer.accept_as(key, Submission(h), None)) for h in hashes]
            await asyncio.sleep(0.1)
            waiting[1].cancel()  # its client went away
            await asyncio.sleep(0)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        answers = await asyncio.gather(*waiting, return_exceptions=True)
        # The committer goes on answering.
        answers.append(await committer.accept_as(key, Submission(hashes[0]), None))
        return answers

    first, cancelled, third, again = asyncio.run(cancel_one())
    assert isinstance(cancelled, asyncio.CancelledError)
    assert (first[1], third[1]) == (True, True)  # type: ignore[index]
    assert (again[0].id, again[1]) == (first[0].id, False)  # type: ignore[index]
    # Accepted before its client left: the document was committed all the same.
    assert stored(quiet_server, hashes) == set(hashes)


def test_submissions_by_administration_id_are_awaited_the_same_way(quiet_server: RunningServer) -> None:
    code = f"L{secrets.randbelow(10**8):08d}"
    quiet_server.admit(code)
    runtime = quiet_server.app.state.runtime  # type: ignore[attr-defined]
    with sqlite3.connect(quiet_server.home / "segell.db") as connection:
        (administration_id,) = connection.execute("SELECT id FROM administrations WHERE code = ?", (code,)).fetchone()
    committer = GroupCommitter(runtime)
    document_hash = new_hash()

    receipt, created = asyncio.run(committer.accept(administration_id, Submission(document_hash), None))
    assert (receipt.document_hash, created) == (document_hash, True)
    with pytest.raises(ValueError, match="without `identify`"):
        asyncio.run(committer.accept_as("sk_any", Submission(new_hash()), None))
