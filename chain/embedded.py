"""The embedded chain: py-evm in this process (through eth-tester), durable through a block journal.

py-evm keeps its state in memory. What makes the chain survive a stop, or a kill -9, is a journal in the
state directory, ``embedded-journal.jsonl``: one line per block, appended and fsync'd before the transaction
that made the block is acknowledged. py-evm is deterministic, so replaying the same transactions with the same
timestamps rebuilds the same blocks, hashes and receipts; every replayed block hash is checked against the
recorded one.

Journal lines are ``<crc32 as 8 hex digits> <JSON>\\n``. The first line describes the genesis::

    {"kind": "genesis", "format": 1, "chain_id": ..., "fork": "cancun", "timestamp": ..., "gas_limit": ...,
     "alloc": {"0xAddress": wei, ...}, "hash": "0x..."}

and every other line one mined block::

    {"kind": "block", "number": n, "timestamp": t, "balances": {"0xAddress": wei}, "txs": ["0x<raw tx>"],
     "hash": "0x..."}

``balances`` (usually empty) tops up accounts asked for at a later start. A torn last line (the process died
while writing it) is dropped: its transaction had not been acknowledged. Damage before the last line, or a
replay that yields another block hash, stops the start with `JournalError`.

Rules that keep blocks reproducible:

- One block per accepted raw transaction (``eth_sendRawTransaction``); the block timestamp is
  ``max(parent + 1, now)`` and recorded; prevrandao is ``keccak("segell.prevrandao" ‖ parent hash)``.
- Nothing else changes state: ``eth_sendTransaction`` (unlocked accounts), ``evm_mine``, ``evm_snapshot``,
  ``evm_revert`` and ``testing_timeTravel`` are refused. Sign transactions locally (`chain.transactions`).
- The EVM rules are py-evm's Cancun fork, matching contracts compiled with ``evmVersion: cancun``
  (PUSH0, MCOPY, TSTORE/TLOAD). Blob (type 3) transactions are refused.

The chain id is eth-tester's default, 131277322940537, unless another is given at first start (it is then
kept in the journal). Requests are served under one lock, so a `Web3` on this node may be shared by threads.
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from eth.chains.base import MiningChain
from eth.consensus.applier import ConsensusApplier
from eth.consensus.noproof import NoProofConsensus
from eth.db import get_db_backend
from eth.exceptions import Revert, VMError
from eth.vm.forks.cancun import CancunVM
from eth.vm.spoof import SpoofTransaction
from eth_tester import EthereumTester
from eth_tester.backends.pyevm.main import PyEVMBackend, _get_block_by_number, get_default_genesis_params
from eth_tester.backends.pyevm.serializers import serialize_transaction, serialize_transaction_receipt
from eth_tester.exceptions import TransactionFailed, TransactionNotFound
from eth_typing import ChecksumAddress, Hash32
from eth_utils.address import to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as EVMValidationError
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from segell.chain.durable import fsync_directory
from segell.chain.nodes import Backend, ChainNode, JournalError, NodeStartFailed, NodeUnreachable, StateDirLock

__all__ = [
    "EMBEDDED_CHAIN_ID",
    "GENESIS_GAS_LIMIT",
    "JOURNAL_NAME",
    "BlockJournal",
    "EmbeddedChain",
    "EmbeddedNode",
    "EmbeddedProvider",
    "JournalContents",
]

EMBEDDED_CHAIN_ID = 131277322940537
GENESIS_GAS_LIMIT = 30_000_000
JOURNAL_NAME = "embedded-journal.jsonl"
JOURNAL_FORMAT = 1
FORK = "cancun"

_REFUSED_METHODS = {
    "eth_sendTransaction": "the embedded chain accepts only locally signed transactions: sign with "
    "eth-account and use eth_sendRawTransaction (chain.transactions.send_transaction does both)",
    "eth_sign": "the embedded chain holds no keys: sign locally with eth-account",
    "eth_signTransaction": "the embedded chain holds no keys: sign locally with eth-account",
    "evm_mine": "blocks are mined only by eth_sendRawTransaction, so that the journal can replay them",
    "evm_snapshot": "snapshots are not supported: the embedded chain only grows (use a new state_dir)",
    "evm_revert": "reverting is not supported: the embedded chain only grows (use a new state_dir)",
    "testing_timeTravel": "time travel is not supported: block timestamps follow the clock and are journaled",
}
_PREVRANDAO_DOMAIN = b"segell.prevrandao"
_BLOB_TX_TYPE = 3
_ZERO_ADDRESS = "0x" + "00" * 20
_FEE_FIELDS = ("gas_price", "max_fee_per_gas", "max_priority_fee_per_gas")


class _Reverted(Exception):
    """An eth_call or eth_estimateGas hit REVERT; carries the revert data so it reaches web3 like a node's."""

    def __init__(self, data: bytes) -> None:
        super().__init__("execution reverted")
        self.data = data


