"""Anchoring: the outbox becomes batches, each batch one `anchorRoot`; the reconciler keeps the chain in line.

The flow is the one of docs/notary.md:

- T1 (`build_batch`, one transaction): up to `batch_max_size` outbox entries of one administration, by `seq`; their
  leaves and Merkle tree; a `batches` row in status "anchoring"; each document's batch, leaf and index; the entries
  leave the outbox.
- `anchorRoot(root, size)` from the administration's account (`anchor_on_chain`). A root the chain already holds
  for the same administration and size is a success: an earlier attempt got through before a crash.
- T2 (`mark_anchored`, one transaction): the batch is "anchored", with the transaction's data; its documents are
  anchored with it (their rows are not written again).

A batch request with at least `batch_max_size` new documents does T1 itself, in the transaction that accepts them
(`service._accept_many`): its full batches are stored in status "built", and the worker only claims each one
(`claim_built`: "built" -> "anchoring"), anchors it and runs T2.

A crash between T1 and T2 leaves the batch in "anchoring"; a worker finishes such batches when it starts and
retries failed ones with a growing delay, so nothing accepted is lost and nothing is anchored twice (roots are
write-once on chain). `reconcile_anchors` anchors again the roots a node lost, and reports divergences.

On PostgreSQL every API process and every `segell worker` runs a worker, and one of them at a time anchors: the
leader, which holds the advisory lock `anchoring` (`services.locks.LeaderLock`) on a connection of its own. The
others try to take it every `SEGELL_LEADER_POLL_SECONDS` (0.5 s); when the leader dies its connection closes, the
server frees the lock, and the next try takes over: it first finishes every batch its predecessor left in
"anchoring".
"""

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from segell.chain.errors import NotActiveMember, RootAlreadyAnchored, TransactionReverted
from segell.chain.keys import open_private_key
from segell.chain.merkle import MerkleTree, leaf_hashes
from segell.chain.transactions import wait_for_confirmations
from segell.services.locks import LeaderLock, is_shared_database
from segell.services.notary import anchoring_repository as repository
from segell.services.notary.anchoring_repository import LEADER_LOCK, BatchToAnchor
from segell.services.notary.settings import NotarySettings
from segell.services.runtime import Runtime

log = logging.getLogger("segell")

#: Seconds between two looks at the outbox when nothing is due.
POLL_SECONDS = 0.1
#: A batch another process left in "anchoring" this long ago is taken over (it crashed, or its node was down).
STALE_AFTER_SECONDS = 30.0
#: Retry delays after a failed anchoring double from the first to the last.
FIRST_RETRY_SECONDS, LAST_RETRY_SECONDS = 0.5, 30.0
#: How often a running worker checks that the node still holds every anchored root.
RECONCILE_EVERY_SECONDS = 300.0
#: Anchored batches read per query by the reconciler.
RECONCILE_PAGE = 1_000

ZERO_SALT = bytes(32)
ROOT_ANCHORED_TOPIC = "0x" + keccak(text="RootAnchored(bytes32,bytes32,address,uint64)").hex()


class AnchorDiverged(Exception):
    """The chain holds the batch's root for another administration or with another size: never rewritten."""


