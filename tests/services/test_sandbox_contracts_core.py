"""Compiling, deploying, calling and transacting contracts of one's own, on a real chain with the pinned solc."""

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from segell.chain.abi import signature
from segell.chain.nodes import AnvilNotFound, ChainNode, start_node
from segell.services.errors import Unavailable
from segell.services.sandboxes import contracts
from segell.services.sandboxes.contracts import (
    CompilationFailed,
    ExecutionReverted,
    InvalidArguments,
    SolidityCompiler,
    UnknownFunction,
)

FUNDS = 10**24

PERMITS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Kinds} from "./lib/Kinds.sol";

/// A register of municipal permits.
contract Permits is Ownable {
    struct Permit { address holder; bytes32 kind; uint64 expires; bool revoked; }

    error PermitsUnknownPermit(uint256 id);

    event PermitIssued(uint256 indexed id, address indexed holder, bytes32 kind, string note);
    event PermitRevoked(uint256 indexed id);

    mapping(uint256 => Permit) private _permits;
    uint256 public issued;

    constructor(address owner_) Ownable(owner_) {}

    function issue(uint256 id, address holder, bytes32 kind, uint64 expires, string calldata note) external onlyOwner {
        require(Kinds.isKnown(kind), "unknown kind");
        _permits[id] = Permit(holder, kind, expires, false);
        issued += 1;
        emit PermitIssued(id, holder, kind, note);
    }

    function issue(uint256 id, address holder) external onlyOwner {
        _permits[id] = Permit(holder, Kinds.WORKS, type(uint64).max, false);
        issued += 1;
        emit PermitIssued(id, holder, Kinds.WORKS, "");
    }

    function revoke(uint256 id) external onlyOwner {
        if (_permits[id].holder == address(0)) revert PermitsUnknownPermit(id);
        _permits[id].revoked = true;
        emit PermitRevoked(id);
    }

    function permit(uint256 id) external view returns (Permit memory) { return _permits[id]; }

    function holders(uint256[] calldata ids) external view returns (address[] memory found, uint256 count) {
        found = new address[](ids.length);
        for (uint256 i = 0; i < ids.length; i++) { found[i] = _permits[ids[i]].holder; }
        count = ids.length;
    }
}
"""

KINDS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

library Kinds {
    bytes32 internal constant WORKS = keccak256("works");
    bytes32 internal constant TERRACE = keccak256("terrace");

    function isKnown(bytes32 kind) internal pure returns (bool) { return kind == WORKS || kind == TERRACE; }
}
"""

SOURCES = {"contracts/Permits.sol": PERMITS, "contracts/lib/Kinds.sol": KINDS}
WORKS = "0x" + keccak(text="works").hex()


@pytest.fixture(scope="module")
def compiler(tmp_path_factory: pytest.TempPathFactory) -> SolidityCompiler:
    return SolidityCompiler(cache_dir=tmp_path_factory.mktemp("solc-cache"))


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ChainNode, LocalAccount]]:
    account: LocalAccount = Account.create()
    try:
        node = start_node(
            request.param, state_dir=tmp_path_factory.mktemp("chain"), genesis_accounts={account.address: FUNDS}
        )
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")
    try:
        yield node, account
    finally:
        node.stop()


@pytest.fixture(scope="module")
def permits(compiler: SolidityCompiler, chain: tuple[ChainNode, LocalAccount]) -> tuple[str, list[dict[str, Any]]]:
    node, account = chain
    compiled = compiler.compile(SOURCES).select("Permits", list(SOURCES))
    outcome = contracts.deploy(node.w3, account, compiled, [account.address])
    assert outcome.status == "success" and outcome.contract_address is not None
    # The constructor's OwnershipTransferred event, decoded with the contract's ABI (inherited from OpenZeppelin).
    assert [event.event for event in outcome.events] == ["OwnershipTransferred"]
    assert outcome.events[0].args["newOwner"] == account.address
    return outcome.contract_address, compiled.abi


