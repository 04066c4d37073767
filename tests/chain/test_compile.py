"""The import walker the artifacts and the sandboxes' compiler share: which files a source pulls in."""

from pathlib import Path

from segell.chain.compile import imports_of, with_library_sources


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
