"""`sdk.verify_bundle` on real bundles: notarised through a real Segell server, checked against its chain.

Every failure reason is produced for real, by altering a bundle the server issued or the document it is for.
"""

import copy
import hashlib
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from segell.chain.anvil import find_anvil
from segell.chain.deploy import deploy
from segell.chain.nodes import AnvilNotFound
from segell.chain.notary import NotaryClient
from segell.chain.registry import RegistryClient
from segell.chain.transactions import send_transaction
from segell.sdk import (
    BundleIssuer,
    BundleVerification,
    Client,
    RPCError,
    TransportError,
    TrustedNotary,
    UnexpectedResponseError,
    verify_bundle,
    verify_bundle_proof,
)
from segell.sdk._proof import leaf_hash, process_proof, proof_length
from tests.helpers import PLAIN_HTTP, RunningServer, closed_port, free_port, make_settings, serve

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


@pytest.fixture(scope="module")
def trusted(segell_server: RunningServer) -> list[TrustedNotary]:
    """The server's Notary, pinned as `segell trust add` pins it: from its /.well-known/segell.json."""
    with Client(segell_server.url) as anonymous:
        return [anonymous.deployment().trusted_notary]


def notarise_in_batch(client: Client, directory: Path, others: int = 6) -> Notarised:
    """Notarise a file together with other hashes in one request, so that its tree has several leaves."""
    document = directory / f"acta-{secrets.token_hex(4)}.txt"
    document.write_text(f"Acta del Ple {secrets.token_hex(8)}\nAcords: aprovats per unanimitat.\n")
    hashes = [hashlib.sha256(secrets.token_bytes(16)).hexdigest() for _ in range(others)]
    position = min(2, others)
    receipts = client.documents.notarise_many([*hashes[:position], document, *hashes[position:]], kind="minutes")
    receipt = client.documents.wait_until_anchored(receipts[position].id, timeout=ANCHOR_TIMEOUT_S)
    return Notarised(document, receipt.id, client.documents.bundle(receipt.id), client)


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
    notarised: Notarised, rpc_url: str, segell_server: RunningServer, trusted: list[TrustedNotary]
) -> None:
    bundle = notarised.bundle
    with Client(segell_server.url) as anonymous:
        health = anonymous.health()

    result = verify_bundle(bundle, notarised.document, rpc_url, trusted_notaries=trusted)

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


def test_verify_bundle_accepts_bytes_hash_and_bundle_file(
    notarised: Notarised, rpc_url: str, tmp_path: Path, trusted: list[TrustedNotary]
) -> None:
    content = notarised.document.read_bytes()
    bundle_file = tmp_path / "acta.txt.segell.json"
    bundle_file.write_text(json.dumps(notarised.bundle))

    by_bytes = verify_bundle(bundle_file, content, rpc_url, trusted_notaries=trusted)
    by_hex = verify_bundle(notarised.bundle, hashlib.sha256(content).hexdigest(), rpc_url, trusted_notaries=trusted)
    by_0x = verify_bundle(notarised.bundle, notarised.bundle["document_hash"], rpc_url, trusted_notaries=trusted)
    by_str_path = verify_bundle(str(bundle_file), str(notarised.document), rpc_url, trusted_notaries=trusted)

    assert {by_bytes.status, by_hex.status, by_0x.status, by_str_path.status} == {"authentic"}


def test_verify_bundle_reuses_a_given_http_client(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    requests: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [requests.append]}) as http:
        results = [
            verify_bundle(notarised.bundle, notarised.document, rpc_url, trusted_notaries=trusted, http=http)
            for _ in range(3)
        ]
        assert not http.is_closed  # the caller's client stays open
        by_address = verify_bundle(
            notarised.bundle, notarised.document, rpc_url, trusted_notaries=[trusted[0].address], http=http
        )

    assert [result.status for result in results] == ["authentic"] * 3 and by_address.status == "authentic"
    # One JSON-RPC batch per bundle; a second one for the issuer when the anchor does not know the registry.
    assert len(requests) == 3 + 2


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


