"""The typed registry and notary clients over both local backends: custom errors arrive as domain exceptions."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from segell.chain import errors
from segell.chain.deploy import deploy
from segell.chain.nodes import AnvilNotFound, ChainNode, start_node
from segell.chain.notary import NotaryClient
from segell.chain.registry import RegistryClient
from segell.chain.transactions import send_transaction

FUNDS = 10**24
CITY = b"L01080193".ljust(32, b"\0")
TOWN = b"L01170792".ljust(32, b"\0")


def _node(backend: str, state_dir: Path, governance: LocalAccount) -> ChainNode:
    try:
        return start_node(backend, state_dir=state_dir, genesis_accounts={governance.address: FUNDS})
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")


class Consortium:
    def __init__(self, node: ChainNode, governance: LocalAccount) -> None:
        self.node, self.governance = node, governance
        deployment = deploy(node.w3, governance)
        self.registry = RegistryClient(node.w3, deployment.registry)
        self.notary = NotaryClient(node.w3, deployment.notary)

    def member(self, administration: bytes, name: str) -> LocalAccount:
        account: LocalAccount = Account.create()
        if not self.registry.is_admitted(administration):
            self.registry.admit_administration(self.governance, administration, name)
        self.registry.add_account(self.governance, administration, account.address)
        send_transaction(self.node.w3, self.governance, {"to": account.address, "value": 10**18})
        return account


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def consortium(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    governance: LocalAccount = Account.create()
    node = _node(request.param, tmp_path_factory.mktemp(request.param), governance)
    try:
        yield Consortium(node, governance)
    finally:
        node.stop()


def test_anchor_root_from_member_is_recorded(consortium: Consortium) -> None:
    account = consortium.member(CITY, "Barcelona")
    root = keccak(text="root-1")
    sent = consortium.notary.anchor_root(account, root, 3)
    anchor = consortium.notary.anchor_of(root)
    assert (anchor.administration, anchor.account, anchor.size) == (CITY, account.address, 3)
    assert anchor.block_number == sent.block_number


def test_anchor_root_reverts_for_non_member(consortium: Consortium) -> None:
    outsider: LocalAccount = Account.create()
    send_transaction(consortium.node.w3, consortium.governance, {"to": outsider.address, "value": 10**18})
    root = keccak(text="outsider")
    with pytest.raises(errors.NotActiveMember) as raised:
        consortium.notary.anchor_root(outsider, root, 1)
    assert raised.value.args_by_name["account"] == outsider.address
    assert not consortium.notary.is_anchored(root)


def test_anchor_root_reverts_for_suspended_administration(consortium: Consortium) -> None:
    account = consortium.member(TOWN, "Girona")
    consortium.registry.suspend_administration(consortium.governance, TOWN)
    with pytest.raises(errors.NotActiveMember):
        consortium.notary.anchor_root(account, keccak(text="suspended"), 1)
    with pytest.raises(errors.AdministrationAlreadySuspended):
        consortium.registry.suspend_administration(consortium.governance, TOWN)
    consortium.registry.reinstate_administration(consortium.governance, TOWN)
    consortium.notary.anchor_root(account, keccak(text="suspended"), 1)
    assert consortium.notary.is_anchored(keccak(text="suspended"))


def test_anchor_root_twice_reverts_and_keeps_the_first(consortium: Consortium) -> None:
    account = consortium.member(CITY, "Barcelona")
    root = keccak(text="write-once")
    consortium.notary.anchor_root(account, root, 5)
    with pytest.raises(errors.RootAlreadyAnchored) as raised:
        consortium.notary.anchor_root(account, root, 7)
    assert raised.value.args_by_name["root"] == root
    assert consortium.notary.anchor_of(root).size == 5


def test_admit_reverts_without_governance_role(consortium: Consortium) -> None:
    account = consortium.member(CITY, "Barcelona")
    with pytest.raises(errors.Unauthorized):
        consortium.registry.admit_administration(account, b"X".ljust(32, b"\0"), "Rogue")
    assert not consortium.registry.is_admitted(b"X".ljust(32, b"\0"))


def test_revoke_only_by_issuer(consortium: Consortium) -> None:
    issuer = consortium.member(CITY, "Barcelona")
    other = consortium.member(TOWN, "Girona")
    leaf, sibling = keccak(text="leaf"), keccak(text="sibling")
    root = keccak(b"".join(sorted([leaf, sibling])))  # OpenZeppelin's commutative pair hash
    consortium.notary.anchor_root(issuer, root, 2)
    assert consortium.notary.verify([sibling], root, leaf)
    with pytest.raises(errors.NotIssuer):
        consortium.notary.revoke(other, root, leaf, [sibling], "not mine")
    with pytest.raises(errors.InvalidProof):
        consortium.notary.revoke(issuer, root, leaf, [keccak(text="wrong")], "bad proof")
    assert not consortium.notary.is_revoked(leaf)
    consortium.notary.revoke(issuer, root, leaf, [sibling], "superseded")
    revocation = consortium.notary.revocation_of(leaf)
    assert (revocation.administration, revocation.root, revocation.reason) == (CITY, root, "superseded")
    with pytest.raises(errors.LeafAlreadyRevoked):
        consortium.notary.revoke(issuer, root, leaf, [sibling], "again")
