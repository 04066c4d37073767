"""Mutations of genuine proof bundles: no exception escapes, and none is authentic unless only informative fields
changed (sdk.INFORMATIVE_FIELDS).

The bundles are notarised through a real Segell server and checked against its chain through its /rpc.
"""

import copy
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segell.sdk import INFORMATIVE_FIELDS, Client, TrustedNotary, verify_bundle
from tests.helpers import RunningServer
from tests.sdk.test_verify_bundle import Notarised, notarise_in_batch

# Every field a version 1 bundle defines, by its path.
FIELDS = (
    "format",
    "version",
    "hash_algorithm",
    "document_hash",
    "salt",
    "administration",
    "leaf_encoding",
    "leaf_index",
    "leaf",
    "proof",
    "root",
    "tree_size",
    "chain",
    "chain.chain_id",
    "chain.contract",
    "chain.transaction_hash",
    "chain.block_number",
    "chain.block_hash",
    "chain.timestamp",
    "issuer",
    "issuer.code",
    "issuer.name",
    "issuer.account",
    "receipt",
    "receipt.id",
    "receipt.verification_code",
    "receipt.kind",
    "receipt.title",
)
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def genuine(segell_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Notarised:
    with Client(segell_server.url, segell_server.admit(name="Consell Comarcal del Ripollès"), timeout=30) as client:
        return notarise_in_batch(client, tmp_path_factory.mktemp("mutations"), others=4)


@pytest.fixture(scope="module")
def trusted(segell_server: RunningServer) -> list[TrustedNotary]:
    with Client(segell_server.url) as anonymous:
        return [anonymous.deployment().trusted_notary]


def is_informative(path: str) -> bool:
    return any(path == field or path.startswith(field + ".") for field in INFORMATIVE_FIELDS)


def what_the_proof_says(bundle: Any) -> Any:
    """The bundle's proof fields as a verifier must read them: informative and unknown fields left out, hex
    digits and addresses in one case (they are compared case-insensitively)."""

    def normal(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("0x"):
            return value.lower()
        if isinstance(value, list):
            return [normal(item) for item in value]
        return value

    if not isinstance(bundle, dict):
        return bundle
    said: dict[str, Any] = {}
    for path in FIELDS:
        if is_informative(path) or path in ("chain", "issuer", "receipt"):
            continue
        where: Any = bundle
        for part in path.split("."):
            where = where.get(part, KeyError) if isinstance(where, dict) else KeyError
        # Types matter: 1 and 1.0 and True are different JSON values.
        said[path] = (type(where).__name__, normal(where))
    return said


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.sampled_from([2**64 - 1, 2**64, 2**256, 253_402_300_800, 10**20, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80),
    st.sampled_from(["0x", "0x" + "0" * 64, "0x" + "f" * 40, "0X" + "a" * 64, "0x" + "g" * 64]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def parent_and_key(bundle: dict[str, Any], path: str) -> tuple[Any, str]:
    parts = path.split(".")
    where: Any = bundle
    for part in parts[:-1]:
        where = where.get(part) if isinstance(where, dict) else None
    return where, parts[-1]


def nested(depth: int, inner: Any) -> Any:
    for _ in range(depth):
        inner = [inner] if depth % 2 else {"x": inner}
    return inner


def tweak(value: Any, draw: Callable[..., Any]) -> Any:
    """A small change of the right type: the kind of edit a forger makes."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + draw(st.sampled_from([1, -1, 2**64, -(2**64), 10**30]))
    if isinstance(value, str):
        if not value:
            return "x"
        position = draw(st.integers(0, len(value) - 1))
        replacement = draw(st.sampled_from(["0", "1", "f", "F", "X", " ", "\u00e9", "\x00", ""]))
        changed = value[:position] + replacement + value[position + 1 :]
        return changed if changed != value else value + "0"
    if isinstance(value, list):
        if value and draw(st.booleans()):
            return value[:-1]
        return [*value, value[0] if value else "0x" + "0" * 64]
    return value


@st.composite
def mutations(draw: Callable[..., Any], original: dict[str, Any]) -> dict[str, Any]:
    bundle = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(FIELDS))
        parent, key = parent_and_key(bundle, path)
        if not isinstance(parent, dict):
            continue
        kind = draw(st.sampled_from(["replace", "tweak", "tweak", "tweak", "delete", "nest", "add", "proof"]))
        if kind == "replace":
            parent[key] = draw(json_values)
        elif kind == "tweak" and key in parent:
            parent[key] = tweak(parent[key], draw)
        elif kind == "delete":
            parent.pop(key, None)
        elif kind == "nest":
            parent[key] = nested(draw(st.sampled_from([2, 40, 2_000, 50_000])), parent.get(key))
        elif kind == "add":
            parent[draw(st.sampled_from(["extra", "note", "signature"]))] = draw(json_values)
        elif kind == "proof" and isinstance(bundle.get("proof"), list) and bundle["proof"]:
            index = draw(st.integers(0, len(bundle["proof"]) - 1))
            bundle["proof"][index] = draw(st.sampled_from([bundle["root"], bundle["leaf"], "0x" + "0" * 64]))
    return bundle


def test_mutated_bundles_never_raise_and_are_authentic_only_if_informative_fields_changed(
    genuine: Notarised, segell_server: RunningServer, trusted: list[TrustedNotary]
) -> None:
    rpc_url = f"{segell_server.url}/rpc"
    assert verify_bundle(genuine.bundle, genuine.document, rpc_url, trusted_notaries=trusted).status == "authentic"
    proof_says = what_the_proof_says(genuine.bundle)
    outcomes: dict[str, int] = {}

    @SETTINGS
    @given(mutations(genuine.bundle))
    def check(mutated: dict[str, Any]) -> None:
        result = verify_bundle(mutated, genuine.document, rpc_url, trusted_notaries=trusted)
        outcomes[result.status] = outcomes.get(result.status, 0) + 1
        assert result.reason
        if result.status == "authentic":
            assert what_the_proof_says(mutated) == proof_says, result.reason
        elif result.status == "malformed_bundle":
            assert result.reason.startswith("The bundle is malformed: ")

    check()
    # The mutations reach every stage of verification, not only the parser.
    assert {"malformed_bundle", "tampered_proof", "authentic"} <= outcomes.keys(), outcomes
    assert len(outcomes) >= 5, outcomes


ENCODINGS = ["utf-16", "utf-32", "latin-1", "utf-8-sig", "cp1252"]


def test_bundle_files_in_other_encodings_or_damaged_never_raise(
    genuine: Notarised, segell_server: RunningServer, trusted: list[TrustedNotary], tmp_path: Path
) -> None:
    rpc_url = f"{segell_server.url}/rpc"
    text = json.dumps(genuine.bundle, ensure_ascii=False)
    assert "è" in text  # "Ripollès": the encodings differ on it
    outcomes: dict[str, int] = {}

    @SETTINGS
    @given(
        encoding=st.sampled_from([*ENCODINGS, "utf-8"]),
        cut=st.integers(0, len(text)),
        inserted=st.binary(max_size=4),
        depth=st.sampled_from([0, 0, 33, 5_000, 200_000]),
    )
    def check(encoding: str, cut: int, inserted: bytes, depth: int) -> None:
        body = text
        if depth:
            body = body.replace('"version": 1', '"version": ' + "[" * depth + "1" + "]" * depth)
        raw = body.encode(encoding, errors="replace")
        raw = raw[:cut] + inserted + raw[cut:] if inserted else raw
        path = tmp_path / f"{secrets.token_hex(6)}.segell.json"
        path.write_bytes(raw)
        result = verify_bundle(path, genuine.document, rpc_url, trusted_notaries=trusted)
        outcomes[result.status] = outcomes.get(result.status, 0) + 1
        if depth > 32 or encoding in ("utf-16", "utf-32", "utf-8-sig"):
            assert result.status == "malformed_bundle", result.reason
        if result.status == "authentic":
            reread = json.loads(raw.decode("utf-8"))
            assert what_the_proof_says(reread) == what_the_proof_says(genuine.bundle)

    check()
    assert {"malformed_bundle", "authentic"} <= outcomes.keys(), outcomes