def test_tampered_document_is_wrong_document(
    notarised: Notarised, rpc_url: str, tmp_path: Path, trusted: list[TrustedNotary]
) -> None:
    tampered = tmp_path / notarised.document.name
    tampered.write_bytes(notarised.document.read_bytes().replace(b"unanimitat", b"majoria"))

    result = verify_bundle(notarised.bundle, tampered, rpc_url, trusted_notaries=trusted)

    assert_failed(result, "wrong_document", hashlib.sha256(tampered.read_bytes()).hexdigest())
    assert result.checked_on_chain is False


def test_flipped_proof_element_is_tampered_proof(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    proof = list(notarised.bundle["proof"])
    assert proof, "the document shares its tree, so its proof has siblings"
    proof[-1] = flipped(proof[-1])

    result = verify_bundle(
        altered(notarised.bundle, proof=proof), notarised.document, rpc_url, trusted_notaries=trusted
    )

    assert_failed(result, "tampered_proof", "does not lead to the bundle's root")


def test_changed_leaf_index_is_tampered_proof(notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]) -> None:
    bundle = altered(notarised.bundle, leaf_index=notarised.bundle["leaf_index"] + 1)

    result = verify_bundle(bundle, notarised.document, rpc_url, trusted_notaries=trusted)

    assert_failed(result, "tampered_proof", "leaf index 3")


def test_changed_leaf_index_with_recomputed_leaf_is_tampered_proof(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    bundle = notarised.bundle
    index = 0
    leaf = leaf_hash(*(bytes.fromhex(bundle[name][2:]) for name in ("document_hash", "administration", "salt")), index)
    moved = altered(bundle, leaf_index=index, leaf="0x" + leaf.hex())

    result = verify_bundle(moved, notarised.document, rpc_url, trusted_notaries=trusted)

    assert_failed(result, "tampered_proof")


def test_changed_tree_size_is_caught(notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]) -> None:
    bundle = notarised.bundle
    index, size = bundle["leaf_index"], bundle["tree_size"]
    length = proof_length(index, size)
    same_depth = next(n for n in range(size + 1, 4 * size) if proof_length(index, n) == length)
    other_depth = next(n for n in range(index + 1, 4 * size) if proof_length(index, n) != length)

    on_chain = verify_bundle(
        altered(bundle, tree_size=same_depth), notarised.document, rpc_url, trusted_notaries=trusted
    )
    in_proof = verify_bundle(
        altered(bundle, tree_size=other_depth), notarised.document, rpc_url, trusted_notaries=trusted
    )

    assert_failed(on_chain, "root_not_on_chain", f"{size} leaves", f"bundle's {same_depth}")
    assert_failed(in_proof, "tampered_proof", f"a tree of {other_depth} leaves")


