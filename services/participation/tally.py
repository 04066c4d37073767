"""Ballots and their tally, as the published data states them: what anyone recounting needs, nothing more.

- A ballot record is ``{"choices": [...sorted...], "nonce": <32 hex>, "pseudonym": <64 hex>}`` written as canonical
  JSON (keys sorted, no spaces, ASCII); its **commitment** is the SHA-256 of those bytes, its **short code** the
  first ten base-32 letters of the commitment (``ABCDE-FGHIJ``).
- The ballots' **Merkle root** is OpenZeppelin ``StandardMerkleTree.of(commitments, ["bytes32"])``'s: a leaf is
  ``keccak256(keccak256(commitment))``, leaves sorted as bytes, an inner node the ``keccak256`` of its two children
  sorted (`chain.merkle`), so `@openzeppelin/merkle-tree` and `MerkleProof.verify` reproduce the root and proofs.
- The **tally** counts, for every option of the process, the ballots choosing it; options rank by votes (then by
  cost, then by id); a budget funds them in that order while they fit what is left of its available budget.

`sdk/participation.py` computes the same for the recount, without the server; a test holds the two together.
"""

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sha3

from segell.chain.merkle import MerkleTree

NONCE_BYTES = 16


@dataclass(frozen=True)
class Option:
    """What a ballot can choose: a budget's project (its cost and district) or a proposal's version (by its hash)."""

    id: str
    cost: int = 0
    district: str | None = None


@dataclass(frozen=True)
class BallotRules:
    """The rules every ballot of a process is checked against; None means no such rule."""

    min_choices: int = 1
    max_choices: int | None = None
    budget_cap: int | None = None
    min_per_district: int | None = None
    max_per_district: int | None = None
    max_districts: int | None = None


def canonical_record(pseudonym: str, choices: Sequence[str], nonce: str) -> bytes:
    """The bytes a ballot's commitment hashes: canonical JSON of its pseudonym, sorted choices and nonce."""
    record = {"choices": sorted(choices), "nonce": nonce, "pseudonym": pseudonym}
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def commitment_of(record: bytes) -> str:
    """The commitment of a canonical ballot record: its SHA-256, 64 hex digits."""
    return hashlib.sha256(record).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def short_code(commitment: str) -> str:
    """The receipt's short code: the commitment's first ten base-32 letters, ``ABCDE-FGHIJ``."""
    letters = base64.b32encode(bytes.fromhex(commitment)).decode()[:10]
    return f"{letters[:5]}-{letters[5:]}"


def ballot_leaf(commitment: str) -> bytes:
    """A ballot's leaf: ``keccak256(keccak256(abi.encode(bytes32 commitment)))``."""
    return _double_keccak(bytes.fromhex(commitment))


def _double_keccak(word: bytes) -> bytes:
    return bytes(sha3.keccak_256(sha3.keccak_256(word).digest()).digest())


def ballots_tree(commitments: Iterable[str]) -> MerkleTree:
    """The ballots' Merkle tree (OpenZeppelin StandardMerkleTree, sorted leaves); at least one commitment."""
    return MerkleTree.build(sorted(_double_keccak(bytes.fromhex(c)) for c in commitments))


def inclusion_proof(tree: MerkleTree, commitment: str) -> list[str] | None:
    """The proof of `commitment` in `tree` (siblings from the leaf up, hex), None when it is not a leaf of it."""
    leaf = ballot_leaf(commitment)
    low, high = 0, tree.size
    while low < high:  # the leaves are sorted: find the commitment's by bisection
        middle = (low + high) // 2
        if tree.leaf(middle) < leaf:
            low = middle + 1
        else:
            high = middle
    if low == tree.size or tree.leaf(low) != leaf:
        return None
    return [sibling.hex() for sibling in tree.proof(low)]


