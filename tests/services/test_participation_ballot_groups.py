"""Ballots committed in groups, on SQLite and PostgreSQL: concurrent ballots share commits, a refused ballot leaves
the rest of its group committed, one ballot per voter stays exact, and every receipt answered is a ballot counted
at close."""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx
import pytest

from segell.services.participation.service import ballot_writer
from tests.helpers import RunningServer, make_settings, runtime_of, serve
from tests.services.participation_support import at_once, budget_process, citizen_token, new_phone

PREFIX = "/v1/participation"
CONCURRENT = 50


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp(f"segell-ballots-{request.param}")
    if request.param == "sqlite":
        yield from serve(make_settings(home))
        return
    with request.getfixturevalue("postgres").schema("segell_ballot_groups") as database_url:
        yield from serve(make_settings(home, database_url=database_url))


@pytest.fixture(scope="module")
def council(server: RunningServer) -> Iterator[tuple[str, httpx.Client]]:
    code = "L08GROUPS"
    with server.client(server.admit(code=code)) as admin:
        yield code, admin


def open_with_census(admin: httpx.Client, body: dict, phones: list[str]) -> str:
    process_id = str(admin.post(f"{PREFIX}/processes", json=body).json()["id"])
    ids = admin.post(f"{PREFIX}/census/citizen-ids", json={"phones": phones}).json()["citizen_ids"]
    assert admin.post(f"{PREFIX}/processes/{process_id}/census", json={"citizen_ids": ids}).status_code == 200
    return process_id


def cast_together(server: RunningServer, process_id: str, tokens: list[str]) -> list[httpx.Response]:
    """One ballot per token, all sent at once (one barrier), each over a connection of its own."""
    barrier = Barrier(len(tokens))
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    with httpx.Client(base_url=server.url, timeout=60, limits=limits) as client:

        def one(token: str) -> httpx.Response:
            barrier.wait()
            headers = {"Authorization": f"Bearer {token}"}
            return client.post(
                f"{PREFIX}/processes/{process_id}/ballots", json={"choices": ["P1", "P2"]}, headers=headers
            )

        with ThreadPoolExecutor(len(tokens)) as pool:
            return list(pool.map(one, tokens))


def published_commitments(admin: httpx.Client, tally: dict) -> set[str]:
    ballots = json.loads(admin.get(tally["ballots_url"]).content)
    return {ballot["commitment"] for ballot in ballots}


