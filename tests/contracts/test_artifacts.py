"""The committed artifacts are what the pinned compiler makes of the committed sources."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from segell.chain.artifacts import ArtifactNotFoundError, InvalidArtifactError, load_artifact
from segell.chain.compile import (
    ARTIFACTS_DIR,
    CONTRACTS_DIR,
    artifact_hash,
    compile_contracts,
    differing_artifacts,
    main,
)

# The public surface the contract clients are written against; a change here is a breaking change.
EXPECTED_FUNCTIONS = {
    "AdministrationRegistry": {
        "DEFAULT_ADMIN_ROLE()",
        "GOVERNANCE_ROLE()",
        "addAccount(bytes32,address)",
        "administrationOf(address)",
        "admitAdministration(bytes32,string)",
        "getAdministration(bytes32)",
        "getRoleAdmin(bytes32)",
        "grantRole(bytes32,address)",
        "hasRole(bytes32,address)",
        "isActiveMember(address)",
        "isAdmitted(bytes32)",
        "reinstateAdministration(bytes32)",
        "removeAccount(bytes32,address)",
        "renounceRole(bytes32,address)",
        "revokeRole(bytes32,address)",
        "supportsInterface(bytes4)",
        "suspendAdministration(bytes32)",
    },
    "Notary": {
        "anchorOf(bytes32)",
        "anchorRoot(bytes32,uint64)",
        "isAnchored(bytes32)",
        "isRevoked(bytes32)",
        "registry()",
        "revocationOf(bytes32)",
        "revoke(bytes32,bytes32,bytes32[],string)",
        "verify(bytes32[],bytes32,bytes32)",
    },
}


@pytest.fixture(scope="module")
def fresh_artifacts() -> dict[str, str]:
    return compile_contracts()


def _signatures(abi: list[dict[str, Any]], kind: str) -> set[str]:
    return {
        f"{entry['name']}({','.join(item['type'] for item in entry['inputs'])})"
        for entry in abi
        if entry["type"] == kind
    }


def test_compile_matches_committed_artifacts(fresh_artifacts: dict[str, str]) -> None:
    assert sorted(fresh_artifacts) == ["AdministrationRegistry", "Notary"]
    assert differing_artifacts(fresh_artifacts) == [], "run python -m segell.chain.compile and commit the artifacts"


def test_compile_detects_modified_source(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, contracts, ignore=shutil.ignore_patterns("artifacts", "test"))
    notary = contracts / "Notary.sol"
    notary.write_text(notary.read_text().replace("revert NotaryEmptyTree();", "return;"))

    modified = compile_contracts(contracts_dir=contracts)

    assert differing_artifacts(modified) == ["Notary"]


def test_check_command_passes_on_committed_artifacts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert "artifacts up to date" in capsys.readouterr().out


def test_check_command_names_differing_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ARTIFACTS_DIR, tmp_path, dirs_exist_ok=True)
    tampered = tmp_path / "Notary.json"
    data = json.loads(tampered.read_text())
    data["bytecode"] = data["bytecode"][:-2] + "00"
    tampered.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")

    assert main(["--check", "--artifacts-dir", str(tmp_path)]) == 1

    error = capsys.readouterr().err
    assert "Notary.json differs" in error
    assert "AdministrationRegistry" not in error


@pytest.mark.parametrize("name", ["AdministrationRegistry", "Notary"])
def test_load_artifact_reads_committed_artifact(name: str) -> None:
    artifact = load_artifact(name)

    assert artifact.contract_name == name
    assert artifact.generated_by == "python -m segell.chain.compile"
    assert artifact.compiler_version.startswith("0.8.37+commit.")
    assert artifact.evm_version == "cancun"
    assert artifact.optimizer_enabled
    assert artifact.openzeppelin == "5.7.0"
    assert artifact.bytecode.startswith("0x60") and artifact.deployed_bytecode.startswith("0x60")
    assert f"contracts/{name}.sol" in artifact.sources
    assert artifact.artifact_hash == artifact_hash(
        abi=artifact.abi, bytecode=artifact.bytecode, deployed_bytecode=artifact.deployed_bytecode
    )
    assert _signatures(artifact.abi, "function") == EXPECTED_FUNCTIONS[name]


def test_load_artifact_abi_has_prefixed_custom_errors_and_events() -> None:
    notary = load_artifact("Notary")
    registry = load_artifact("AdministrationRegistry")

    assert "NotaryRootAlreadyAnchored(bytes32)" in _signatures(notary.abi, "error")
    assert "NotaryNotIssuer(bytes32,bytes32)" in _signatures(notary.abi, "error")
    assert _signatures(notary.abi, "event") == {
        "RootAnchored(bytes32,bytes32,address,uint64)",
        "LeafRevoked(bytes32,bytes32,bytes32,string)",
    }
    registry_errors = _signatures(registry.abi, "error")
    assert "AdministrationRegistryAccountAlreadyAssigned(address,bytes32)" in registry_errors
    assert "AdministrationAdmitted(bytes32,string)" in _signatures(registry.abi, "event")


def test_load_artifact_raises_for_missing_contract(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match="python -m segell.chain.compile"):
        load_artifact("Notary", artifacts_dir=tmp_path)


def test_load_artifact_raises_for_invalid_file(tmp_path: Path) -> None:
    (tmp_path / "Notary.json").write_text('{"contractName": "Notary"}\n')
    with pytest.raises(InvalidArtifactError, match="not a valid artifact"):
        load_artifact("Notary", artifacts_dir=tmp_path)


def test_load_artifact_rejects_path_in_name() -> None:
    with pytest.raises(ValueError, match="not a contract name"):
        load_artifact("../pyproject")
