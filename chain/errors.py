"""Exceptions raised by `chain`. Custom errors of the Segell contracts arrive as typed exceptions.

ChainError
├── DeploymentError
│   ├── DeploymentOutdated        the committed artifacts changed since the recorded deployment
│   └── ChainStateLost            the node no longer has the recorded contracts (or is another chain)
├── TransactionReverted           reverted without a custom error Segell knows
└── ContractRevert                a custom error of a Segell contract (or OpenZeppelin's)
    ├── Unauthorized              AccessControlUnauthorizedAccount: the sender lacks the role
    ├── RegistryRevert
    │   ├── InvalidAdministration           empty id or name, zero account
    │   ├── AdministrationAlreadyAdmitted
    │   ├── UnknownAdministration
    │   ├── AccountAlreadyAssigned
    │   ├── AccountNotAssigned
    │   ├── AdministrationAlreadySuspended
    │   └── AdministrationNotSuspended
    └── NotaryRevert
        ├── NotActiveMember
        ├── InvalidAnchor                   zero root or empty tree
        ├── RootAlreadyAnchored
        ├── UnknownRoot
        ├── NotIssuer
        ├── InvalidProof
        └── LeafAlreadyRevoked
"""

from typing import Any


class ChainError(Exception):
    """Base of every error raised by `chain`."""


class DeploymentError(ChainError):
    pass


class DeploymentOutdated(DeploymentError):
    pass


class ChainStateLost(DeploymentError):
    pass


class TransactionReverted(ChainError):
    pass


class ContractRevert(ChainError):
    """A custom error; `error` is its Solidity name and `args` its decoded arguments."""

    def __init__(self, error: str, args: dict[str, Any]) -> None:
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in args.items())
        super().__init__(f"{error}({rendered})")
        self.error = error
        self.args_by_name = args


def _render(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


class Unauthorized(ContractRevert):
    pass


class RegistryRevert(ContractRevert):
    pass


class InvalidAdministration(RegistryRevert):
    pass


class AdministrationAlreadyAdmitted(RegistryRevert):
    pass


class UnknownAdministration(RegistryRevert):
    pass


class AccountAlreadyAssigned(RegistryRevert):
    pass


class AccountNotAssigned(RegistryRevert):
    pass


class AdministrationAlreadySuspended(RegistryRevert):
    pass


class AdministrationNotSuspended(RegistryRevert):
    pass


class NotaryRevert(ContractRevert):
    pass


class NotActiveMember(NotaryRevert):
    pass


class InvalidAnchor(NotaryRevert):
    pass


class RootAlreadyAnchored(NotaryRevert):
    pass


class UnknownRoot(NotaryRevert):
    pass


class NotIssuer(NotaryRevert):
    pass


class InvalidProof(NotaryRevert):
    pass


class LeafAlreadyRevoked(NotaryRevert):
    pass


#: Solidity custom error name -> exception raised for it.
CUSTOM_ERRORS: dict[str, type[ContractRevert]] = {
    "AccessControlUnauthorizedAccount": Unauthorized,
    "AdministrationRegistryInvalidId": InvalidAdministration,
    "AdministrationRegistryEmptyName": InvalidAdministration,
    "AdministrationRegistryZeroAccount": InvalidAdministration,
    "AdministrationRegistryAlreadyAdmitted": AdministrationAlreadyAdmitted,
    "AdministrationRegistryUnknownAdministration": UnknownAdministration,
    "AdministrationRegistryAccountAlreadyAssigned": AccountAlreadyAssigned,
    "AdministrationRegistryAccountNotAssigned": AccountNotAssigned,
    "AdministrationRegistryAlreadySuspended": AdministrationAlreadySuspended,
    "AdministrationRegistryNotSuspended": AdministrationNotSuspended,
    "NotaryNotActiveMember": NotActiveMember,
    "NotaryEmptyTree": InvalidAnchor,
    "NotaryInvalidRoot": InvalidAnchor,
    "NotaryRootAlreadyAnchored": RootAlreadyAnchored,
    "NotaryUnknownRoot": UnknownRoot,
    "NotaryNotIssuer": NotIssuer,
    "NotaryInvalidProof": InvalidProof,
    "NotaryLeafAlreadyRevoked": LeafAlreadyRevoked,
}
