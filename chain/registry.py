"""Typed client of the AdministrationRegistry contract."""

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from segell.chain.contracts import ContractClient, Sent


@dataclass(frozen=True)
class RegisteredAdministration:
    id: bytes
    name: str
    suspended: bool
    admitted_at: int
    account_count: int


class RegistryClient(ContractClient):
    """Who may anchor: the consortium's member administrations and their accounts.

    Writes need an account holding GOVERNANCE_ROLE. Example::

        registry = RegistryClient(w3, deployment.registry)
        registry.admit_administration(governance, b"L01080193".ljust(32, b"\\0"), "Ajuntament")
    """

    artifact_name = "AdministrationRegistry"

    def admit_administration(self, sender: LocalAccount, administration: bytes, name: str) -> Sent:
        return self._transact(sender, "admitAdministration", administration, name)

    def add_account(self, sender: LocalAccount, administration: bytes, account: str) -> Sent:
        return self._transact(sender, "addAccount", administration, Web3.to_checksum_address(account))

    def suspend_administration(self, sender: LocalAccount, administration: bytes) -> Sent:
        return self._transact(sender, "suspendAdministration", administration)

    def reinstate_administration(self, sender: LocalAccount, administration: bytes) -> Sent:
        return self._transact(sender, "reinstateAdministration", administration)

    def is_active_member(self, account: str) -> bool:
        return bool(self._call("isActiveMember", Web3.to_checksum_address(account)))

    def administration_of(self, account: str) -> bytes:
        return bytes(self._call("administrationOf", Web3.to_checksum_address(account)))

    def is_admitted(self, administration: bytes) -> bool:
        return bool(self._call("isAdmitted", administration))

    def get_administration(self, administration: bytes) -> RegisteredAdministration:
        id_, name, suspended, admitted_at, account_count = self._call("getAdministration", administration)
        return RegisteredAdministration(bytes(id_), name, suspended, admitted_at, account_count)

    def has_governance_role(self, account: str) -> bool:
        role = self._call("GOVERNANCE_ROLE")
        return bool(self._call("hasRole", role, Web3.to_checksum_address(account)))