class _Refused(Exception):
    """A request the embedded chain does not serve; the message says what to do instead."""


# ----------------------------------------------------------------------------------------------------
# Journal


@dataclass
class JournalContents:
    """What a journal file holds: the genesis record, the block records, and where valid data ends."""

    genesis: dict[str, Any] | None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    valid_length: int = 0
    torn_bytes: int = 0


def _encode_record(record: Mapping[str, Any]) -> bytes:
    body = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _decode_line(line: bytes) -> dict[str, Any] | None:
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class BlockJournal:
    """Append-only, fsync'd record of the embedded chain's blocks (format: see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def read(self) -> JournalContents:
        """Parse the journal; a damaged last line is reported in ``torn_bytes``, earlier damage raises."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return JournalContents(genesis=None)
        records: list[dict[str, Any]] = []
        offset = 0
        lines = data.split(b"\n")
        for index, line in enumerate(lines):
            is_last = index >= len(lines) - 2  # the final complete line, or the unterminated tail
            if index == len(lines) - 1:  # bytes after the last newline: a write that did not finish
                break
            record = _decode_line(line)
            if record is None:
                if is_last:
                    break
                raise JournalError(
                    f"{self.path} is damaged at byte {offset} (line {index + 1}), before its last record. "
                    "The chain cannot be rebuilt from it: move the state directory aside and start a new "
                    "chain (the services' reconciler re-anchors what the new chain lacks)"
                )
            records.append(record)
            offset += len(line) + 1
        genesis: dict[str, Any] | None = None
        if records:
            genesis = records.pop(0)
            if genesis.get("kind") != "genesis" or genesis.get("format") != JOURNAL_FORMAT:
                raise JournalError(
                    f"{self.path} does not start with a format {JOURNAL_FORMAT} genesis record: "
                    "it was written by another version of Segell or is not a journal"
                )
        return JournalContents(genesis, records, offset, len(data) - offset)

    def open_for_append(self, valid_length: int) -> None:
        """Drop anything after ``valid_length`` (a torn record) and get ready to append."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size != valid_length:
                os.ftruncate(fd, valid_length)
                os.fsync(fd)
            os.lseek(fd, valid_length, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if valid_length == 0:
            fsync_directory(self.path.parent)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record and fsync it; return only once it is on disk."""
        if self._fd is None:
            raise RuntimeError("journal is not open for appending")
        view = memoryview(_encode_record(record))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# ----------------------------------------------------------------------------------------------------
# py-evm chain


def _make_chain_class(chain_id: int) -> type[MiningChain]:
    vm_configuration = ConsensusApplier(NoProofConsensus).amend_vm_configuration(((0, CancunVM),))

    class SegellEmbeddedChain(MiningChain):
        def create_header_from_parent(self, parent_header: Any, **header_params: Any) -> Any:
            # A fixed gas limit, as on anvil and a Besu QBFT network.
            header_params["gas_limit"] = parent_header.gas_limit
            return super().create_header_from_parent(parent_header, **header_params)

        def get_transaction_builder(self) -> Any:  # used by eth-tester for calls and gas estimates
            return self.get_vm().get_transaction_builder()

    SegellEmbeddedChain.chain_id = chain_id
    SegellEmbeddedChain.vm_configuration = vm_configuration
    return SegellEmbeddedChain


