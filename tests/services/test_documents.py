"""Notarising documents over real HTTP: submission by hash and by file, idempotency, batches, tenancy, revocation."""

import hashlib
import json
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import pytest
from eth_account import Account
from sqlalchemy import select, update

from segell.chain.keys import open_private_key
from segell.chain.merkle import MerkleTree, verify_document
from segell.chain.notary import NotaryClient
from segell.services.administrations.models import Administration, ChainAccount
from segell.services.administrations.service import authenticate
from segell.services.errors import Conflict, Forbidden
from segell.services.limits import MAX_BODY_BYTES
from segell.services.notary import repository, service
from segell.services.notary.anchoring import AnchoringAccounts, build_batch, finish_batch
from segell.services.notary.anchoring_repository import mark_anchored
from segell.services.notary.codes import format_code, generate_code, parse_code
from segell.services.notary.committer import GroupCommitter
from segell.services.notary.models import Document, OutboxEntry
from segell.services.notary.repository import batches
from segell.services.notary.schemas import MAX_BATCH_HASHES
from segell.services.notary.service import Submission, submit
from segell.services.notary.settings import NotarySettings
from tests.helpers import PostgresSchemas, RunningServer, make_settings, new_hash, runtime_of, serve, wait_anchored

CODE_SHAPE = r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z*~$=]$"
SMALL_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No anchoring worker, so documents stay pending; files over 64 KiB are refused."""
    settings = make_settings(
        tmp_path_factory.mktemp("segell-quiet"), NotarySettings(anchoring_worker=False, max_document_bytes=SMALL_LIMIT)
    )
    yield from serve(settings)


@pytest.fixture(scope="module")
def quiet_issuer(quiet_server: RunningServer) -> Iterator[httpx.Client]:
    with quiet_server.client(quiet_server.admit()) as client:
        yield client


# --- submission by hash -----------------------------------------------------------------------------------------


def test_submit_hash_answers_202_with_a_pending_receipt(issuer: httpx.Client) -> None:
    document_hash = new_hash()
    body = {
        "hash": "0x" + document_hash.upper(),
        "kind": "certificate",
        "title": "Certificat d'empadronament",
        "metadata": {"expedient": "2025/001", "pages": 3},
    }
    response = issuer.post("/v1/documents", json=body)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["status"] == "pending"
    assert receipt["document_hash"] == document_hash
    assert len(receipt["id"]) == 32 and int(receipt["id"], 16) >= 0
    assert receipt["verification_code"] == format_code(parse_code(receipt["verification_code"]))
    assert receipt["kind"] == "certificate"
    assert receipt["title"] == "Certificat d'empadronament"
    assert receipt["metadata"] == {"expedient": "2025/001", "pages": 3}
    assert receipt["salted"] is False
    assert receipt["anchor"] is None and receipt["revocation"] is None
    assert receipt["links"]["self"] == f"/v1/documents/{receipt['id']}"
    assert receipt["links"]["bundle"] == f"/v1/documents/{receipt['id']}/bundle"
    assert receipt["links"]["verify"] == f"/v1/verify?code={quote(receipt['verification_code'], safe='-')}"

    stored = issuer.get(receipt["links"]["self"]).json()
    for field in ("id", "document_hash", "verification_code", "kind", "title", "metadata", "salted", "created_at"):
        assert stored[field] == receipt[field], field


def test_submitted_document_is_in_the_outbox_once_answered(
    quiet_server: RunningServer, quiet_issuer: httpx.Client
) -> None:
    first = quiet_issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    second = quiet_issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    # Read over another connection right after the answer: the transaction has committed by then.
    with runtime_of(quiet_server).transaction() as session:
        entries = {
            entry.document_id: entry
            for entry in session.scalars(
                select(OutboxEntry).where(OutboxEntry.document_id.in_([first["id"], second["id"]]))
            )
        }
    assert set(entries) == {first["id"], second["id"]}
    assert entries[first["id"]].seq < entries[second["id"]].seq


def test_batch_is_in_the_outbox_in_request_order_once_answered(
    quiet_server: RunningServer, quiet_issuer: httpx.Client
) -> None:
    items = quiet_issuer.post("/v1/documents/batch", json={"hashes": [new_hash() for _ in range(50)]}).json()["items"]
    ids = [item["id"] for item in items]
    with runtime_of(quiet_server).transaction() as session:
        query = select(OutboxEntry.document_id).where(OutboxEntry.document_id.in_(ids)).order_by(OutboxEntry.seq)
        queued = list(session.scalars(query))
    assert queued == ids


def test_salted_submission_says_so(issuer: httpx.Client) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash(), "salted": True}).json()
    assert receipt["salted"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"hash": "abc"},
        {"hash": "g" * 64},
        {"hash": "0x" + "a" * 63},
        {},
        {"hash": "a" * 64, "kind": ""},
        {"hash": "a" * 64, "title": "line\nbreak"},
        {"hash": "a" * 64, "metadata": ["not", "an", "object"]},
        {"hash": "a" * 64, "unknown": 1},
    ],
)
def test_submit_invalid_body_answers_422(issuer: httpx.Client, body: dict) -> None:
    response = issuer.post("/v1/documents", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["location"].startswith("body")


def test_submit_json_takes_the_file_parameters_its_body_leaves_out(issuer: httpx.Client) -> None:
    response = issuer.post(
        "/v1/documents",
        params={"kind": "certificate", "title": "From the query", "salted": "true"},
        headers={"X-Segell-Metadata": '{"from": "header"}'},
        json={"hash": new_hash(), "title": "From the body", "salted": False},
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert (receipt["kind"], receipt["title"], receipt["salted"]) == ("certificate", "From the body", True)
    assert receipt["metadata"] == {"from": "header"}


def test_submit_other_media_type_answers_415(issuer: httpx.Client) -> None:
    response = issuer.post("/v1/documents", content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


# --- submission by file -----------------------------------------------------------------------------------------


def test_submit_file_hashes_its_bytes(issuer: httpx.Client) -> None:
    content = secrets.token_bytes(300_000)
    response = issuer.post(
        "/v1/documents",
        content=content,
        params={"kind": "resolution", "title": "Resolució 12/2025", "salted": "true"},
        headers={"Content-Type": "application/octet-stream", "X-Segell-Metadata": json.dumps({"òrgan": "Ple"})},
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["document_hash"] == hashlib.sha256(content).hexdigest()
    assert (receipt["kind"], receipt["title"], receipt["salted"]) == ("resolution", "Resolució 12/2025", True)
    assert receipt["metadata"] == {"òrgan": "Ple"}


def test_submit_file_larger_than_the_json_body_limit_is_streamed(issuer: httpx.Client) -> None:
    # Sent in chunks without Content-Length; the generic 5 MiB body limit must not apply to files.
    chunk = secrets.token_bytes(1 << 20)
    chunks = 2 * MAX_BODY_BYTES // len(chunk)
    expected = hashlib.sha256(chunk * chunks).hexdigest()

    def body() -> Iterator[bytes]:
        for _ in range(chunks):
            yield chunk

    response = issuer.post("/v1/documents", content=body(), headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 202, response.text
    assert response.json()["document_hash"] == expected


@pytest.mark.parametrize("header", ["[1, 2]", "{not json", "{" * 100 + "}" * 100])
def test_submit_file_with_bad_metadata_header_answers_422(issuer: httpx.Client, header: str) -> None:
    response = issuer.post(
        "/v1/documents",
        content=b"some file",
        headers={"Content-Type": "application/octet-stream", "X-Segell-Metadata": header},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["location"] == "header.X-Segell-Metadata"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_submit_file_over_the_limit_answers_413_and_stores_nothing(
    quiet_server: RunningServer, quiet_issuer: httpx.Client, framing: str
) -> None:
    content = secrets.token_bytes(SMALL_LIMIT + 1)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(content), 10_000):
            yield content[start : start + 10_000]

    response = quiet_issuer.post(
        "/v1/documents",
        content=content if framing == "content-length" else chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"limit_bytes": SMALL_LIMIT}
    with quiet_server.client() as anonymous:
        verification = anonymous.get("/v1/verify", params={"hash": hashlib.sha256(content).hexdigest()}).json()
    assert verification["status"] == "unknown"


def test_submit_file_at_the_limit_is_accepted(quiet_issuer: httpx.Client) -> None:
    content = secrets.token_bytes(SMALL_LIMIT)
    response = quiet_issuer.post("/v1/documents", content=content, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 202, response.text
    assert response.json()["document_hash"] == hashlib.sha256(content).hexdigest()


# --- idempotency ------------------------------------------------------------------------------------------------


def test_submit_same_document_twice_answers_the_same_receipt(issuer: httpx.Client) -> None:
    content = secrets.token_bytes(1000)
    first = issuer.post("/v1/documents", json={"hash": hashlib.sha256(content).hexdigest(), "kind": "acta"})
    again = issuer.post("/v1/documents", content=content, headers={"Content-Type": "application/octet-stream"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["verification_code"] == first.json()["verification_code"]
    assert again.json()["kind"] == "acta"


def test_idempotency_key_replay_answers_the_same_receipt(issuer: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_urlsafe(16)}
    body = {"hash": new_hash(), "title": "Llicència d'obres"}
    first = issuer.post("/v1/documents", json=body, headers=key)
    replay = issuer.post("/v1/documents", json=body, headers=key)
    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay.json() == first.json()


def test_idempotency_key_reused_for_another_payload_answers_409(issuer: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_urlsafe(16)}
    first = issuer.post("/v1/documents", json={"hash": new_hash()}, headers=key)
    assert first.status_code == 202
    for body in ({"hash": new_hash()}, {"hash": first.json()["document_hash"], "kind": "other"}):
        response = issuer.post("/v1/documents", json=body, headers=key)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "idempotency_key_reused"
        assert first.json()["id"] in response.json()["error"]["message"]


# --- a verification code allocated beforehand --------------------------------------------------------------------


def _registry_id_of(server: RunningServer, code: str) -> str:
    with runtime_of(server).transaction() as session:
        return str(session.execute(select(Administration.registry_id).where(Administration.code == code)).scalar_one())


def _administration_id(server: RunningServer, code: str) -> int:
    with runtime_of(server).transaction() as session:
        return int(session.execute(select(Administration.id).where(Administration.code == code)).scalar_one())


def test_submission_with_a_preallocated_code_is_stored_under_it(segell_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    key = segell_server.admit(administration_code)
    administration_id = _administration_id(segell_server, administration_code)
    code = generate_code()
    submission = Submission(document_hash=new_hash(), kind="acta", verification_code=code)
    receipt, new = submit(runtime_of(segell_server), administration_id, submission, None)
    assert new is True
    assert receipt.verification_code == format_code(code)
    # The same request again answers the same receipt.
    again, new = submit(runtime_of(segell_server), administration_id, submission, None)
    assert (again.id, again.verification_code, new) == (receipt.id, format_code(code), False)
    with segell_server.client(key) as client:
        stored = client.get(f"/v1/documents/{receipt.id}").json()
    assert stored["verification_code"] == format_code(code)
    with segell_server.client() as public:
        verification = public.get("/v1/verify", params={"code": format_code(code)}).json()
        assert verification["document_hash"] == submission.document_hash
        assert verification["matches"][0]["administration"]["code"] == administration_code


def test_preallocated_code_already_in_use_is_a_conflict(segell_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    segell_server.admit(administration_code)
    administration_id = _administration_id(segell_server, administration_code)
    runtime = runtime_of(segell_server)
    code = generate_code()
    first, _ = submit(runtime, administration_id, Submission(document_hash=new_hash(), verification_code=code), None)
    other = Submission(document_hash=new_hash(), verification_code=code)
    with pytest.raises(Conflict) as refused:
        submit(runtime, administration_id, other, None)
    assert refused.value.status_code == 409
    assert refused.value.code == "verification_code_in_use"
    assert format_code(code) in str(refused.value)
    # A code generated for another administration's document is refused as well, and nothing was stored.
    another_code = f"L{secrets.randbelow(10**8):08d}"
    segell_server.admit(another_code)
    with pytest.raises(Conflict):
        submit(runtime, _administration_id(segell_server, another_code), other, None)
    with runtime.transaction() as session:
        assert session.execute(select(Document.id).where(Document.document_hash == other.document_hash)).all() == []
    # A document already accepted under one code is not given another.
    with pytest.raises(Conflict) as mismatch:
        submit(
            runtime,
            administration_id,
            Submission(document_hash=first.document_hash, verification_code=generate_code()),
            None,
        )
    assert mismatch.value.code == "verification_code_mismatch"


def test_preallocated_code_binds_the_idempotency_key(segell_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    segell_server.admit(administration_code)
    administration_id = _administration_id(segell_server, administration_code)
    runtime = runtime_of(segell_server)
    document_hash, key = new_hash(), secrets.token_hex(8)
    first, _ = submit(runtime, administration_id, Submission(document_hash, verification_code=generate_code()), key)
    with pytest.raises(Conflict) as refused:
        submit(runtime, administration_id, Submission(document_hash, verification_code=generate_code()), key)
    assert refused.value.code == "idempotency_key_reused"
    # Without a code, the fingerprint is the one requests always had.
    assert (
        Submission(document_hash).fingerprint()
        == hashlib.sha256(
            json.dumps(
                {"hash": document_hash, "kind": None, "metadata": None, "salted": False, "title": None},
                sort_keys=True,
                separators=(",", ":"),
            ).encode()
        ).hexdigest()
    )
    assert first.status == "pending"


# --- group commit of single submissions ------------------------------------------------------------------------


@contextmanager
def sqlite_write_lock(server: RunningServer) -> Iterator[None]:
    """Hold the database's one write lock, as a long transaction of another process would."""
    connection = sqlite3.connect(server.home / "segell.db", timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def _stored(server: RunningServer, document_ids: list[str]) -> set[str]:
    """Ids committed, read through a connection of its own."""
    with sqlite3.connect(server.home / "segell.db") as connection:
        marks = ",".join("?" * len(document_ids))
        query = f"SELECT d.id FROM documents d JOIN notary_outbox o ON o.document_id = d.id WHERE d.id IN ({marks})"
        return {row[0] for row in connection.execute(query, document_ids)}


def test_submissions_waiting_for_a_commit_share_the_next_one(quiet_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    quiet_server.admit(administration_code)
    administration_id = _administration_id(quiet_server, administration_code)
    committer = GroupCommitter(runtime_of(quiet_server))
    with sqlite_write_lock(quiet_server):
        futures = [committer.submit(administration_id, Submission(new_hash()), None) for _ in range(40)]
        # Nothing is answered before it is committed.
        assert not any(future.done() for future in futures)
    answers = [future.result(timeout=60) for future in futures]
    assert all(created for _, created in answers)
    ids = [receipt.id for receipt, _ in answers]
    assert len(set(ids)) == 40
    assert _stored(quiet_server, ids) == set(ids)
    # The first transaction waited for the lock with what had arrived; the others shared the second.
    assert committer.groups <= 2


def test_a_refused_submission_leaves_its_group_accepted(quiet_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    quiet_server.admit(administration_code)
    administration_id = _administration_id(quiet_server, administration_code)
    committer = GroupCommitter(runtime_of(quiet_server))
    key, taken_code = secrets.token_hex(8), generate_code()
    first, refused_key, duplicate, refused_code, last = (
        Submission(new_hash(), verification_code=taken_code),
        Submission(new_hash()),
        Submission(new_hash()),
        Submission(new_hash(), verification_code=taken_code),
        Submission(new_hash(), kind="acta"),
    )
    with sqlite_write_lock(quiet_server):
        futures = [
            committer.submit(administration_id, first, key),
            committer.submit(administration_id, refused_key, key),  # the same key for another payload
            committer.submit(administration_id, duplicate, None),
            committer.submit(administration_id, duplicate, None),  # the same document twice in one group
            committer.submit(administration_id, refused_code, None),  # a code the first one took
            committer.submit(administration_id, last, None),
        ]
    with pytest.raises(Conflict, match="Idempotency-Key"):
        futures[1].result(timeout=60)
    with pytest.raises(Conflict) as in_use:
        futures[4].result(timeout=60)
    assert in_use.value.code == "verification_code_in_use"
    (receipt, created), (same, again) = futures[2].result(), futures[3].result()
    assert (created, again, same.id) == (True, False, receipt.id)
    accepted = [futures[i].result()[0] for i in (0, 2, 5)]
    assert accepted[0].verification_code == format_code(taken_code) and accepted[2].kind == "acta"
    assert _stored(quiet_server, [r.id for r in accepted]) == {r.id for r in accepted}
    with runtime_of(quiet_server).transaction() as session:
        for submission in (refused_key, refused_code):
            found = session.execute(select(Document.id).where(Document.document_hash == submission.document_hash))
            assert found.all() == []


def test_new_documents_stored_together_leave_out_the_one_already_stored(quiet_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    quiet_server.admit(administration_code)
    administration_id = _administration_id(quiet_server, administration_code)
    runtime = runtime_of(quiet_server)
    # Stored by a concurrent request between the group's lookup and its insert.
    already = Submission(new_hash())
    first, _ = submit(runtime, administration_id, already, None)
    fresh = [Submission(new_hash(), kind="acta"), Submission(new_hash(), title="Ple", metadata={"punt": 3})]
    with runtime.transaction() as session:
        receipts = service.accept_new(
            session, [(administration_id, fresh[0]), (administration_id, already)] + [(administration_id, fresh[1])]
        )
    assert receipts[1] is None
    stored = [receipt for receipt in receipts if receipt is not None]
    assert [(r.document_hash, r.kind, r.title, r.metadata, r.status) for r in stored] == [
        (fresh[0].document_hash, "acta", None, None, "pending"),
        (fresh[1].document_hash, None, "Ple", {"punt": 3}, "pending"),
    ]
    assert _stored(quiet_server, [first.id] + [r.id for r in stored]) == {first.id} | {r.id for r in stored}
    with runtime.transaction() as session:
        assert service.get_receipt(session, administration_id, stored[1].id) == stored[1]


def test_a_group_that_fails_is_accepted_one_by_one(quiet_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    quiet_server.admit(administration_code)
    administration_id = _administration_id(quiet_server, administration_code)
    committer = GroupCommitter(runtime_of(quiet_server))
    good = [Submission(new_hash()), Submission(new_hash())]
    # Not a refusal the notary makes (a SegellError) but a failure: the shared transaction is rolled back.
    broken = Submission(new_hash(), metadata={"pages": float("nan")})
    with sqlite_write_lock(quiet_server):
        futures = [committer.submit(administration_id, submission, None) for submission in (good[0], broken, good[1])]
    with pytest.raises(ValueError, match="plain JSON"):
        futures[1].result(timeout=60)
    ids = [futures[i].result(timeout=60)[0].id for i in (0, 2)]
    assert _stored(quiet_server, ids) == set(ids)
    with runtime_of(quiet_server).transaction() as session:
        stored = session.execute(select(Document.id).where(Document.document_hash == broken.document_hash)).all()
    assert stored == []


def test_concurrent_single_submissions_are_all_stored_and_answered(quiet_server: RunningServer) -> None:
    key = quiet_server.admit()
    hashes = [new_hash() for _ in range(64)]
    with ThreadPoolExecutor(16) as pool, quiet_server.client(key) as client:
        responses = list(pool.map(lambda h: client.post("/v1/documents", json={"hash": h}), hashes))
    assert [r.status_code for r in responses] == [202] * len(hashes)
    assert [r.json()["document_hash"] for r in responses] == hashes
    ids = [r.json()["id"] for r in responses]
    assert _stored(quiet_server, ids) == set(ids)


@pytest.fixture(scope="module")
def postgres_server(postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server on a PostgreSQL schema of its own (SEGELL_TEST_POSTGRES_URL), without an anchoring worker."""
    with postgres.schema("segell_documents") as database_url:
        home = tmp_path_factory.mktemp("segell-postgres")
        yield from serve(make_settings(home, NotarySettings(anchoring_worker=False), database_url=database_url))


@pytest.mark.postgres
def test_single_and_batch_submissions_are_anchored_on_postgresql(postgres_server: RunningServer) -> None:
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    key = postgres_server.admit(administration_code)
    administration_id = _administration_id(postgres_server, administration_code)
    runtime = runtime_of(postgres_server)
    with postgres_server.client(key) as client:
        single = client.post("/v1/documents", json={"hash": new_hash()})
        many = client.post("/v1/documents/batch", json={"hashes": [new_hash() for _ in range(5)]})
        assert (single.status_code, many.status_code) == (202, 202)
        ids = [single.json()["id"], *(item["id"] for item in many.json()["items"])]
        batch = build_batch(runtime, administration_id)
        assert batch is not None and batch.size == 6
        assert finish_batch(runtime, AnchoringAccounts(runtime).of(administration_id), batch) == 6
        # Anchored once: a second T2 for the same batch counts nothing.
        with runtime.transaction() as session:
            assert mark_anchored(session, batch.id, {}) == 0
            assert set(repository.statuses(session, ids).values()) == {"anchored"}
        receipts = [client.get(f"/v1/documents/{document_id}").json() for document_id in ids]
        assert {receipt["status"] for receipt in receipts} == {"anchored"}
        assert sorted(receipt["anchor"]["leaf_index"] for receipt in receipts) == list(range(6))
        bundle = client.get(f"/v1/documents/{ids[0]}/bundle")
        assert bundle.status_code == 200 and bundle.json()["root"] == receipts[0]["anchor"]["root"]
    # Full batches built when accepted; the same request again finds the batch taken and answers the receipts.
    registry_id = str(_registry_id_of(postgres_server, administration_code))
    batching = service.Batching(size=4, registry_id=registry_id)
    hashes = [new_hash() for _ in range(10)]
    answers = []
    for _ in range(2):
        with runtime.transaction() as session:
            text_ = service.submit_many_json(
                session, administration_id, hashes, kind=None, salted=False, batching=batching
            )
        answers.append([item["id"] for item in json.loads(text_)["items"]])
    assert answers[0] == answers[1]
    with runtime.transaction() as session:
        built = session.execute(select(batches.c.size, batches.c.status).where(batches.c.status == "built")).all()
    assert sorted(built) == [(4, "built"), (4, "built")]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_group_answers_a_stored_document_its_receipt_and_queues_only_the_new_ones(
    request: pytest.FixtureRequest, database: str
) -> None:
    server: RunningServer = request.getfixturevalue("quiet_server" if database == "sqlite" else "postgres_server")
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    server.admit(administration_code)
    administration_id = _administration_id(server, administration_code)
    runtime = runtime_of(server)
    committer = GroupCommitter(runtime)
    known = new_hash()
    stored, _ = committer.submit(administration_id, Submission(known), None).result(timeout=60)
    # Stored without a lookup first: the database refuses the known one, which is then answered its receipt.
    futures = [committer.submit(administration_id, Submission(h), None) for h in (new_hash(), known, new_hash())]
    answers = [future.result(timeout=60) for future in futures]
    assert [created for _, created in answers] == [True, False, True]
    assert answers[1][0].id == stored.id
    ids = [stored.id, answers[0][0].id, answers[2][0].id]
    with runtime.transaction() as session:
        query = select(OutboxEntry.document_id).where(OutboxEntry.document_id.in_(ids)).order_by(OutboxEntry.seq)
        queued = list(session.scalars(query))
    # One outbox entry each, in the order they were accepted; none for the document submitted again.
    assert queued == ids


@pytest.mark.parametrize("with_key", [False, True])
@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_simultaneous_identical_submissions_share_one_receipt(
    request: pytest.FixtureRequest, database: str, with_key: bool
) -> None:
    server: RunningServer = request.getfixturevalue("segell_server" if database == "sqlite" else "postgres_server")
    key = server.admit()
    body = {"hash": new_hash()}
    headers = {"Idempotency-Key": secrets.token_hex(8), "Authorization": f"Bearer {key}"}
    if not with_key:
        del headers["Idempotency-Key"]
    start = threading.Barrier(8)
    responses: list[httpx.Response] = []

    def submit() -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            start.wait()
            responses.append(client.post("/v1/documents", json=body))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in responses) == [200] * 7 + [202], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_fifty_simultaneous_requests_with_one_idempotency_key_store_one_document(
    request: pytest.FixtureRequest, database: str
) -> None:
    server: RunningServer = request.getfixturevalue("segell_server" if database == "sqlite" else "postgres_server")
    administration_code = f"L{secrets.randbelow(10**8):08d}"
    key = server.admit(administration_code)
    idempotency_key = secrets.token_hex(8)
    repeated = {"hash": new_hash()}
    # Half of them repeat one request, the other half reuse its key for another document each.
    bodies = [repeated if number % 2 else {"hash": new_hash()} for number in range(50)]
    headers = {"Idempotency-Key": idempotency_key, "Authorization": f"Bearer {key}"}
    start = threading.Barrier(len(bodies))

    def submit(body: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            start.wait()
            return client.post("/v1/documents", json=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        responses = list(pool.map(submit, bodies))
    accepted = [r for r in responses if r.status_code in (200, 202)]
    assert sorted(r.status_code for r in accepted) == [200] * (len(accepted) - 1) + [202]
    assert len({r.json()["id"] for r in accepted}) == 1
    assert {r.status_code for r in responses} - {200, 202} <= {409}
    with runtime_of(server).transaction() as session:
        stored = session.execute(
            select(Document.id, Document.document_hash).where(
                Document.administration_id == _administration_id(server, administration_code),
                Document.idempotency_key == idempotency_key,
            )
        ).all()
    assert [tuple(row) for row in stored] == [(accepted[0].json()["id"], accepted[0].json()["document_hash"])]
    # Every request sending the stored document's body is answered it; every other one is refused.
    assert all(
        (r.status_code == 409) == (body["hash"] != stored[0][1]) for r, body in zip(responses, bodies, strict=True)
    )


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_simultaneous_overlapping_batches_share_receipts(request: pytest.FixtureRequest, database: str) -> None:
    server: RunningServer = request.getfixturevalue("segell_server" if database == "sqlite" else "postgres_server")
    key = server.admit()
    shared = [new_hash() for _ in range(500)]
    bodies = [{"hashes": shared + [new_hash() for _ in range(100)]} for _ in range(4)]
    start = threading.Barrier(len(bodies))
    answers: list[list[dict]] = [[] for _ in bodies]

    def submit(number: int) -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            start.wait()
            response = client.post("/v1/documents/batch", json=bodies[number])
            assert response.status_code == 202, response.text
            answers[number] = response.json()["items"]

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared_ids = {tuple(item["id"] for item in items[: len(shared)]) for items in answers}
    assert len(shared_ids) == 1
    with server.client(key) as client:
        assert client.get(f"/v1/documents/{answers[0][0]['id']}").json()["document_hash"] == shared[0]


# --- batches ----------------------------------------------------------------------------------------------------


def test_batch_of_10000_keeps_order_and_shares_receipts_of_duplicates(issuer: httpx.Client) -> None:
    known = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    fresh = [new_hash() for _ in range(MAX_BATCH_HASHES - 101)]
    # 100 repeats inside the request, one hash already notarised, one in another spelling.
    hashes = fresh + fresh[:99] + [known["document_hash"], "0x" + fresh[5].upper()]
    assert len(hashes) == MAX_BATCH_HASHES
    response = issuer.post("/v1/documents/batch", json={"hashes": hashes, "kind": "padró"})
    assert response.status_code == 202, response.text
    items = response.json()["items"]
    assert len(items) == len(hashes)
    assert [item["document_hash"] for item in items] == [h.removeprefix("0x").lower() for h in hashes]
    assert [item["id"] for item in items[len(fresh) : len(fresh) + 99]] == [item["id"] for item in items[:99]]
    assert items[-1]["id"] == items[5]["id"]
    assert items[-2]["id"] == known["id"] and items[-2]["kind"] is None
    assert len({item["id"] for item in items}) == len(fresh) + 1
    assert len({item["verification_code"] for item in items}) == len(fresh) + 1
    assert {item["status"] for item in items[: len(fresh)]} <= {"pending", "anchored"}
    assert all(item["kind"] == "padró" for item in items[: len(fresh)])
    # Submitting the same batch again creates nothing new.
    again = issuer.post("/v1/documents/batch", json={"hashes": hashes[:50]}).json()["items"]
    assert [item["id"] for item in again] == [item["id"] for item in items[:50]]
    assert issuer.get(items[1234]["links"]["self"]).json()["verification_code"] == items[1234]["verification_code"]


@pytest.mark.parametrize("salted", [False, True])
@pytest.mark.parametrize("kind", [None, "padró", 'acta"urgent"\\1', "línia\u2028nova</script>"])
def test_batch_receipts_written_as_text_are_the_json_of_the_receipts(
    segell_server: RunningServer, issuer: httpx.Client, kind: str | None, salted: bool
) -> None:
    fresh = [new_hash() for _ in range(20)]
    body = {"hashes": fresh, "salted": salted, **({"kind": kind} if kind is not None else {})}
    response = issuer.post("/v1/documents/batch", json=body)
    assert response.status_code == 202, response.text
    items = response.json()["items"]
    # Each receipt as the models serve it, byte for byte in the encoding the batch answer uses.
    for item in items[:3]:
        stored = issuer.get(item["links"]["self"]).json()
        assert stored["status"] in ("pending", "anchored")
        stored.update(status="pending", anchor=None)
        assert item == stored
    expected = [service._dumps(item) for item in items]
    assert response.text == '{"items":[' + ",".join(expected) + "]}"
    assert {item["kind"] for item in items} == {kind} and {item["salted"] for item in items} == {salted}


@pytest.mark.parametrize("count", [0, MAX_BATCH_HASHES + 1])
def test_batch_outside_the_limits_answers_422(issuer: httpx.Client, count: int) -> None:
    response = issuer.post("/v1/documents/batch", json={"hashes": [new_hash() for _ in range(count)]})
    assert response.status_code == 422, response.text
    if count:
        assert "at most 10000 hashes per request" in response.json()["error"]["message"]


def test_batch_with_an_invalid_hash_answers_422_naming_it(issuer: httpx.Client) -> None:
    response = issuer.post("/v1/documents/batch", json={"hashes": [new_hash(), "nope", new_hash()]})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["location"] == "body.hashes.1"


# --- tenancy ----------------------------------------------------------------------------------------------------


def test_documents_of_another_administration_are_not_found(
    segell_server: RunningServer, issuer: httpx.Client, other_issuer: httpx.Client
) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    path = receipt["links"]["self"]
    assert other_issuer.get(path).status_code == 404
    assert other_issuer.get(f"{path}/bundle").status_code == 404
    revoke = other_issuer.post(f"{path}/revoke", json={"reason": "not mine"})
    assert revoke.status_code == 404
    assert revoke.json()["error"]["code"] == "not_found"
    # The same hash is a document of its own for the other administration.
    theirs = other_issuer.post("/v1/documents", json={"hash": receipt["document_hash"]})
    assert theirs.status_code == 202 and theirs.json()["id"] != receipt["id"]


def test_governance_key_may_not_use_documents(segell_server: RunningServer, issuer: httpx.Client) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    with segell_server.client(segell_server.governance_key) as governance:
        responses = [
            governance.post("/v1/documents", json={"hash": new_hash()}),
            governance.post("/v1/documents/batch", json={"hashes": [new_hash()]}),
            governance.get(receipt["links"]["self"]),
            governance.get(receipt["links"]["bundle"]),
            governance.post(f"{receipt['links']['self']}/revoke", json={"reason": "governance"}),
        ]
    assert [r.status_code for r in responses] == [403] * 5
    with segell_server.client() as anonymous:
        assert anonymous.post("/v1/documents", json={"hash": new_hash()}).status_code == 401
        assert anonymous.get(receipt["links"]["self"]).status_code == 401


def test_suspended_administration_may_not_submit(segell_server: RunningServer) -> None:
    code = f"L{secrets.randbelow(10**8):08d}"
    with segell_server.client(segell_server.admit(code)) as client:
        receipt = client.post("/v1/documents", json={"hash": new_hash()}).json()
        with segell_server.client(segell_server.governance_key) as governance:
            assert governance.post(f"/v1/administrations/{code}/suspend").status_code == 200
        try:
            responses = [
                client.post("/v1/documents", json={"hash": new_hash()}),
                client.post("/v1/documents", content=b"file", headers={"Content-Type": "application/octet-stream"}),
                client.get(receipt["links"]["self"]),
            ]
        finally:
            with segell_server.client(segell_server.governance_key) as governance:
                governance.post(f"/v1/administrations/{code}/reinstate")
    assert [r.status_code for r in responses] == [403] * 3
    assert {r.json()["error"]["code"] for r in responses} == {"administration_suspended"}


def _upload_in_two_parts(server: RunningServer, key: str, document: bytes, between) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    """POST a file over a socket of its own: the first half, `between()`, then the rest; the status and body."""
    url = httpx.URL(server.url)
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {len(document)}\r\nConnection: close\r\n\r\n"
    )
    half = len(document) // 2
    with socket.create_connection((url.host, url.port), timeout=30) as connection:
        connection.sendall(head.encode() + document[:half])
        time.sleep(0.2)  # the server has authenticated the request and is reading the file
        between()
        connection.sendall(document[half:])
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_upload_of_an_administration_suspended_meanwhile_is_refused_at_commit(
    request: pytest.FixtureRequest, database: str
) -> None:
    server: RunningServer = request.getfixturevalue("quiet_server" if database == "sqlite" else "postgres_server")
    code = f"L{secrets.randbelow(10**8):08d}"
    key = server.admit(code)
    document = secrets.token_bytes(48 * 1024)

    def suspend() -> None:
        with server.client(server.governance_key) as governance:
            assert governance.post(f"/v1/administrations/{code}/suspend").status_code == 200

    status, body = _upload_in_two_parts(server, key, document, suspend)

    assert status == 403
    assert body["error"]["code"] == "administration_suspended"
    with runtime_of(server).transaction() as session:
        stored = session.execute(
            select(Document.id).where(Document.document_hash == hashlib.sha256(document).hexdigest())
        ).all()
    assert stored == []


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_suspension_waits_for_a_transaction_holding_the_administration(
    request: pytest.FixtureRequest, database: str
) -> None:
    server: RunningServer = request.getfixturevalue("quiet_server" if database == "sqlite" else "postgres_server")
    code = f"L{secrets.randbelow(10**8):08d}"
    key = server.admit(code)
    runtime = runtime_of(server)
    events: list[str] = []

    def suspend() -> None:
        with runtime.transaction() as session:
            session.execute(update(Administration).where(Administration.code == code).values(status="suspended"))
        events.append("suspended")

    with runtime.transaction() as session:
        caller = authenticate(session, key, hold=True)
        suspension = threading.Thread(target=suspend)
        suspension.start()
        time.sleep(0.5)
        events.append("stored")
    suspension.join(timeout=30)

    assert caller.administration is not None and caller.administration.code == code
    assert events == ["stored", "suspended"]
    with runtime.transaction() as session, pytest.raises(Forbidden):
        authenticate(session, key, hold=True)


def test_unknown_or_malformed_document_id(issuer: httpx.Client) -> None:
    assert issuer.get(f"/v1/documents/{secrets.token_hex(16)}").status_code == 404
    assert issuer.get("/v1/documents/NOT-AN-ID").status_code == 404
    # `batch` is no document id: the route only takes POST.
    wrong_method = issuer.get("/v1/documents/batch")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"


# --- pending documents ------------------------------------------------------------------------------------------


def test_bundle_and_revoke_of_a_pending_document_answer_409(quiet_issuer: httpx.Client) -> None:
    receipt = quiet_issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    bundle = quiet_issuer.get(receipt["links"]["bundle"])
    assert bundle.status_code == 409
    assert bundle.json()["error"]["code"] == "not_anchored"
    assert bundle.headers["retry-after"] == "1"
    revoke = quiet_issuer.post(f"{receipt['links']['self']}/revoke", json={"reason": "too early"})
    assert revoke.status_code == 409
    assert revoke.json()["error"]["code"] == "not_anchored"


# --- anchored documents: receipts, bundles, revocation ----------------------------------------------------------


def test_anchored_receipt_and_bundle_prove_inclusion_on_chain(
    segell_server: RunningServer, issuer: httpx.Client
) -> None:
    content = b"Acord de Ple, sessio de 3 de marc"
    receipt = issuer.post(
        "/v1/documents",
        content=content,
        params={"salted": "true", "kind": "acord"},
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    anchored = wait_anchored(issuer, receipt["id"])
    assert anchored["status"] == "anchored"
    anchor = anchored["anchor"]
    runtime = runtime_of(segell_server)
    assert anchor["chain_id"] == runtime.node.chain_id
    assert anchor["contract"] == runtime.deployment.notary
    assert anchor["transaction_hash"].startswith("0x") and anchor["block_number"] >= 1

    bundle = issuer.get(receipt["links"]["bundle"]).json()
    assert bundle["format"] == "segell-proof-bundle" and bundle["version"] == 1
    assert bundle["hash_algorithm"] == "sha-256"
    assert bundle["document_hash"] == "0x" + hashlib.sha256(content).hexdigest()
    assert bundle["salt"] != "0x" + "00" * 32
    assert bundle["leaf_encoding"] == ["bytes32", "bytes32", "bytes32", "uint256"]
    assert (bundle["leaf"], bundle["root"], bundle["leaf_index"], bundle["tree_size"]) == (
        anchor["leaf"],
        anchor["root"],
        anchor["leaf_index"],
        anchor["tree_size"],
    )
    me = issuer.get("/v1/me").json()["administration"]
    assert bundle["administration"] == me["registry_id"]
    assert bundle["issuer"] == {"code": me["code"], "name": me["name"], "account": me["accounts"][0]}
    assert bundle["receipt"] == {
        "id": receipt["id"],
        "verification_code": receipt["verification_code"],
        "kind": "acord",
        "title": None,
    }
    assert bundle["chain"] == {
        "chain_id": anchor["chain_id"],
        "contract": anchor["contract"],
        "transaction_hash": anchor["transaction_hash"],
        "block_number": anchor["block_number"],
        "block_hash": anchor["block_hash"],
        "timestamp": anchor["block_timestamp"],
    }

    def word(value: str) -> bytes:
        return bytes.fromhex(value[2:])

    proof = [word(node) for node in bundle["proof"]]
    assert verify_document(
        document_hash=word(bundle["document_hash"]),
        administration=word(bundle["administration"]),
        salt=word(bundle["salt"]),
        index=bundle["leaf_index"],
        proof=proof,
        root=word(bundle["root"]),
        size=bundle["tree_size"],
    )
    notary = NotaryClient(runtime.node.w3, bundle["chain"]["contract"])
    assert notary.verify(proof, word(bundle["root"]), word(bundle["leaf"]))
    assert notary.anchor_of(word(bundle["root"])).size == bundle["tree_size"]


def test_revoke_anchored_document_records_it_on_chain(segell_server: RunningServer, issuer: httpx.Client) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    wait_anchored(issuer, receipt["id"])
    response = issuer.post(f"{receipt['links']['self']}/revoke", json={"reason": "  Error en el NIF del titular "})
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert revoked["status"] == "revoked"
    assert revoked["revocation"]["reason"] == "Error en el NIF del titular"
    assert revoked["revocation"]["transaction_hash"].startswith("0x")
    assert revoked["anchor"] is not None
    runtime = runtime_of(segell_server)
    leaf = bytes.fromhex(revoked["anchor"]["leaf"][2:])
    record = runtime.notary.revocation_of(leaf)
    assert record.reason == "Error en el NIF del titular"
    assert record.block_number == revoked["revocation"]["block_number"]
    assert issuer.get(receipt["links"]["self"]).json() == revoked

    again = issuer.post(f"{receipt['links']['self']}/revoke", json={"reason": "twice"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_revoked"
    # The bundle still proves inclusion; the chain says it is revoked.
    assert issuer.get(receipt["links"]["bundle"]).status_code == 200


def test_revoke_already_revoked_on_chain_records_what_the_chain_says(
    segell_server: RunningServer, issuer: httpx.Client
) -> None:
    # As after a crash between the revocation transaction and the database commit.
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    anchor = wait_anchored(issuer, receipt["id"])["anchor"]
    runtime = runtime_of(segell_server)
    with runtime.transaction() as session:
        account = session.scalars(
            select(ChainAccount).where(
                ChainAccount.address == issuer.get("/v1/me").json()["administration"]["accounts"][0]
            )
        ).one()
        key = open_private_key(account.sealed_key, runtime.master_key, label=account.address)
    with runtime.transaction() as session:
        tree = MerkleTree.from_bytes(
            session.execute(select(batches.c.tree).where(batches.c.root == anchor["root"][2:])).scalar_one()
        )
    sent = runtime.notary.revoke(
        Account.from_key(key),
        tree.root,
        bytes.fromhex(anchor["leaf"][2:]),
        tree.proof(anchor["leaf_index"]),
        "on chain first",
    )
    response = issuer.post(f"{receipt['links']['self']}/revoke", json={"reason": "asked again"})
    assert response.status_code == 200, response.text
    revocation = response.json()["revocation"]
    assert revocation["reason"] == "on chain first"
    assert (revocation["transaction_hash"], revocation["block_number"]) == (sent.transaction_hash, sent.block_number)


def test_revoke_with_invalid_reason_answers_422(issuer: httpx.Client) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    for body in ({"reason": ""}, {"reason": "x" * 501}, {}):
        assert issuer.post(f"{receipt['links']['self']}/revoke", json=body).status_code == 422