def test_changed_chain_id_is_other_chain_or_untrusted(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    chain_id, contract = notarised.bundle["chain"]["chain_id"], notarised.bundle["chain"]["contract"]
    bundle = altered(notarised.bundle, chain_chain_id=chain_id + 1)

    # Trusted on any chain, the node says which chain it is; pinned to its chain, the bundle's chain is not it.
    by_address = verify_bundle(bundle, notarised.document, rpc_url, trusted_notaries=[contract])
    pinned = verify_bundle(bundle, notarised.document, rpc_url, trusted_notaries=trusted)

    assert_failed(by_address, "other_chain", f"chain {chain_id + 1}", f"serves chain {chain_id}")
    assert by_address.checked_on_chain is True
    assert_failed(pinned, "untrusted_contract", f"on chain {chain_id + 1}")


def test_root_never_anchored_is_root_not_on_chain(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    # A consistent forgery: the real leaf under a made-up root, with a proof of the right length leading to it.
    bundle = notarised.bundle
    proof = [secrets.token_bytes(32) for _ in bundle["proof"]]
    root = process_proof(bytes.fromhex(bundle["leaf"][2:]), proof)
    forged = altered(bundle, proof=["0x" + node.hex() for node in proof], root="0x" + root.hex())
    assert verify_bundle_proof(forged, notarised.document).status == "proof_valid"

    result = verify_bundle(forged, notarised.document, rpc_url, trusted_notaries=trusted)

    assert_failed(result, "root_not_on_chain", "never been anchored")


def test_changed_block_hash_or_number_is_root_not_on_chain(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    chain = notarised.bundle["chain"]

    other_hash = verify_bundle(
        altered(notarised.bundle, chain_block_hash=flipped(chain["block_hash"])),
        notarised.document,
        rpc_url,
        trusted_notaries=trusted,
    )
    other_block = verify_bundle(
        altered(notarised.bundle, chain_block_number=chain["block_number"] - 1),
        notarised.document,
        rpc_url,
        trusted_notaries=trusted,
    )

    assert_failed(other_hash, "root_not_on_chain", "reorganised or reset")
    assert_failed(other_block, "root_not_on_chain", f"anchored in block {chain['block_number']}")


def test_other_contract_is_untrusted_contract_without_asking_it(
    notarised: Notarised, rpc_url: str, segell_server: RunningServer, trusted: list[TrustedNotary]
) -> None:
    with Client(segell_server.url) as anonymous:
        registry = anonymous.health().contracts.registry
    no_code = "0x" + secrets.token_hex(20)
    unreachable = f"http://127.0.0.1:{closed_port()}"

    at_registry = verify_bundle(
        altered(notarised.bundle, chain_contract=registry), notarised.document, rpc_url, trusted_notaries=trusted
    )
    at_nothing = verify_bundle(
        altered(notarised.bundle, chain_contract=no_code), notarised.document, unreachable, trusted_notaries=trusted
    )

    assert_failed(at_registry, "untrusted_contract", registry, "segell trust add")
    assert_failed(at_nothing, "untrusted_contract", no_code, f"--notary {notarised.bundle['chain']['chain_id']}:")
    assert at_registry.checked_on_chain is False and at_nothing.checked_on_chain is False


def test_contract_trusted_by_mistake_is_root_not_on_chain(
    notarised: Notarised, rpc_url: str, segell_server: RunningServer
) -> None:
    with Client(segell_server.url) as anonymous:
        registry = anonymous.health().contracts.registry
    no_code = "0x" + secrets.token_hex(20)

    at_registry = verify_bundle(
        altered(notarised.bundle, chain_contract=registry), notarised.document, rpc_url, trusted_notaries=[registry]
    )
    at_nothing = verify_bundle(
        altered(notarised.bundle, chain_contract=no_code), notarised.document, rpc_url, trusted_notaries=[no_code]
    )

    assert_failed(at_registry, "root_not_on_chain", registry)
    assert_failed(at_nothing, "root_not_on_chain", no_code)


def test_verify_bundle_without_trust_anchor_is_untrusted_contract(notarised: Notarised, rpc_url: str) -> None:
    contract = notarised.bundle["chain"]["contract"]

    result = verify_bundle(notarised.bundle, notarised.document, rpc_url)

    assert_failed(result, "untrusted_contract", contract, "you trust no Notary yet", "segell trust add")
    assert result.checked_on_chain is False
    assert result.trusted_notary is None


def test_trust_anchor_forms_cover_only_their_chain_and_address(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    contract, chain_id = notarised.bundle["chain"]["contract"], notarised.bundle["chain"]["chain_id"]

    by_address = verify_bundle(
        notarised.bundle, notarised.document, rpc_url, trusted_notaries=["0x" + contract[2:].upper()]
    )
    by_chain = verify_bundle(notarised.bundle, notarised.document, rpc_url, trusted_notaries=[f"{chain_id}:{contract}"])
    other_chain = verify_bundle(
        notarised.bundle, notarised.document, rpc_url, trusted_notaries=[TrustedNotary(contract, chain_id=chain_id + 1)]
    )

    assert by_address.status == by_chain.status == "authentic"
    assert by_chain.trusted_notary == TrustedNotary(contract, chain_id=chain_id)
    assert_failed(other_chain, "untrusted_contract", f"{chain_id + 1}:{contract.lower()}")
    with pytest.raises(ValueError, match="CHAIN_ID:ADDRESS"):
        verify_bundle(notarised.bundle, notarised.document, rpc_url, trusted_notaries=["notary.example"])


def test_the_most_specific_trust_anchor_is_the_one_checked(
    notarised: Notarised, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    pinned = trusted[0]
    stale = TrustedNotary(pinned.address, chain_id=pinned.chain_id, registry="0x" + "ab" * 20, name="Segell antic")
    requests: list[httpx.Request] = []

    with httpx.Client(event_hooks={"request": [requests.append]}) as http:
        both = verify_bundle(
            notarised.bundle, notarised.document, rpc_url, trusted_notaries=[pinned.address, pinned], http=http
        )
    with_stale = verify_bundle(notarised.bundle, notarised.document, rpc_url, trusted_notaries=[pinned.address, stale])

    assert both.status == "authentic" and both.trusted_notary == pinned
    assert len(requests) == 1  # the pinned registry is asked in the first batch
    assert_failed(with_stale, "untrusted_contract", "0x" + "ab" * 20, "Pin the deployment again")


def test_lookalike_notary_holding_the_same_anchor_is_untrusted_contract(
    notarised: Notarised, rpc_url: str, segell_server: RunningServer, trusted: list[TrustedNotary]
) -> None:
    # Anyone may deploy the same contracts, admit the same administration id and name, and anchor the same root.
    runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    w3, deployer = runtime.node.w3, Account.create()
    send_transaction(w3, runtime.governance, {"to": deployer.address, "value": 10**18})
    lookalike = deploy(w3, deployer)
    bundle = notarised.bundle
    administration = bytes.fromhex(bundle["administration"][2:])
    RegistryClient(w3, lookalike.registry).admit_administration(deployer, administration, bundle["issuer"]["name"])
    RegistryClient(w3, lookalike.registry).add_account(deployer, administration, deployer.address)
    sent = NotaryClient(w3, lookalike.notary).anchor_root(
        deployer, bytes.fromhex(bundle["root"][2:]), bundle["tree_size"]
    )
    block = w3.eth.get_block(sent.block_number)
    forged = copy.deepcopy(bundle)
    forged["chain"].update(
        contract=lookalike.notary,
        transaction_hash=sent.transaction_hash,
        block_number=sent.block_number,
        block_hash=block["hash"].to_0x_hex(),
        timestamp=block["timestamp"],
    )
    forged["issuer"]["account"] = deployer.address
    genuine_registry = trusted[0].registry
    assert genuine_registry is not None

    result = verify_bundle(forged, notarised.document, rpc_url, trusted_notaries=trusted)
    pinned_elsewhere = verify_bundle(
        forged,
        notarised.document,
        rpc_url,
        trusted_notaries=[
            TrustedNotary(lookalike.notary, chain_id=bundle["chain"]["chain_id"], registry=genuine_registry)
        ],
    )
    # Whoever trusts the look-alike gets its word: the forgery is complete, only the trust anchor stops it.
    if_trusted = verify_bundle(forged, notarised.document, rpc_url, trusted_notaries=[lookalike.notary])

    assert_failed(result, "untrusted_contract", lookalike.notary)
    assert_failed(pinned_elsewhere, "untrusted_contract", lookalike.registry.lower(), genuine_registry)
    assert if_trusted.status == "authentic", if_trusted.reason


def test_edited_issuer_name_or_code_is_issuer_mismatch(
    notarised: Notarised, rpc_url: str, segell_server: RunningServer, trusted: list[TrustedNotary]
) -> None:
    other_code = f"L{secrets.randbelow(10**8):08d}"
    segell_server.admit(other_code, "Ajuntament de Lloret")
    bundle = notarised.bundle
    renamed = copy.deepcopy(bundle)
    renamed["issuer"]["name"] = "Ajuntament de Lloret"
    recoded = copy.deepcopy(bundle)
    recoded["issuer"]["code"] = other_code
    both = copy.deepcopy(renamed)
    both["issuer"]["code"] = other_code

    by_name = verify_bundle(renamed, notarised.document, rpc_url, trusted_notaries=trusted)
    by_code = verify_bundle(recoded, notarised.document, rpc_url, trusted_notaries=trusted)
    by_both = verify_bundle(both, notarised.document, rpc_url, trusted_notaries=trusted)

    assert_failed(by_name, "issuer_mismatch", "issuer.name is 'Ajuntament de Lloret'", "'Ajuntament de Verificació'")
    assert_failed(by_code, "issuer_mismatch", f"issuer.code is '{other_code}'", bundle["issuer"]["code"])
    assert_failed(by_both, "issuer_mismatch", "issuer.code")
    assert "Lloret" not in by_both.reason.split("but")[1]


def test_issuer_is_read_from_the_registry_with_its_status(
    issuer: Client, notarised: Notarised, rpc_url: str, segell_server: RunningServer, trusted: list[TrustedNotary]
) -> None:
    code = notarised.bundle["issuer"]["code"]
    with Client(segell_server.url, segell_server.governance_key) as governance:
        governance.administrations.suspend(code)
        try:
            suspended = verify_bundle(notarised.bundle, notarised.document, rpc_url, trusted_notaries=trusted)
        finally:
            governance.administrations.reinstate(code)
    active = verify_bundle(notarised.bundle, notarised.document, rpc_url, trusted_notaries=trusted)

    assert suspended.status == "authentic", suspended.reason
    assert suspended.issuer is not None and suspended.issuer.status == "suspended"
    assert "now lists the administration as suspended" in suspended.reason
    assert active.issuer == BundleIssuer(
        administration=notarised.bundle["administration"],
        code=code,
        name="Ajuntament de Verificació",
        account=notarised.bundle["issuer"]["account"].lower(),
        status="active",
    )


def test_unsupported_or_broken_bundle_is_malformed(
    notarised: Notarised, rpc_url: str, tmp_path: Path, trusted: list[TrustedNotary]
) -> None:
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
        assert_failed(
            verify_bundle(bundle, notarised.document, rpc_url, trusted_notaries=trusted), "malformed_bundle", words
        )
    assert_failed(
        verify_bundle(not_json, notarised.document, rpc_url, trusted_notaries=trusted), "malformed_bundle", "not JSON"
    )


def nested(depth: int, inner: Any = 1) -> Any:
    value = inner
    for _ in range(depth):
        value = [value]
    return value


def test_hostile_bundle_values_are_malformed_with_a_reason(
    notarised: Notarised, rpc_url: str, tmp_path: Path, trusted: list[TrustedNotary]
) -> None:
    bundle = notarised.bundle
    without_account = copy.deepcopy(bundle)
    del without_account["issuer"]["account"]
    cases = {
        # Each of these escaped verify_bundle as an exception before.
        "format is a list of 1, not": altered(bundle, format=nested(50_000)),
        "proof[0] is a list of 1": altered(bundle, proof=[nested(50_000), *bundle["proof"][1:]]),
        "chain.timestamp is an integer of 3322 bits": altered(bundle, chain_timestamp=10**1000),
        "chain.timestamp is 253402300800, it must be between 0 and 253402300799": altered(
            bundle, chain_timestamp=253_402_300_800
        ),
        "tree_size is 18446744073709551616, it must be between 1 and": altered(bundle, tree_size=2**64),
        "chain.block_number is 18446744073709551616": altered(bundle, chain_block_number=2**64),
        "leaf_encoding is 4, not": altered(bundle, leaf_encoding=4),
        "proof has 65 elements": altered(bundle, proof=[bundle["root"]] * 65),
        "chain.contract is '0x 1": altered(bundle, chain_contract="0x " + "1" * 39),
        "issuer.account is null, not an address": without_account,
        "issuer.name is '', not a text": altered(bundle, issuer={**bundle["issuer"], "name": ""}),
        "chain.block_hash is null": altered(bundle, chain_block_hash=None),
    }

    for words, hostile in cases.items():
        assert_failed(
            verify_bundle(hostile, notarised.document, rpc_url, trusted_notaries=trusted), "malformed_bundle", words
        )


def test_hostile_bundle_files_are_malformed_with_a_reason(
    notarised: Notarised, rpc_url: str, tmp_path: Path, trusted: list[TrustedNotary]
) -> None:
    text = json.dumps(notarised.bundle)
    files = {
        "nested too deeply (more than 32 levels)": text.replace(
            '"version": 1', '"version": ' + "[" * 100_000 + "]" * 100_000
        ),
        "has the field 'administration' twice": text.replace("{", '{"administration": "0x00", ', 1),
        "holds NaN": text.replace('"version": 1', '"version": NaN'),
        "not JSON (Exceeds the limit": text.replace('"version": 1', '"version": 1' + "0" * 5000),
    }
    encodings = {
        "not UTF-8 text": text.encode("utf-16"),
        "not UTF-8 text (invalid start byte": text.replace("Verificació", "Verificaci\u00f3").encode() + b"\xff",
        "larger than 1048576 bytes": text.encode() + b" " * (1 << 20),
    }
    paths = {}
    for number, (words, content) in enumerate([*((w, t.encode()) for w, t in files.items()), *encodings.items()]):
        paths[words] = tmp_path / f"hostile-{number}.segell.json"
        paths[words].write_bytes(content)

    for words, path in paths.items():
        assert_failed(
            verify_bundle(path, notarised.document, rpc_url, trusted_notaries=trusted), "malformed_bundle", words
        )


def test_revoked_document_is_revoked_with_reason_and_time(
    issuer: Client, rpc_url: str, tmp_path: Path, trusted: list[TrustedNotary]
) -> None:
    revocable = notarise_in_batch(issuer, tmp_path, others=1)
    assert verify_bundle(revocable.bundle, revocable.document, rpc_url, trusted_notaries=trusted).status == "authentic"

    receipt = issuer.documents.revoke(revocable.receipt_id, "Error material en l'import")
    result = verify_bundle(revocable.bundle, revocable.document, rpc_url, trusted_notaries=trusted)

    assert_failed(result, "revoked", "Error material en l'import")
    assert result.revocation is not None
    assert result.revocation.reason == "Error material en l'import"
    assert receipt.revocation is not None
    assert result.revocation.block_number == receipt.revocation.block_number
    assert result.revocation.revoked_at == receipt.revocation.revoked_at
    assert result.checked_on_chain is True


# -- the node, not the bundle ----------------------------------------------------------------------


def test_unreachable_rpc_raises_transport_error(notarised: Notarised, trusted: list[TrustedNotary]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(TransportError) as raised:
        verify_bundle(notarised.bundle, notarised.document, url, trusted_notaries=trusted)

    assert raised.value.url == url
    assert "Cannot reach the JSON-RPC endpoint" in raised.value.message


def test_failures_found_offline_need_no_rpc(notarised: Notarised, tmp_path: Path, trusted: list[TrustedNotary]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = verify_bundle(notarised.bundle, b"another document", url, trusted_notaries=trusted)

    assert result.status == "wrong_document"


def test_endpoint_that_is_not_json_rpc_raises_unexpected_response(
    notarised: Notarised, segell_server: RunningServer, trusted: list[TrustedNotary]
) -> None:
    with pytest.raises(UnexpectedResponseError):
        verify_bundle(notarised.bundle, notarised.document, f"{segell_server.url}/health", trusted_notaries=trusted)


def test_segell_rpc_without_its_node_raises_rpc_error(tmp_path: Path) -> None:
    for server in serve(make_settings(tmp_path / "home")):
        with Client(server.url, server.admit(name="Ajuntament sense node"), timeout=30) as client:
            anchored = notarise_in_batch(client, tmp_path, others=1)
            trusted = [client.deployment().trusted_notary]
        assert verify_bundle(anchored.bundle, anchored.document, f"{server.url}/rpc", trusted_notaries=trusted).valid
        server.app.state.runtime.node.stop()  # type: ignore[attr-defined]

        with pytest.raises(RPCError) as raised:
            verify_bundle(anchored.bundle, anchored.document, f"{server.url}/rpc", trusted_notaries=trusted)

        assert raised.value.code == -32603
        assert raised.value.url == f"{server.url}/rpc"


def _answers(url: str) -> bool:
    try:
        chain_id = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}
        return "result" in httpx.post(url, json=chain_id, verify=PLAIN_HTTP).json()
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
                trusted = [client.deployment().trusted_notary]

            direct = verify_bundle(anchored.bundle, anchored.document, node_url, trusted_notaries=trusted)
            through_segell = verify_bundle(
                anchored.bundle, anchored.document, f"{server.url}/rpc", trusted_notaries=trusted
            )

            assert direct.status == through_segell.status == "authentic"
            assert direct == through_segell
    finally:
        node.terminate()
        node.wait(timeout=10)
