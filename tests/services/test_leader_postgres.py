"""One anchoring leader among several processes on PostgreSQL, killed with -9 again and again while it anchors.

`segell up --workers 2` (two API processes under uvicorn's supervisor, which starts again any that dies) and a
separate `segell worker` share a PostgreSQL schema and an anvil reached through its IPC socket. Every one of the
three runs an anchoring worker; the one that holds the advisory lock leads (`services.locks.LeaderLock`). Clients
submit all along and keep every receipt acknowledged. Ten times, the leader is killed with -9 right after it
anchored a batch, while it anchors the next; another process must take the lead within seconds. At the end:

- lost = 0: every acknowledged receipt is in the database, and every document is anchored;
- anchored twice = 0: one RootAnchored event and one anchorRoot transaction per batch;
- every hash in exactly one batch, each batch's recomputed tree giving its root;
- no nonce gaps: the transactions of the anchoring and governance accounts on chain have the nonces 0..n-1, each
  once, and n is the account's transaction count.

A sandbox made before the kills answers whichever process serves it, before and after the process that ran its
node may have been killed, and a revert asked of any process reverts it for all. Last, the API processes' supervisor
is killed with -9, and they stop with it.
"""

import os
import re
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result
from web3 import Web3

from segell.chain.anvil import anvil_command, find_anvil, network_isolation
from segell.chain.ipc import IpcProvider
from segell.chain.merkle import MerkleTree, leaf_hashes
from segell.chain.nodes import AnvilNotFound
from segell.services.cli import app
from segell.services.locks import leader_pid
from segell.services.notary.anchoring import LEADER_LOCK, ROOT_ANCHORED_TOPIC
from segell.services.sandboxes.compile_queue import CompileQueue, CompilerBusy
from tests.helpers import free_port
from tests.services.test_crash import ANCHOR_ROOT_SELECTOR, Process, Submitter, _healthy, _wait_for

LEADER_KILLS = int(os.environ.get("SEGELL_LEADER_KILLS", "10"))
#: The longest a kill may leave the anchoring without a leader.
TAKEOVER_SECONDS = 5.0
#: How often a process that does not lead tries to take the lead: a kill leaves the anchoring without a leader for
#: about this long (SEGELL_LEADER_POLL_SECONDS, 0.5 s by default).
LEADER_POLL_SECONDS = 0.1
#: Each submitter sends a document or a batch of 2 to 60 (those of 40 or more fill batches when accepted) every
#: tenth of a second: documents are pending at every moment, while the processes under test keep the CPU to
#: start again after each kill.
SUBMIT_PAUSE_SECONDS, LARGEST_BATCH = 0.1, 60


