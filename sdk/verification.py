"""Checking a proof bundle against the document and the chain, without asking Segell.

A proof bundle (docs/proof-bundle.md) holds everything needed to show that a document was notarised: the
document's hash, the leaf it became, the Merkle proof from that leaf to a root, and where that root was anchored.
:func:`verify_bundle` checks all of it with the document, any JSON-RPC node of the chain and the Notary contracts
the caller trusts (:class:`~sdk.trust.TrustedNotary`); :func:`verify_bundle_proof` does the part that needs no
network. Whatever a bundle holds, verifying it returns a result (``malformed_bundle`` for anything unreadable):
only the node, the files and the caller's own arguments can make it raise.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from . import _proof, blocks
from ._version import __version__
from .errors import RPCError, TransportError, UnexpectedResponseError
from .trust import TrustedNotary

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "INFORMATIVE_FIELDS",
    "BundleIssuer",
    "BundleRevocation",
    "BundleSource",
    "BundleStatus",
    "BundleVerification",
    "verify_bundle",
    "verify_bundle_proof",
]

BUNDLE_FORMAT = "segell-proof-bundle"
BUNDLE_VERSION = 1
LEAF_ENCODING = ("bytes32", "bytes32", "bytes32", "uint256")

INFORMATIVE_FIELDS = frozenset({"receipt", "chain.transaction_hash", "derived_from"})
"""The fields of a version 1 bundle that are for people only: a verifier neither checks nor trusts them.

