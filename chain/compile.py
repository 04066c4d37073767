"""Compile Segell's contracts with the pinned solc and write the committed artifacts.

    python -m segell.chain.compile            # write contracts/artifacts/<Name>.json
    python -m segell.chain.compile --check    # recompile; exit 1 naming every artifact that differs

The compiler version, EVM version and OpenZeppelin version are pinned in ``[tool.segell]`` of
``pyproject.toml``. The compiler is looked up by path, never as a bare ``solc`` on ``PATH`` (there it may be any
version, or solc-select's wrapper, which downloads compilers): the exact version installed by py-solc-x, else
``tools/solc`` (the npm build of the same compiler, run with Node). Both produce the same bytecode. Whichever is
used, it must report exactly the pinned version.

Every source is handed to the compiler inline under a fixed name (``contracts/...`` for Segell's sources,
``@openzeppelin/contracts/...`` for the library), so the metadata hash embedded in the bytecode does not
depend on where the repository is checked out or which compiler build ran.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from packaging.version import Version
from solcx.exceptions import SolcError
from solcx.install import get_executable
from solcx.wrapper import VERSION_REGEX

from segell.chain.artifacts import load_artifact

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACTS_DIR = REPO_ROOT / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
NODE_MODULES = REPO_ROOT / "node_modules"
# The npm compiler takes about a second to load; a command that needs far longer is not a working compiler.
VERSION_TIMEOUT_S = 30.0

GENERATED_BY = "python -m segell.chain.compile"
CONTRACT_NAMES = ("AdministrationRegistry", "Notary")
# Both contracts are called far more often than they are deployed; 200 is solc's balanced default.
OPTIMIZER_RUNS = 200

_PROJECT_PREFIX = "contracts/"
OPENZEPPELIN_PREFIX = "@openzeppelin/contracts/"
_IMPORT = re.compile(r"""\bimport\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']\s*;""")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"//[^\n]*")


class CompileError(RuntimeError):
    """The contracts could not be compiled: a missing compiler, source or library, or a compiler error."""


@dataclass(frozen=True)
class Toolchain:
    """The pinned versions the artifacts are built with (``[tool.segell]`` in pyproject.toml)."""

    solc: str
    evm_version: str
    openzeppelin: str


def read_toolchain(pyproject: Path = REPO_ROOT / "pyproject.toml") -> Toolchain:
    """Read the pinned compiler, EVM and OpenZeppelin versions from ``pyproject.toml``.

    An installed wheel has no ``pyproject.toml``: there the pins are the ones its packaged artifacts record, which
    ``python -m segell.chain.compile --check`` keeps equal to ``[tool.segell]``.
    """
    if not pyproject.is_file():
        notary = load_artifact("Notary")
        return Toolchain(
            solc=notary.compiler_version.split("+", 1)[0],
            evm_version=notary.evm_version,
            openzeppelin=notary.openzeppelin,
        )
    pins = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["segell"]
    return Toolchain(solc=pins["solc"], evm_version=pins["evm_version"], openzeppelin=pins["openzeppelin"])


def solc_version(command: Path, *, timeout: float = VERSION_TIMEOUT_S) -> Version:
    """The version ``command --version`` reports, with its commit hash (``0.8.37+commit.f401782d``).

    Raises `CompileError`, saying why, when the command cannot be run, fails, takes longer than `timeout` seconds or
    names no solc version.

    Example: ``solc_version(Path("tools/solc")).base_version`` is ``"0.8.37"``.
    """
    try:
        answer = subprocess.run(
            [str(command), "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CompileError(f"{command} --version did not answer within {timeout:g} s") from None
    except OSError as error:
        raise CompileError(f"{command} cannot be run: {error.strerror or error}") from None
    if answer.returncode != 0:
        said = (answer.stderr.strip() or answer.stdout.strip() or "no message").splitlines()[-1][:300]
        raise CompileError(f"{command} --version failed with exit status {answer.returncode}: {said}")
    match = re.search(VERSION_REGEX, answer.stdout)
    if match is None:
        raise CompileError(f"{command} --version names no solc version: {answer.stdout.strip()[:300]!r}")
    return Version("".join(match.groups()).replace("-nightly", ""))


def check_solc(command: Path, version: str) -> Version:
    """`command`'s version (with its commit hash) if it is exactly ``version``; `CompileError` otherwise."""
    found = solc_version(command)
    if found.base_version != version:
        raise CompileError(f"{command} is solc {found}, not the pinned {version}")
    return found


def find_solc(version: str, *, toolchain_dir: Path = REPO_ROOT) -> Path:
    """Return the compiler command of exactly ``version``, checked by running it with ``--version``.

    The first of: py-solc-x's install of that version, then ``tools/solc`` under `toolchain_dir` (a Segell checkout
    after ``npm ci``, or a folder laid out like one) run with Node. A ``solc`` on ``PATH`` is never used. Raises
    `CompileError` saying what to install when there is none, or when the one found is another version.

    Example: ``find_solc("0.8.37")`` returns ``~/.solcx/solc-v0.8.37`` if py-solc-x installed it, else
    ``tools/solc`` of this checkout.
    """
    wanted = Version(version)
    if wanted in solcx.get_installed_solc_versions():
        installed = Path(get_executable(wanted))
        check_solc(installed, version)
        return installed
    npm_command = toolchain_dir / "tools" / "solc"
    node_modules = toolchain_dir / "node_modules"
    install_native = f"install it with `python -c \"import solcx; solcx.install_solc('{version}')\"`"
    if not npm_command.is_file():
        raise CompileError(
            f"no solc {version} found: {install_native}, or point SEGELL_TOOLCHAIN_DIR at a Segell checkout where"
            f" `npm ci` ran ({npm_command} is missing)"
        )
    if shutil.which("node") is None:
        raise CompileError(
            f"no solc {version} found: {install_native}, or install Node.js so that {npm_command} can run the npm"
            " compiler"
        )
    if not (node_modules / "solc" / "package.json").is_file():
        raise CompileError(f"{node_modules / 'solc'} is missing: run `npm ci` in {toolchain_dir}")
    check_solc(npm_command, version)
    return npm_command


def source_unit_path(unit: str, *, contracts_dir: Path, node_modules: Path) -> Path:
    """Map a source unit name (``contracts/Notary.sol``, ``@openzeppelin/...``) to its file."""
    if unit.startswith(_PROJECT_PREFIX):
        return contracts_dir / unit.removeprefix(_PROJECT_PREFIX)
    return node_modules / unit


def without_comments(text: str) -> str:
    """Solidity ``text`` without its ``/* */`` and ``//`` comments: a commented-out import imports nothing."""
    return _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", text))


def imports_of(unit: str, text: str) -> list[str]:
    """The source unit names that ``unit`` imports, relative imports resolved against its own name.

    Example: ``imports_of("contracts/Notary.sol", 'import {X} from "./X.sol";')`` is ``["contracts/X.sol"]``.
    """
    code = without_comments(text)
    names = []
    for target in _IMPORT.findall(code):
        if target.startswith(("./", "../")):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(unit), target))
        names.append(target)
    return names


