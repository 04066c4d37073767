"""Participation (``client.participation``): processes, a voter's ballot check and the recount of a tally, from the
published ballots and the chain alone.

A closed process publishes, in its administration's open-data dataset, ``ballots.json`` (every ballot as
``{commitment, pseudonym, choices, nonce}``, sorted by commitment, no times) and ``result.json`` (the options, the
ballots' count, Merkle root and SHA-256, and the tally). The root is notarised (kind ``participation-ballots``) and
so is the result's SHA-256 (``participation-result``, derived from the root). The functions here need no server:

- :func:`ballot_commitment` of a ballot record: SHA-256 of its canonical JSON;
- :func:`ballots_root`: OpenZeppelin ``StandardMerkleTree.of(commitments, ["bytes32"])``'s root;
- :func:`verify_ballot_inclusion`: a ballot's proof to the root (offline);
- :func:`recount_tally`: the whole result again from ``ballots.json`` and the ``result.json`` it must equal.

:meth:`Participation.verify_tally` and :meth:`Participation.check_ballot` add the chain: the root's and the
result's proof bundles checked with :func:`sdk.verify_bundle` against a JSON-RPC node and the Notary you trust.

Example::

    with Client("https://segell.example") as segell:
        check = segell.participation.verify_tally("prc_...", trusted_notaries=[segell.deployment().trusted_notary])
        print(check.valid, check.reason)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ._convert import Json
from ._proof import keccak256
from ._transport import Transport, segment
from .errors import ConflictError
from .trust import TrustedNotary
from .verification import BundleVerification, verify_bundle

__all__ = [
    "BallotCheck",
    "Inclusion",
    "Participation",
    "Recount",
    "TallyCheck",
    "ballot_commitment",
    "ballots_root",
    "recount_tally",
    "verify_ballot_inclusion",
]


def ballot_commitment(pseudonym: str, choices: Sequence[str], nonce: str) -> str:
    """A ballot's commitment: SHA-256 of ``{"choices": sorted, "nonce", "pseudonym"}`` as canonical JSON.

    Example::

        >>> ballot_commitment("ab" * 32, ["P-2", "P-1"], "00" * 16)[:12]
        '0da055b2e337'
    """
    record = {"choices": sorted(choices), "nonce": nonce, "pseudonym": pseudonym}
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _leaf(commitment_hex: str) -> bytes:
    return keccak256(keccak256(bytes.fromhex(commitment_hex)))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak256(a + b if a < b else b + a)


def ballots_root(commitments: Iterable[str]) -> str:
    """The ballots' Merkle root, 64 hex digits: leaves ``keccak256(keccak256(commitment))`` sorted, inner nodes the
    ``keccak256`` of the two children sorted (``StandardMerkleTree.of(commitments, ["bytes32"])``).

    Raises:
        ValueError: no commitments.
    """
    leaves = sorted(_leaf(c) for c in commitments)
    if not leaves:
        raise ValueError("a Merkle tree needs at least one ballot")
    # The array layout of @openzeppelin/merkle-tree: leaf k at index 2n-2-k, node i's children at 2i+1 and 2i+2.
    size = len(leaves)
    nodes: list[bytes] = [b""] * (size - 1) + leaves[::-1]
    for index in range(size - 2, -1, -1):
        nodes[index] = _pair(nodes[2 * index + 1], nodes[2 * index + 2])
    return nodes[0].hex()


def verify_ballot_inclusion(commitment_hex: str, proof: Sequence[str], root: str) -> bool:
    """True when `proof` (siblings from the leaf up, hex) takes the ballot's leaf to `root`; no network.

    Example::

        >>> verify_ballot_inclusion("00" * 32, [], ballots_root(["00" * 32]))
        True
    """
    try:
        node = _leaf(commitment_hex)
        for sibling in proof:
            node = _pair(node, bytes.fromhex(sibling.removeprefix("0x")))
        return node.hex() == root.removeprefix("0x").lower()
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Recount:
    """A tally computed again from the published ballots.

    Attributes:
        valid: True when every ballot's commitment is its record's hash, they are sorted and unique, their root,
            count and SHA-256 are the result's, and the tally computed from them is the result's.
        reason: what differed, in plain words (or that all agreed).
        ballots_count: the ballots published.
        ballots_root: their Merkle root as recomputed.
        tally: the tally as recomputed: ``{"option", "votes", "funded"}`` ranked.
    """

    valid: bool
    reason: str
    ballots_count: int
    ballots_root: str | None
    tally: list[dict[str, Any]]


def _count(
    ballots: Sequence[Mapping[str, Any]], options: Sequence[Mapping[str, Any]], budget: int | None
) -> list[dict[str, Any]]:
    votes = {str(option["id"]): 0 for option in options}
    for ballot in ballots:
        for choice in ballot["choices"]:
            if choice in votes:
                votes[choice] += 1
    ranked = sorted(options, key=lambda o: (-votes[str(o["id"])], int(o["cost"]), str(o["id"])))
    left = budget
    tally: list[dict[str, Any]] = []
    for option in ranked:
        funded = None
        if left is not None:
            funded = votes[str(option["id"])] > 0 and int(option["cost"]) <= left
            if funded:
                left -= int(option["cost"])
        tally.append({"option": str(option["id"]), "votes": votes[str(option["id"])], "funded": funded})
    return tally


def recount_tally(ballots_file: bytes, result_file: bytes) -> Recount:
    """Recompute a closed process's result from its published ``ballots.json`` and compare with ``result.json``.

    Offline: what the chain says of the root and the result is :meth:`Participation.verify_tally`'s part.
    """
    try:
        ballots = json.loads(ballots_file)
        result = json.loads(result_file)
        stated = result["ballots"]
    except (ValueError, KeyError, TypeError) as error:
        return Recount(False, f"the published files are not readable: {error}", 0, None, [])
    if not isinstance(ballots, list):
        return Recount(False, "ballots.json is not a JSON array", 0, None, [])
    previous = ""
    for position, ballot in enumerate(ballots):
        try:
            expected = ballot_commitment(str(ballot["pseudonym"]), list(ballot["choices"]), str(ballot["nonce"]))
        except (KeyError, TypeError) as error:
            return Recount(False, f"ballot {position} is malformed: {error}", len(ballots), None, [])
        if expected != ballot.get("commitment"):
            return Recount(
                False, f"ballot {position}: its commitment is not the hash of its record", len(ballots), None, []
            )
        if ballot["commitment"] <= previous:
            return Recount(False, f"ballot {position}: not sorted by commitment, or repeated", len(ballots), None, [])
        previous = ballot["commitment"]
    root = ballots_root(b["commitment"] for b in ballots) if ballots else None
    tally = _count(ballots, result.get("options", []), result.get("available_budget"))
    if hashlib.sha256(ballots_file).hexdigest() != stated.get("sha256"):
        return Recount(False, "ballots.json is not the file whose SHA-256 the result names", len(ballots), root, tally)
    if len(ballots) != stated.get("count") or root != stated.get("root"):
        return Recount(False, "the ballots' count or Merkle root differs from the result's", len(ballots), root, tally)
    if tally != result.get("tally"):
        return Recount(
            False, "the tally computed from the ballots differs from the published result", len(ballots), root, tally
        )
    return Recount(True, f"{len(ballots)} ballots recounted: the published result is theirs", len(ballots), root, tally)


@dataclass(frozen=True, slots=True)
class Inclusion:
    """A ballot's proof of inclusion, as the server gives it (``GET .../ballots/{commitment}``)."""

    process: str
    commitment: str
    code: str
    proof: list[str]
    ballots_root: str
    ballots_count: int
    ballots_verification_code: str
    ballot: dict[str, Any]

    @classmethod
    def _from_json(cls, data: Json) -> Inclusion:
        return cls(
            process=str(data["process"]),
            commitment=str(data["commitment"]),
            code=str(data["code"]),
            proof=[str(p) for p in data["proof"]],
            ballots_root=str(data["ballots_root"]),
            ballots_count=int(data["ballots_count"]),
            ballots_verification_code=str(data["ballots_verification_code"]),
            ballot=dict(data["ballot"]),
        )


