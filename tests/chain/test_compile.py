"""What the artifacts and the sandboxes' compiler share: which files a source pulls in, and which compiler runs."""

import os
from pathlib import Path

import pytest

from segell.chain.compile import (
    CompileError,
    check_solc,
    find_solc,
    imports_of,
    solc_version,
    with_library_sources,
)


def test_imports_of_resolves_relative_imports_and_ignores_commented_ones() -> None:
    text = """
        import "./Base.sol";
        import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
        import * as L from '../lib/Lib.sol';
        // import "./Commented.sol";
        /* import "./Blocked.sol"; */
    """

    assert imports_of("contracts/sub/Permits.sol", text) == [
        "contracts/sub/Base.sol",
        "@openzeppelin/contracts/access/Ownable.sol",
        "contracts/lib/Lib.sol",
    ]


def test_with_library_sources_adds_openzeppelin_files_transitively(tmp_path: Path) -> None:
    library = tmp_path / "@openzeppelin" / "contracts"
    (library / "access").mkdir(parents=True)
    (library / "utils").mkdir()
    (library / "access" / "Ownable.sol").write_text('import {Context} from "../utils/Context.sol";\n')
    (library / "utils" / "Context.sol").write_text("abstract contract Context {}\n")
    sources = {"Permits.sol": 'import "@openzeppelin/contracts/access/Ownable.sol";\ncontract Permits {}\n'}

    collected = with_library_sources(sources, node_modules=tmp_path)

    assert list(collected) == [
        "@openzeppelin/contracts/access/Ownable.sol",
        "@openzeppelin/contracts/utils/Context.sol",
        "Permits.sol",
    ]
    assert collected["@openzeppelin/contracts/utils/Context.sol"] == "abstract contract Context {}\n"


def test_with_library_sources_reads_nothing_outside_the_library(tmp_path: Path) -> None:
    (tmp_path / "secret.sol").write_text("contract Secret {}\n")
    (tmp_path / "@openzeppelin" / "contracts").mkdir(parents=True)
    sources = {
        "A.sol": 'import "@openzeppelin/contracts/../../secret.sol";\nimport "../secret.sol";\ncontract A {}\n',
    }

    assert with_library_sources(sources, node_modules=tmp_path) == sources


# -- which compiler ----------------------------------------------------------------------------------------------

PINNED = "0.8.37"


def fake_solc(folder: Path, body: str, name: str = "solc") -> Path:
    """A shell script standing for a compiler: `body` runs for every call."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def answering_version(folder: Path, version: str, name: str = "solc") -> Path:
    return fake_solc(
        folder, f"echo 'solc, the solidity compiler commandline interface'\necho 'Version: {version}.Linux.g++'", name
    )


def test_find_solc_never_takes_the_solc_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Even one that claims the pinned version: PATH is not where the pinned compiler is looked up.
    on_path = answering_version(tmp_path / "bin", f"{PINNED}+commit.f401782d")
    monkeypatch.setenv("PATH", f"{on_path.parent}{os.pathsep}{os.environ['PATH']}")

    found = find_solc(PINNED)

    assert found != on_path
    assert check_solc(found, PINNED).base_version == PINNED


@pytest.fixture
def no_solcx_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """py-solc-x looks in an empty folder: whatever it installed on this machine is not found."""
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path / "solcx"))


@pytest.mark.usefixtures("no_solcx_install")
def test_find_solc_names_what_to_install_when_the_toolchain_has_no_compiler(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match=r"no solc 0\.8\.37 found: install it with .* SEGELL_TOOLCHAIN_DIR"):
        find_solc(PINNED, toolchain_dir=tmp_path / "empty")


@pytest.mark.usefixtures("no_solcx_install")
def test_find_solc_refuses_a_toolchain_compiler_of_another_version(tmp_path: Path) -> None:
    answering_version(tmp_path / "tools", "0.8.20+commit.a1b79de6")
    (tmp_path / "node_modules" / "solc").mkdir(parents=True)
    (tmp_path / "node_modules" / "solc" / "package.json").write_text("{}")

    with pytest.raises(CompileError, match=r"tools/solc is solc 0\.8\.20\+commit\.a1b79de6, not the pinned 0\.8\.37"):
        find_solc(PINNED, toolchain_dir=tmp_path)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("echo 'No solc version set; run solc-select' >&2\nexit 1", r"failed with exit status 1: No solc version set"),
        ("echo 'hello'", r"names no solc version: 'hello'"),
        ("sleep 10", r"did not answer within 0\.5 s"),
    ],
)
def test_solc_version_says_why_a_command_is_no_compiler(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(CompileError, match=problem):
        solc_version(fake_solc(tmp_path, body), timeout=0.5)


def test_solc_version_of_a_missing_command_says_it_cannot_be_run(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match=r"cannot be run: No such file or directory"):
        solc_version(tmp_path / "solc")


def test_check_solc_gives_the_version_with_its_commit(tmp_path: Path) -> None:
    assert str(check_solc(answering_version(tmp_path, "0.8.37+commit.f401782d"), PINNED)) == "0.8.37+commit.f401782d"
    with pytest.raises(CompileError, match="not the pinned 0.8.37"):
        check_solc(answering_version(tmp_path, "0.8.36+commit.aaaaaaaa", name="other"), PINNED)
