"""`sdk.verify_bundle` on real bundles: notarised through a real Segell server, checked against its chain.

Every failure reason is produced for real, by altering a bundle the server issued or the document it is for.
"""

import copy
import hashlib
import json
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain.anvil import find_anvil
from chain.nodes import AnvilNotFound
from sdk import (
    BundleVerification,
    Client,
    RPCError,
    TransportError,
    UnexpectedResponseError,
    verify_bundle,
    verify_bundle_proof,
)
from sdk._proof import leaf_hash, process_proof, proof_length
from tests.conftest import RunningServer, free_port, make_settings, serve

ROOT = Path(__file__).resolve().parents[2]
ANCHOR_TIMEOUT_S = 60


@dataclass
class Notarised:
    document: Path
    receipt_id: str
    bundle: dict[str, Any]
    client: Client


@pytest.fixture(scope="module")
def issuer(segell_server: RunningServer) -> Iterator[Client]:
    with Client(segell_server.url, segell_server.admit(name="Ajuntament de Verificació"), timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def rpc_url(segell_server: RunningServer) -> str:
    return f"{segell_server.url}/rpc"


def notarise_in_batch(client: Client, directory: Path, others: int = 6) -> Notarised:
    """Notarise a file together with other hashes in one request, so that its tree has several leaves."""
    document = directory / f"acta-{secrets.token_hex(4)}.txt"
    document.write_text(f"Acta del Ple {secrets.token_hex(8)}\nAcords: aprovats per unanimitat.\n")
    hashes = [hashlib.sha256(secrets.token_bytes(16)).hexdigest() for _ in range(others)]
    position = min(2, others)
    receipts = client.notarise_many([*hashes[:position], document, *hashes[position:]], kind="minutes")
    receipt = client.wait_until_anchored(receipts[position].id, timeout=ANCHOR_TIMEOUT_S)
    return Notarised(document, receipt.id, client.bundle(receipt.id), client)


@pytest.fixture(scope="module")
def notarised(issuer: Client, tmp_path_factory: pytest.TempPathFactory) -> Notarised:
    return notarise_in_batch(issuer, tmp_path_factory.mktemp("documents"))


def altered(bundle: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(bundle)
    for name, value in changes.items():
        if name.startswith("chain_"):
            copied["chain"][name.removeprefix("chain_")] = value
        else:
            copied[name] = value
    return copied


def flipped(hex_word: str) -> str:
    last = int(hex_word[-1], 16) ^ 1
    return hex_word[:-1] + f"{last:x}"


def assert_failed(result: BundleVerification, status: str, *words: str) -> None:
    assert result.status == status, result.reason
    assert result.valid is False
    for word in words:
        assert word in result.reason, result.reason


# -- authentic -------------------------------------------------------------------------------------


def test_verify_bundle_of_anchored_document_is_authentic_via_segell_rpc(
    notarised: Notarised, rpc_url: str, segell_server: RunningServer
) -> None:
    bundle = notarised.bundle
    with Client(segell_server.url) as anonymous:
        health = anonymous.health()

    result = verify_bundle(bundle, notarised.document, rpc_url)

    assert result.valid is True
    assert result.status == "authentic"
    assert result.checked_on_chain is True
    assert result.document_hash == "0x" + hashlib.sha256(notarised.document.read_bytes()).hexdigest()
    assert result.root == bundle["root"] and result.leaf == bundle["leaf"]
    assert result.leaf_index == bundle["leaf_index"] == 2
    assert result.tree_size == bundle["tree_size"] >= 7
    assert result.chain_id == health.chain.chain_id
    assert result.contract == bundle["chain"]["contract"] == health.contracts.notary
    assert result.block_number == bundle["chain"]["block_number"]
    assert result.anchored_at is not None
    assert int(result.anchored_at.timestamp()) == bundle["chain"]["timestamp"]
    assert result.issuer is not None
    assert result.issuer.name == "Ajuntament de Verificació"
    assert result.issuer.administration == bundle["administration"]
    assert result.issuer.account is not None and result.issuer.account.lower() == bundle["issuer"]["account"].lower()
    assert result.revocation is None
    assert "Ajuntament de Verificació" in result.reason


def test_verify_bundle_accepts_bytes_hash_and_bundle_file(notarised: Notarised, rpc_url: str, tmp_path: Path) -> None:
    content = notarised.document.read_bytes()
    bundle_file = tmp_path / "acta.txt.segell.json"
    bundle_file.write_text(json.dumps(notarised.bundle))

    by_bytes = verify_bundle(bundle_file, content, rpc_url)
    by_hex = verify_bundle(notarised.bundle, hashlib.sha256(content).hexdigest(), rpc_url)
    by_0x = verify_bundle(notarised.bundle, notarised.bundle["document_hash"], rpc_url)
    by_str_path = verify_bundle(str(bundle_file), str(notarised.document), rpc_url)

    assert {by_bytes.status, by_hex.status, by_0x.status, by_str_path.status} == {"authentic"}


def test_verify_bundle_reuses_a_given_http_client(notarised: Notarised, rpc_url: str) -> None:
    requests: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [requests.append]}) as http:
        results = [verify_bundle(notarised.bundle, notarised.document, rpc_url, http=http) for _ in range(3)]
        assert not http.is_closed  # the caller's client stays open

    assert [result.status for result in results] == ["authentic"] * 3
    assert len(requests) == 3  # one JSON-RPC batch per bundle