Every other field the format defines is part of the proof: it is required, and changing it changes the outcome.
Fields the format does not define are ignored (a later revision of version 1 may add fields a verifier can ignore).
"""

BundleStatus = Literal[
    "authentic",
    "proof_valid",
    "revoked",
    "wrong_document",
    "malformed_bundle",
    "tampered_proof",
    "untrusted_contract",
    "other_chain",
    "root_not_on_chain",
    "issuer_mismatch",
]
"""The outcome of a verification: ``authentic``, ``proof_valid`` (offline check only) or why it failed."""

_ANCHOR_OF = _proof.selector("anchorOf(bytes32)")
_IS_REVOKED = _proof.selector("isRevoked(bytes32)")
_REVOCATION_OF = _proof.selector("revocationOf(bytes32)")
_REGISTRY = _proof.selector("registry()")
_GET_ADMINISTRATION = _proof.selector("getAdministration(bytes32)")
_ZERO_WORD = bytes(32)
_UINT64_MAX = (1 << 64) - 1
_UINT256_MAX = (1 << 256) - 1
# The last second a datetime can hold (9999-12-31 23:59:59 UTC): later timestamps cannot be a block's.
_LAST_TIMESTAMP = 253_402_300_799
# A tree of fewer than 2**64 leaves (the contract's uint64 size) has proofs of at most 64 siblings.
_MAX_PROOF_LENGTH = 64
# A bundle is a few kilobytes; anything much larger is not one, and is not read whole into memory.
_MAX_BUNDLE_BYTES = 1 << 20
_MAX_TEXT = 1024
_MAX_NESTING = 32
# Links of `derived_from` read from one bundle; the rest are left out.
_MAX_SOURCES = 256
# A JSON string (skipped whole, brackets in it do not count) or a bracket.
_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


@dataclass(frozen=True, slots=True)
class BundleIssuer:
    """The administration that anchored the root.

    Before the chain is asked (:func:`verify_bundle_proof`, or a failure found earlier) code and name are what
    the bundle states; once checked they are the ``AdministrationRegistry``'s, which the Notary names.

    Attributes:
        administration: its ``bytes32`` registry id, ``0x`` + 64 hex digits (checked on chain).
        code: its public code, e.g. ``"L01080193"`` (the registry id in ASCII).
        name: its display name.
        account: the chain account that anchored the root.
        status: ``"active"`` or ``"suspended"`` in the registry now; ``None`` until the registry is read.
    """

    administration: str
    code: str | None
    name: str | None
    account: str | None
    status: Literal["active", "suspended"] | None = None


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
class BundleSource:
    """A receipt the document was made from, as the bundle's ``derived_from`` names it (its provenance).

    The link itself is the issuer's word: nothing on chain binds a document to its sources. What can be checked is
    each source on its own: give its bundle to :func:`verify_bundle` (``sources=[...]``) and ``verification`` is
    the outcome of checking that bundle, for the source's hash, with the same node and trusted Notaries.

    Attributes:
        receipt_id: the source's receipt id at its issuer's Segell.
        verification_code: the source's verification code; its bundle is served at ``bundle_url``.
        kind, title: what the source is, as its issuer described it.
        document_hash: the source's SHA-256, ``0x`` + 64 hex digits.
        issuer_code, issuer_name: who notarised the source, as the bundle says.
        leaf, root: the source's leaf and the root that anchors it; ``None`` while the source was not anchored.
        bundle_url: where the source's own bundle is served (a path of the issuer's Segell).
        verification: the check of the source's bundle when it was given, else ``None``. A given bundle is taken
            for a link only when its document hash, leaf and root are the link's.
    """

    receipt_id: str | None
    verification_code: str | None
    kind: str | None
    title: str | None
    document_hash: str
    issuer_code: str | None
    issuer_name: str | None
    leaf: str | None
    root: str | None
    bundle_url: str | None
    verification: BundleVerification | None = None


@dataclass(frozen=True, slots=True)
class BundleVerification:
    """The outcome of checking a proof bundle.

    Attributes:
        valid: ``True`` only when the document is authentic: the bundle is well formed, is the document's, its
            proof leads to its root, it names a Notary the caller trusts, that root is anchored on the bundle's
            chain as the bundle says, the issuer is the registry's administration as the bundle names it, and the
            leaf has not been revoked. (For :func:`verify_bundle_proof` alone: the offline checks passed.)
        status: ``"authentic"``; ``"proof_valid"`` when only the offline checks were made; otherwise why it
            failed: ``"malformed_bundle"``, ``"wrong_document"``, ``"tampered_proof"``, ``"untrusted_contract"``,
            ``"other_chain"``, ``"root_not_on_chain"``, ``"issuer_mismatch"`` or ``"revoked"``.
        reason: the outcome in plain words, naming what differed.
        document_hash: SHA-256 of the document checked, ``0x`` + 64 hex digits.
        checked_on_chain: whether the chain was asked (``False`` for :func:`verify_bundle_proof` and for
            failures found before reaching it).
        root, leaf, leaf_index, tree_size: the Merkle tree the bundle places the document in.
        chain_id, contract, transaction_hash, block_number, block_hash: where the bundle says the root
            was anchored; once checked on chain, block number and hash are the chain's. ``transaction_hash`` is
            informative: it is never checked.
        anchored_at: when the root was anchored (the chain's record once checked, the bundle's before).
        issuer: the administration that anchored the root.
        revocation: the revocation record when the leaf is revoked, else ``None``.
        trusted_notary: the trust anchor that vouched for the bundle's contract, else ``None``.
        derived_from: the receipts the document was made from, as the bundle names them (informative), each
            with the check of its own bundle when :func:`verify_bundle` was given it.

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
    trusted_notary: TrustedNotary | None = None
    derived_from: tuple[BundleSource, ...] = ()


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
    block_hash: bytes
    timestamp: int
    issuer_code: str
    issuer_name: str
    issuer_account: str
    sources: tuple[BundleSource, ...] = ()


class _MalformedBundle(ValueError):
    pass


