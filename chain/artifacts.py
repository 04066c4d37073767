"""Read the compiled contract artifacts committed under ``contracts/artifacts/``.

The artifacts are written by ``python -m segell.chain.compile``; reading them needs no compiler. They are package
data of ``segell.chain`` (``chain/compiled`` links to ``contracts/artifacts``), so an installed wheel has them too.

    from segell.chain.artifacts import load_artifact

    notary = load_artifact("Notary")
    contract = w3.eth.contract(abi=notary.abi, bytecode=notary.bytecode)

Errors: ``ArtifactNotFoundError`` (a ``FileNotFoundError``) when the file is missing, ``InvalidArtifactError``
(a ``ValueError``) when it is not an artifact written by ``chain.compile``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ARTIFACTS_DIR", "Artifact", "ArtifactNotFoundError", "InvalidArtifactError", "load_artifact"]

ARTIFACTS_DIR = Path(__file__).parent / "compiled"

_CONTRACT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ArtifactNotFoundError(FileNotFoundError):
    """No committed artifact for the requested contract."""


class InvalidArtifactError(ValueError):
    """The artifact file exists but is not a valid artifact."""


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI, bytecode and how it was built."""

    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    evm_version: str
    optimizer_enabled: bool
    optimizer_runs: int
    openzeppelin: str
    sources: tuple[str, ...]
    source_hash: str
    artifact_hash: str
    generated_by: str


def load_artifact(name: str, artifacts_dir: Path = ARTIFACTS_DIR) -> Artifact:
    """Load the committed artifact of contract ``name`` (``"Notary"``, ``"AdministrationRegistry"``).

    Example: ``load_artifact("Notary").abi`` is the ABI to hand to ``w3.eth.contract``.
    """
    if not _CONTRACT_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a contract name")
    path = artifacts_dir / f"{name}.json"
    if not path.is_file():
        available = sorted(candidate.stem for candidate in artifacts_dir.glob("*.json"))
        raise ArtifactNotFoundError(
            f"no artifact for contract {name!r} at {path} (available: {', '.join(available) or 'none'}); "
            "run `python -m segell.chain.compile` to build the artifacts"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        compiler = data["compiler"]
        artifact = Artifact(
            contract_name=data["contractName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            compiler_version=compiler["version"],
            evm_version=compiler["evmVersion"],
            optimizer_enabled=compiler["optimizer"]["enabled"],
            optimizer_runs=compiler["optimizer"]["runs"],
            openzeppelin=data["openzeppelin"],
            sources=tuple(data["sources"]),
            source_hash=data["sourceHash"],
            artifact_hash=data["artifactHash"],
            generated_by=data["generatedBy"],
        )
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise InvalidArtifactError(
            f"{path} is not a valid artifact ({error!r}); run `python -m segell.chain.compile` to rebuild it"
        ) from error
    if artifact.contract_name != name:
        raise InvalidArtifactError(f"{path} holds contract {artifact.contract_name!r}, not {name!r}")
    return artifact