class _JournaledBackend(PyEVMBackend):  # type: ignore[misc]
    """eth-tester's py-evm backend with a pinned genesis, reproducible mining and indexed look-ups."""

    def __init__(self, *, chain_id: int, timestamp: int, gas_limit: int, alloc: Mapping[str, int]) -> None:
        # PyEVMBackend.__init__ would fund ten well-known keys and read the clock: build the chain here.
        params = get_default_genesis_params({"timestamp": timestamp, "gas_limit": gas_limit})
        state: dict[Any, Any] = {
            to_canonical_address(address): {"balance": wei, "nonce": 0, "code": b"", "storage": {}}
            for address, wei in alloc.items()
        }
        self.account_keys: tuple[Any, ...] = ()
        chain_class = _make_chain_class(chain_id)
        self.chain: MiningChain = cast(MiningChain, chain_class.from_genesis(get_db_backend(), params, state))

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\x00" * 20) -> tuple[bytes, ...]:
        hashes = []
        for _ in range(num_blocks):
            mix_hash = keccak(_PREVRANDAO_DOMAIN + bytes(self.chain.header.parent_hash))
            hashes.append(self.chain.mine_block(coinbase=coinbase, mix_hash=mix_hash).hash)
        return tuple(hashes)

    def _find_transaction(self, transaction_hash: bytes) -> tuple[Any, Any, int, bool]:
        # eth-tester scans every block backwards; py-evm already keeps a hash -> (block, index) index.
        pending = self.chain.get_block()
        for index, transaction in enumerate(pending.transactions):
            if transaction.hash == transaction_hash:
                return pending, transaction, index, True
        try:
            number, index = self.chain.chaindb.get_transaction_index(Hash32(transaction_hash))
        except Exception as exc:
            raise TransactionNotFound(f"No transaction found with hash 0x{transaction_hash.hex()}") from exc
        block = self.chain.get_canonical_block_by_number(number)
        return block, block.transactions[index], index, False

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, transaction, index, is_pending = self._find_transaction(transaction_hash)
        return serialize_transaction(block, transaction, index, is_pending)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, transaction, index, is_pending = self._find_transaction(transaction_hash)
        receipts = block.get_receipts(self.chain.chaindb)
        vm = self.chain.get_vm()
        return serialize_transaction_receipt(block, receipts, transaction, index, is_pending, vm)

    def call(self, transaction: dict[str, Any], block_number: Any = "latest") -> bytes:
        request, free = _without_fees(transaction)
        request.setdefault("gas", self._max_available_gas())
        unsigned = self._get_normalized_and_unsigned_evm_transaction(request, block_number)
        header = _get_block_by_number(self.chain, block_number).header
        if free:
            header = header.copy(base_fee_per_gas=0)
        state = self.chain.get_vm(header).state
        snapshot = state.snapshot()
        try:
            spoofed = SpoofTransaction(unsigned, from_=transaction["from"])
            computation = state.apply_transaction(spoofed)  # type: ignore[arg-type]
        finally:
            state.revert(snapshot)
        if computation.is_error:
            error = computation.error
            if isinstance(error, Revert):
                raise _Reverted(bytes(error.args[0]) if error.args else b"")
            raise TransactionFailed(str(error))
        return computation.output

    def estimate_gas(self, transaction: dict[str, Any], block_number: Any = "latest") -> int:
        try:
            return cast(int, super().estimate_gas(_without_fees(transaction)[0], block_number))
        except TransactionFailed as exc:
            if isinstance(exc.__cause__, Revert):
                cause = exc.__cause__
                raise _Reverted(bytes(cause.args[0]) if cause.args else b"") from exc
            raise


