"""Typed client of the Notary contract."""

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from segell.chain.contracts import ContractClient, Sent


@dataclass(frozen=True)
class AnchorRecord:
    administration: bytes
    account: str
    size: int
    block_number: int
    timestamp: int


@dataclass(frozen=True)
class RevocationRecord:
    administration: bytes
    root: bytes
    block_number: int
    timestamp: int
    reason: str


class NotaryClient(ContractClient):
    """Anchors Merkle roots (write-once) and records revocations by the issuing administration.

    Example::

        notary = NotaryClient(w3, deployment.notary)
        notary.anchor_root(account, root, size=1000)
        assert notary.anchor_of(root).size == 1000
    """

    artifact_name = "Notary"

    def anchor_root(self, sender: LocalAccount, root: bytes, size: int) -> Sent:
        return self._transact(sender, "anchorRoot", root, size)

    def revoke(self, sender: LocalAccount, root: bytes, leaf: bytes, proof: Sequence[bytes], reason: str) -> Sent:
        return self._transact(sender, "revoke", root, leaf, list(proof), reason)

    def verify(self, proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
        return bool(self._call("verify", list(proof), root, leaf))

    def is_anchored(self, root: bytes) -> bool:
        return bool(self._call("isAnchored", root))

    def anchor_of(self, root: bytes) -> AnchorRecord:
        administration, account, size, block_number, timestamp = self._call("anchorOf", root)
        return AnchorRecord(bytes(administration), account, size, block_number, timestamp)

    def is_revoked(self, leaf: bytes) -> bool:
        return bool(self._call("isRevoked", leaf))

    def revocation_of(self, leaf: bytes) -> RevocationRecord:
        administration, root, block_number, timestamp, reason = self._call("revocationOf", leaf)
        return RevocationRecord(bytes(administration), bytes(root), block_number, timestamp, reason)
