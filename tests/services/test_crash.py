"""Crash safety of the notary with real processes: the API, the anchoring worker and the node are killed with -9.

anvil runs on its own (an IPC socket and a state file), so it outlives the API; the API (`segell up --chain SOCKET`,
SEGELL_ANCHORING_WORKER=false) and the worker (`segell worker --chain SOCKET`) share SEGELL_HOME and its database.
Clients submit all along and keep every receipt the API acknowledged. At the end:

- acknowledged but lost = 0: every acknowledged receipt is in the database;
- never anchored = 0: every document in the database is anchored;
- anchored twice = 0: every root has exactly one RootAnchored event and one anchorRoot transaction on chain, one
  per batch, and every document is a leaf of exactly one batch whose recomputed tree gives that root.
"""

import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from segell.chain.anvil import anvil_command, find_anvil, network_isolation
from segell.chain.ipc import IpcProvider
from segell.chain.merkle import MerkleTree, leaf_hashes
from segell.chain.nodes import AnvilNotFound
from segell.chain.notary import NotaryClient
from segell.services.notary.anchoring import ROOT_ANCHORED_TOPIC
from tests.helpers import PLAIN_HTTP, free_port

# The suite's run, each moment of a kill at least once; `bench/crash_soak.sh` runs the same test with 20 API and
# 10 worker kills.
API_KILLS = int(os.environ.get("SEGELL_CRASH_API_KILLS", "4"))
WORKER_KILLS = int(os.environ.get("SEGELL_CRASH_WORKER_KILLS", "2"))
# Documents whose batch is anchored: the anchoring worker records that once per batch, not per document.
ANCHORED_IDS = "SELECT d.id FROM documents d JOIN batches b ON b.id = d.batch_id WHERE b.status = 'anchored'"
ANCHOR_ROOT_SELECTOR = bytes.fromhex(Web3.keccak(text="anchorRoot(bytes32,uint64)").hex()[:8])