def _bytes(value: str | bytes) -> bytes:
    """A hash column's value: 32 bytes, or its hex text."""
    return value if isinstance(value, bytes) else bytes.fromhex(value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of the supervisor stays a zombie until it is waited for.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def _contenders(api: Process, worker: Process) -> set[int]:
    """The processes that are up and run an anchoring worker: each says so with its process id (the supervisor of
    the API processes too, once, when it starts every domain before them: it runs none)."""
    up = set()
    for path in api.logs.glob("*.log"):
        up.update(int(pid) for pid in re.findall(rb"is up \(process (\d+)\)", path.read_bytes()))
    assert api.process is not None
    return {pid for pid in up if pid != api.process.pid and _alive(pid)}


def _sandbox_rpc(client: httpx.Client, sandbox_id: str, method: str, params: list[object]) -> str:
    call = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = client.post(f"/v1/sandboxes/{sandbox_id}/rpc", json=call)
    assert answer.status_code == 200, answer.text
    assert "result" in answer.json(), answer.text
    return str(answer.json()["result"])


def _sandbox_heads(client: httpx.Client, sandbox_id: str) -> set[int]:
    """The sandbox's head block as several requests see it: the port's processes serve them in turn."""
    return {int(_sandbox_rpc(client, sandbox_id, "eth_blockNumber", []), 16) for _ in range(8)}


def _send_in_sandbox(client: httpx.Client, sandbox_id: str, key: str, chain_id: int) -> None:
    account = Account.from_key(key)
    nonce = int(_sandbox_rpc(client, sandbox_id, "eth_getTransactionCount", [account.address, "pending"]), 16)
    transaction = {
        "to": Account.create().address,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 100 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "nonce": nonce,
        "chainId": chain_id,
    }
    raw = account.sign_transaction(transaction).raw_transaction.to_0x_hex()
    sent = _sandbox_rpc(client, sandbox_id, "eth_sendRawTransaction", [raw])
    # anvil answers once the transaction is in its pool and mines it a moment later: wait for the block.
    _wait_for(lambda: _sandbox_rpc(client, sandbox_id, "eth_getTransactionReceipt", [sent]) != "None", 30, "the block")


def _anchored_batches(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM batches WHERE status = 'anchored'")).scalar_one())


@pytest.mark.anvil
@pytest.mark.slow
def test_leader_killed_ten_times_loses_nothing_and_anchors_everything_once(
    tmp_path: Path, postgres_database: str
) -> None:
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
        "SEGELL_DATABASE_URL": postgres_database,
        "SEGELL_BATCH_MAX_WAIT": "0.1",
        # Batch requests of 40 new documents or more fill batches when accepted; the rest go through the outbox.
        "SEGELL_BATCH_MAX_SIZE": "40",
        "SEGELL_LEADER_POLL_SECONDS": str(LEADER_POLL_SECONDS),
    }
    cli = [sys.executable, "-m", "segell.services.cli"]
    node_command = anvil_command(
        anvil_binary, state_file=tmp_path / "anvil-state.json", ipc_socket=chain, isolation=network_isolation()
    )
    anvil = Process("anvil", node_command, env, logs)
    api = Process("api", [*cli, "up", "--chain", chain, "--port", str(api_port), "--workers", "2"], env, logs)
    worker = Process("worker", [*cli, "worker", "--chain", chain], env, logs)
    engine = create_engine(postgres_database)
    stop = threading.Event()
    submitters: list[Submitter] = []
    owner: httpx.Client | None = None
    provider = IpcProvider(node_socket)
    w3 = Web3(provider)
    try:
        anvil.start()
        _wait_for(w3.is_connected, 15, "anvil")
        api.start()

        def api_up() -> bool:
            assert api.alive(), (logs / "api-1.log").read_text()[-3000:]
            return _healthy(api_url)

        # Each process imports the whole application first: seconds, many more on a loaded machine.
        _wait_for(api_up, 300, "the API processes")
        governance_key = (home / "governance.key").read_text().strip()
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {governance_key}"}) as governance:
            admitted = governance.post("/v1/administrations", json={"code": "L09000002", "name": "Leader"})
        assert admitted.status_code == 201, admitted.text
        key = admitted.json()["api_key"]["key"]
        notary = httpx.get(f"{api_url}/health").json()["contracts"]["notary"]
        worker.start()

        owner = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        created = owner.post("/v1/sandboxes", json={"name": "Shared", "backend": "anvil"})
        assert created.status_code == 201, created.text
        sandbox_id, sandbox_chain = created.json()["id"], created.json()["chain_id"]
        sandbox_key = owner.post(f"/v1/sandboxes/{sandbox_id}/accounts/export").json()["accounts"][0]["private_key"]
        _send_in_sandbox(owner, sandbox_id, sandbox_key, sandbox_chain)
        snapshot = owner.post(f"/v1/sandboxes/{sandbox_id}/snapshots", json={"name": "one"}).json()
        for _ in range(2):
            _send_in_sandbox(owner, sandbox_id, sandbox_key, sandbox_chain)
        assert _sandbox_heads(owner, sandbox_id) == {snapshot["head_block"] + 2}

        submitters = [
            Submitter(api_url, key, stop, pause=SUBMIT_PAUSE_SECONDS, largest_batch=LARGEST_BATCH) for _ in range(2)
        ]
        for submitter in submitters:
            submitter.start()

        takeovers: list[float] = []
        restarts_waited = 0.0
        killed: Counter[str] = Counter()
        leader = None
        for _ in range(LEADER_KILLS):
            # A leader that has anchored since it took the lead, then amid its next anchorings, and another process
            # up to take over (those killed before may still be starting again).
            _wait_for(lambda: leader_pid(engine, LEADER_LOCK) not in (None, leader), 60, "a new leader")  # noqa: B023
            leader = leader_pid(engine, LEADER_LOCK)
            at = time.monotonic()
            _wait_for(lambda: len(_contenders(api, worker) - {leader}) >= 1, 300, "another process up")  # noqa: B023
            restarts_waited += time.monotonic() - at
            anchored = _anchored_batches(engine)
            _wait_for(lambda: _anchored_batches(engine) > anchored, 30, "an anchoring by the new leader")  # noqa: B023
            time.sleep(secrets.randbelow(150) / 1000)
            assert leader is not None
            if worker.alive() and leader == worker.process.pid:  # type: ignore[union-attr]
                worker.kill()
                killed["worker"] += 1
                worker.start()
            else:
                os.kill(leader, signal.SIGKILL)  # one of the API processes; its supervisor starts another
                killed["api"] += 1
            at = time.monotonic()
            _wait_for(lambda: leader_pid(engine, LEADER_LOCK) not in (None, leader), 60, "a new leader")  # noqa: B023
            takeovers.append(time.monotonic() - at)

        time.sleep(0.5)  # a last moment of submissions with a leader in place
        stop.set()
        for submitter in submitters:
            submitter.join(timeout=10)
        acknowledged = {h: i for submitter in submitters for h, i in submitter.acknowledged.items()}
        assert [m for submitter in submitters for m in submitter.mismatches] == []
        assert len(acknowledged) > 100

        def settled() -> bool:
            assert api.alive(), (logs / "api-1.log").read_text()[-3000:]
            with engine.connect() as connection:
                pending = connection.execute(
                    text(
                        "SELECT count(*) FROM documents d LEFT JOIN batches b ON b.id = d.batch_id "
                        "WHERE b.status IS DISTINCT FROM 'anchored'"
                    )
                ).scalar_one()
                unfinished = connection.execute(text("SELECT count(*) FROM batches WHERE status != 'anchored'"))
            return pending == 0 and unfinished.scalar_one() == 0

        _wait_for(settled, 60, "every document anchored")

        with engine.connect() as connection:
            documents = connection.execute(
                text("SELECT id, document_hash, batch_id, leaf_index, leaf FROM documents")
            ).all()
            batches = connection.execute(text("SELECT id, root, size FROM batches")).all()
            registry_id = connection.execute(text("SELECT registry_id FROM administrations")).scalar_one()
            anchoring_account = connection.execute(text("SELECT address FROM chain_accounts")).scalar_one()
        stored = {row[0] for row in documents}
        assert [i for i in acknowledged.values() if i not in stored] == []

        # Every hash in exactly one batch, each batch's tree giving its root.
        assert len({row[1] for row in documents}) == len(documents)
        assert sum(size for _, _, size in batches) == len(documents)
        members: dict[int, list[tuple[int, str, str]]] = {}
        for _, document_hash, batch_id, leaf_index, leaf in documents:
            members.setdefault(batch_id, []).append((leaf_index, document_hash, leaf))
        administration = bytes.fromhex(registry_id[2:])
        for batch_id, root, size in batches:
            leaves = sorted(members[batch_id])
            assert [index for index, _, _ in leaves] == list(range(size))
            recomputed = leaf_hashes([_bytes(h) for _, h, _ in leaves], administration)
            assert recomputed == [_bytes(leaf) for _, _, leaf in leaves]
            assert MerkleTree.build(recomputed).root == _bytes(root)

        # Anchored twice = 0: one RootAnchored event and one anchorRoot transaction per batch.
        notary = Web3.to_checksum_address(notary)
        query = {"address": notary, "fromBlock": 0, "toBlock": "latest", "topics": [ROOT_ANCHORED_TOPIC]}
        event_roots = Counter(log["topics"][1].hex() for log in w3.eth.get_logs(query))  # type: ignore[arg-type]
        assert [root for root, count in event_roots.items() if count > 1] == []
        assert set(event_roots) == {_bytes(root).hex() for _, root, _ in batches}

        # No nonce gaps, no nonce used twice: what each account sent, read from the chain.
        anchoring_account = Web3.to_checksum_address(anchoring_account)
        nonces: dict[str, list[int]] = {}
        anchor_transactions = 0
        for number in range(w3.eth.block_number + 1):
            for transaction in w3.eth.get_block(number, full_transactions=True)["transactions"]:
                nonces.setdefault(transaction["from"], []).append(int(transaction["nonce"]))
                if transaction["to"] == notary and bytes(transaction["input"][:4]) == ANCHOR_ROOT_SELECTOR:
                    assert transaction["from"] == anchoring_account
                    anchor_transactions += 1
        assert anchor_transactions == len(batches)
        assert sorted(nonces[anchoring_account]) == list(range(len(batches)))
        for sender, sent in nonces.items():
            assert sorted(sent) == list(range(len(sent))), sender
            assert w3.eth.get_transaction_count(sender) == len(sent)

        # The sandbox: as it was (a node whose process is killed saves its state as it stops), then reverted for
        # every process.
        assert owner.get(f"/v1/sandboxes/{sandbox_id}").json()["head_block"] == snapshot["head_block"] + 2
        reverted = owner.post(f"/v1/sandboxes/{sandbox_id}/snapshots/{snapshot['id']}/revert")
        assert reverted.status_code == 200, reverted.text
        assert _sandbox_heads(owner, sandbox_id) == {snapshot["head_block"]}
        _send_in_sandbox(owner, sandbox_id, sandbox_key, sandbox_chain)
        assert _sandbox_heads(owner, sandbox_id) == {snapshot["head_block"] + 1}

        assert sum(killed.values()) == LEADER_KILLS
        assert max(takeovers) <= TAKEOVER_SECONDS, takeovers

        # The supervisor killed with -9: its API processes stop with it rather than serve on with nothing to start
        # them again.
        worker_pid = worker.process.pid  # type: ignore[union-attr]
        _wait_for(lambda: len(_contenders(api, worker) - {worker_pid}) == 2, 300, "both API processes up")
        serving = _contenders(api, worker) - {worker_pid}
        api.kill()
        _wait_for(lambda: not any(_alive(pid) for pid in serving), 30, "the API processes to stop")
        assert not _healthy(api_url)
        print(
            f"\n{LEADER_KILLS} leader kills ({killed['api']} API processes, {killed['worker']} workers); "
            f"takeover in {min(takeovers):.2f}-{max(takeovers):.2f} s; {restarts_waited:.1f} s waiting for a "
            f"process to start again; {len(acknowledged)} acknowledged, "
            f"{len(documents)} documents in {len(batches)} batches; {time.monotonic() - started:.1f} s"
        )
    finally:
        stop.set()
        if owner is not None:
            owner.close()
        provider.transport.close()
        engine.dispose()
        for process in (worker, api, anvil):
            process.stop()


@pytest.mark.parametrize(
    ("database_url", "chain", "refusal"),
    [
        (None, "anvil", ["--workers 2 needs PostgreSQL", "SEGELL_DATABASE_URL=postgresql+psycopg://"]),
        # Refused before connecting: nothing listens on port 1.
        ("postgresql+psycopg://segell@127.0.0.1:1/segell", "embedded", ["the embedded chain lives inside one process"]),
    ],
    ids=["sqlite", "embedded-chain"],
)
def test_up_refuses_several_workers_where_processes_cannot_share(
    tmp_path: Path, runner: CliRunner, database_url: str | None, chain: str, refusal: list[str]
) -> None:
    # Only these variables during the command; `up` writes the last four, and each one is as before afterwards.
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("SEGELL_")}
    env.update(dict.fromkeys(["SEGELL_CHAIN", "SEGELL_HOST", "SEGELL_PORT", "SEGELL_WORKERS"]))
    env.update(SEGELL_HOME=str(tmp_path), SEGELL_DATABASE_URL=database_url)
    results: list[Result] = []
    # In a thread of its own: were `up` to start serving instead of refusing, the test fails rather than waits.
    command = threading.Thread(
        target=lambda: results.append(runner.invoke(app, ["up", "--workers", "2", "--chain", chain], env=env)),
        daemon=True,
    )
    command.start()
    command.join(60)
    assert results, "segell up --workers 2 did not refuse within 60 s"
    result = results[0]
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.replace("│", " ").split())
    for words in refusal:
        assert words in message
    assert list(tmp_path.iterdir()) == []  # refused before anything started