def verify_bundle_proof(
    bundle: Mapping[str, Any] | str | os.PathLike[str],
    document_or_hash: str | os.PathLike[str] | bytes,
) -> BundleVerification:
    """Check a proof bundle against a document without any network: the offline half of :func:`verify_bundle`.

    Checks that the bundle is well formed (``malformed_bundle``), that it is the document's (``wrong_document``),
    and that its leaf and Merkle proof lead to its root from the leaf's position in a tree of its size
    (``tampered_proof``). Whether that root is anchored on chain by a trusted Notary, and the leaf not revoked,
    is left to :func:`verify_bundle`; on success the status is ``"proof_valid"``.

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
    trusted_notaries: Iterable[TrustedNotary | str] | None = None,
    http: httpx.Client | None = None,
    timeout: float = 10.0,
    sources: Iterable[Mapping[str, Any] | str | os.PathLike[str]] = (),
) -> BundleVerification:
    """Check a proof bundle against a document, the chain and the Notary contracts the caller trusts.

    After the offline checks of :func:`verify_bundle_proof`, the bundle's contract must be one of
    ``trusted_notaries`` (``untrusted_contract`` otherwise, before any network: anyone can deploy a contract that
    answers like a Notary). Then it asks the node (in one JSON-RPC batch, two when the trust anchor does not know
    the registry) for its chain id (``other_chain`` if it is not the bundle's), for the Notary's record of the
    root and the block the bundle names (``root_not_on_chain`` unless the root is anchored there by the bundle's
    administration and account, with the bundle's tree size, in that block, whose hash is the bundle's), for the
    issuer in the ``AdministrationRegistry`` the Notary names (``issuer_mismatch`` unless the bundle's issuer code
    and name are the registry's), and for the leaf's revocation (``revoked``, with the issuer's reason and when).
    A verification failure is returned, never raised.

    Arguments:
        bundle: the parsed bundle JSON, or the path of a bundle file.
        document_or_hash: the document as ``bytes``, its path, or its SHA-256 as 64 hex digits; see
            :func:`verify_bundle_proof`.
        rpc_url: any JSON-RPC endpoint of the chain: a node of the network, or Segell's read-only ``/rpc``.
        trusted_notaries: the Notary contracts whose records to accept: :class:`~sdk.trust.TrustedNotary` values
            (e.g. ``TrustStore(default_trust_store_path()).trusted_notaries()``, or ``Client.deployment()``'s
            ``trusted_notary``), or strings ``"0xADDRESS"`` (on any chain) and ``"CHAIN_ID:0xADDRESS"``. With none,
            no bundle is ``authentic``.
        http: an ``httpx.Client`` to send the requests with, reused across calls to check many bundles over
            one connection. The caller keeps ownership (it is not closed). By default a client is opened and
            closed for this call.
        timeout: seconds to wait for the node, when ``http`` is not given.
        sources: bundles of the receipts the document was made from (``derived_from``, e.g. the original of a
            signed PDF, served at each link's ``bundle_url``): each one given for a link is checked on its own, for
            the link's document hash, and reported in that link's ``verification``. Bundles that match no link
            are ignored.

    Raises:
        ValueError: a string in ``trusted_notaries`` is not a notary address.
        TransportError: the node cannot be reached or did not answer in time.
        RPCError: the node answered a request with a JSON-RPC error unrelated to the bundle (e.g. ``-32603``
            from ``/rpc`` when its own node is down).
        UnexpectedResponseError: ``rpc_url`` answered with something that is not JSON-RPC.
        OSError: the document or bundle file cannot be read.

    Example::

        trusted = TrustStore(default_trust_store_path()).trusted_notaries()
        with httpx.Client() as http:
            for bundle_path, document in pairs:
                result = verify_bundle(
                    bundle_path, document, "https://segell.example/rpc", trusted_notaries=trusted, http=http
                )
                print(document, result.status, result.reason)
    """
    anchors = _trust_anchors(trusted_notaries)
    given = _readable_bundles(sources)
    if http is None and given:
        # One connection for the bundle and its sources.
        plain_http = rpc_url.lower().startswith("http://")
        with httpx.Client(timeout=timeout, headers=_RPC_HEADERS, verify=not plain_http) as own:
            return _verify_with_sources(bundle, document_or_hash, rpc_url, anchors, own, given)
    return _verify_with_sources(bundle, document_or_hash, rpc_url, anchors, http, given, timeout=timeout)


def _verify_with_sources(
    bundle: Mapping[str, Any] | str | os.PathLike[str],
    document_or_hash: str | os.PathLike[str] | bytes,
    rpc_url: str,
    anchors: list[TrustedNotary],
    http: httpx.Client | None,
    given: Sequence[Mapping[str, Any]],
    *,
    timeout: float = 10.0,
) -> BundleVerification:
    verification = _verify_one(bundle, document_or_hash, rpc_url, anchors, http, timeout)
    if not given or not verification.derived_from:
        return verification
    checked = []
    for link in verification.derived_from:
        source = next((candidate for candidate in given if _is_bundle_of(candidate, link)), None)
        if source is not None:
            link = replace(link, verification=_verify_one(source, link.document_hash, rpc_url, anchors, http, timeout))
        checked.append(link)
    return replace(verification, derived_from=tuple(checked))


def _readable_bundles(sources: Iterable[Mapping[str, Any] | str | os.PathLike[str]]) -> list[Mapping[str, Any]]:
    readable = []
    for source in sources:
        try:
            readable.append(_load_bundle(source))
        except _MalformedBundle:
            continue  # it can be the bundle of no link
    return readable


def _is_bundle_of(candidate: Mapping[str, Any], link: BundleSource) -> bool:
    wanted = {"document_hash": link.document_hash, "leaf": link.leaf, "root": link.root}
    if not isinstance(candidate, Mapping):
        return False
    for name, value in wanted.items():
        found = _get(candidate, name)
        if value is None or not isinstance(found, str) or found.lower() != value:
            return False
    return True


def _verify_one(
    bundle: Mapping[str, Any] | str | os.PathLike[str],
    document_or_hash: str | os.PathLike[str] | bytes,
    rpc_url: str,
    anchors: list[TrustedNotary],
    http: httpx.Client | None,
    timeout: float,
) -> BundleVerification:
    verification, parsed = _verify_offline(bundle, _document_hash(document_or_hash))
    if parsed is None:
        return verification
    covering = [anchor for anchor in anchors if anchor.covers(parsed.chain_id, parsed.contract)]
    # The anchor that knows most (its chain, its registry) is checked: a pinned deployment beats a bare address.
    anchor = max(covering, key=lambda a: (a.registry is not None, a.chain_id is not None), default=None)
    if anchor is None:
        return replace(verification, valid=False, status="untrusted_contract", reason=_untrusted(parsed, anchors))
    verification = replace(verification, trusted_notary=anchor)
    if http is None:
        # Loading the CA bundle costs ~40 ms, twenty times the whole verification: a plain http:// URL needs none
        # (redirects are not followed, so the request cannot end up on https).
        plain_http = rpc_url.lower().startswith("http://")
        with httpx.Client(timeout=timeout, headers=_RPC_HEADERS, verify=not plain_http) as own:
            return _verify_on_chain(verification, parsed, _JsonRpc(rpc_url, own), anchor)
    return _verify_on_chain(verification, parsed, _JsonRpc(rpc_url, http), anchor)


def _trust_anchors(trusted_notaries: Iterable[TrustedNotary | str] | None) -> list[TrustedNotary]:
    if trusted_notaries is None:
        return []
    if isinstance(trusted_notaries, str | TrustedNotary):
        trusted_notaries = [trusted_notaries]
    anchors = []
    for anchor in trusted_notaries:
        if isinstance(anchor, str):
            anchor = TrustedNotary.parse(anchor)
        elif not isinstance(anchor, TrustedNotary):
            raise TypeError(f"trusted_notaries holds a {type(anchor).__name__}: give TrustedNotary values or strings")
        anchors.append(anchor)
    return anchors


def _untrusted(parsed: _Bundle, anchors: Sequence[TrustedNotary]) -> str:
    where = f"the contract {parsed.contract} on chain {parsed.chain_id}"
    trusted = (
        "you trust no Notary yet"
        if not anchors
        else "you trust only " + ", ".join(f"{anchor.name + ' ' if anchor.name else ''}{anchor}" for anchor in anchors)
    )
    return (
        f"The bundle names {where} as its Notary, but {trusted}: anyone can deploy a contract that answers like "
        "one. Pin the deployment that issued the document with `segell trust add URL-OF-ITS-SEGELL`, or, if you "
        f"know {parsed.contract} to be its Notary, pass --notary {parsed.chain_id}:{parsed.contract} "
        "(trusted_notaries=[...] in Python), then verify again."
    )


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
        reason = (
            f"The bundle is malformed: {exc}. It is not a proof bundle this verifier reads, or it was damaged: "
            "get it again from its issuer (or from the verification page, by the document's code)."
        )
        return BundleVerification(False, "malformed_bundle", reason, hex_hash), None
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
        block_hash=_hex(parsed.block_hash),
        anchored_at=datetime.fromtimestamp(parsed.timestamp, UTC),
        issuer=BundleIssuer(
            administration=_hex(parsed.administration),
            code=parsed.issuer_code,
            name=parsed.issuer_name,
            account=parsed.issuer_account,
        ),
        derived_from=parsed.sources,
    )


def _load_bundle(bundle: Mapping[str, Any] | str | os.PathLike[str]) -> Mapping[str, Any]:
    if isinstance(bundle, Mapping):
        return bundle
    if not isinstance(bundle, str | os.PathLike):
        raise TypeError(f"expected a bundle (a mapping) or its path, got {type(bundle).__name__}")
    path = Path(bundle)
    with path.open("rb") as stream:
        raw = stream.read(_MAX_BUNDLE_BYTES + 1)
    if len(raw) > _MAX_BUNDLE_BYTES:
        raise _MalformedBundle(f"{path} is larger than {_MAX_BUNDLE_BYTES} bytes; a bundle is a few kilobytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _MalformedBundle(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if _nesting_exceeds(text, _MAX_NESTING):
        raise _MalformedBundle(f"{path} is nested too deeply (more than {_MAX_NESTING} levels); a bundle has 3")
    try:
        loaded = json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constant)
    except _MalformedBundle as exc:
        raise _MalformedBundle(f"{path} {exc}") from None
    except RecursionError:
        raise _MalformedBundle(f"{path} is nested too deeply") from None
    except ValueError as exc:
        raise _MalformedBundle(f"{path} is not JSON ({_brief_text(str(exc))})") from None
    if not isinstance(loaded, Mapping):
        raise _MalformedBundle(f"{path} holds JSON but not an object")
    return loaded


def _nesting_exceeds(text: str, limit: int) -> bool:
    # Checked before parsing: the C parser recurses on the C stack, and a process whose recursion limit was raised
    # (py_ecc sets 100,000) crashes on deep nesting instead of raising RecursionError.
    depth = 0
    for token in _JSON_STRUCTURE.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in ("]", "}"):
            depth -= 1
    return False


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one field would let two verifiers read two different bundles: refuse it.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _MalformedBundle(f"has the field {_show(key)} twice")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _MalformedBundle(f"holds {name}, which is not JSON")


def _parse_bundle(data: Mapping[str, Any]) -> _Bundle:
    if not isinstance(data, Mapping):
        raise _MalformedBundle("a bundle is a JSON object")
    if _get(data, "format") != BUNDLE_FORMAT:
        raise _MalformedBundle(f"format is {_show(_get(data, 'format'))}, not {BUNDLE_FORMAT!r}")
    version = _get(data, "version")
    if type(version) is not int or version != BUNDLE_VERSION:
        raise _MalformedBundle(f"version {_show(version)} is not supported (this SDK reads version 1)")
    if _get(data, "hash_algorithm") != "sha-256":
        raise _MalformedBundle(f"hash_algorithm is {_show(_get(data, 'hash_algorithm'))}, not 'sha-256'")
    encoding = _get(data, "leaf_encoding")
    if not isinstance(encoding, list) or len(encoding) != len(LEAF_ENCODING) or tuple(encoding) != LEAF_ENCODING:
        raise _MalformedBundle(f"leaf_encoding is {_show(encoding)}, not {list(LEAF_ENCODING)!r}")
    proof = _get(data, "proof")
    if not isinstance(proof, list):
        raise _MalformedBundle(f"proof is {_show(proof)}, not a list")
    if len(proof) > _MAX_PROOF_LENGTH:
        raise _MalformedBundle(f"proof has {len(proof)} elements; no tree a Notary records needs more than 64")
    chain = _object(data, "chain")
    issuer = _object(data, "issuer")
    tree_size = _integer(data, "tree_size", low=1, high=_UINT64_MAX)
    transaction_hash = _get(chain, "transaction_hash")
    return _Bundle(
        document_hash=_bytes32(data, "document_hash"),
        salt=_bytes32(data, "salt"),
        administration=_bytes32(data, "administration"),
        leaf_index=_integer(data, "leaf_index", low=0, high=tree_size - 1),
        leaf=_bytes32(data, "leaf"),
        proof=tuple(_bytes32({"proof": item}, "proof", index=position) for position, item in enumerate(proof)),
        root=_bytes32(data, "root"),
        tree_size=tree_size,
        chain_id=_integer(chain, "chain_id", low=1, high=_UINT256_MAX, where="chain."),
        contract=_address(chain, "contract", where="chain."),
        # Informative: kept for people when readable, never checked.
        transaction_hash=(
            _hex(parsed)
            if isinstance(transaction_hash, str) and (parsed := _proof.parse_hash(transaction_hash)) is not None
            else None
        ),
        block_number=_integer(chain, "block_number", low=0, high=_UINT64_MAX, where="chain."),
        block_hash=_bytes32(chain, "block_hash", "chain."),
        timestamp=_integer(chain, "timestamp", low=0, high=_LAST_TIMESTAMP, where="chain."),
        issuer_code=_text(issuer, "code", where="issuer."),
        issuer_name=_text(issuer, "name", where="issuer."),
        issuer_account=_address(issuer, "account", where="issuer."),
        sources=_sources(_get(data, "derived_from")),
    )


def _sources(links: Any) -> tuple[BundleSource, ...]:
    """The readable links of an informative ``derived_from``: an entry without a readable document hash is left
    out, unreadable text and hashes read as ``None``; nothing in it makes a bundle malformed."""
    if not isinstance(links, list):
        return ()
    found = []
    for link in links[:_MAX_SOURCES]:
        if not isinstance(link, Mapping):
            continue
        document_hash = _optional_bytes32(link, "document_hash")
        if document_hash is None:
            continue
        issuer = _get(link, "issuer")
        issuer = issuer if isinstance(issuer, Mapping) else {}
        found.append(
            BundleSource(
                receipt_id=_optional_text(link, "receipt_id"),
                verification_code=_optional_text(link, "verification_code"),
                kind=_optional_text(link, "kind"),
                title=_optional_text(link, "title"),
                document_hash=document_hash,
                issuer_code=_optional_text(issuer, "code"),
                issuer_name=_optional_text(issuer, "name"),
                leaf=_optional_bytes32(link, "leaf"),
                root=_optional_bytes32(link, "root"),
                bundle_url=_optional_text(link, "bundle"),
            )
        )
    return tuple(found)


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = _get(data, name)
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_TEXT else None


def _optional_bytes32(data: Mapping[str, Any], name: str) -> str | None:
    value = _get(data, name)
    parsed = _proof.parse_hash(value) if isinstance(value, str) else None
    return _hex(parsed) if parsed is not None else None


def _get(data: Mapping[str, Any], name: str) -> Any:
    # A bundle given as a mapping may be anything a caller built: its lookups must not fail.
    try:
        return data.get(name)
    except Exception:  # whatever a broken mapping raises, the bundle is unreadable
        return None


def _show(value: Any) -> str:
    """A short, safe description of a bundle value: never the repr of a container or of a huge number."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 256 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(_brief_text(value))
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__}"


def _brief_text(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "..."


def _object(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = _get(data, name)
    if not isinstance(value, Mapping):
        raise _MalformedBundle(f"{name} is {_show(value)}, not an object")
    return value


def _bytes32(data: Mapping[str, Any], name: str, where: str = "", *, index: int | None = None) -> bytes:
    value = _get(data, name)
    label = f"{where}{name}" + ("" if index is None else f"[{index}]")
    parsed = _proof.parse_hash(value) if isinstance(value, str) and value.startswith("0x") else None
    if parsed is None:
        raise _MalformedBundle(f"{label} is {_show(value)}, not 0x followed by 64 hex digits")
    return parsed


def _address(data: Mapping[str, Any], name: str, *, where: str) -> str:
    value = _get(data, name)
    if not isinstance(value, str) or not _proof.ADDRESS_PATTERN.fullmatch(value):
        raise _MalformedBundle(f"{where}{name} is {_show(value)}, not an address (0x followed by 40 hex digits)")
    return value


def _integer(data: Mapping[str, Any], name: str, *, low: int, high: int, where: str = "") -> int:
    value = _get(data, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _MalformedBundle(f"{where}{name} is {_show(value)}, not an integer")
    if value < low or value > high:
        raise _MalformedBundle(f"{where}{name} is {_show(value)}, it must be between {low} and {high}")
    return value


def _text(data: Mapping[str, Any], name: str, *, where: str) -> str:
    value = _get(data, name)
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise _MalformedBundle(f"{where}{name} is {_show(value)}, not a text of 1 to {_MAX_TEXT} characters")
    return value


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
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= 200 else text[:200] + "..."


def _call(contract: str, selector: bytes, argument: bytes) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": contract, "data": _hex(selector + argument)}, "latest"]


def _data(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-prefixed hex data, got {value!r}")
    return bytes.fromhex(value[2:])


def _uint(word: bytes) -> int:
    return int.from_bytes(word, "big")


def _verify_on_chain(
    offline: BundleVerification, parsed: _Bundle, rpc: _JsonRpc, anchor: TrustedNotary
) -> BundleVerification:
    calls = [
        ("eth_chainId", []),
        _call(parsed.contract, _ANCHOR_OF, parsed.root),
        _call(parsed.contract, _IS_REVOKED, parsed.leaf),
        _call(parsed.contract, _REVOCATION_OF, parsed.leaf),
        ("eth_getBlockByNumber", [hex(parsed.block_number), False]),
        _call(parsed.contract, _REGISTRY, b""),
    ]
    # A pinned deployment knows its registry: ask for the issuer in the same batch (checked against registry()).
    if anchor.registry is not None:
        calls.append(_call(anchor.registry, _GET_ADMINISTRATION, parsed.administration))
    chain_id_hex, anchor_data, revoked_data, revocation_data, block, registry_data, *issuer_data = rpc.batch(calls)
    checked = replace(offline, checked_on_chain=True)

    def fail(status: BundleStatus, reason: str) -> BundleVerification:
        return replace(checked, valid=False, status=status, reason=reason)

    try:
        chain_id = int(chain_id_hex, 16)
    except (TypeError, ValueError):
        raise rpc._unexpected(f"eth_chainId answered {_excerpt(chain_id_hex)}") from None
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
            f"No Notary contract answers at {parsed.contract} on chain {chain_id} "
            f"(anchorOf returned {_excerpt(anchor_data)}).",
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
    if parsed.issuer_account.lower() != account:
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
    if not blocks.header_hash_matches(block):
        return fail(
            "root_not_on_chain",
            f"Block {parsed.block_number} as {rpc.url} serves it does not hash to the hash it gives "
            f"({_excerpt(block_hash)}), by Ethereum's rule or QBFT's: that node's answer cannot be relied on. "
            "Ask another node of the chain.",
        )
    if str(block_hash).lower() != _hex(parsed.block_hash):
        return fail(
            "root_not_on_chain",
            f"Block {parsed.block_number} of chain {chain_id} is not the bundle's block {_hex(parsed.block_hash)}: "
            f"its hash is {_excerpt(block_hash)}. The chain was reorganised or reset, or the bundle was altered.",
        )
    if parsed.timestamp != anchor_timestamp:
        return fail(
            "root_not_on_chain",
            f"The root {root} was anchored at timestamp {anchor_timestamp}, not at the bundle's {parsed.timestamp}.",
        )
    anchored_at = datetime.fromtimestamp(anchor_timestamp, UTC)  # the bundle's, within range: equal above
    checked = replace(checked, block_hash=str(block_hash).lower(), anchored_at=anchored_at)

    registry = _address_word(registry_data)
    if registry is None:
        return fail(
            "untrusted_contract",
            f"The contract at {parsed.contract} does not name its AdministrationRegistry (registry() answered "
            f"{_excerpt(registry_data if not isinstance(registry_data, _CallReverted) else 'a revert')}): "
            "it is not a Segell Notary. Check the trust anchor you gave for it.",
        )
    if anchor.registry is not None and registry != anchor.registry:
        return fail(
            "untrusted_contract",
            f"{where} names the AdministrationRegistry {registry}, but the deployment pinned for it has "
            f"{anchor.registry}. Pin the deployment again (`segell trust add URL`) if it was redeployed.",
        )
    if not issuer_data:
        (answer,) = rpc.batch([_call(registry, _GET_ADMINISTRATION, parsed.administration)])
        issuer_data = [answer]
    record = _decode_administration(issuer_data[0])
    if record is None:
        raise rpc._unexpected(f"getAdministration answered {_excerpt(issuer_data[0])}")
    registered_id, registered_name, suspended = record
    issuer_id = _hex(parsed.administration)
    if registered_id != parsed.administration:
        return fail(
            "issuer_mismatch",
            f"The administration {issuer_id} that anchored the root is not in the registry {registry} that "
            f"{where} names.",
        )
    registered_code = _code_of(parsed.administration)
    if parsed.issuer_code != registered_code:
        return fail(
            "issuer_mismatch",
            f"The bundle's issuer.code is {parsed.issuer_code!r}, but the root was anchored by administration "
            f"{registered_code or issuer_id!r} of the registry {registry}.",
        )
    if parsed.issuer_name != registered_name:
        return fail(
            "issuer_mismatch",
            f"The bundle's issuer.name is {parsed.issuer_name!r}, but the registry {registry} names administration "
            f"{registered_code or issuer_id} {registered_name!r}.",
        )
    status: Literal["active", "suspended"] = "suspended" if suspended else "active"
    checked = replace(
        checked,
        issuer=BundleIssuer(
            administration=issuer_id, code=registered_code, name=registered_name, account=account, status=status
        ),
    )

    revocation = None if isinstance(revocation_data, _CallReverted) else _decode_revocation(revocation_data)
    try:
        is_revoked = not isinstance(revoked_data, _CallReverted) and _data(revoked_data)[-1:] == b"\x01"
    except ValueError:
        raise rpc._unexpected(f"isRevoked answered {_excerpt(revoked_data)}") from None
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

    now_suspended = " (the registry now lists the administration as suspended)" if suspended else ""
    deployment = f" of {anchor.name}" if anchor.name else ""
    return replace(
        checked,
        valid=True,
        status="authentic",
        reason=(
            f"Authentic: notarised by {registered_name} ({registered_code or issuer_id}){now_suspended}, anchored "
            f"in block {anchor_block} of chain {chain_id} on {anchored_at:%Y-%m-%d %H:%M:%S} UTC by the trusted "
            f"Notary {parsed.contract}{deployment}, not revoked."
        ),
    )


def _address_word(data: Any) -> str | None:
    """The address a view returning ``address`` answered, or ``None`` for a revert or anything else."""
    if isinstance(data, _CallReverted):
        return None
    try:
        words = _proof.abi_words(_data(data))
    except ValueError:
        return None
    if len(words) != 1 or words[0][:12] != bytes(12) or words[0] == _ZERO_WORD:
        return None
    return "0x" + words[0][12:].hex()


def _decode_administration(data: Any) -> tuple[bytes, str, bool] | None:
    """``getAdministration`` answers a dynamic tuple (id, name, suspended, admittedAt, accountCount)."""
    if isinstance(data, _CallReverted):
        return None
    try:
        raw = _data(data)
        record = raw[_uint(_proof.abi_words(raw[:32])[0]) :]
        fields = _proof.abi_words(record[:160])
        if len(fields) != 5:
            return None
        name = _abi_string(record, _uint(fields[1]))
    except (ValueError, IndexError):
        return None
    return fields[0], name, fields[2][-1:] == b"\x01"


def _abi_string(record: bytes, at: int) -> str:
    length = _uint(record[at : at + 32])
    if len(record) < at + 32 + length:
        raise ValueError("the string runs past the data")
    return record[at + 32 : at + 32 + length].decode("utf-8", errors="replace")


def _code_of(administration: bytes) -> str | None:
    """The public code an administration id stands for: its ASCII, zero-padded (``None`` if it is not one)."""
    code = administration.rstrip(b"\0")
    if not code or b"\0" in code or not all(0x21 <= byte < 0x7F for byte in code):
        return None
    return code.decode("ascii")


def _decode_revocation(data: Any) -> BundleRevocation | None:
    """``revocationOf`` answers a dynamic tuple: an offset, then the tuple with its string at a relative offset."""
    try:
        raw = _data(data)
        words = _proof.abi_words(raw[:32])
        record = raw[_uint(words[0]) :]
        fields = _proof.abi_words(record[:160])
        if fields[1] == _ZERO_WORD:  # the zeroed record of a leaf never revoked
            return None
        return BundleRevocation(
            reason=_abi_string(record, _uint(fields[4])),
            block_number=_uint(fields[2]),
            revoked_at=datetime.fromtimestamp(_uint(fields[3]), UTC),
        )
    except (ValueError, IndexError, OverflowError, OSError):
        return None