def test_compile_with_openzeppelin_and_relative_imports_gives_abi_and_bytecode(compiler: SolidityCompiler) -> None:
    compilation = compiler.compile(SOURCES)
    permits = compilation.select(None, list(SOURCES))  # the only deployable contract of the request's own files
    assert permits.qualified_name == "contracts/Permits.sol:Permits"
    assert {signature(e) for e in permits.abi if e["type"] == "function"} >= {
        "issue(uint256,address,bytes32,uint64,string)",
        "issue(uint256,address)",
        "owner()",
    }
    assert permits.bytecode.startswith("0x60") and len(permits.bytecode) > 2000


def test_compile_again_is_answered_from_the_cache_on_disk(compiler: SolidityCompiler) -> None:
    first = compiler.compile(SOURCES)
    contracts._MEMORY.clear()  # the memory cache is shared by the process; the disk cache is per directory
    fresh = SolidityCompiler(cache_dir=compiler.cache_dir, solc_binary=Path("/nonexistent/solc"))
    # A compiler that cannot run answers from the cache directory the first one wrote.
    assert fresh.compile(SOURCES) == first


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ("echo 'Version: 0.8.20+commit.a1b79de6.Linux.g++'", "is solc 0.8.20+commit.a1b79de6, not the pinned 0.8.37"),
        ("echo 'No solc version set; run solc-select' >&2; exit 1", "--version failed with exit status 1"),
        (None, "cannot be run: No such file or directory"),
    ],
)
def test_compile_with_a_wrong_or_missing_compiler_answers_503_compiler_unavailable(
    tmp_path: Path, script: str | None, problem: str
) -> None:
    solc = tmp_path / "solc"
    if script is not None:
        solc.write_text(f"#!/bin/sh\n{script}\n")
        solc.chmod(0o755)
    compiler = SolidityCompiler(cache_dir=tmp_path / "cache", solc_binary=solc)

    with pytest.raises(Unavailable) as caught:
        compiler.compile({"Fresh.sol": f"pragma solidity ^0.8.20;\ncontract Fresh{secrets.token_hex(4)} {{}}\n"})

    assert (caught.value.status_code, caught.value.code) == (503, "compiler_unavailable")
    assert problem in caught.value.message and str(solc) in caught.value.message


def test_disk_cache_keeps_only_the_newest_entries(tmp_path: Path) -> None:
    compiler = SolidityCompiler(cache_dir=tmp_path, disk_entries=1)
    for number in (1, 2):
        compiler.compile(
            {"A.sol": f"// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\ncontract A{number} {{}}\n"}
        )
    (kept,) = tmp_path.glob("*.json")
    assert "A2" in kept.read_text()


def test_compile_error_is_located_by_file_line_and_column(compiler: SolidityCompiler) -> None:
    broken = PERMITS.replace(
        "issued += 1;\n        emit PermitIssued(id, holder, kind, note);", "issued += 1\n        emit X();"
    )
    with pytest.raises(CompilationFailed) as caught:
        compiler.compile({**SOURCES, "contracts/Permits.sol": broken})
    errors = [d for d in caught.value.details if d["severity"] == "error"]
    assert errors[0]["file"] == "contracts/Permits.sol"
    assert errors[0]["type"] == "ParserError"
    line = broken.splitlines().index("        emit X();") + 1
    assert (errors[0]["line"], errors[0]["column"]) == (line, 9)
    assert "Expected ';'" in errors[0]["message"]


def test_import_outside_the_request_and_openzeppelin_is_not_found(compiler: SolidityCompiler) -> None:
    # The compiler reads no file from disk: a source cannot pull in the server's files.
    source = '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\nimport "pyproject.toml";\ncontract A {}\n'
    with pytest.raises(CompilationFailed) as caught:
        compiler.compile({"A.sol": source})
    (error,) = [d for d in caught.value.details if d["severity"] == "error"]
    assert (error["file"], error["line"]) == ("A.sol", 3)
    assert "not found" in error["message"].lower()
    assert "tool.segell" not in str(caught.value.details)


