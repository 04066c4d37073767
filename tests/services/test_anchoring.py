"""Anchoring: outbox -> batches -> one anchorRoot each, resumed after a crash, reconciled with a node that lost blocks.

Roots are recomputed here independently of chain.merkle (eth_utils.keccak over eth_abi.encode), from what the
database says about each document, and compared with the chain.
"""

import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_abi import encode
from eth_utils.crypto import keccak
from sqlalchemy import func, select, update

from segell.sdk import verify_bundle_proof
from segell.services.administrations.models import Administration
from segell.services.notary import repository
from segell.services.notary.anchoring import ROOT_ANCHORED_TOPIC, AnchoringWorker, build_batch, reconcile_anchors
from segell.services.notary.codes import is_legacy, is_valid_code, parse_code
from segell.services.notary.models import Batch, Document, OutboxEntry
from segell.services.notary.settings import NotarySettings
from segell.services.runtime import Runtime
from tests.helpers import PostgresSchemas, RunningServer, make_settings, serve


def _runtime(server: RunningServer) -> Runtime:
    return server.app.state.runtime  # type: ignore[attr-defined, no-any-return]


def _administration_id(runtime: Runtime, code: str) -> int:
    with runtime.transaction() as session:
        return int(session.scalar(select(Administration.id).where(Administration.code == code)))


def _submit(client: httpx.Client, count: int) -> list[str]:
    response = client.post("/v1/documents/batch", json={"hashes": [secrets.token_hex(32) for _ in range(count)]})
    assert response.status_code == 202, response.text
    return [item["id"] for item in response.json()["items"]]


def _statuses(runtime: Runtime, ids: list[str]) -> dict[str, str]:
    """Each document's status as the database says it: anchored once its batch is."""
    with runtime.transaction() as session:
        return repository.statuses(session, ids)