def _without_fees(transaction: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    # Like geth and anvil: a call or estimate that names no fee costs nothing, so any sender (even the zero
    # address) can read; eth-tester would otherwise charge 1 gwei per gas up front.
    if any(key in transaction for key in _FEE_FIELDS):
        return dict(transaction), False
    return {**transaction, "max_fee_per_gas": 0, "max_priority_fee_per_gas": 0}, True


class EmbeddedChain:
    """The journaled py-evm chain behind an `EmbeddedNode`; every method takes the node's lock."""

    def __init__(self, state_dir: Path, *, chain_id: int = EMBEDDED_CHAIN_ID) -> None:
        self.lock = threading.RLock()
        self.journal = BlockJournal(state_dir / JOURNAL_NAME)
        self.requested_chain_id = chain_id
        self.replayed_blocks = 0
        self.dropped_torn_bytes = 0
        self._stopped = False
        self._broken: str | None = None
        self.backend: _JournaledBackend
        self.tester: EthereumTester

    # -- start -------------------------------------------------------------------------------------------

    def open(self, genesis_accounts: Mapping[ChecksumAddress, int]) -> None:
        """Create the genesis or rebuild the recorded chain, then top up `genesis_accounts` holding less."""
        with self.lock:
            contents = self.journal.read()
            self.dropped_torn_bytes = contents.torn_bytes
            if contents.genesis is None:
                genesis = {
                    "kind": "genesis",
                    "format": JOURNAL_FORMAT,
                    "chain_id": self.requested_chain_id,
                    "fork": FORK,
                    "timestamp": int(time.time()),
                    "gas_limit": GENESIS_GAS_LIMIT,
                    "alloc": dict(sorted(genesis_accounts.items())),
                }
                self._build(genesis)
                genesis["hash"] = self._head_hash()
                self.journal.open_for_append(0)
                self.journal.append(genesis)
            else:
                self._build(contents.genesis)
                if self._head_hash() != contents.genesis.get("hash"):
                    raise JournalError(
                        f"{self.journal.path}: the genesis rebuilds to block {self._head_hash()}, not the "
                        f"recorded {contents.genesis.get('hash')}; this version of py-evm or Segell builds "
                        "other blocks. Use the versions the chain was created with, or move the state "
                        "directory aside"
                    )
                for record in contents.blocks:
                    self._replay(record)
                self.replayed_blocks = len(contents.blocks)
                self.journal.open_for_append(contents.valid_length)
            top_up = {
                address: wei
                for address, wei in genesis_accounts.items()
                if self.backend.chain.get_vm().state.get_balance(to_canonical_address(address)) < wei
            }
            if top_up:
                self._mine_journaled(raw_transactions=[], balances=top_up)

    @property
    def chain_id(self) -> int:
        return int(self.backend.chain.chain_id)

    def _build(self, genesis: Mapping[str, Any]) -> None:
        if genesis.get("fork") != FORK:
            raise JournalError(f"{self.journal.path} records fork {genesis.get('fork')!r}; this Segell runs {FORK}")
        self.backend = _JournaledBackend(
            chain_id=int(genesis["chain_id"]),
            timestamp=int(genesis["timestamp"]),
            gas_limit=int(genesis["gas_limit"]),
            alloc={str(k): int(v) for k, v in genesis["alloc"].items()},
        )
        self.tester = EthereumTester(backend=self.backend, auto_mine_transactions=True)

    def _replay(self, record: Mapping[str, Any]) -> None:
        chain = self.backend.chain
        number = int(record["number"])
        if number != chain.header.block_number:
            raise JournalError(
                f"{self.journal.path}: record for block {number} where block {chain.header.block_number} "
                "was expected; the journal is out of order. Move the state directory aside"
            )
        chain.set_header_timestamp(int(record["timestamp"]))
        self._set_balances(record.get("balances", {}))
        try:
            for raw in record["txs"]:
                self.backend.send_raw_transaction(bytes.fromhex(raw[2:]))
        except Exception as exc:
            raise JournalError(
                f"{self.journal.path}: block {number} no longer replays ({type(exc).__name__}: {exc}). "
                "Use the versions the chain was created with, or move the state directory aside"
            ) from exc
        self.backend.mine_blocks()
        if self._head_hash() != record["hash"]:
            raise JournalError(
                f"{self.journal.path}: block {number} replays to {self._head_hash()}, not the recorded "
                f"{record['hash']}; the chain cannot be rebuilt exactly. Use the versions the chain was "
                "created with, or move the state directory aside"
            )

    # -- writes ------------------------------------------------------------------------------------------

    def send_raw_transaction(self, raw_hex: str) -> str:
        """Apply one signed transaction in a new block, journal the block, and return the transaction hash."""
        with self.lock:
            self._check_writable()
            raw = bytes.fromhex(raw_hex[2:] if raw_hex.startswith(("0x", "0X")) else raw_hex)
            if raw[:1] == bytes([_BLOB_TX_TYPE]):
                raise _Refused("blob (type 3) transactions are not supported on the embedded chain")
            return self._mine_journaled(raw_transactions=[raw], balances={})

    def _mine_journaled(self, *, raw_transactions: list[bytes], balances: Mapping[ChecksumAddress, int]) -> str:
        chain = self.backend.chain
        parent = chain.get_canonical_head()
        timestamp = max(int(parent.timestamp) + 1, int(time.time()))
        chain.set_header_timestamp(timestamp)
        tx_hash = ""
        if raw_transactions:
            try:
                tx_hash = str(self.tester.send_raw_transaction("0x" + raw_transactions[0].hex()))
            except Exception as exc:
                # Invalid transactions (nonce, funds, signature, encoding) fail before any state changes.
                raise _Refused(f"transaction rejected: {type(exc).__name__}: {exc}") from exc
        else:
            self._set_balances(balances)
            self.tester.mine_blocks(1)
        head = chain.get_canonical_head()
        record = {
            "kind": "block",
            "number": int(head.block_number),
            "timestamp": int(head.timestamp),
            "balances": dict(sorted(balances.items())),
            "txs": ["0x" + raw.hex() for raw in raw_transactions],
            "hash": "0x" + bytes(head.hash).hex(),
        }
        try:
            self.journal.append(record)
        except OSError as exc:
            # The block exists in memory only: more blocks would build on one that a restart loses.
            self._broken = f"writing the journal failed ({exc}); restart the node once the disk is fixed"
            raise NodeStartFailed(f"embedded chain stopped accepting transactions: {self._broken}") from exc
        return tx_hash

    def _set_balances(self, balances: Mapping[ChecksumAddress, int]) -> None:
        if not balances:
            return
        chain = self.backend.chain
        state = chain.get_vm().state
        for address, wei in balances.items():
            state.set_balance(to_canonical_address(address), int(wei))
        state.persist()
        chain.header = chain.header.copy(state_root=state.state_root)

    def _check_writable(self) -> None:
        # Raised, not answered as a JSON-RPC error: callers must see that the node is gone, not that a request failed.
        if self._stopped:
            raise NodeUnreachable("the embedded node has been stopped; start Segell again")
        if self._broken:
            raise NodeUnreachable(self._broken)

    def _head_hash(self) -> str:
        return "0x" + bytes(self.backend.chain.get_canonical_head().hash).hex()

    def close(self) -> None:
        with self.lock:
            self._stopped = True
            self.journal.close()


# ----------------------------------------------------------------------------------------------------
# web3 provider and node


class EmbeddedProvider(EthereumTesterProvider):
    """A web3 provider over an `EmbeddedChain`: thread-safe, journaled writes, node-like revert data."""

    def __init__(self, chain: EmbeddedChain) -> None:
        from web3.providers.eth_tester.defaults import API_ENDPOINTS

        endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
        chain_id = chain.chain_id
        endpoints["eth"]["chainId"] = lambda *_: chain_id
        endpoints["net"]["version"] = lambda *_: str(chain_id)
        super().__init__(chain.tester, api_endpoints=endpoints)
        self.chain = chain

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        request_id = self._next_request_id()
        try:
            with self.chain.lock:
                if method in _REFUSED_METHODS:
                    reason = _REFUSED_METHODS[method]
                    raise _Refused(f"{method} is not supported on the embedded chain: {reason}")
                if method == "eth_sendRawTransaction":
                    return _result(request_id, self.chain.send_raw_transaction(params[0]))
                self.chain._check_writable()
                if method in ("eth_call", "eth_estimateGas") and params and not params[0].get("from"):
                    # Like geth and anvil: no sender means the zero address (there is no default account).
                    params = [{**params[0], "from": _ZERO_ADDRESS}, *params[1:]]
                return super().make_request(method, params)
        except _Reverted as exc:
            return _error(request_id, 3, "execution reverted", "0x" + exc.data.hex())
        except _Refused as exc:
            return _error(request_id, -32000, str(exc))
        except (TransactionFailed, VMError, EVMValidationError) as exc:
            # Out of gas, a sender short of funds...: a node answers these as errors, never by failing.
            return _error(request_id, -32000, str(exc))

    def _next_request_id(self) -> str:
        with self.chain.lock:
            self._current_request_id += 1
            return str(self._current_request_id)


def _result(request_id: str, result: Any) -> RPCResponse:
    return cast(RPCResponse, {"jsonrpc": "2.0", "id": request_id, "result": result})


def _error(request_id: str, code: int, message: str, data: str | None = None) -> RPCResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return cast(RPCResponse, {"jsonrpc": "2.0", "id": request_id, "error": error})


class EmbeddedNode(ChainNode):
    """The in-process chain: nothing to install, durable in ``state_dir`` through its block journal.

    Example::

        with EmbeddedNode(state_dir=Path("/tmp/chain"), genesis_accounts={address: 10**21}) as node:
            node.w3.eth.get_balance(address)
    """

    backend: Backend = "embedded"

    def __init__(
        self,
        *,
        state_dir: Path,
        genesis_accounts: Mapping[ChecksumAddress, int] | None = None,
        chain_id: int = EMBEDDED_CHAIN_ID,
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self._lock = StateDirLock(state_dir, "embedded.lock")
        self._lock.acquire()
        try:
            self.chain = EmbeddedChain(state_dir, chain_id=chain_id)
            self.chain.open({to_checksum_address(a): w for a, w in (genesis_accounts or {}).items()})
        except BaseException:
            self._lock.release()
            raise
        self.w3 = Web3(EmbeddedProvider(self.chain))
        self.rpc_url = None
        self.chain_id = self.chain.chain_id
        self.is_local_dev = True

    def stop(self) -> None:
        self.chain.close()
        self._lock.release()
