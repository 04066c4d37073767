"""What the typed contract clients share: loading the ABI, sending from a local account, decoding custom errors."""

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from segell.chain.abi import abi_type, revert_data
from segell.chain.artifacts import load_artifact
from segell.chain.errors import CUSTOM_ERRORS, ContractRevert, TransactionReverted
from segell.chain.transactions import send_transaction


@dataclass(frozen=True)
class Sent:
    """A mined transaction."""

    transaction_hash: str
    block_number: int
    gas_used: int


@dataclass(frozen=True)
class _ErrorSpec:
    name: str
    names: list[str]
    types: list[str]


def error_selectors(abi: list[dict[str, Any]]) -> dict[bytes, _ErrorSpec]:
    specs = {}
    for entry in abi:
        if entry.get("type") == "error":
            types = [abi_type(i) for i in entry["inputs"]]
            selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
            specs[selector] = _ErrorSpec(entry["name"], [i["name"] for i in entry["inputs"]], types)
    return specs


class ContractClient:
    """Base of the typed clients: one deployed contract, reads with `_call`, writes with `_transact`."""

    artifact_name = ""

    def __init__(self, w3: Web3, address: str) -> None:
        artifact = load_artifact(self.artifact_name)
        self.w3 = w3
        self.address: ChecksumAddress = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=artifact.abi)
        self._errors = error_selectors(artifact.abi)

    def decode_revert(self, data: bytes) -> ContractRevert | None:
        spec = self._errors.get(data[:4])
        if spec is None:
            return None
        values = [
            Web3.to_checksum_address(value) if kind == "address" else value
            for kind, value in zip(spec.types, abi_decode(spec.types, data[4:]), strict=True)
        ]
        exception = CUSTOM_ERRORS.get(spec.name, ContractRevert)
        return exception(spec.name, dict(zip(spec.names, values, strict=True)))

    def _translate(self, exc: Exception) -> Exception:
        data = revert_data(exc)
        decoded = self.decode_revert(data) if data else None
        return decoded or TransactionReverted(f"{self.artifact_name} reverted: {exc}")

    def _call(self, function: str, *args: Any) -> Any:
        try:
            return getattr(self.contract.functions, function)(*args).call()
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._translate(exc) from exc

    def _transact(self, sender: LocalAccount, function: str, *args: Any) -> Sent:
        data = self.contract.encode_abi(function, args=list(args))
        try:
            receipt = send_transaction(self.w3, sender, {"to": self.address, "data": data})
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._translate(exc) from exc
        if receipt["status"] != 1:
            raise TransactionReverted(f"{self.artifact_name}.{function} reverted in block {receipt['blockNumber']}")
        return Sent(receipt["transactionHash"].to_0x_hex(), receipt["blockNumber"], receipt["gasUsed"])
