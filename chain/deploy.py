"""Idempotent deployment of the Segell contracts, remembered in a deployment record (a JSON file).

Running `ensure_deployed` twice deploys once. Two situations are refused with an explanation instead of being
papered over: the committed artifacts changed since the recorded deployment, and the node no longer has the
recorded contracts (it lost its state, or it is another chain).
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

from segell.chain.artifacts import Artifact, load_artifact
from segell.chain.durable import replace_atomically
from segell.chain.errors import ChainStateLost, DeploymentOutdated, TransactionReverted
from segell.chain.transactions import send_transaction

CONTRACTS = ("AdministrationRegistry", "Notary")


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    registry: str
    notary: str
    block: int
    deployer: str
    artifact_hashes: dict[str, str]
    code_hashes: dict[str, str]

    def address_of(self, contract: str) -> str:
        return {"AdministrationRegistry": self.registry, "Notary": self.notary}[contract]


def _deploy(w3: Web3, deployer: LocalAccount, artifact: Artifact, *args: Any) -> tuple[str, int]:
    constructor = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args)
    receipt = send_transaction(w3, deployer, {"data": constructor.data_in_transaction})
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise TransactionReverted(f"deploying {artifact.contract_name} reverted")
    return str(receipt["contractAddress"]), int(receipt["blockNumber"])


def _code_hash(w3: Web3, address: str) -> str:
    return "0x" + keccak(bytes(w3.eth.get_code(Web3.to_checksum_address(address)))).hex()


def deploy(w3: Web3, governance: LocalAccount) -> Deployment:
    """Deploy the registry (governed by `governance`) and the notary bound to it."""
    registry_artifact, notary_artifact = (load_artifact(name) for name in CONTRACTS)
    registry, block = _deploy(w3, governance, registry_artifact, governance.address)
    notary, _ = _deploy(w3, governance, notary_artifact, registry)
    return Deployment(
        chain_id=w3.eth.chain_id,
        registry=registry,
        notary=notary,
        block=block,
        deployer=governance.address,
        artifact_hashes={a.contract_name: a.artifact_hash for a in (registry_artifact, notary_artifact)},
        code_hashes={"AdministrationRegistry": _code_hash(w3, registry), "Notary": _code_hash(w3, notary)},
    )


def check_deployment(w3: Web3, deployment: Deployment, record_path: Path) -> None:
    """Raise when the chain or the artifacts no longer match the recorded deployment."""
    chain_id = w3.eth.chain_id
    if chain_id != deployment.chain_id:
        raise ChainStateLost(
            f"{record_path} records a deployment on chain {deployment.chain_id}, but the node is chain {chain_id}. "
            "Point Segell at the recorded chain, or use another SEGELL_HOME for this one."
        )
    for name in CONTRACTS:
        address = deployment.address_of(name)
        if _code_hash(w3, address) != deployment.code_hashes[name]:
            raise ChainStateLost(
                f"The node has no {name} at {address} (recorded at block {deployment.block}): it lost its state "
                "or was reset. Restore the node's state (for anvil, its state file), or move "
                f"{record_path} away to deploy afresh; earlier receipts would then no longer verify on this node."
            )
    changed = [n for n in CONTRACTS if load_artifact(n).artifact_hash != deployment.artifact_hashes.get(n)]
    if changed:
        raise DeploymentOutdated(
            f"The compiled {', '.join(changed)} differ from the version deployed at block {deployment.block} "
            f"({record_path}). Existing anchors live in the deployed contracts; to move to the new version, "
            "deploy it on a fresh chain (another SEGELL_HOME), or check out the sources that match the deployment."
        )


def load_record(record_path: Path) -> Deployment | None:
    if not record_path.exists():
        return None
    return Deployment(**json.loads(record_path.read_text()))


def write_record(record_path: Path, deployment: Deployment) -> None:
    record = json.dumps(asdict(deployment), indent=2, sort_keys=True) + "\n"
    replace_atomically(record_path, record.encode(), mode=0o644)


def ensure_deployed(w3: Web3, governance: LocalAccount, record_path: Path) -> Deployment:
    """Return the recorded deployment after checking it, or deploy and record one.

    Example::

        deployment = ensure_deployed(node.w3, governance, home / "deployments" / "anvil-31337.json")
        RegistryClient(node.w3, deployment.registry)
    """
    deployment = load_record(record_path)
    if deployment is None:
        deployment = deploy(w3, governance)
        write_record(record_path, deployment)
    else:
        check_deployment(w3, deployment, record_path)
    return deployment