def test_verify_bundle_proof_checks_offline_without_any_network(notarised: Notarised) -> None:
    result = verify_bundle_proof(notarised.bundle, notarised.document)

    assert result.valid is True
    assert result.status == "proof_valid"
    assert result.checked_on_chain is False
    assert result.root == notarised.bundle["root"]
    assert "has not been checked" in result.reason


def test_bundle_verifies_with_openzeppelin_merkle_tree_library(notarised: Notarised) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.skip("node and @openzeppelin/merkle-tree are installed by make setup")
    bundle = notarised.bundle
    script = """
        const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
        const b = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const values = [b.document_hash, b.administration, b.salt, b.leaf_index];
        console.log(StandardMerkleTree.verify(b.root, b.leaf_encoding, values, b.proof));
        const moved = [...values.slice(0, 3), b.leaf_index + 1];
        console.log(StandardMerkleTree.verify(b.root, b.leaf_encoding, moved, b.proof));
    """
    answer = subprocess.run(
        [node, "-e", script], input=json.dumps(bundle), capture_output=True, text=True, cwd=ROOT, check=True
    )

    assert answer.stdout.split() == ["true", "false"]


# -- each failure, for real ------------------------------------------------------------------------


def test_tampered_document_is_wrong_document(notarised: Notarised, rpc_url: str, tmp_path: Path) -> None:
    tampered = tmp_path / notarised.document.name
    tampered.write_bytes(notarised.document.read_bytes().replace(b"unanimitat", b"majoria"))

    result = verify_bundle(notarised.bundle, tampered, rpc_url)

    assert_failed(result, "wrong_document", hashlib.sha256(tampered.read_bytes()).hexdigest())
    assert result.checked_on_chain is False


def test_flipped_proof_element_is_tampered_proof(notarised: Notarised, rpc_url: str) -> None:
    proof = list(notarised.bundle["proof"])
    assert proof, "the document shares its tree, so its proof has siblings"
    proof[-1] = flipped(proof[-1])

    result = verify_bundle(altered(notarised.bundle, proof=proof), notarised.document, rpc_url)

    assert_failed(result, "tampered_proof", "does not lead to the bundle's root")


def test_changed_leaf_index_is_tampered_proof(notarised: Notarised, rpc_url: str) -> None:
    bundle = altered(notarised.bundle, leaf_index=notarised.bundle["leaf_index"] + 1)

    result = verify_bundle(bundle, notarised.document, rpc_url)

    assert_failed(result, "tampered_proof", "leaf index 3")