@dataclass(frozen=True, slots=True)
class BallotCheck:
    """Whether a voter's ballot is counted: its proof leads to the ballots' root, and that root is on chain.

    Attributes:
        valid: both hold.
        reason: what failed, in plain words.
        included: the proof leads from the commitment to the root (checked offline).
        root: the root's proof bundle checked on chain (``None`` when not asked).
    """

    valid: bool
    reason: str
    included: bool
    root: BundleVerification | None


@dataclass(frozen=True, slots=True)
class TallyCheck:
    """The outcome of :meth:`Participation.verify_tally`.

    Attributes:
        valid: the recount agrees with the result, and the root and the result are both authentic on chain.
        reason: what differed, in plain words.
        recount: the offline recount.
        root: the ballots root's bundle checked on chain.
        result: the result's bundle checked on chain.
    """

    valid: bool
    reason: str
    recount: Recount
    root: BundleVerification | None
    result: BundleVerification | None


def _json_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


class Participation:
    """Participation processes, a ballot's check and a tally's recount; reading needs no API key."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def process(self, process_id: str) -> dict[str, Any]:
        """A process as the server shows it (``GET /v1/participation/processes/{id}``), as parsed JSON."""
        return self._transport.call("GET", f"/v1/participation/processes/{segment(process_id)}", _json_object)

    def inclusion(self, process_id: str, commitment_hex: str) -> Inclusion:
        """A closed process's proof that the ballot with this commitment is among its published ballots."""
        path = f"/v1/participation/processes/{segment(process_id)}/ballots/{segment(commitment_hex)}"
        return self._transport.call("GET", path, Inclusion._from_json)

    def _file(self, url: str) -> bytes:
        base = self._transport.base_url
        path = url[len(base) :] if url.startswith(base) else url
        return self._transport.download(path, lambda response: response.content)

    def _bundle(self, code: str) -> dict[str, Any]:
        return self._transport.call("GET", f"/v1/verify/{segment(code)}/bundle", _json_object)

    def check_ballot(
        self,
        process_id: str,
        commitment_hex: str,
        *,
        rpc_url: str | None = None,
        trusted_notaries: Iterable[TrustedNotary | str] | None = None,
    ) -> BallotCheck:
        """Check a voter's receipt: the proof from the commitment to the root offline, then the root's proof bundle
        on chain (`rpc_url`, by default the server's ``/rpc``; only the Notary contracts in `trusted_notaries`)."""
        inclusion = self.inclusion(process_id, commitment_hex)
        included = inclusion.commitment == commitment_hex and verify_ballot_inclusion(
            commitment_hex, inclusion.proof, inclusion.ballots_root
        )
        if not included:
            return BallotCheck(False, "the proof does not lead from the ballot to the ballots' root", False, None)
        bundle = self._bundle(inclusion.ballots_verification_code)
        root = verify_bundle(
            bundle,
            inclusion.ballots_root,
            rpc_url or f"{self._transport.base_url}/rpc",
            trusted_notaries=trusted_notaries,
        )
        if not root.valid:
            return BallotCheck(False, f"the ballots' root is not authentic on chain: {root.reason}", True, root)
        return BallotCheck(True, "the ballot is among the published ones, whose root is on chain", True, root)

    def verify_tally(
        self,
        process_id: str,
        *,
        rpc_url: str | None = None,
        trusted_notaries: Iterable[TrustedNotary | str] | None = None,
        http: httpx.Client | None = None,
    ) -> TallyCheck:
        """Recount a closed process from its published ballots and check on chain the root and the result.

        Downloads ``ballots.json`` and ``result.json`` from the open-data catalogue, recounts (:func:`recount_tally`),
        and checks the proof bundles of the root and of the result's SHA-256 with :func:`sdk.verify_bundle`.

        Raises:
            ConflictError: the process is not closed or its notarisations are not anchored yet.
        """
        process = self.process(process_id)
        tally = process.get("tally")
        if not tally:
            raise ConflictError(409, "not_closed", "The process is not closed: there is no tally to verify.", None)
        ballots_file, result_file = self._file(tally["ballots_url"]), self._file(tally["result_url"])
        counted = recount_tally(ballots_file, result_file)
        rpc = rpc_url or f"{self._transport.base_url}/rpc"
        root = verify_bundle(
            self._bundle(tally["ballots_receipt"]["verification_code"]),
            tally["ballots_root"],
            rpc,
            trusted_notaries=trusted_notaries,
            http=http,
        )
        result = verify_bundle(
            self._bundle(tally["result_receipt"]["verification_code"]),
            hashlib.sha256(result_file).hexdigest(),
            rpc,
            trusted_notaries=trusted_notaries,
            http=http,
        )
        if not counted.valid:
            return TallyCheck(False, f"recount failed: {counted.reason}", counted, root, result)
        if counted.ballots_root != tally["ballots_root"]:
            return TallyCheck(False, "the published ballots' root is not the notarised one", counted, root, result)
        if not root.valid:
            return TallyCheck(
                False, f"the ballots' root is not authentic on chain: {root.reason}", counted, root, result
            )
        if not result.valid:
            return TallyCheck(False, f"result.json is not the notarised result: {result.reason}", counted, root, result)
        return TallyCheck(
            True, counted.reason + "; the root and the result are anchored on chain", counted, root, result
        )