def collect_sources(roots: Iterable[str], *, contracts_dir: Path, node_modules: Path) -> dict[str, str]:
    """Return ``{source unit name: text}`` for ``roots`` and everything they import, transitively."""
    sources: dict[str, str] = {}
    pending = list(roots)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = source_unit_path(unit, contracts_dir=contracts_dir, node_modules=node_modules)
        if not path.is_file():
            raise CompileError(f"source {unit} not found at {path}")
        sources[unit] = path.read_text(encoding="utf-8")
        pending.extend(imports_of(unit, sources[unit]))
    return dict(sorted(sources.items()))


def with_library_sources(sources: Mapping[str, str], node_modules: Path = NODE_MODULES) -> dict[str, str]:
    """`sources` plus every OpenZeppelin file they import, transitively, read from ``node_modules``.

    Nothing else is read from disk: an import of any other file is left for solc to report as not found.

    Example: ``with_library_sources({"A.sol": 'import "@openzeppelin/contracts/access/Ownable.sol";'})`` holds
    ``A.sol``, ``@openzeppelin/contracts/access/Ownable.sol`` and ``@openzeppelin/contracts/utils/Context.sol``.
    """
    library_root = (node_modules / OPENZEPPELIN_PREFIX).resolve()
    collected = dict(sources)
    pending = [target for unit, text in sources.items() for target in imports_of(unit, text)]
    while pending:
        unit = pending.pop()
        if unit in collected or not unit.startswith(OPENZEPPELIN_PREFIX) or posixpath.normpath(unit) != unit:
            continue
        path = (node_modules / unit).resolve()
        if not path.is_relative_to(library_root) or not path.is_file():
            continue
        collected[unit] = path.read_text(encoding="utf-8")
        pending.extend(imports_of(unit, collected[unit]))
    return dict(sorted(collected.items()))


def source_hash(sources: Mapping[str, str]) -> str:
    """sha256 over the sorted source unit names and texts (each as name, NUL, text, NUL)."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode("utf-8") + b"\0" + sources[name].encode("utf-8") + b"\0")
    return digest.hexdigest()


def artifact_hash(*, abi: Sequence[Mapping[str, Any]], bytecode: str, deployed_bytecode: str) -> str:
    """sha256 over the creation bytecode, deployed bytecode and canonical JSON of the ABI, one per line."""
    canonical_abi = json.dumps(abi, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{bytecode}\n{deployed_bytecode}\n{canonical_abi}\n".encode()).hexdigest()


def render_artifact(artifact: Mapping[str, Any]) -> str:
    """Deterministic JSON text of an artifact: sorted keys, two-space indent, trailing newline."""
    return json.dumps(artifact, sort_keys=True, indent=2) + "\n"


def _check_openzeppelin(node_modules: Path, pinned: str) -> None:
    package = node_modules / "@openzeppelin" / "contracts" / "package.json"
    if not package.is_file():
        raise CompileError(f"{package} is missing: run `npm ci` in {REPO_ROOT}")
    installed = json.loads(package.read_text(encoding="utf-8"))["version"]
    if installed != pinned:
        raise CompileError(f"@openzeppelin/contracts {installed} is installed, {pinned} is pinned: run `npm ci`")


@functools.lru_cache(maxsize=8)
def _compiled_text(standard_input: str, solc_binary: str, compiler_version: str) -> str:
    # solc's output is a function of its input and version: one process (the check command after a compile, the
    # tests) asks the compiler for one input once; the npm build takes seconds of CPU for each.
    try:
        output = solcx.compile_standard(json.loads(standard_input), solc_binary=solc_binary)
    except SolcError as error:
        raise CompileError(f"solc failed:\n{error}") from error
    return json.dumps(output)


def _compile_standard(standard_input: str, solc_binary: str, compiler_version: str) -> dict[str, Any]:
    """solc's standard-JSON output for ``standard_input``, a copy of its own for the caller to read or change."""
    output: dict[str, Any] = json.loads(_compiled_text(standard_input, solc_binary, compiler_version))
    return output


