"""Checking a proof bundle against the document and the chain, without asking Segell.

A proof bundle (docs/proof-bundle.md) holds everything needed to show that a document was notarised: the
document's hash, the leaf it became, the Merkle proof from that leaf to a root, and where that root was anchored.
:func:`verify_bundle` checks all of it with the document and any JSON-RPC node of the chain;
:func:`verify_bundle_proof` does the part that needs no network.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from . import _proof
from ._version import __version__
from .errors import RPCError, TransportError, UnexpectedResponseError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "BundleIssuer",
    "BundleRevocation",
    "BundleStatus",
    "BundleVerification",
    "verify_bundle",
    "verify_bundle_proof",
]

BUNDLE_FORMAT = "segell-proof-bundle"
BUNDLE_VERSION = 1
LEAF_ENCODING = ("bytes32", "bytes32", "bytes32", "uint256")

BundleStatus = Literal[
    "authentic",
    "proof_valid",
    "revoked",
    "wrong_document",
    "malformed_bundle",
    "tampered_proof",
    "other_chain",
    "root_not_on_chain",
]
"""The outcome of a verification: ``authentic``, ``proof_valid`` (offline check only) or why it failed."""

_ANCHOR_OF = _proof.selector("anchorOf(bytes32)")
_IS_REVOKED = _proof.selector("isRevoked(bytes32)")
_REVOCATION_OF = _proof.selector("revocationOf(bytes32)")
_ZERO_WORD = bytes(32)
_UINT64_LIMIT = 1 << 64


@dataclass(frozen=True, slots=True)
class BundleIssuer:
    """The administration that anchored the root.

    Attributes:
        administration: its ``bytes32`` registry id, ``0x`` + 64 hex digits (checked on chain).
        code: its public code as the bundle states it, e.g. ``"L01080193"``.
        name: its display name as the bundle states it.
        account: the chain account that anchored the root (read from the chain once checked).
    """

    administration: str
    code: str | None
    name: str | None
    account: str | None


@dataclass(frozen=True, slots=True)
class BundleRevocation:
    """The on-chain record of a revoked leaf.

    Attributes:
        reason: why the issuer revoked it.
        block_number: the block of the revocation.
        revoked_at: the timestamp of that block, in UTC.
    """

    reason: str
    block_number: int
    revoked_at: datetime


@dataclass(frozen=True, slots=True)
class BundleVerification:
    """The outcome of checking a proof bundle.

    Attributes:
        valid: ``True`` only when the document is authentic: the bundle is well formed, is the document's, its
            proof leads to its root, that root is anchored on the bundle's chain as the bundle says, and the leaf
            has not been revoked. (For :func:`verify_bundle_proof` alone: the offline checks passed.)
        status: ``"authentic"``; ``"proof_valid"`` when only the offline checks were made; otherwise why it
            failed: ``"malformed_bundle"``, ``"wrong_document"``, ``"tampered_proof"``, ``"other_chain"``,
            ``"root_not_on_chain"`` or ``"revoked"``.
        reason: the outcome in plain words, naming what differed.
        document_hash: SHA-256 of the document checked, ``0x`` + 64 hex digits.
        checked_on_chain: whether the chain was asked (``False`` for :func:`verify_bundle_proof` and for
            failures found before reaching it).
        root, leaf, leaf_index, tree_size: the Merkle tree the bundle places the document in.
        chain_id, contract, transaction_hash, block_number, block_hash: where the bundle says the root
            was anchored; once checked on chain, block number and hash are the chain's.
        anchored_at: when the root was anchored (the chain's record once checked, the bundle's before).
        issuer: the administration that anchored the root.
        revocation: the revocation record when the leaf is revoked, else ``None``.

    Fields the bundle did not provide in readable form (a malformed bundle) are ``None``.
    """

    valid: bool
    status: BundleStatus
    reason: str
    document_hash: str | None = None
    checked_on_chain: bool = False
    root: str | None = None
    leaf: str | None = None
    leaf_index: int | None = None
    tree_size: int | None = None
    chain_id: int | None = None
    contract: str | None = None
    transaction_hash: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    anchored_at: datetime | None = None
    issuer: BundleIssuer | None = None
    revocation: BundleRevocation | None = None


@dataclass(frozen=True, slots=True)
class _Bundle:
    document_hash: bytes
    salt: bytes
    administration: bytes
    leaf_index: int
    leaf: bytes
    proof: tuple[bytes, ...]
    root: bytes
    tree_size: int
    chain_id: int
    contract: str
    transaction_hash: str | None
    block_number: int
    block_hash: bytes | None
    timestamp: int | None
    issuer_code: str | None
    issuer_name: str | None
    issuer_account: str | None


class _MalformedBundle(ValueError):
    pass


def verify_bundle_proof(
    bundle: Mapping[str, Any] | str | os.PathLike[str],
    document_or_hash: str | os.PathLike[str] | bytes,
) -> BundleVerification:
    """Check a proof bundle against a document without any network: the offline half of :func:`verify_bundle`.

    Checks that the bundle is well formed (``malformed_bundle``), that it is the document's (``wrong_document``),
    and that its leaf and Merkle proof lead to its root from the leaf's position in a tree of its size
    (``tampered_proof``). Whether that root is anchored on chain, and the leaf not revoked, is left to
    :func:`verify_bundle`; on success the status is ``"proof_valid"``.

    Arguments:
        bundle: the parsed bundle JSON, or the path of a bundle file.
        document_or_hash: the document as ``bytes``, its path (``str`` or ``os.PathLike``; read in chunks), or its
            SHA-256 as 64 hex digits (``0x`` optional). A ``str`` of 64 hex digits is always taken as a hash: pass
            a :class:`pathlib.Path` for a file named like one.

    Raises:
        OSError: the document or bundle file cannot be read.

    Example::

        result = verify_bundle_proof(Path("acta.pdf.segell.json"), Path("acta.pdf"))
        print(result.status, result.reason)
    """
    verification, _ = _verify_offline(bundle, _document_hash(document_or_hash))
    return verification


def verify_bundle(
    bundle: Mapping[str, Any] | str | os.PathLike[str],
    document_or_hash: str | os.PathLike[str] | bytes,
    rpc_url: str,
    *,
    http: httpx.Client | None = None,
    timeout: float = 10.0,
) -> BundleVerification:
    """Check a proof bundle against a document and the chain, trusting nothing but a JSON-RPC node.

    After the offline checks of :func:`verify_bundle_proof`, asks the node (in one JSON-RPC batch) for its chain
    id (``other_chain`` if it is not the bundle's), for the Notary contract's record of the root and the block the
    bundle names (``root_not_on_chain`` unless the root is anchored there by the bundle's administration with the
    bundle's tree size, in that block, whose hash is the bundle's), and for the leaf's revocation
    (``revoked``, with the issuer's reason and when). A verification failure is returned, never raised.

    Arguments:
        bundle: the parsed bundle JSON, or the path of a bundle file.
        document_or_hash: the document as ``bytes``, its path, or its SHA-256 as 64 hex digits; see
            :func:`verify_bundle_proof`.
        rpc_url: any JSON-RPC endpoint of the chain: a node of the network, or Segell's read-only ``/rpc``.
        http: an ``httpx.Client`` to send the requests with, reused across calls to check many bundles over
            one connection. The caller keeps ownership (it is not closed). By default a client is opened and
            closed for this call.
        timeout: seconds to wait for the node, when ``http`` is not given.

    Raises:
        TransportError: the node cannot be reached or did not answer in time.
        RPCError: the node answered a request with a JSON-RPC error unrelated to the bundle (e.g. ``-32603``
            from ``/rpc`` when its own node is down).
        UnexpectedResponseError: ``rpc_url`` answered with something that is not JSON-RPC.
        OSError: the document or bundle file cannot be read.

    Example::

        with httpx.Client() as http:
            for bundle_path, document in pairs:
                result = verify_bundle(bundle_path, document, "https://segell.example/rpc", http=http)
                print(document, result.status, result.reason)
    """
    verification, parsed = _verify_offline(bundle, _document_hash(document_or_hash))
    if parsed is None:
        return verification
    if http is None:
        # Loading the CA bundle costs ~40 ms, twenty times the whole verification: a plain http:// URL needs none
        # (redirects are not followed, so the request cannot end up on https).
        plain_http = rpc_url.lower().startswith("http://")
        with httpx.Client(timeout=timeout, headers=_RPC_HEADERS, verify=not plain_http) as own:
            return _verify_on_chain(verification, parsed, _JsonRpc(rpc_url, own))
    return _verify_on_chain(verification, parsed, _JsonRpc(rpc_url, http))


# -- offline ----------------------------------------------------------------------------------------


def _document_hash(source: str | os.PathLike[str] | bytes) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return hashlib.sha256(source).digest()
    if isinstance(source, str):
        parsed = _proof.parse_hash(source)
        if parsed is not None:
            return parsed
    if isinstance(source, str | os.PathLike):
        return _proof.hash_file(source)
    raise TypeError(f"expected a document (bytes), its path or its SHA-256 in hex, got {type(source).__name__}")


def _verify_offline(
    bundle: Mapping[str, Any] | str | os.PathLike[str], document_hash: bytes
) -> tuple[BundleVerification, _Bundle | None]:
    hex_hash = _hex(document_hash)
    try:
        parsed = _parse_bundle(_load_bundle(bundle))
    except _MalformedBundle as exc:
        return BundleVerification(False, "malformed_bundle", f"The bundle is malformed: {exc}", hex_hash), None
    described = _describe(parsed, hex_hash)

    if parsed.document_hash != document_hash:
        reason = (
            f"This is not the document of the bundle: its SHA-256 is {hex_hash}, the bundle is for "
            f"{_hex(parsed.document_hash)}."
        )
        return replace(described, valid=False, status="wrong_document", reason=reason), None

    leaf = _proof.leaf_hash(parsed.document_hash, parsed.administration, parsed.salt, parsed.leaf_index)
    if leaf != parsed.leaf:
        reason = (
            f"The bundle's leaf {_hex(parsed.leaf)} is not the leaf of (document hash, administration, salt, "
            f"leaf index {parsed.leaf_index}), which is {_hex(leaf)}."
        )
        return replace(described, valid=False, status="tampered_proof", reason=reason), None
    expected_length = _proof.proof_length(parsed.leaf_index, parsed.tree_size)
    if len(parsed.proof) != expected_length:
        reason = (
            f"The proof has {len(parsed.proof)} elements, but leaf {parsed.leaf_index} of a tree of "
            f"{parsed.tree_size} leaves needs {expected_length}."
        )
        return replace(described, valid=False, status="tampered_proof", reason=reason), None
    reached = _proof.process_proof(leaf, parsed.proof)
    if reached != parsed.root:
        reason = f"The proof does not lead to the bundle's root {_hex(parsed.root)}: it leads to {_hex(reached)}."
        return replace(described, valid=False, status="tampered_proof", reason=reason), None

    reason = (
        f"The document is leaf {parsed.leaf_index} of {parsed.tree_size} in the tree of root {_hex(parsed.root)}; "
        "whether that root is anchored on chain has not been checked."
    )
    return replace(described, valid=True, status="proof_valid", reason=reason), parsed


def _describe(parsed: _Bundle, document_hash: str) -> BundleVerification:
    return BundleVerification(
        valid=False,
        status="malformed_bundle",
        reason="",
        document_hash=document_hash,
        root=_hex(parsed.root),
        leaf=_hex(parsed.leaf),
        leaf_index=parsed.leaf_index,
        tree_size=parsed.tree_size,
        chain_id=parsed.chain_id,
        contract=parsed.contract,
        transaction_hash=parsed.transaction_hash,
        block_number=parsed.block_number,
        block_hash=None if parsed.block_hash is None else _hex(parsed.block_hash),
        anchored_at=None if parsed.timestamp is None else datetime.fromtimestamp(parsed.timestamp, UTC),
        issuer=BundleIssuer(
            administration=_hex(parsed.administration),
            code=parsed.issuer_code,
            name=parsed.issuer_name,
            account=parsed.issuer_account,
        ),
    )


def _load_bundle(bundle: Mapping[str, Any] | str | os.PathLike[str]) -> Mapping[str, Any]:
    if isinstance(bundle, Mapping):
        return bundle
    text = Path(bundle).read_text(encoding="utf-8", errors="replace")
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise _MalformedBundle(f"{os.fspath(bundle)} is not JSON ({exc})") from None
    if not isinstance(loaded, Mapping):
        raise _MalformedBundle(f"{os.fspath(bundle)} holds JSON but not an object")
    return loaded


def _parse_bundle(data: Mapping[str, Any]) -> _Bundle:
    if not isinstance(data, Mapping):
        raise _MalformedBundle("a bundle is a JSON object")
    if data.get("format") != BUNDLE_FORMAT:
        raise _MalformedBundle(f"format is {data.get('format')!r}, not {BUNDLE_FORMAT!r}")
    if data.get("version") != BUNDLE_VERSION or isinstance(data.get("version"), bool):
        raise _MalformedBundle(f"version {data.get('version')!r} is not supported (this SDK reads version 1)")
    if data.get("hash_algorithm") != "sha-256":
        raise _MalformedBundle(f"hash_algorithm is {data.get('hash_algorithm')!r}, not 'sha-256'")
    if tuple(data.get("leaf_encoding") or ()) != LEAF_ENCODING:
        raise _MalformedBundle(f"leaf_encoding is {data.get('leaf_encoding')!r}, not {list(LEAF_ENCODING)!r}")
    proof = data.get("proof")
    if not isinstance(proof, list):
        raise _MalformedBundle("proof is not a list")
    chain = _object(data, "chain")
    issuer = data.get("issuer")
    if issuer is not None and not isinstance(issuer, Mapping):
        raise _MalformedBundle("issuer is not an object")
    issuer = issuer or {}
    tree_size = _integer(data, "tree_size", low=1, high=_UINT64_LIMIT - 1)
    transaction_hash = chain.get("transaction_hash")
    block_hash = chain.get("block_hash")
    timestamp = chain.get("timestamp")
    return _Bundle(
        document_hash=_bytes32(data, "document_hash"),
        salt=_bytes32(data, "salt"),
        administration=_bytes32(data, "administration"),
        leaf_index=_integer(data, "leaf_index", low=0, high=tree_size - 1),
        leaf=_bytes32(data, "leaf"),
        proof=tuple(_bytes32({"proof": item}, "proof", index=position) for position, item in enumerate(proof)),
        root=_bytes32(data, "root"),
        tree_size=tree_size,
        chain_id=_integer(chain, "chain_id", low=1, where="chain."),
        contract=_address(chain, "contract", where="chain."),
        transaction_hash=None if transaction_hash is None else _hex(_bytes32(chain, "transaction_hash", "chain.")),
        block_number=_integer(chain, "block_number", low=0, where="chain."),
        block_hash=None if block_hash is None else _bytes32(chain, "block_hash", "chain."),
        timestamp=None if timestamp is None else _integer(chain, "timestamp", low=0, where="chain."),
        issuer_code=_optional_text(issuer, "code"),
        issuer_name=_optional_text(issuer, "name"),
        issuer_account=None if issuer.get("account") is None else _address(issuer, "account", where="issuer."),
    )


def _object(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping):
        raise _MalformedBundle(f"{name} is missing or not an object")
    return value


def _bytes32(data: Mapping[str, Any], name: str, where: str = "", *, index: int | None = None) -> bytes:
    value = data.get(name)
    label = f"{where}{name}" + ("" if index is None else f"[{index}]")
    if not isinstance(value, str) or not value.startswith("0x"):
        raise _MalformedBundle(f"{label} is not 0x followed by 64 hex digits: {value!r}")
    parsed = _proof.parse_hash(value)
    if parsed is None:
        raise _MalformedBundle(f"{label} is not 0x followed by 64 hex digits: {value!r}")
    return parsed


def _address(data: Mapping[str, Any], name: str, *, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise _MalformedBundle(f"{where}{name} is not an address (0x + 40 hex digits): {value!r}")
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        raise _MalformedBundle(f"{where}{name} is not an address (0x + 40 hex digits): {value!r}") from None
    return value


def _integer(data: Mapping[str, Any], name: str, *, low: int, high: int | None = None, where: str = "") -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _MalformedBundle(f"{where}{name} is not an integer: {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _MalformedBundle(f"{where}{name} is {value}, it must be {bounds}")
    return value


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


# -- on chain ---------------------------------------------------------------------------------------

_RPC_HEADERS = {"Content-Type": "application/json", "User-Agent": f"segell-sdk/{__version__}"}


class _CallReverted(Exception):
    pass


class _JsonRpc:
    """Plain JSON-RPC 2.0 over an ``httpx.Client``: one batch per verification, single calls as a fallback."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self.http = http

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Results in order; an ``eth_call`` that reverted yields a ``_CallReverted`` instead of raising."""
        body = [
            {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
            for index, (method, params) in enumerate(calls)
        ]
        answer = self._post(body)
        if _is_json_rpc(answer):  # a node that does not take batches answers with one error
            return [self._single(index, method, params) for index, (method, params) in enumerate(calls)]
        if not isinstance(answer, list):
            raise self._unexpected(f"a JSON-RPC batch was answered with {_excerpt(answer)}")
        by_id = {entry.get("id"): entry for entry in answer if _is_json_rpc(entry)}
        results = []
        for index, (method, _) in enumerate(calls):
            entry = by_id.get(index)
            if entry is None:
                raise self._unexpected(f"the answer to {method} is missing from the batch")
            results.append(self._result(method, entry))
        return results

    def _single(self, index: int, method: str, params: list[Any]) -> Any:
        answer = self._post({"jsonrpc": "2.0", "id": index, "method": method, "params": params})
        if not _is_json_rpc(answer):
            raise self._unexpected(f"{method} was answered with {_excerpt(answer)}")
        return self._result(method, answer)

    def _result(self, method: str, entry: Mapping[str, Any]) -> Any:
        error = entry.get("error")
        if error is None:
            if "result" not in entry:
                raise self._unexpected(f"the answer to {method} has neither result nor error")
            return entry["result"]
        code = error.get("code") if isinstance(error, Mapping) else None
        if not isinstance(error, Mapping) or not isinstance(code, int):
            raise self._unexpected(f"the error answered to {method} is not a JSON-RPC error: {_excerpt(error)}")
        message = str(error.get("message", ""))
        # Error 3 (or a message naming a revert) is the contract refusing the call, not the node failing.
        if method == "eth_call" and (code == 3 or "revert" in message.lower()):
            return _CallReverted(message)
        raise RPCError(
            f"The JSON-RPC endpoint {self.url} answered {method} with error {code}: {message}",
            code=code,
            url=self.url,
            data=error.get("data"),
        )

    def _post(self, body: Any) -> Any:
        try:
            response = self.http.post(self.url, content=json.dumps(body), headers=_RPC_HEADERS)
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"The JSON-RPC endpoint {self.url} did not answer in time ({type(exc).__name__}). "
                "Check that the node is running, or pass an httpx.Client with a longer timeout.",
                url=self.url,
            ) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"Cannot reach the JSON-RPC endpoint {self.url} ({str(exc) or type(exc).__name__}). "
                "Point rpc_url at a node of the bundle's chain, or at Segell's /rpc.",
                url=self.url,
            ) from exc
        except httpx.InvalidURL as exc:
            raise ValueError(f"Invalid JSON-RPC URL {self.url!r}: {exc}") from exc
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(
                f"HTTP {response.status_code} with a body that is not JSON", status=response.status_code
            ) from None

    def _unexpected(self, what: str, *, status: int = 200) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"{self.url} is not answering as a JSON-RPC endpoint: {what}.", status_code=status, url=self.url
        )


def _is_json_rpc(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("jsonrpc") == "2.0" and ("result" in answer or "error" in answer)


def _excerpt(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _call(contract: str, selector: bytes, argument: bytes) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": contract, "data": _hex(selector + argument)}, "latest"]


def _data(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-prefixed hex data, got {value!r}")
    return bytes.fromhex(value[2:])


def _uint(word: bytes) -> int:
    return int.from_bytes(word, "big")


def _verify_on_chain(offline: BundleVerification, parsed: _Bundle, rpc: _JsonRpc) -> BundleVerification:
    chain_id_hex, anchor_data, revoked_data, revocation_data, block = rpc.batch(
        [
            ("eth_chainId", []),
            _call(parsed.contract, _ANCHOR_OF, parsed.root),
            _call(parsed.contract, _IS_REVOKED, parsed.leaf),
            _call(parsed.contract, _REVOCATION_OF, parsed.leaf),
            ("eth_getBlockByNumber", [hex(parsed.block_number), False]),
        ]
    )
    checked = replace(offline, checked_on_chain=True)

    def fail(status: BundleStatus, reason: str) -> BundleVerification:
        return replace(checked, valid=False, status=status, reason=reason)

    try:
        chain_id = int(chain_id_hex, 16)
    except (TypeError, ValueError):
        raise rpc._unexpected(f"eth_chainId answered {chain_id_hex!r}") from None
    if chain_id != parsed.chain_id:
        return fail(
            "other_chain",
            f"The bundle is for chain {parsed.chain_id}, but {rpc.url} serves chain {chain_id}. "
            "Ask a node of the bundle's chain.",
        )

    where = f"the Notary at {parsed.contract} on chain {chain_id}"
    if isinstance(anchor_data, _CallReverted):
        return fail("root_not_on_chain", f"The contract at {parsed.contract} refused anchorOf: is it a Notary?")
    try:
        words = _proof.abi_words(_data(anchor_data))
        if len(words) < 5:
            raise ValueError("too short")
    except ValueError:
        return fail(
            "root_not_on_chain",
            f"No Notary contract answers at {parsed.contract} on chain {chain_id} (anchorOf returned {anchor_data!r}).",
        )
    administration, account_word, size_word, block_word, timestamp_word = words[:5]
    size, anchor_block, anchor_timestamp = _uint(size_word), _uint(block_word), _uint(timestamp_word)
    account = "0x" + account_word[12:].hex()
    root = _hex(parsed.root)
    if size == 0:
        return fail("root_not_on_chain", f"The root {root} has never been anchored by {where}.")
    if size != parsed.tree_size:
        return fail(
            "root_not_on_chain",
            f"The root {root} was anchored with a tree of {size} leaves, not the bundle's {parsed.tree_size}.",
        )
    if administration != parsed.administration:
        return fail(
            "root_not_on_chain",
            f"The root {root} was anchored by administration {_hex(administration)}, not by the bundle's "
            f"{_hex(parsed.administration)}.",
        )
    if parsed.issuer_account is not None and parsed.issuer_account.lower() != account:
        return fail(
            "root_not_on_chain",
            f"The root {root} was anchored from account {account}, not from the bundle's {parsed.issuer_account}.",
        )
    if anchor_block != parsed.block_number:
        return fail(
            "root_not_on_chain",
            f"The root {root} was anchored in block {anchor_block}, not in the bundle's block {parsed.block_number}.",
        )
    block_hash = block.get("hash") if isinstance(block, Mapping) else None
    if block_hash is None:
        return fail(
            "root_not_on_chain",
            f"Chain {chain_id} has no block {parsed.block_number}, where the root {root} says it was anchored.",
        )
    # A bundle without a block hash (the server did not record one) is checked by block number alone.
    if parsed.block_hash is not None and str(block_hash).lower() != _hex(parsed.block_hash):
        return fail(
            "root_not_on_chain",
            f"Block {parsed.block_number} of chain {chain_id} is not the bundle's block {_hex(parsed.block_hash)}: "
            f"its hash is {block_hash}. The chain was reorganised or reset, or the bundle was altered.",
        )
    if parsed.timestamp is not None and parsed.timestamp != anchor_timestamp:
        return fail(
            "root_not_on_chain",
            f"The root {root} was anchored at timestamp {anchor_timestamp}, not at the bundle's {parsed.timestamp}.",
        )

    anchored_at = datetime.fromtimestamp(anchor_timestamp, UTC)
    issuer = checked.issuer
    assert issuer is not None  # set for every parsed bundle
    checked = replace(
        checked,
        block_hash=str(block_hash).lower(),
        anchored_at=anchored_at,
        issuer=replace(issuer, account=account if parsed.issuer_account is None else parsed.issuer_account),
    )

    revocation = None if isinstance(revocation_data, _CallReverted) else _decode_revocation(revocation_data)
    try:
        is_revoked = not isinstance(revoked_data, _CallReverted) and _data(revoked_data)[-1:] == b"\x01"
    except ValueError:
        raise rpc._unexpected(f"isRevoked answered {revoked_data!r}") from None
    if is_revoked or revocation is not None:
        detail = (
            ""
            if revocation is None
            else (
                f" on {revocation.revoked_at:%Y-%m-%d %H:%M:%S} UTC (block {revocation.block_number}): "
                f"{revocation.reason!r}"
            )
        )
        return replace(
            checked,
            valid=False,
            status="revoked",
            reason=f"The document was notarised, but its issuer revoked it{detail}.",
            revocation=revocation,
        )

    issued_by = parsed.issuer_name or parsed.issuer_code or _hex(parsed.administration)
    return replace(
        checked,
        valid=True,
        status="authentic",
        reason=(
            f"Authentic: notarised by {issued_by}, anchored in block {anchor_block} of chain {chain_id} "
            f"on {anchored_at:%Y-%m-%d %H:%M:%S} UTC, not revoked."
        ),
    )


def _decode_revocation(data: Any) -> BundleRevocation | None:
    """``revocationOf`` answers a dynamic tuple: an offset, then the tuple with its string at a relative offset."""
    try:
        raw = _data(data)
        words = _proof.abi_words(raw)
        start = _uint(words[0])
        record = raw[start:]
        fields = _proof.abi_words(record[:160])
        if fields[1] == _ZERO_WORD:  # the zeroed record of a leaf never revoked
            return None
        text_at = _uint(fields[4])
        length = _uint(record[text_at : text_at + 32])
        reason = record[text_at + 32 : text_at + 32 + length].decode("utf-8", errors="replace")
        return BundleRevocation(
            reason=reason,
            block_number=_uint(fields[2]),
            revoked_at=datetime.fromtimestamp(_uint(fields[3]), UTC),
        )
    except (ValueError, IndexError):
        return None