class Process:
    """One of the processes under test, started again after each kill, its output kept in a log per start."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.command, self.env, self.logs = name, command, env, logs
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.logs / f"{self.name}-{self.starts}.log", "wb") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1, verify=PLAIN_HTTP).status_code == 200
    except httpx.HTTPError:
        return False


class Submitter(threading.Thread):
    """Submits documents one by one and in batches of 2 to `largest_batch`, `pause` seconds apart, and records each
    receipt the API acknowledged."""

    def __init__(
        self, url: str, key: str, stop: threading.Event, *, pause: float = 0.01, largest_batch: int = 100
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.stop_event = url, key, stop
        self.pause, self.largest_batch = pause, largest_batch
        self.acknowledged: dict[str, str] = {}  # document hash -> receipt id
        self.mismatches: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=5) as client:
            while not self.stop_event.is_set():
                try:
                    self._submit_once(client)
                    time.sleep(self.pause)  # leave the two cores of a CI machine to the processes under test
                except httpx.HTTPError:
                    time.sleep(0.05)  # the API is down or was killed mid-request: nothing acknowledged

    def _submit_once(self, client: httpx.Client) -> None:
        repeat = random.random() < 0.1 and self.acknowledged
        if random.random() < 0.5:
            document_hash = random.choice(list(self.acknowledged)) if repeat else secrets.token_hex(32)
            response = client.post("/v1/documents", json={"hash": document_hash})
            if response.status_code in (200, 202):
                self._record(document_hash, response.json()["id"])
            return
        hashes = [secrets.token_hex(32) for _ in range(random.randint(2, self.largest_batch))]
        response = client.post("/v1/documents/batch", json={"hashes": hashes})
        if response.status_code in (200, 202):
            for document_hash, item in zip(hashes, response.json()["items"], strict=True):
                self._record(document_hash, item["id"])

    def _record(self, document_hash: str, receipt_id: str) -> None:
        known = self.acknowledged.setdefault(document_hash, receipt_id)
        if known != receipt_id:
            self.mismatches.append(f"{document_hash}: receipt {receipt_id}, earlier {known}")


def _anchored_batches(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as connection:
        return int(connection.execute("SELECT count(*) FROM batches WHERE status = 'anchored'").fetchone()[0])


def _api_serves(api: Process, url: str) -> bool:
    """Whether the API answers. An API that started while the node was down for its own kill has exited (a start
    needs the node): it is started again, as its supervisor would; any other exit fails the test."""
    if not api.alive():
        log = (api.logs / f"{api.name}-{api.starts}.log").read_text()
        assert "NodeUnreachable" in log and "Application startup failed" in log, log[-3000:]
        api.start()
        return False
    return _healthy(url)


def _kill_api_repeatedly(api: Process, url: str) -> None:
    while api.kills < API_KILLS:
        if api.kills % 2 == 0:  # once it serves, then at any moment of its start, in turn
            _wait_for(lambda: _api_serves(api, url), 60, "the API")
            time.sleep(random.uniform(0.1, 0.8))
        else:
            time.sleep(random.uniform(0.2, 3.0))
        api.kill()
        api.start()


def _kill_worker_repeatedly(worker: Process) -> None:
    while worker.kills < WORKER_KILLS:
        log = worker.logs / f"worker-{worker.starts}.log"
        _wait_for(lambda: b"worker is up" in log.read_bytes(), 60, "the worker")  # noqa: B023
        # Soon after it is up, then later (most likely amid an anchoring), in turn.
        time.sleep(random.uniform(0.05, 0.3) if worker.kills % 2 == 0 else random.uniform(0.5, 1.5))
        worker.kill()
        worker.start()


@pytest.mark.anvil
@pytest.mark.slow
def test_kills_of_api_worker_and_node_lose_nothing_and_anchor_everything_once(tmp_path: Path) -> None:
    try:
        anvil_binary = find_anvil(None)
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")
    started = time.monotonic()
    home, logs = tmp_path / "home", tmp_path / "logs"
    home.mkdir()
    logs.mkdir()
    api_port = free_port()
    node_socket, api_url = tmp_path / "anvil.ipc", f"http://127.0.0.1:{api_port}"
    chain = str(node_socket)
    env = {
        **os.environ,
        "SEGELL_HOME": str(home),
        "SEGELL_MASTER_KEY": secrets.token_hex(32),
        "SEGELL_ANCHORING_WORKER": "false",
        "SEGELL_BATCH_MAX_WAIT": "0.2",
        # Batch requests of 40 new documents or more fill batches when accepted; the rest go through the outbox.
        "SEGELL_BATCH_MAX_SIZE": "40",
    }
    cli = [sys.executable, "-m", "segell.services.cli"]
    node_command = anvil_command(
        anvil_binary, state_file=tmp_path / "anvil-state.json", ipc_socket=chain, isolation=network_isolation()
    )
    anvil = Process("anvil", node_command, env, logs)
    api = Process("api", [*cli, "up", "--chain", chain, "--port", str(api_port)], env, logs)
    worker = Process("worker", [*cli, "worker", "--chain", chain, "--reconcile-every", "2"], env, logs)
    stop = threading.Event()
    submitters: list[Submitter] = []
    provider = IpcProvider(node_socket)
    w3 = Web3(provider)
    try:
        anvil.start()
        _wait_for(w3.is_connected, 15, "anvil")
        api.start()
        _wait_for(lambda: _healthy(api_url), 60, "the API")
        governance_key = (home / "governance.key").read_text().strip()
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {governance_key}"}) as governance:
            admitted = governance.post("/v1/administrations", json={"code": "L09000001", "name": "Crash"})
        assert admitted.status_code == 201, admitted.text
        key = admitted.json()["api_key"]["key"]
        notary = httpx.get(f"{api_url}/health").json()["contracts"]["notary"]
        worker.start()
        time.sleep(1.2)  # anvil saves its state every second: the admission is on disk before anvil is killed

        submitters = [Submitter(api_url, key, stop) for _ in range(2)]
        for submitter in submitters:
            submitter.start()
        api_killer = threading.Thread(target=_kill_api_repeatedly, args=(api, api_url), daemon=True)
        worker_killer = threading.Thread(target=_kill_worker_repeatedly, args=(worker,), daemon=True)
        api_killer.start()
        worker_killer.start()
        # Each kill waits for a restart of the API (a few seconds, many more on a loaded machine): a generous bound.
        _wait_for(lambda: api.kills >= API_KILLS // 2, 300, "half of the API kills")
        # The node dies right after an anchoring, without saving: it comes back with its last state save (made
        # every second), which most likely misses that anchoring; the reconciler has to anchor it again.
        anchored_batches = _anchored_batches(home / "segell.db")
        _wait_for(lambda: _anchored_batches(home / "segell.db") > anchored_batches, 60, "an anchoring")
        anvil.kill()
        node_socket.unlink(missing_ok=True)  # as a managed node's restart does: the socket of a killed anvil stays
        anvil.start()

        def node_back() -> bool:
            assert anvil.alive(), (logs / f"anvil-{anvil.starts}.log").read_text()[-3000:]
            return bool(w3.is_connected())

        # Loading the state file of a long chain takes seconds, many more on a loaded machine: a generous bound.
        _wait_for(node_back, 60, "anvil after its kill")
        api_killer.join(timeout=300)
        worker_killer.join(timeout=300)
        assert not api_killer.is_alive() and not worker_killer.is_alive()

        _wait_for(lambda: _api_serves(api, api_url), 60, "the API after the last kill")
        time.sleep(1.0)  # a last second of submissions against a running API and worker
        stop.set()
        for submitter in submitters:
            submitter.join(timeout=10)
        acknowledged = {h: i for submitter in submitters for h, i in submitter.acknowledged.items()}
        assert [m for submitter in submitters for m in submitter.mismatches] == []
        assert len(acknowledged) > 100 * API_KILLS

        database = home / "segell.db"

        def settled() -> bool:
            assert worker.alive(), (logs / f"worker-{worker.starts}.log").read_text()[-3000:]
            with sqlite3.connect(database, timeout=30) as connection:
                pending = connection.execute(
                    f"SELECT count(*) FROM documents WHERE id NOT IN ({ANCHORED_IDS})"
                ).fetchone()
                anchoring = connection.execute("SELECT count(*) FROM batches WHERE status != 'anchored'").fetchone()
                roots = [row[0] for row in connection.execute("SELECT lower(hex(root)) FROM batches")]
            if pending[0] or anchoring[0]:
                return False
            return all(NotaryClient(w3, notary).is_anchored(bytes.fromhex(root)) for root in roots)

        _wait_for(settled, 60, "every document anchored and every root on chain")

        with sqlite3.connect(database) as connection:
            # A document is anchored when its batch is: the status column keeps "pending" (or "revoked").
            documents = connection.execute(
                "SELECT id, lower(hex(document_hash)), CASE WHEN id IN (" + ANCHORED_IDS + ") THEN 'anchored' ELSE "
                "status END, batch_id, leaf_index, lower(hex(leaf)) FROM documents"
            ).fetchall()
            batches = connection.execute("SELECT id, lower(hex(root)), size, transaction_hash FROM batches").fetchall()
            registry_id = connection.execute("SELECT registry_id FROM administrations").fetchone()[0]
        stored = {row[0] for row in documents}

        lost = [i for i in acknowledged.values() if i not in stored]
        never_anchored = [row[0] for row in documents if row[2] != "anchored"]
        assert lost == []
        assert never_anchored == []

        # Each document is a leaf of exactly one batch, and each batch's tree gives its root.
        members: dict[int, list[tuple[int, str, str]]] = {}
        for _, document_hash, _, batch_id, leaf_index, leaf in documents:
            members.setdefault(batch_id, []).append((leaf_index, document_hash, leaf))
        assert sum(size for _, _, size, _ in batches) == len(documents)
        assert len({row[5] for row in documents}) == len(documents)
        administration = bytes.fromhex(registry_id[2:])
        for batch_id, root, size, _ in batches:
            leaves = sorted(members[batch_id])
            assert [index for index, _, _ in leaves] == list(range(size))
            recomputed = leaf_hashes([bytes.fromhex(h) for _, h, _ in leaves], administration)
            assert [leaf.hex() for leaf in recomputed] == [leaf for _, _, leaf in leaves]
            assert MerkleTree.build(recomputed).root.hex() == root

        # Anchored twice = 0: one RootAnchored event and one anchorRoot transaction per batch, none for anything else.
        notary = Web3.to_checksum_address(notary)
        query = {"address": notary, "fromBlock": 0, "toBlock": "latest", "topics": [ROOT_ANCHORED_TOPIC]}
        events = w3.eth.get_logs(query)  # type: ignore[arg-type]
        event_roots = Counter(log["topics"][1].hex() for log in events)
        assert [root for root, count in event_roots.items() if count > 1] == []
        assert set(event_roots) == {root for _, root, _, _ in batches}
        anchor_transactions = 0
        for number in range(w3.eth.block_number + 1):
            for transaction in w3.eth.get_block(number, full_transactions=True)["transactions"]:
                if transaction["to"] == notary and bytes(transaction["input"][:4]) == ANCHOR_ROOT_SELECTOR:
                    anchor_transactions += 1
        assert anchor_transactions == len(batches)

        assert (api.kills, worker.kills, anvil.kills) == (API_KILLS, WORKER_KILLS, 1)
        worker_logs = "".join(path.read_text() for path in logs.glob("worker-*.log"))
        print(
            f"\n{api.kills} API kills, {worker.kills} worker kills, {anvil.kills} node kill; "
            f"batches finished after a worker kill: {worker_logs.count('left in anchoring')}, "
            f"roots anchored again after the node kill: {worker_logs.count('anchored again')}; "
            f"{len(acknowledged)} acknowledged, {len(documents)} documents in {len(batches)} batches; "
            f"{time.monotonic() - started:.1f} s"
        )
    finally:
        stop.set()
        provider.transport.close()  # its pooled connections, before they are collected open
        for process in (worker, api, anvil):
            process.stop()