def test_changed_leaf_index_with_recomputed_leaf_is_tampered_proof(notarised: Notarised, rpc_url: str) -> None:
    bundle = notarised.bundle
    index = 0
    leaf = leaf_hash(*(bytes.fromhex(bundle[name][2:]) for name in ("document_hash", "administration", "salt")), index)
    moved = altered(bundle, leaf_index=index, leaf="0x" + leaf.hex())

    result = verify_bundle(moved, notarised.document, rpc_url)

    assert_failed(result, "tampered_proof")


def test_changed_tree_size_is_caught(notarised: Notarised, rpc_url: str) -> None:
    bundle = notarised.bundle
    index, size = bundle["leaf_index"], bundle["tree_size"]
    length = proof_length(index, size)
    same_depth = next(n for n in range(size + 1, 4 * size) if proof_length(index, n) == length)
    other_depth = next(n for n in range(index + 1, 4 * size) if proof_length(index, n) != length)

    on_chain = verify_bundle(altered(bundle, tree_size=same_depth), notarised.document, rpc_url)
    in_proof = verify_bundle(altered(bundle, tree_size=other_depth), notarised.document, rpc_url)

    assert_failed(on_chain, "root_not_on_chain", f"{size} leaves", f"bundle's {same_depth}")
    assert_failed(in_proof, "tampered_proof", f"a tree of {other_depth} leaves")


def test_changed_chain_id_is_other_chain(notarised: Notarised, rpc_url: str) -> None:
    chain_id = notarised.bundle["chain"]["chain_id"]
    bundle = altered(notarised.bundle, chain_chain_id=chain_id + 1)

    result = verify_bundle(bundle, notarised.document, rpc_url)

    assert_failed(result, "other_chain", f"chain {chain_id + 1}", f"serves chain {chain_id}")
    assert result.checked_on_chain is True


def test_root_never_anchored_is_root_not_on_chain(notarised: Notarised, rpc_url: str) -> None:
    # A consistent forgery: the real leaf under a made-up root, with a proof of the right length leading to it.
    bundle = notarised.bundle
    proof = [secrets.token_bytes(32) for _ in bundle["proof"]]
    root = process_proof(bytes.fromhex(bundle["leaf"][2:]), proof)
    forged = altered(bundle, proof=["0x" + node.hex() for node in proof], root="0x" + root.hex())
    assert verify_bundle_proof(forged, notarised.document).status == "proof_valid"

    result = verify_bundle(forged, notarised.document, rpc_url)

    assert_failed(result, "root_not_on_chain", "never been anchored")


def test_changed_block_hash_or_number_is_root_not_on_chain(notarised: Notarised, rpc_url: str) -> None:
    chain = notarised.bundle["chain"]

    other_hash = verify_bundle(
        altered(notarised.bundle, chain_block_hash=flipped(chain["block_hash"])), notarised.document, rpc_url
    )
    other_block = verify_bundle(
        altered(notarised.bundle, chain_block_number=chain["block_number"] - 1), notarised.document, rpc_url
    )

    assert_failed(other_hash, "root_not_on_chain", "reorganised or reset")
    assert_failed(other_block, "root_not_on_chain", f"anchored in block {chain['block_number']}")


def test_other_contract_is_root_not_on_chain(notarised: Notarised, rpc_url: str, segell_server: RunningServer) -> None:
    with Client(segell_server.url) as anonymous:
        registry = anonymous.health().contracts.registry
    no_code = "0x" + secrets.token_hex(20)

    at_registry = verify_bundle(altered(notarised.bundle, chain_contract=registry), notarised.document, rpc_url)
    at_nothing = verify_bundle(altered(notarised.bundle, chain_contract=no_code), notarised.document, rpc_url)

    assert_failed(at_registry, "root_not_on_chain", registry)
    assert_failed(at_nothing, "root_not_on_chain", no_code)


def test_unsupported_or_broken_bundle_is_malformed(notarised: Notarised, rpc_url: str, tmp_path: Path) -> None:
    not_json = tmp_path / "broken.segell.json"
    not_json.write_text("{not json")
    cases = {
        "version 2": altered(notarised.bundle, version=2),
        "format": altered(notarised.bundle, format="another-bundle"),
        "root": altered(notarised.bundle, root="0x1234"),
        "proof[0]": altered(notarised.bundle, proof=["not hex", *notarised.bundle["proof"][1:]]),
        "leaf_index": altered(notarised.bundle, leaf_index=notarised.bundle["tree_size"]),
        "chain": altered(notarised.bundle, chain=None),
    }

    for words, bundle in cases.items():
        assert_failed(verify_bundle(bundle, notarised.document, rpc_url), "malformed_bundle", words)
    assert_failed(verify_bundle(not_json, notarised.document, rpc_url), "malformed_bundle", "not JSON")