def test_compiler_and_waiting_places_hold_across_processes(postgres_database: str) -> None:
    # Two queues on one database are what two API processes have.
    engine = create_engine(postgres_database)
    first = CompileQueue(max_waiting_per_owner=1, max_wait=0.5, engine=engine)
    second = CompileQueue(max_waiting_per_owner=1, max_wait=5, engine=engine)
    third = CompileQueue(max_waiting_per_owner=1, max_wait=0.5, engine=engine)
    compiling, release = threading.Event(), threading.Event()
    waited: list[str] = []

    def compile_in_first() -> None:
        with first.turn("a"):
            compiling.set()
            release.wait(60)  # set by the test; a slow machine must not see the compiler let go early

    def wait_in_second() -> None:
        while True:  # the main thread may hold b's place for a moment
            try:
                with second.turn("b"):
                    waited.append("b compiled")
                return
            except CompilerBusy:
                time.sleep(0.05)

    try:
        holder = threading.Thread(target=compile_in_first)
        holder.start()
        assert compiling.wait(10)
        # The compiler is held in another process: this one waits its max_wait, then gives up.
        with pytest.raises(CompilerBusy, match="waited 0.5 seconds"), third.turn("c"):
            pass
        waiter = threading.Thread(target=wait_in_second)
        waiter.start()
        deadline = time.monotonic() + 30
        while True:  # until b's one waiting place is taken, in the second process
            with pytest.raises(CompilerBusy) as refused, third.turn("b"):
                pass
            if "waiting for the compiler" in str(refused.value) or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # b's place free for a moment, for the second process to take it
        assert "You already have 1 compilations waiting" in str(refused.value)
        release.set()
        holder.join(10)
        waiter.join(10)
        assert waited == ["b compiled"]
        with third.turn("b"):  # its place is free again
            pass
    finally:
        release.set()
        engine.dispose()