def test_transact_by_name_with_json_arguments_and_read_back(
    chain: tuple[ChainNode, LocalAccount], permits: tuple[str, list[dict[str, Any]]]
) -> None:
    node, account = chain
    address, abi = permits
    holder = Account.create().address
    function, outcome = contracts.transact(
        node.w3,
        account,
        address,
        abi,
        "issue(uint256,address,bytes32,uint64,string)",
        {
            "id": "340282366920938463463374607431768211456",
            "holder": holder.lower(),
            "kind": WORKS,
            "expires": 1_900_000_000,
            "note": "Obra menor, c/ Major 3",
        },
    )
    assert function == "issue(uint256,address,bytes32,uint64,string)"
    assert outcome.status == "success" and outcome.gas_used > 21_000
    (event,) = outcome.events
    assert event.event == "PermitIssued"
    assert event.args == {
        "id": "340282366920938463463374607431768211456",
        "holder": holder,
        "kind": WORKS,
        "note": "Obra menor, c/ Major 3",
    }
    permit = contracts.call(node.w3, address, abi, "permit", [2**128])
    assert permit.result == {"holder": holder, "kind": WORKS, "expires": "1900000000", "revoked": False}
    many = contracts.call(node.w3, address, abi, "holders", [[2**128, "7"]])
    assert many.result == [[holder, "0x0000000000000000000000000000000000000000"], "2"]
    assert [o["name"] for o in many.outputs] == ["found", "count"]

    found = contracts.events(node.w3, address, abi, name="PermitIssued", from_block=outcome.block_number, to_block=None)
    assert [(e.event, e.transaction_hash) for e in found] == [("PermitIssued", outcome.transaction_hash)]
    assert contracts.events(node.w3, address, abi, name="PermitRevoked", from_block=0, to_block=None) == []


def test_overloaded_function_by_name_is_chosen_by_argument_count(
    chain: tuple[ChainNode, LocalAccount], permits: tuple[str, list[dict[str, Any]]]
) -> None:
    node, account = chain
    address, abi = permits
    function, outcome = contracts.transact(node.w3, account, address, abi, "issue", [5, account.address])
    assert function == "issue(uint256,address)"
    assert outcome.events[0].args["kind"] == WORKS
    with pytest.raises(UnknownFunction, match="overloaded") as caught:
        contracts.call(node.w3, address, abi, "issue", None)
    assert caught.value.code == "ambiguous_function"
    assert caught.value.details == {
        "functions": ["issue(uint256,address)", "issue(uint256,address,bytes32,uint64,string)"]
    }


def test_arguments_that_do_not_fit_the_abi_are_refused_as_invalid_arguments(
    chain: tuple[ChainNode, LocalAccount], permits: tuple[str, list[dict[str, Any]]]
) -> None:
    node, account = chain
    address, abi = permits
    with pytest.raises(InvalidArguments) as caught:
        contracts.transact(node.w3, account, address, abi, "issue(uint256,address)", [1.5, account.address])
    assert caught.value.details[0]["argument"] == "id"
    assert caught.value.status_code == 422
    with pytest.raises(InvalidArguments, match=r"takes 1 argument\(s\).*got 2"):
        contracts.call(node.w3, address, abi, "permit", [1, 2])


def test_unknown_function_lists_the_functions_there_are(
    chain: tuple[ChainNode, LocalAccount], permits: tuple[str, list[dict[str, Any]]]
) -> None:
    node, _ = chain
    address, abi = permits
    with pytest.raises(UnknownFunction) as caught:
        contracts.call(node.w3, address, abi, "approve", [1, 2])
    assert caught.value.code == "unknown_function"
    assert "permit(uint256)" in caught.value.details["functions"]


def test_custom_error_and_require_reason_are_decoded(
    chain: tuple[ChainNode, LocalAccount], permits: tuple[str, list[dict[str, Any]]]
) -> None:
    node, account = chain
    address, abi = permits
    with pytest.raises(ExecutionReverted) as caught:
        contracts.transact(node.w3, account, address, abi, "revoke", ["999"])
    assert caught.value.details["error"] == "PermitsUnknownPermit"
    assert caught.value.details["args"] == {"id": "999"}
    bad_kind = "0x" + "22" * 32
    with pytest.raises(ExecutionReverted, match="unknown kind"):
        contracts.transact(
            node.w3,
            account,
            address,
            abi,
            "issue(uint256,address,bytes32,uint64,string)",
            [1, account.address, bad_kind, 1, ""],
        )
    stranger = Account.create().address
    with pytest.raises(ExecutionReverted) as caught:
        contracts.call(node.w3, address, abi, "revoke", [1], sender=stranger)
    assert caught.value.details["error"] == "OwnableUnauthorizedAccount"
    assert caught.value.details["args"] == {"account": stranger}