class AnchoringAccounts:
    """The administrations' anchoring accounts, their keys opened once (AES-GCM per key) and kept in memory."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._by_administration: dict[int, LocalAccount] = {}
        self._lock = threading.Lock()

    def of(self, administration_id: int) -> LocalAccount:
        with self._lock:
            account = self._by_administration.get(administration_id)
            if account is None:
                with self._runtime.transaction() as session:
                    found = repository.first_account(session, administration_id)
                if found is None:
                    raise LookupError(f"administration {administration_id} has no chain account to anchor from")
                address, sealed = found
                key = open_private_key(sealed, self._runtime.master_key, label=address)
                account = Account.from_key(key)
                self._by_administration[administration_id] = account
            return account


def build_batch(runtime: Runtime, administration_id: int, limit: int | None = None) -> BatchToAnchor | None:
    """T1: move up to `limit` (default `batch_max_size`) outbox entries of an administration into a new batch.

    Returns the batch, in status "anchoring", or None when the administration has nothing in the outbox (or
    another worker holds every entry).
    """
    limit = limit or runtime.settings.section(NotarySettings).batch_max_size
    with runtime.transaction() as session:
        code, registry_id = repository.administration_identity(session, administration_id)
        items = repository.take_outbox(session, administration_id, limit)
        if not items:
            return None
        hashes = [bytes.fromhex(item.document_hash) for item in items]
        salts = None
        if any(item.salt for item in items):
            salts = [bytes.fromhex(item.salt) if item.salt else ZERO_SALT for item in items]
        leaves = leaf_hashes(hashes, bytes.fromhex(registry_id[2:]), salts)
        tree = MerkleTree.build(leaves)
        root = tree.root.hex()
        batch_id = repository.insert_batch(
            session, administration_id=administration_id, root=root, size=tree.size, tree=tree.to_bytes()
        )
        repository.place_documents(session, batch_id, items, leaves)
    return BatchToAnchor(
        id=batch_id,
        administration_id=administration_id,
        code=code,
        registry_id=registry_id,
        root=root,
        size=tree.size,
        created_at=datetime.now(UTC),
    )


def anchor_on_chain(runtime: Runtime, account: LocalAccount, batch: BatchToAnchor) -> dict[str, Any]:
    """Anchor the batch's root from `account`; return the batch's chain fields for T2.

    Idempotent: when the chain already holds the root for the batch's administration and size (an earlier attempt
    was mined before a crash), the fields of that anchoring transaction are returned and nothing is sent.

    Raises:
        AnchorDiverged: the chain holds the root for another administration or with another size.
        NotActiveMember: the administration is suspended (or not admitted) on chain.
    """
    notary, w3 = runtime.notary, runtime.node.w3
    root = bytes.fromhex(batch.root)
    try:
        sent = notary.anchor_root(account, root, batch.size)
    except (RootAlreadyAnchored, TransactionReverted) as exc:
        # TransactionReverted: another worker's transaction for the same root was mined just before ours.
        record = notary.anchor_of(root)
        if record.size == 0:
            raise
        if record.administration != bytes.fromhex(batch.registry_id[2:]) or record.size != batch.size:
            raise AnchorDiverged(
                f"root 0x{batch.root} of batch {batch.id} is anchored on chain for administration "
                f"0x{record.administration.hex()} with size {record.size}; the database has {batch.code} "
                f"({batch.registry_id}) with size {batch.size}"
            ) from exc
        transaction_hash, gas_used = _anchoring_transaction(runtime, root, record.block_number)
        sender, block_number = record.account, record.block_number
    else:
        transaction_hash, gas_used = sent.transaction_hash, sent.gas_used
        sender, block_number = account.address, sent.block_number
        if runtime.node.confirmations:
            # Final only once enough blocks follow; a reorganisation may have moved it to another block.
            final = wait_for_confirmations(w3, HexBytes(transaction_hash), runtime.node.confirmations)
            block_number = int(final["blockNumber"])
    block = w3.eth.get_block(block_number)
    return {
        "account": sender,
        "chain_id": runtime.node.chain_id,
        "contract": runtime.deployment.notary,
        "transaction_hash": transaction_hash,
        "block_number": block_number,
        "block_hash": HexBytes(block["hash"]).to_0x_hex(),
        "block_timestamp": int(block["timestamp"]),
        "gas_used": gas_used,
    }


def _anchoring_transaction(runtime: Runtime, root: bytes, block_number: int) -> tuple[str | None, int | None]:
    """The transaction that anchored `root` in `block_number`, found by its RootAnchored event."""
    w3 = runtime.node.w3
    logs = w3.eth.get_logs(
        {
            "address": runtime.notary.address,
            "fromBlock": block_number,
            "toBlock": block_number,
            "topics": [ROOT_ANCHORED_TOPIC, "0x" + root.hex()],
        }
    )
    if not logs:
        return None, None
    transaction_hash = HexBytes(logs[0]["transactionHash"])
    receipt = w3.eth.get_transaction_receipt(transaction_hash)
    return transaction_hash.to_0x_hex(), int(receipt["gasUsed"])


def finish_batch(runtime: Runtime, account: LocalAccount, batch: BatchToAnchor) -> int:
    """Anchor (idempotently) and run T2; returns the number of documents that became anchored."""
    fields = anchor_on_chain(runtime, account, batch)
    with runtime.transaction() as session:
        return repository.mark_anchored(session, batch.id, fields)


def reconcile_anchors(runtime: Runtime, accounts: AnchoringAccounts | None = None) -> list[str]:
    """Check every anchored batch against the chain; anchor again what the node lost; report divergences.

    The database is the system of record and the chain its witness: a root the node no longer has (a node that
    lost its last blocks) is anchored again and the batch's chain fields point at the new transaction (the old one
    is logged). A root the chain holds for another administration or with another size is reported, never
    rewritten. Returns one line per repair or divergence.
    """
    accounts = accounts or AnchoringAccounts(runtime)
    lines: list[str] = []
    after = 0
    while True:
        with runtime.transaction() as session:
            page = repository.batches_with_status(session, "anchored", after_id=after, limit=RECONCILE_PAGE)
        if not page:
            break
        after = page[-1].id
        for batch in page:
            root = bytes.fromhex(batch.root)
            record = runtime.notary.anchor_of(root)
            if record.size == 0:
                try:
                    fields = anchor_on_chain(runtime, accounts.of(batch.administration_id), batch)
                except Exception as exc:
                    lines.append(
                        f"batch {batch.id} ({batch.code}): root 0x{batch.root} is not on chain and anchoring it "
                        f"again failed ({type(exc).__name__}: {exc}); the next reconciliation retries"
                    )
                    continue
                with runtime.transaction() as session:
                    repository.update_anchor(session, batch.id, fields)
                lines.append(
                    f"batch {batch.id} ({batch.code}): root 0x{batch.root} was not on chain; anchored again in "
                    f"{fields['transaction_hash']} (block {fields['block_number']}), "
                    f"first anchored in {batch.transaction_hash}"
                )
            elif record.administration != bytes.fromhex(batch.registry_id[2:]) or record.size != batch.size:
                lines.append(
                    f"batch {batch.id} ({batch.code}): root 0x{batch.root} diverges: on chain administration "
                    f"0x{record.administration.hex()} size {record.size}, in the database {batch.registry_id} "
                    f"size {batch.size}; left as it is"
                )
    for line in lines:
        log.warning("anchors differed from the database: %s", line)
    return lines


class AnchoringWorker:
    """Anchors what is due, in a thread of the API process (`segell up`) or of its own process (`segell worker`).

    A batch is due when an administration has `batch_max_size` documents in the outbox, or when its oldest one
    has waited `batch_max_wait` seconds. While work is due the worker loops without sleeping; otherwise it looks
    again every `poll_seconds`, or at once after `notify()` or, on PostgreSQL, once any process commits batches
    built for it (`repository.wake_leader`): the last batch of a bulk request is not left waiting for
    the next poll.

    Example::

        worker = AnchoringWorker(runtime)
        worker.start()
        ...
        worker.notify()  # documents were accepted: look now
        worker.stop()
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        poll_seconds: float = POLL_SECONDS,
        reconcile_every: float = RECONCILE_EVERY_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.leader_poll_seconds = runtime.settings.section(NotarySettings).leader_poll_seconds
        self.accounts = AnchoringAccounts(runtime)
        self.poll_seconds = poll_seconds
        self.reconcile_every = reconcile_every
        self.stale_after = stale_after
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()
        self._resumed_all = False
        self._next_stale_scan = 0.0
        self._retries: dict[int, tuple[float, int]] = {}  # batch id -> (monotonic time of next try, failures)
        self._waiting: dict[int, float] = {}  # administration id -> monotonic time its outbox is looked at again
        self._said: set[str] = set()
        # One leader anchors among the processes that share a PostgreSQL database; on SQLite there is one process.
        self._leader = LeaderLock(runtime.engine, LEADER_LOCK) if is_shared_database(runtime.engine) else None
        self._leader_checked = 0.0

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the anchoring worker is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="segell-anchoring", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the worker to stop after the batch in hand, and wait for its thread to end."""
        self._stopping.set()
        self.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the anchoring worker did not stop within %.0f s", timeout)
            self._thread = None
        if self._leader is not None:
            self._leader.resign()

    def notify(self) -> None:
        """Look at the outbox now rather than at the next poll (documents were just accepted)."""
        self._wake.set()
        if self._leader is not None and self._leader.leading:
            # The leader waits on its connection (`_wait_for_work`), not on `_wake`.
            try:
                with self.runtime.transaction() as session:
                    repository.wake_leader(session)
            except Exception:  # the database is unreachable: the wait ends at the next poll
                log.debug("could not wake the anchoring leader's connection", exc_info=True)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def leading(self) -> bool:
        """Whether this worker anchors: it holds the leader lock, or it is the only one (SQLite)."""
        return self._leader is None or self._leader.leading

    def _lead(self) -> bool:
        """Take or keep the lead; True when this worker is to anchor now. A worker that takes over starts as a
        worker that starts does: it finishes every batch left in "anchoring", whatever its age."""
        if self._leader is None:
            return True
        now = time.monotonic()
        if self._leader.leading and now < self._leader_checked + self.leader_poll_seconds:
            return True
        self._leader_checked = now
        was_leading = self._leader.leading
        try:
            leading = self._leader.try_lead()
        except Exception as exc:
            self._say_once("leader", f"could not ask the database for the anchoring lead ({type(exc).__name__}: {exc})")
            return False
        if leading and not was_leading:
            self._said.discard("leader")
            self._resumed_all = False
            self._retries.clear()
            self._waiting.clear()
            log.info("process %s leads the anchoring", os.getpid())
        elif was_leading and not leading:
            log.warning("process %s no longer leads the anchoring", os.getpid())
        return leading

    def _run(self) -> None:
        next_reconcile = time.monotonic()  # reconcile at start, once interrupted batches are finished
        while not self._stopping.is_set():
            was_leading = self.leading
            if not self._lead():
                self._stopping.wait(self.leader_poll_seconds)
                continue
            if not was_leading:
                next_reconcile = time.monotonic()  # a new leader reconciles as a starting worker does
            try:
                anchored = self.run_once()
            except Exception:
                log.exception("anchoring pass failed; trying again in 1 s")
                self._stopping.wait(1.0)
                continue
            if time.monotonic() >= next_reconcile and not self._stopping.is_set():
                try:
                    reconcile_anchors(self.runtime, self.accounts)
                except Exception:
                    log.exception("reconciling anchors failed; trying again at the next round")
                next_reconcile = time.monotonic() + self.reconcile_every
            if anchored == 0:
                self._wait_for_work()
                self._wake.clear()

    def _wait_for_work(self) -> None:
        """Until `poll_seconds` pass or `notify()` is called; on PostgreSQL the leader's connection waits, until
        `poll_seconds` pass or a transaction of any process wakes it (`repository.wake_leader`)."""
        started = time.monotonic()
        if self._leader is not None and not self._wake.is_set() and self._leader.wait_for_wake(self.poll_seconds):
            return
        self._wake.wait(max(0.0, self.poll_seconds - (time.monotonic() - started)))

    # -- one pass -------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Finish interrupted batches that are due, then anchor every due batch; returns documents anchored."""
        with self._pass_lock:
            anchored = self._resume()
            anchored += self._anchor_built()
            anchored += self._anchor_due()
            return anchored

    def _resume(self) -> int:
        now = time.monotonic()
        retry_due = any(at <= now for at, _ in self._retries.values())
        if self._resumed_all and not retry_due and now < self._next_stale_scan:
            return 0
        with self.runtime.transaction() as session:
            candidates = repository.batches_with_status(session, "anchoring")
        stale_before = datetime.now(UTC).timestamp() - self.stale_after
        anchored = 0
        for batch in candidates:
            if self._stopping.is_set():
                break
            retry = self._retries.get(batch.id)
            if retry is not None:
                if retry[0] > now:
                    continue
            elif self._resumed_all and batch.created_at.timestamp() > stale_before:
                continue  # another worker may be between its T1 and T2
            if batch.id not in self._retries:
                log.info("finishing batch %s of %s left in anchoring (%s documents)", batch.id, batch.code, batch.size)
            anchored += self._finish(batch)
        self._resumed_all = True
        if now >= self._next_stale_scan:
            self._next_stale_scan = now + min(5.0, self.stale_after)
        return anchored

    def _anchor_built(self) -> int:
        """Anchor the batches filled when their documents were accepted (`POST /v1/documents/batch`), oldest first."""
        with self.runtime.transaction() as session:
            built = repository.batches_with_status(session, "built")
        clock = time.monotonic()
        anchored = 0
        for batch in built:
            if self._stopping.is_set():
                break
            if self._waiting.get(batch.administration_id, 0.0) > clock:
                continue  # its administration's last anchoring failed: it waits with the rest
            with self.runtime.transaction() as session:
                claimed = repository.claim_built(session, batch.id)
            if claimed:
                anchored += self._finish(batch)
        return anchored

    def _anchor_due(self) -> int:
        settings = self.runtime.settings.section(NotarySettings)
        with self.runtime.transaction() as session:
            pending = repository.pending_by_administration(session)
        now, clock = datetime.now(UTC), time.monotonic()
        anchored = 0
        for administration in pending:
            if administration.status != "active":
                self._say_once(
                    f"suspended:{administration.administration_id}",
                    f"administration {administration.code} is {administration.status}: its {administration.count} "
                    "pending documents wait until it is reinstated",
                )
                continue
            self._said.discard(f"suspended:{administration.administration_id}")
            if self._waiting.get(administration.administration_id, 0.0) > clock:
                continue
            remaining = administration.count
            due = remaining >= settings.batch_max_size or (
                (now - administration.oldest).total_seconds() >= settings.batch_max_wait
            )
            while due and not self._stopping.is_set():
                batch = build_batch(self.runtime, administration.administration_id)
                if batch is None:
                    break
                remaining -= batch.size
                finished = self._finish(batch)
                if batch.id in self._retries:
                    break  # the chain refused or is unreachable: the rest of the outbox waits too
                anchored += finished
                due = remaining >= settings.batch_max_size
        return anchored

    def _finish(self, batch: BatchToAnchor) -> int:
        try:
            anchored = finish_batch(self.runtime, self.accounts.of(batch.administration_id), batch)
        except NotActiveMember:
            self._retry_later(batch)
            self._say_once(
                f"inactive:{batch.administration_id}",
                f"administration {batch.code} is not an active member on chain (suspended?): its batches wait "
                "in anchoring and are retried",
            )
            return 0
        except AnchorDiverged as exc:
            self._retry_later(batch)
            self._say_once(f"diverged:{batch.id}", f"batch {batch.id} is not anchored: {exc}", level=logging.ERROR)
            return 0
        except Exception as exc:
            delay = self._retry_later(batch)
            self._say_once(
                f"failed:{batch.id}",
                f"anchoring batch {batch.id} of {batch.code} failed ({type(exc).__name__}: {exc}); "
                f"it stays in anchoring and is retried (next in {delay:.1f} s)",
            )
            return 0
        self._retries.pop(batch.id, None)
        self._waiting.pop(batch.administration_id, None)
        self._said.difference_update({f"inactive:{batch.administration_id}", f"failed:{batch.id}"})
        return anchored

    def _retry_later(self, batch: BatchToAnchor) -> float:
        _, failures = self._retries.get(batch.id, (0.0, 0))
        delay: float = min(LAST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2**failures)
        at = time.monotonic() + delay
        self._retries[batch.id] = (at, failures + 1)
        self._waiting[batch.administration_id] = at
        return delay

    def _say_once(self, key: str, message: str, level: int = logging.WARNING) -> None:
        if key not in self._said:
            self._said.add(key)
            log.log(level, message)