def test_revoked_document_is_revoked_with_reason_and_time(issuer: Client, rpc_url: str, tmp_path: Path) -> None:
    revocable = notarise_in_batch(issuer, tmp_path, others=1)
    assert verify_bundle(revocable.bundle, revocable.document, rpc_url).status == "authentic"

    receipt = issuer.revoke(revocable.receipt_id, "Error material en l'import")
    result = verify_bundle(revocable.bundle, revocable.document, rpc_url)

    assert_failed(result, "revoked", "Error material en l'import")
    assert result.revocation is not None
    assert result.revocation.reason == "Error material en l'import"
    assert receipt.revocation is not None
    assert result.revocation.block_number == receipt.revocation.block_number
    assert result.revocation.revoked_at == receipt.revocation.revoked_at
    assert result.checked_on_chain is True


# -- the node, not the bundle ----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_rpc_raises_transport_error(notarised: Notarised) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(TransportError) as raised:
        verify_bundle(notarised.bundle, notarised.document, url)

    assert raised.value.url == url
    assert "Cannot reach the JSON-RPC endpoint" in raised.value.message


def test_failures_found_offline_need_no_rpc(notarised: Notarised, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = verify_bundle(notarised.bundle, b"another document", url)

    assert result.status == "wrong_document"


def test_endpoint_that_is_not_json_rpc_raises_unexpected_response(
    notarised: Notarised, segell_server: RunningServer
) -> None:
    with pytest.raises(UnexpectedResponseError):
        verify_bundle(notarised.bundle, notarised.document, f"{segell_server.url}/health")


def test_segell_rpc_without_its_node_raises_rpc_error(tmp_path: Path) -> None:
    for server in serve(make_settings(tmp_path / "home")):
        with Client(server.url, server.admit(name="Ajuntament sense node"), timeout=30) as client:
            anchored = notarise_in_batch(client, tmp_path, others=1)
        assert verify_bundle(anchored.bundle, anchored.document, f"{server.url}/rpc").valid
        server.app.state.runtime.node.stop()  # type: ignore[attr-defined]

        with pytest.raises(RPCError) as raised:
            verify_bundle(anchored.bundle, anchored.document, f"{server.url}/rpc")

        assert raised.value.code == -32603
        assert raised.value.url == f"{server.url}/rpc"


def _answers(url: str) -> bool:
    try:
        return "result" in httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).json()
    except (httpx.HTTPError, ValueError):
        return False


@pytest.mark.anvil
@pytest.mark.slow
def test_verify_bundle_directly_against_a_node_of_the_network(tmp_path: Path) -> None:
    # Segell publishes no node URL of its own; a node of the network someone runs (a bare anvil here) is one.
    try:
        anvil = find_anvil(None)
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")
    node_url = f"http://127.0.0.1:{free_port()}"
    node = subprocess.Popen([str(anvil), "--port", node_url.rsplit(":", 1)[1], "--silent"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not _answers(node_url):
            assert node.poll() is None and time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.05)
        for server in serve(make_settings(tmp_path / "home", chain=node_url)):
            with Client(server.url) as anonymous:
                assert anonymous.health().chain.rpc_url is None
            with Client(server.url, server.admit(name="Ajuntament amb node"), timeout=30) as client:
                anchored = notarise_in_batch(client, tmp_path, others=2)

            direct = verify_bundle(anchored.bundle, anchored.document, node_url)
            through_segell = verify_bundle(anchored.bundle, anchored.document, f"{server.url}/rpc")

            assert direct.status == through_segell.status == "authentic"
            assert direct == through_segell
    finally:
        node.terminate()
        node.wait(timeout=10)