def test_cast_50_voters_at_once_shares_commits_and_counts_every_receipt(
    server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phones = [new_phone() for _ in range(CONCURRENT)]
    process_id = open_with_census(admin, budget_process(), phones)
    tokens = [citizen_token(server, code, phone) for phone in phones]
    writer = ballot_writer(runtime_of(server))
    groups_before = writer.groups

    answers = cast_together(server, process_id, tokens)
    groups = writer.groups - groups_before
    tally = admin.post(f"{PREFIX}/processes/{process_id}/close").json()["tally"]

    assert [answer.status_code for answer in answers] == [201] * CONCURRENT
    assert 1 <= groups < CONCURRENT
    assert tally["ballots_count"] == CONCURRENT
    assert published_commitments(admin, tally) == {answer.json()["commitment"] for answer in answers}


def test_cast_with_refused_ballots_in_the_group_commits_the_others(
    server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    voters = [new_phone() for _ in range(20)]
    process_id = open_with_census(admin, budget_process(), voters)
    outsiders = [citizen_token(server, code, new_phone()) for _ in range(15)]
    voted = citizen_token(server, code, voters[0])
    first = cast_together(server, process_id, [voted])[0]
    tokens = [citizen_token(server, code, phone) for phone in voters[1:]] + outsiders + [voted] * 15

    answers = cast_together(server, process_id, tokens)
    tally = admin.post(f"{PREFIX}/processes/{process_id}/close").json()["tally"]

    codes = [answer.json()["error"]["code"] if answer.status_code != 201 else None for answer in answers]
    assert [answer.status_code for answer in answers] == [201] * 19 + [403] * 15 + [409] * 15
    assert codes[19:] == ["not_in_census"] * 15 + ["already_voted"] * 15
    assert tally["ballots_count"] == 20
    accepted = {answer.json()["commitment"] for answer in answers[:19]} | {first.json()["commitment"]}
    assert published_commitments(admin, tally) == accepted


def test_cast_50_replacing_ballots_of_one_voter_at_once_keeps_the_last_committed(
    server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phone = new_phone()
    process_id = open_with_census(admin, budget_process(ballot_replacement=True), [phone])
    headers = {"Authorization": f"Bearer {citizen_token(server, code, phone)}"}
    receipts: list[dict] = []

    def send(client: httpx.Client) -> httpx.Response:
        answer = client.post(
            f"{PREFIX}/processes/{process_id}/ballots", json={"choices": ["P3", "P4"]}, headers=headers
        )
        receipts.append(answer.json())
        return answer

    statuses = at_once(server, CONCURRENT, send)
    tally = admin.post(f"{PREFIX}/processes/{process_id}/close").json()["tally"]

    assert statuses == [201] * CONCURRENT
    assert sorted(receipt["replaced"] for receipt in receipts) == [False] + [True] * (CONCURRENT - 1)
    assert tally["ballots_count"] == 1
    assert published_commitments(admin, tally) <= {receipt["commitment"] for receipt in receipts}


def test_close_during_a_flood_of_ballots_publishes_exactly_the_receipts_answered(
    server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phones = [new_phone() for _ in range(CONCURRENT)]
    process_id = open_with_census(admin, budget_process(), phones)
    tokens = [citizen_token(server, code, phone) for phone in phones]
    barrier = Barrier(2)

    def close() -> httpx.Response:
        with server.client() as other:
            other.headers.update(admin.headers)
            barrier.wait()
            return other.post(f"{PREFIX}/processes/{process_id}/close")

    with ThreadPoolExecutor(1) as pool:
        closing = pool.submit(close)
        barrier.wait()
        answers = cast_together(server, process_id, tokens)
        closed = closing.result()

    # A close with no ballot yet refuses (409 no_ballots): the rest are then counted by a second close.
    if closed.status_code == 409:
        assert closed.json()["error"]["code"] == "no_ballots"
        closed = admin.post(f"{PREFIX}/processes/{process_id}/close")
    tally = closed.json()["tally"]
    accepted = {answer.json()["commitment"] for answer in answers if answer.status_code == 201}
    refused = [answer.json()["error"]["code"] for answer in answers if answer.status_code != 201]
    assert closed.status_code == 200
    assert set(refused) <= {"process_closed"}
    assert len(accepted) + len(refused) == CONCURRENT
    assert published_commitments(admin, tally) == accepted


def test_cast_while_the_administration_is_suspended_is_refused_until_it_is_reinstated(
    server: RunningServer,
) -> None:
    code = "L08SUSPND"
    phones = [new_phone() for _ in range(3)]
    with server.client(server.admit(code=code)) as admin, server.client(server.governance_key) as governance:
        process_id = open_with_census(admin, budget_process(), phones)
        tokens = [citizen_token(server, code, phone) for phone in phones]
        before = cast_together(server, process_id, tokens[:1])[0]  # the process is now known to the server
        assert governance.post(f"/v1/administrations/{code}/suspend").status_code == 200
        suspended = cast_together(server, process_id, tokens[1:2])[0]
        assert governance.post(f"/v1/administrations/{code}/reinstate").status_code == 200
        after = cast_together(server, process_id, tokens[1:])
        tally = admin.post(f"{PREFIX}/processes/{process_id}/close").json()["tally"]

    assert before.status_code == 201
    assert (suspended.status_code, suspended.json()["error"]["code"]) == (403, "administration_suspended")
    assert [answer.status_code for answer in after] == [201, 201]
    assert tally["ballots_count"] == 3


def test_cast_in_two_processes_at_once_keeps_each_process_its_own_voters(
    server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phones = [new_phone() for _ in range(CONCURRENT // 2)]
    first = open_with_census(admin, budget_process(), phones)
    second = open_with_census(admin, budget_process(), phones[: len(phones) // 2])
    tokens = [citizen_token(server, code, phone) for phone in phones]
    cast_together(server, first, tokens[:1])  # both processes known to the server, so they share groups
    cast_together(server, second, tokens[:1])
    barrier = Barrier(len(tokens) * 2 - 2)
    limits = httpx.Limits(max_connections=len(tokens) * 2, max_keepalive_connections=len(tokens) * 2)
    with httpx.Client(base_url=server.url, timeout=60, limits=limits) as client:

        def one(job: tuple[str, str]) -> httpx.Response:
            process_id, token = job
            barrier.wait()
            return client.post(
                f"{PREFIX}/processes/{process_id}/ballots",
                json={"choices": ["P1", "P2"]},
                headers={"Authorization": f"Bearer {token}"},
            )

        jobs = [(process_id, token) for token in tokens[1:] for process_id in (first, second)]
        with ThreadPoolExecutor(len(jobs)) as pool:
            answers = list(pool.map(one, jobs))
    counts = [admin.post(f"{PREFIX}/processes/{p}/close").json()["tally"]["ballots_count"] for p in (first, second)]

    in_second = len(phones) // 2
    statuses = [answer.status_code for answer in answers]
    assert statuses[0::2] == [201] * (len(tokens) - 1)
    assert statuses[1::2] == [201] * (in_second - 1) + [403] * (len(tokens) - in_second)
    assert counts == [len(tokens), in_second]


def test_cast_with_a_token_that_does_not_check_out_is_refused_before_the_body(
    server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phones = [new_phone() for _ in range(2)]
    process_id = open_with_census(admin, budget_process(), phones)
    token = citizen_token(server, code, phones[0])
    assert cast_together(server, process_id, [token])[0].status_code == 201  # the process and the key are now known
    head, claims, signature = citizen_token(server, code, phones[1]).split(".")
    altered = ".".join([head, claims, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    path = f"{PREFIX}/processes/{process_id}/ballots"
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answers = [
            client.post(path, json={"choices": ["P1", "P2"]}, headers={"Authorization": f"Bearer {altered}"}),
            client.post(path, json={"choices": "P1"}, headers={"Authorization": f"Bearer {altered}"}),
            client.post(path, json={"choices": ["P1", "P2"]}, headers={"Authorization": "Bearer not.a.token"}),
            client.post(path, json={"choices": ["P1", "P2"]}),
        ]
        other_voter = client.post(
            path,
            json={"choices": ["P1", "P2"]},
            headers={"Authorization": f"Bearer {citizen_token(server, code, phones[1])}"},
        )

    assert [answer.status_code for answer in answers] == [401] * 4
    assert [answer.json()["error"]["code"] for answer in answers] == ["invalid_token"] * 3 + ["unauthenticated"]
    assert other_voter.status_code == 201
