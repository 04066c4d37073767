"""Sending a transaction from a local account: fill it in, sign it here, send it raw, wait for the receipt.

Every contract client sends through `send_transaction`; no node ever holds a Segell private key.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TimeExhausted
from web3.types import TxParams, TxReceipt

__all__ = ["GAS_MARGIN", "ReceiptNotFinal", "guard_nonces", "send_transaction", "wait_for_confirmations"]

#: Gas limit = estimate x GAS_MARGIN: an estimate is exact for the state it ran on, and state moves on.
GAS_MARGIN = 1.2

_locks_guard = threading.Lock()
_nonce_locks: weakref.WeakKeyDictionary[object, dict[str, threading.Lock]] = weakref.WeakKeyDictionary()
_nonce_guards: weakref.WeakKeyDictionary[object, Callable[[str], AbstractContextManager[Any]]] = (
    weakref.WeakKeyDictionary()
)


def guard_nonces(w3: Web3, guard: Callable[[str], AbstractContextManager[Any]]) -> None:
    """Send every transaction through `w3` under ``guard(address)`` too, taken inside the thread lock.

    The thread lock keeps one process's threads from reusing a nonce; processes that send from the same account
    through their own connections to one node (several API processes and a worker) need a lock they all see,
    which `guard` gives (Segell's services pass a PostgreSQL advisory lock per address).

    Example::

        guard_nonces(node.w3, lambda address: file_lock(f"/run/nonce-{address}"))
    """
    with _locks_guard:
        _nonce_guards[w3.provider] = guard


def _nonce_lock(w3: Web3, address: str) -> threading.Lock:
    with _locks_guard:
        per_provider = _nonce_locks.setdefault(w3.provider, {})
        return per_provider.setdefault(address, threading.Lock())


def send_transaction(w3: Web3, account: LocalAccount, tx: TxParams, *, timeout: float = 120.0) -> TxReceipt:
    """Fill in, sign locally and send ``tx`` from ``account``; return its receipt once mined.

    Missing fields are filled: ``chainId``, ``nonce`` (the node's pending count, taken under a per-account
    lock so that threads sending from one account never reuse a nonce, and under the `guard_nonces` guard of
    the provider when one was given, so that processes do not either), ``gas`` (estimate x `GAS_MARGIN`) and
    fees (EIP-1559 ``maxFeePerGas = 2 x base fee + tip`` when the chain has a base fee, else ``gasPrice``).

    A reverted transaction is returned with ``status == 0``; a revert found while estimating gas raises web3's
    ``ContractCustomError``/``ContractLogicError`` with the revert data, before anything is sent.

    Example::

        receipt = send_transaction(node.w3, account, {"to": other.address, "value": 10**18})
        assert receipt["status"] == 1
    """
    with _nonce_lock(w3, account.address), _nonce_guard(w3, account.address):
        filled = _fill(w3, account, tx)
        signed = account.sign_transaction(cast(dict[str, Any], filled))
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=timeout, poll_latency=0.05)


class ReceiptNotFinal(TimeoutError):
    """A transaction did not get its confirmations in time (the chain stalled, or reorganised it away)."""


def wait_for_confirmations(
    w3: Web3, transaction_hash: bytes, confirmations: int, *, timeout: float = 120.0, poll_seconds: float = 0.2
) -> TxReceipt:
    """The transaction's receipt once ``confirmations`` blocks follow the block that holds it.

    The receipt is read again at the end, so a transaction that a reorganisation moved to another block is
    waited for in its new block. With ``confirmations == 0`` the current receipt is returned at once.

    Raises:
        ReceiptNotFinal: no confirmed receipt within ``timeout`` seconds.

    Example::

        receipt = send_transaction(w3, account, tx)
        final = wait_for_confirmations(w3, receipt["transactionHash"], 2)
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            receipt = w3.eth.wait_for_transaction_receipt(
                HexBytes(transaction_hash), timeout=max(deadline - time.monotonic(), 0.01), poll_latency=poll_seconds
            )
        except TimeExhausted:
            receipt = None
        if receipt is not None and w3.eth.block_number >= int(receipt["blockNumber"]) + confirmations:
            final = w3.eth.get_transaction_receipt(HexBytes(transaction_hash))
            if final["blockHash"] == receipt["blockHash"]:
                return final
        if time.monotonic() >= deadline:
            raise ReceiptNotFinal(
                f"transaction 0x{bytes(transaction_hash).hex()} has not had {confirmations} confirmations within "
                f"{timeout:.0f} s: is the chain producing blocks?"
            )
        time.sleep(poll_seconds)


def _nonce_guard(w3: Web3, address: str) -> AbstractContextManager[Any]:
    with _locks_guard:
        guard = _nonce_guards.get(w3.provider)
    return nullcontext() if guard is None else guard(address)


def _fill(w3: Web3, account: LocalAccount, tx: TxParams) -> TxParams:
    filled: dict[str, Any] = dict(tx)
    filled["from"] = account.address
    filled.setdefault("value", 0)
    filled.setdefault("chainId", w3.eth.chain_id)
    if "nonce" not in filled:
        filled["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
    if "gas" not in filled:
        estimate_request = {k: v for k, v in filled.items() if k in ("from", "to", "value", "data")}
        estimate = w3.eth.estimate_gas(cast(TxParams, estimate_request))
        filled["gas"] = int(estimate * GAS_MARGIN)
    if "gasPrice" not in filled and "maxFeePerGas" not in filled:
        base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:
            filled["gasPrice"] = w3.eth.gas_price
        else:
            tip = filled.get("maxPriorityFeePerGas")
            if tip is None:
                tip = w3.eth.max_priority_fee
                filled["maxPriorityFeePerGas"] = tip
            filled["maxFeePerGas"] = 2 * int(base_fee) + int(tip)
    filled.pop("from")
    return cast(TxParams, filled)