def serve_worker(runtime_factory: Callable[[], Runtime], *, reconcile_every: float = RECONCILE_EVERY_SECONDS) -> None:
    """Run an anchoring worker in the foreground until SIGTERM or SIGINT (`segell worker`)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = runtime_factory()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    worker = AnchoringWorker(runtime, reconcile_every=reconcile_every)
    try:
        worker.start()
        node, notary = runtime.node, runtime.settings.section(NotarySettings)
        print(
            f"Segell anchoring worker is up (process {os.getpid()})\n"
            f"  chain      {node.backend} (chain id {node.chain_id}, node {node.endpoint})\n"
            f"  notary     {runtime.deployment.notary}\n"
            f"  database   {runtime.engine.url.render_as_string(hide_password=True)}\n"
            f"  batches    up to {notary.batch_max_size} documents, "
            f"or after {notary.batch_max_wait} s",
            file=sys.stderr,
            flush=True,
        )
        while not stopping.wait(1.0):
            if not worker.running:
                raise RuntimeError("the anchoring worker thread ended")
    finally:
        worker.stop()
        runtime.stop()


__all__ = [
    "AnchorDiverged",
    "AnchoringAccounts",
    "AnchoringWorker",
    "anchor_on_chain",
    "build_batch",
    "finish_batch",
    "reconcile_anchors",
    "serve_worker",
]