def check_choices(options: Mapping[str, Option], rules: BallotRules, choices: Sequence[str]) -> list[str]:
    """What is wrong with a ballot's choices under the process's rules: nothing when it may be cast."""
    problems: list[str] = []
    if len(set(choices)) != len(choices):
        problems.append("an option is chosen more than once")
    unknown = [choice for choice in choices if choice not in options]
    if unknown:
        problems.append(f"not options of this process: {', '.join(sorted(set(unknown))[:5])}")
        return problems
    count = len(set(choices))
    if count < rules.min_choices:
        problems.append(f"choose at least {rules.min_choices} (chosen: {count})")
    if rules.max_choices is not None and count > rules.max_choices:
        problems.append(f"choose at most {rules.max_choices} (chosen: {count})")
    chosen = [options[choice] for choice in set(choices)]
    if rules.budget_cap is not None:
        total = sum(option.cost for option in chosen)
        if total > rules.budget_cap:
            problems.append(f"the chosen projects cost {total}, over the ballot's budget of {rules.budget_cap}")
    per_district: dict[str, int] = {}
    for option in chosen:
        if option.district is not None:
            per_district[option.district] = per_district.get(option.district, 0) + 1
    if rules.max_districts is not None and len(per_district) > rules.max_districts:
        problems.append(f"choose projects of at most {rules.max_districts} districts (chosen: {len(per_district)})")
    for district, number in sorted(per_district.items()):
        if rules.min_per_district is not None and number < rules.min_per_district:
            problems.append(f"choose at least {rules.min_per_district} projects in {district} (chosen: {number})")
        if rules.max_per_district is not None and number > rules.max_per_district:
            problems.append(f"choose at most {rules.max_per_district} projects in {district} (chosen: {number})")
    return problems


def ballots_document(ballots: Iterable[tuple[str, str, Sequence[str], str]]) -> bytes:
    """The published ballots: a JSON array of ``{commitment, pseudonym, choices, nonce}`` sorted by commitment,
    with no time in it. `ballots` are (commitment, pseudonym, choices, nonce)."""
    rows = sorted(ballots, key=lambda ballot: ballot[0])
    return json.dumps(
        [
            {"commitment": commitment, "pseudonym": pseudonym, "choices": sorted(choices), "nonce": nonce}
            for commitment, pseudonym, choices, nonce in rows
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


class MalformedBallots(ValueError):
    """The published ballots are not what they must be: the message says which ballot and why."""


def read_ballots(document: bytes) -> list[dict[str, Any]]:
    """The ballots of a published document, each checked: its commitment is its record's, sorted, unique."""
    try:
        ballots = json.loads(document)
    except ValueError as error:
        raise MalformedBallots(f"the ballots are not JSON: {error}") from None
    if not isinstance(ballots, list):
        raise MalformedBallots("the ballots are not a JSON array")
    previous = ""
    for position, ballot in enumerate(ballots):
        if not isinstance(ballot, dict) or set(ballot) != {"commitment", "pseudonym", "choices", "nonce"}:
            raise MalformedBallots(f"ballot {position} does not hold exactly commitment, pseudonym, choices, nonce")
        choices = ballot["choices"]
        if not isinstance(choices, list) or not all(isinstance(choice, str) for choice in choices):
            raise MalformedBallots(f"ballot {position}: choices is not a list of option ids")
        record = canonical_record(str(ballot["pseudonym"]), choices, str(ballot["nonce"]))
        if commitment_of(record) != ballot["commitment"]:
            raise MalformedBallots(f"ballot {position}: its commitment is not the hash of its record")
        if ballot["commitment"] <= previous:
            raise MalformedBallots(f"ballot {position}: not sorted by commitment, or a commitment repeated")
        previous = ballot["commitment"]
    return ballots


def count(
    ballots: Iterable[Mapping[str, Any]], options: Sequence[Option], available_budget: int | None
) -> list[dict[str, Any]]:
    """The tally: every option with its votes, ranked (votes, then cost, then id); a budget's options funded in
    that order while they fit what is left of `available_budget` (``funded`` is None without a budget)."""
    votes = {option.id: 0 for option in options}
    for ballot in ballots:
        for choice in ballot["choices"]:
            if choice in votes:
                votes[choice] += 1
    ranked = sorted(options, key=lambda option: (-votes[option.id], option.cost, option.id))
    left = available_budget
    tally: list[dict[str, Any]] = []
    for option in ranked:
        funded: bool | None = None
        if left is not None:
            funded = votes[option.id] > 0 and option.cost <= left
            if funded:
                left -= option.cost
        tally.append({"option": option.id, "votes": votes[option.id], "funded": funded})
    return tally


def result_document(result: Mapping[str, Any]) -> bytes:
    """The published result: canonical JSON (keys sorted, no spaces), so its SHA-256 is the notarised one."""
    return json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