def compile_contracts(
    *,
    contracts_dir: Path = CONTRACTS_DIR,
    node_modules: Path = NODE_MODULES,
    toolchain: Toolchain | None = None,
    solc_binary: Path | None = None,
) -> dict[str, str]:
    """Compile the contracts and return ``{contract name: artifact JSON text}`` without writing anything.

    Example: ``compile_contracts()["Notary"]`` is the text ``contracts/artifacts/Notary.json`` should hold.
    """
    toolchain = toolchain or read_toolchain()
    _check_openzeppelin(node_modules, toolchain.openzeppelin)
    solc_binary = solc_binary or find_solc(toolchain.solc)
    compiler_version = check_solc(solc_binary, toolchain.solc)

    roots = [f"{_PROJECT_PREFIX}{name}.sol" for name in CONTRACT_NAMES]
    sources = collect_sources(roots, contracts_dir=contracts_dir, node_modules=node_modules)
    optimizer = {"enabled": True, "runs": OPTIMIZER_RUNS}
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "evmVersion": toolchain.evm_version,
            "optimizer": optimizer,
            "metadata": {"bytecodeHash": "ipfs"},
            "outputSelection": {
                unit: {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]} for unit in roots
            },
        },
    }
    output = _compile_standard(json.dumps(standard_input, sort_keys=True), str(solc_binary), str(compiler_version))
    warnings = [entry["formattedMessage"] for entry in output.get("errors", [])]
    if warnings:
        raise CompileError("solc warned; the contracts must compile cleanly:\n" + "\n".join(warnings))

    artifacts = {}
    for name, unit in zip(CONTRACT_NAMES, roots, strict=True):
        compiled = output["contracts"][unit][name]
        abi = compiled["abi"]
        bytecode = "0x" + compiled["evm"]["bytecode"]["object"]
        deployed = "0x" + compiled["evm"]["deployedBytecode"]["object"]
        used = collect_sources([unit], contracts_dir=contracts_dir, node_modules=node_modules)
        artifacts[name] = render_artifact(
            {
                "generatedBy": GENERATED_BY,
                "contractName": name,
                "abi": abi,
                "bytecode": bytecode,
                "deployedBytecode": deployed,
                "compiler": {
                    "version": str(compiler_version),
                    "evmVersion": toolchain.evm_version,
                    "optimizer": optimizer,
                },
                "openzeppelin": toolchain.openzeppelin,
                "sources": sorted(used),
                "sourceHash": source_hash(used),
                "artifactHash": artifact_hash(abi=abi, bytecode=bytecode, deployed_bytecode=deployed),
            }
        )
    return artifacts


def write_artifacts(artifacts: Mapping[str, str], artifacts_dir: Path = ARTIFACTS_DIR) -> list[Path]:
    """Write each artifact text to ``<artifacts_dir>/<Name>.json`` and return the paths written."""
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(artifacts.items()):
        path = artifacts_dir / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def differing_artifacts(artifacts: Mapping[str, str], artifacts_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Return the names of the artifacts whose file is missing or differs from ``artifacts``."""
    differing = []
    for name, text in sorted(artifacts.items()):
        path = artifacts_dir / f"{name}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            differing.append(name)
    return differing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segell.chain.compile", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="recompile and fail if a committed artifact differs")
    parser.add_argument("--solc", type=Path, help="compiler command to use instead of looking one up")
    parser.add_argument(
        "--artifacts-dir",
        type=Path,
        default=ARTIFACTS_DIR,
        help="where the artifacts are (default: %(default)s)",
    )
    arguments = parser.parse_args(argv)
    try:
        artifacts = compile_contracts(solc_binary=arguments.solc)
    except CompileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if arguments.check:
        differing = differing_artifacts(artifacts, arguments.artifacts_dir)
        for name in differing:
            print(
                f"{arguments.artifacts_dir / name}.json differs from a fresh compile;"
                " run python -m segell.chain.compile to rewrite it",
                file=sys.stderr,
            )
        if differing:
            return 1
        print(f"artifacts up to date: {', '.join(sorted(artifacts))}")
        return 0
    for path in write_artifacts(artifacts, arguments.artifacts_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