def _wait_anchored(client: httpx.Client, ids: list[str], timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    receipts = []
    for document_id in ids:
        while True:
            receipt = client.get(f"/v1/documents/{document_id}").json()
            if receipt["status"] == "anchored":
                receipts.append(receipt)
                break
            assert time.monotonic() < deadline, f"{document_id} still {receipt['status']} after {timeout} s"
            time.sleep(0.05)
    return receipts


def _independent_root(hashes: list[bytes], administration: bytes, salts: list[bytes]) -> bytes:
    """OpenZeppelin StandardMerkleTree, leaves unsorted: array of 2n-1 nodes, leaf k at 2n-2-k, sorted pairs."""
    leaves = [
        keccak(keccak(encode(["bytes32", "bytes32", "bytes32", "uint256"], [h, administration, s, i])))
        for i, (h, s) in enumerate(zip(hashes, salts, strict=True))
    ]
    n = len(leaves)
    tree: list[bytes] = [b""] * (2 * n - 1)
    for k, leaf in enumerate(leaves):
        tree[2 * n - 2 - k] = leaf
    for i in range(n - 2, -1, -1):
        left, right = sorted((tree[2 * i + 1], tree[2 * i + 2]))
        tree[i] = keccak(left + right)
    return tree[0]


# -- embedded chain, worker in the API process ---------------------------------------------------------


@pytest.fixture(scope="module")
def small_batches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The embedded chain with batches of at most 100 documents, so 1,000 documents make several."""
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-anchoring"), NotarySettings(batch_max_size=100)))


def test_lone_submission_is_anchored_within_two_seconds(small_batches: RunningServer) -> None:
    key = small_batches.admit("L01000001")
    with small_batches.client(key) as client:
        started = time.monotonic()
        submitted = client.post("/v1/documents", json={"hash": secrets.token_hex(32)})
        assert submitted.status_code == 202, submitted.text
        [receipt] = _wait_anchored(client, [submitted.json()["id"]], timeout=2)
        latency = time.monotonic() - started
    print(f"lone submission anchored in {latency:.3f} s")
    assert latency < 2
    assert receipt["anchor"]["tree_size"] == 1
    assert receipt["anchor"]["transaction_hash"].startswith("0x")


def test_thousand_shuffled_documents_with_duplicates_are_anchored_under_roots_recomputed_independently(
    small_batches: RunningServer,
) -> None:
    key = small_batches.admit("L01000002")
    runtime = _runtime(small_batches)
    hashes = [secrets.token_hex(32) for _ in range(1000)]
    salted = set(hashes[:50])
    submissions = hashes + random.sample(hashes, 200)  # every fifth hash submitted twice
    random.shuffle(submissions)
    ids: dict[str, str] = {}
    with small_batches.client(key) as client:
        position = 0
        while position < len(submissions):
            if random.random() < 0.5:
                document_hash = submissions[position]
                response = client.post("/v1/documents", json={"hash": document_hash, "salted": document_hash in salted})
                assert response.status_code in (200, 202), response.text
                ids.setdefault(document_hash, response.json()["id"])
                assert ids[document_hash] == response.json()["id"]
                position += 1
            else:
                chunk = [h for h in submissions[position : position + random.randint(2, 60)] if h not in salted]
                position += len(chunk) or 1
                if not chunk:
                    continue
                response = client.post("/v1/documents/batch", json={"hashes": chunk})
                assert response.status_code == 202, response.text
                for document_hash, item in zip(chunk, response.json()["items"], strict=True):
                    assert ids.setdefault(document_hash, item["id"]) == item["id"]
        # salted hashes only ever come one by one; any left out of the chunks are sent now
        for document_hash in salted - ids.keys():
            ids[document_hash] = client.post("/v1/documents", json={"hash": document_hash, "salted": True}).json()["id"]
        receipts = _wait_anchored(client, list(ids.values()))
    assert len(ids) == 1000 and len(receipts) == 1000

    administration = bytes.fromhex(_registry_id(runtime, "L01000002")[2:])
    with runtime.transaction() as session:
        batch_rows = session.execute(
            select(Batch.id, Batch.root, Batch.size, Batch.status, Batch.transaction_hash).where(
                Batch.administration_id == _administration_id(runtime, "L01000002")
            )
        ).all()
        document_rows = session.execute(
            select(Document.batch_id, Document.leaf_index, Document.document_hash, Document.salt).where(
                Document.id.in_(list(ids.values()))
            )
        ).all()
    assert len(batch_rows) >= 10  # batches of at most 100
    assert {row.status for row in batch_rows} == {"anchored"}
    assert sum(row.size for row in batch_rows) == 1000
    assert len({row.transaction_hash for row in batch_rows}) == len(batch_rows)  # one transaction per batch
    assert sum(1 for row in document_rows if row.salt) == 50
    by_batch: dict[int, list] = {}
    for row in document_rows:
        by_batch.setdefault(row.batch_id, []).append(row)
    w3 = runtime.node.w3
    for batch in batch_rows:
        members = sorted(by_batch[batch.id], key=lambda row: row.leaf_index)
        assert [row.leaf_index for row in members] == list(range(batch.size))
        root = _independent_root(
            [bytes.fromhex(row.document_hash) for row in members],
            administration,
            [bytes.fromhex(row.salt) if row.salt else bytes(32) for row in members],
        )
        assert root.hex() == batch.root
        anchor = runtime.notary.anchor_of(root)
        assert (anchor.size, anchor.administration) == (batch.size, administration)
        receipt = w3.eth.get_transaction_receipt(batch.transaction_hash)
        anchored_roots = [
            log["topics"][1] for log in receipt["logs"] if log["topics"][0].to_0x_hex() == ROOT_ANCHORED_TOPIC
        ]
        assert anchored_roots == [root]


def _registry_id(runtime: Runtime, code: str) -> str:
    with runtime.transaction() as session:
        return str(session.scalar(select(Administration.registry_id).where(Administration.code == code)))


# -- embedded chain, worker driven by the test ---------------------------------------------------------


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The embedded chain with no worker running: the tests run each step themselves."""
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-manual"), NotarySettings(anchoring_worker=False)))


def test_batch_left_in_anchoring_is_finished_by_a_new_worker(manual: RunningServer) -> None:
    key = manual.admit("L02000001")
    runtime = _runtime(manual)
    with manual.client(key) as client:
        ids = _submit(client, 30)

    batch = build_batch(runtime, _administration_id(runtime, "L02000001"))  # T1, then the process "dies"

    assert batch is not None and batch.size == 30
    assert set(_statuses(runtime, ids).values()) == {"pending"}
    with runtime.transaction() as session:
        assert session.scalar(select(Batch.status).where(Batch.id == batch.id)) == "anchoring"
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 0
    assert not runtime.notary.is_anchored(bytes.fromhex(batch.root))

    assert AnchoringWorker(runtime).run_once() == 30

    assert set(_statuses(runtime, ids).values()) == {"anchored"}
    assert runtime.notary.anchor_of(bytes.fromhex(batch.root)).size == 30
    assert AnchoringWorker(runtime).run_once() == 0


def test_batch_whose_root_is_already_on_chain_counts_as_anchored(manual: RunningServer) -> None:
    key = manual.admit("L02000002")
    runtime = _runtime(manual)
    with manual.client(key) as client:
        ids = _submit(client, 12)
    administration_id = _administration_id(runtime, "L02000002")
    batch = build_batch(runtime, administration_id)
    assert batch is not None
    worker = AnchoringWorker(runtime)
    # The anchoring transaction was mined, then the process died before T2.
    sent = runtime.notary.anchor_root(worker.accounts.of(administration_id), bytes.fromhex(batch.root), batch.size)
    head = runtime.node.w3.eth.block_number

    assert worker.run_once() == 12

    assert set(_statuses(runtime, ids).values()) == {"anchored"}
    assert runtime.node.w3.eth.block_number == head  # nothing sent again
    with runtime.transaction() as session:
        row = session.execute(select(Batch).where(Batch.id == batch.id)).scalar_one()
    assert (row.status, row.transaction_hash, row.block_number) == (
        "anchored",
        sent.transaction_hash,
        sent.block_number,
    )
    assert row.gas_used == sent.gas_used


@pytest.fixture(scope="module")
def manual_small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No worker running, and batches of 8 documents."""
    settings = make_settings(
        tmp_path_factory.mktemp("segell-small"), NotarySettings(anchoring_worker=False, batch_max_size=8)
    )
    yield from serve(settings)


def test_full_batches_of_a_request_are_built_when_accepted_and_anchored_by_the_worker(
    manual_small: RunningServer,
) -> None:
    key = manual_small.admit("L02000010")
    runtime = _runtime(manual_small)
    administration_id = _administration_id(runtime, "L02000010")
    with manual_small.client(key) as client:
        known = client.post("/v1/documents", json={"hash": secrets.token_hex(32)}).json()
        hashes = [secrets.token_hex(32) for _ in range(20)]
        response = client.post("/v1/documents/batch", json={"hashes": [*hashes, known["document_hash"], hashes[3]]})
        assert response.status_code == 202, response.text
        items = response.json()["items"]
    assert items[20]["id"] == known["id"] and items[21]["id"] == items[3]["id"]
    ids = [item["id"] for item in items[:20]]

    # Answered: two full batches of 8 are stored ready to anchor, the other 4 wait in the outbox.
    with runtime.transaction() as session:
        built = session.execute(
            select(Batch.id, Batch.root, Batch.size, Batch.status).where(Batch.administration_id == administration_id)
        ).all()
        placed = session.execute(
            select(Document.batch_id, Document.leaf_index, Document.document_hash).where(
                Document.id.in_(ids), Document.batch_id.is_not(None)
            )
        ).all()
        outbox = session.scalars(select(OutboxEntry.document_id).where(OutboxEntry.document_id.in_(ids))).all()
    assert sorted((row.size, row.status) for row in built) == [(8, "built"), (8, "built")]
    assert set(outbox) == set(ids[16:]) and len(placed) == 16
    assert set(_statuses(runtime, ids).values()) == {"pending"}
    administration = bytes.fromhex(_registry_id(runtime, "L02000010")[2:])
    for batch in built:
        members = sorted((row.leaf_index, row.document_hash) for row in placed if row.batch_id == batch.id)
        assert [index for index, _ in members] == list(range(8))
        root = _independent_root([bytes.fromhex(h) for _, h in members], administration, [bytes(32)] * 8)
        assert root.hex() == batch.root

    worker = AnchoringWorker(runtime)
    assert worker.run_once() >= 16
    statuses = _statuses(runtime, ids)
    assert {statuses[document_id] for document_id in ids[:16]} == {"anchored"}
    for batch in built:
        assert runtime.notary.anchor_of(bytes.fromhex(batch.root)).size == 8
    time.sleep(runtime.settings.section(NotarySettings).batch_max_wait)
    worker.run_once()
    assert set(_statuses(runtime, ids).values()) == {"anchored"}
    assert worker.run_once() == 0
    with manual_small.client(key) as client:
        receipts = [client.get(f"/v1/documents/{document_id}").json() for document_id in ids[:8]]
        bundle = client.get(f"/v1/documents/{ids[0]}/bundle").json()
    assert sorted(receipt["anchor"]["leaf_index"] for receipt in receipts) == list(range(8))
    assert verify_bundle_proof(bundle, hashes[0]).valid


@pytest.fixture(scope="module")
def manual_small_postgres(
    postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """`manual_small` on a PostgreSQL schema of its own: full batches go in with a binary COPY there."""
    with postgres.schema("segell_anchoring") as database_url:
        settings = make_settings(
            tmp_path_factory.mktemp("segell-small-postgres"),
            NotarySettings(anchoring_worker=False, batch_max_size=8),
            database_url=database_url,
        )
        yield from serve(settings)


SMALL_BATCH_SERVERS = ["manual_small", pytest.param("manual_small_postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("server", SMALL_BATCH_SERVERS)
def test_full_batch_request_holding_known_documents_batches_only_new_ones(
    request: pytest.FixtureRequest, server: str
) -> None:
    manual_small: RunningServer = request.getfixturevalue(server)
    key = manual_small.admit("L02000012")
    runtime = _runtime(manual_small)
    with manual_small.client(key) as client:
        known = client.post("/v1/documents", json={"hash": secrets.token_hex(32)}).json()
        fresh = [secrets.token_hex(32) for _ in range(15)]
        response = client.post("/v1/documents/batch", json={"hashes": [fresh[0], known["document_hash"], *fresh[1:]]})
        assert response.status_code == 202, response.text
        items = response.json()["items"]
    assert items[1]["id"] == known["id"] and len({item["id"] for item in items}) == 16
    with runtime.transaction() as session:
        batches = session.execute(
            select(Batch.id, Batch.size).where(Batch.administration_id == _administration_id(runtime, "L02000012"))
        ).all()
        [batch] = batches
        members = session.scalars(
            select(Document.document_hash).where(Document.batch_id == batch.id).order_by(Document.leaf_index)
        ).all()
    # The first eight new documents, in request order; the other seven wait in the outbox.
    assert (batch.size, list(members)) == (8, fresh[:8])
    assert AnchoringWorker(runtime).run_once() >= 8


@pytest.mark.postgres
def test_full_batches_committed_wake_the_leader_waiting_for_its_next_poll(manual_small_postgres: RunningServer) -> None:
    key = manual_small_postgres.admit("L02000013")
    runtime = _runtime(manual_small_postgres)
    # A poll far longer than the test may wait: only the wake-up of the request's commit can start the anchoring.
    worker = AnchoringWorker(runtime, poll_seconds=120)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not worker.leading:
            assert time.monotonic() < deadline, "the worker did not take the lead"
            time.sleep(0.05)
        time.sleep(1.0)  # its first pass (and the reconciliation at start) done, it waits
        with manual_small_postgres.client(key) as client:
            ids = _submit(client, 8)
            started = time.monotonic()
            _wait_anchored(client, ids, timeout=20)
        assert time.monotonic() - started < 20
    finally:
        stopping = time.monotonic()
        worker.stop()
    # stop() wakes it too, rather than waiting for the poll.
    assert time.monotonic() - stopping < 10


@pytest.mark.parametrize("server", SMALL_BATCH_SERVERS)
def test_salted_public_full_batches_answer_the_receipts_they_store_and_prove_them(
    request: pytest.FixtureRequest, server: str
) -> None:
    manual_small: RunningServer = request.getfixturevalue(server)
    code = f"L03{secrets.randbelow(10**6):06d}"
    key = manual_small.admit(code)
    runtime = _runtime(manual_small)
    hashes = [secrets.token_hex(32) for _ in range(16)]
    body = {"hashes": hashes, "kind": "acta-plenària", "salted": True, "public": True}
    with manual_small.client(key) as client:
        response = client.post("/v1/documents/batch", json=body)
        assert response.status_code == 202, response.text
        answered = response.json()["items"]
        stored = [client.get(f"/v1/documents/{item['id']}").json() for item in answered]
    # Every field of the answer is what was stored, the code's check symbol included.
    assert answered == stored
    assert [item["document_hash"] for item in answered] == hashes
    assert {(item["kind"], item["salted"], item["public"]) for item in answered} == {("acta-plenària", True, True)}
    assert len({item["verification_code"] for item in answered}) == 16
    for item in answered:
        assert is_valid_code(item["verification_code"]) and not is_legacy(parse_code(item["verification_code"]))
    with runtime.transaction() as session:
        batch_rows = session.execute(
            select(Batch.id, Batch.root).where(Batch.administration_id == _administration_id(runtime, code))
        ).all()
        rows = session.execute(
            select(Document.batch_id, Document.leaf_index, Document.document_hash, Document.salt).where(
                Document.document_hash.in_(hashes)
            )
        ).all()
    administration = bytes.fromhex(_registry_id(runtime, code)[2:])
    assert len(batch_rows) == 2 and len({row.salt for row in rows}) == 16
    for batch in batch_rows:
        members = sorted((row.leaf_index, row.document_hash, row.salt) for row in rows if row.batch_id == batch.id)
        assert [index for index, _, _ in members] == list(range(8))
        hashes_of = [bytes.fromhex(h) for _, h, _ in members]
        root = _independent_root(hashes_of, administration, [bytes.fromhex(salt) for _, _, salt in members])
        assert root.hex() == batch.root
    assert AnchoringWorker(runtime).run_once() >= 16
    with manual_small.client(key) as client:
        for position in (0, 15):
            bundle = client.get(f"/v1/documents/{answered[position]['id']}/bundle").json()
            assert verify_bundle_proof(bundle, hashes[position]).valid


@pytest.mark.parametrize("server", SMALL_BATCH_SERVERS)
@pytest.mark.parametrize("shuffled", [False, True])
def test_identical_full_batch_requests_at_once_share_one_batch(
    request: pytest.FixtureRequest, server: str, shuffled: bool
) -> None:
    manual_small: RunningServer = request.getfixturevalue(server)
    code = f"L02{secrets.randbelow(10**6):06d}"
    key = manual_small.admit(code)
    runtime = _runtime(manual_small)
    hashes = [secrets.token_hex(32) for _ in range(16)]
    # Shuffled: the same documents in another order each time, so in other batches (other roots).
    bodies = [random.sample(hashes, len(hashes)) if shuffled else hashes for _ in range(4)]
    start = threading.Barrier(4)
    answers: list[list[str]] = []

    def submit(body: list[str]) -> None:
        with manual_small.client(key) as client:
            start.wait()
            response = client.post("/v1/documents/batch", json={"hashes": body})
            assert response.status_code == 202, response.text
            by_hash = {item["document_hash"]: item["id"] for item in response.json()["items"]}
            answers.append([by_hash[h] for h in hashes])

    threads = [threading.Thread(target=submit, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and all(answer == answers[0] for answer in answers)
    with runtime.transaction() as session:
        sizes = session.scalars(select(Batch.size).where(Batch.administration_id == _administration_id(runtime, code)))
        placed = session.scalars(select(Document.batch_id).where(Document.document_hash.in_(hashes))).all()
    # Every document in exactly one batch, of one request.
    assert sorted(sizes) == [8, 8] and len(placed) == 16 and None not in placed


def test_suspended_administration_waits_and_is_anchored_once_reinstated(manual: RunningServer) -> None:
    key = manual.admit("L02000003")
    runtime = _runtime(manual)
    with manual.client(key) as client:
        in_batch = _submit(client, 5)
        batch = build_batch(runtime, _administration_id(runtime, "L02000003"))
        in_outbox = _submit(client, 7)
    assert batch is not None
    worker = AnchoringWorker(runtime)
    with manual.client(manual.governance_key) as governance:
        assert governance.post("/v1/administrations/L02000003/suspend").status_code == 200

        assert worker.run_once() == 0
        assert set(_statuses(runtime, in_batch + in_outbox).values()) == {"pending"}
        with runtime.transaction() as session:
            assert session.scalar(select(Batch.status).where(Batch.id == batch.id)) == "anchoring"
            assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 7

        assert governance.post("/v1/administrations/L02000003/reinstate").status_code == 200
    time.sleep(0.6)  # the first retry delay
    assert worker.run_once() == 12
    assert set(_statuses(runtime, in_batch + in_outbox).values()) == {"anchored"}


# -- anvil: a node that loses blocks ------------------------------------------------------------------


@pytest.mark.anvil
def test_reconciler_anchors_again_what_the_node_lost_and_reports_divergence(anvil_server: RunningServer) -> None:
    key = anvil_server.admit("L03000001")
    runtime = _runtime(anvil_server)
    provider = runtime.node.w3.provider
    snapshot = provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    with anvil_server.client(key) as client:
        ids = _submit(client, 40)
        receipts = _wait_anchored(client, ids, timeout=10)
    root = bytes.fromhex(receipts[0]["anchor"]["root"][2:])
    first_transaction = receipts[0]["anchor"]["transaction_hash"]
    assert runtime.notary.anchor_of(root).size == 40
    # The node forgets the anchoring block, as anvil killed between two state saves would.
    assert provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    assert not runtime.notary.is_anchored(root)

    repaired = reconcile_anchors(runtime)

    assert len(repaired) == 1 and "anchored again" in repaired[0] and first_transaction in repaired[0]
    assert runtime.notary.anchor_of(root).size == 40
    with anvil_server.client(key) as client:
        again = client.get(f"/v1/documents/{ids[0]}").json()["anchor"]
    # Same account, nonce and fees on the reverted node: the same signed transaction, hence the same hash.
    assert runtime.node.w3.eth.get_transaction_receipt(again["transaction_hash"])["status"] == 1
    assert runtime.notary.anchor_of(root).block_number == again["block_number"]
    assert reconcile_anchors(runtime) == []

    # A batch whose size differs from the chain's record is reported, and neither side is rewritten.
    with runtime.transaction() as session:
        session.execute(update(Batch).where(Batch.root == root.hex()).values(size=41))
    try:
        diverged = reconcile_anchors(runtime)
        assert len(diverged) == 1 and "diverges" in diverged[0] and "size 40" in diverged[0]
        assert runtime.notary.anchor_of(root).size == 40
        with runtime.transaction() as session:
            assert session.scalar(select(Batch.size).where(Batch.root == root.hex())) == 41
    finally:
        with runtime.transaction() as session:
            session.execute(update(Batch).where(Batch.root == root.hex()).values(size=40))
    assert reconcile_anchors(runtime) == []


def test_worker_refuses_a_chain_other_processes_cannot_reach(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "segell.services.cli", "worker", "--chain", "embedded"],
        capture_output=True,
        text=True,
        env={**os.environ, "SEGELL_HOME": str(tmp_path), "SEGELL_CHAIN": ""},
        timeout=60,
    )
    assert result.returncode == 2
    assert "JSON-RPC URL" in result.stderr
