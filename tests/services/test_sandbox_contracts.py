"""Contracts over REST in a sandbox, through a real Segell server: deploy from source, call, transact, events,
the sandbox's own notary, bad input, and isolation between administrations."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from typer.testing import CliRunner

from segell.sdk import Client, ConflictError
from segell.services.cli import app
from tests.helpers import RunningServer

COUNTER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract Counter is Ownable {
    event Counted(address indexed by, uint256 value, string note);
    uint256 public count;

    constructor(uint256 start) Ownable(msg.sender) { count = start; }

    function add(uint256 amount, string calldata note) external onlyOwner {
        count += amount;
        emit Counted(msg.sender, count, note);
    }

    function add(uint256 amount) external onlyOwner { count += amount; emit Counted(msg.sender, count, ""); }
}
"""


@pytest.fixture(scope="module")
def owner_key(segell_server: RunningServer) -> str:
    return segell_server.admit()


@pytest.fixture(scope="module")
def owner(segell_server: RunningServer, owner_key: str) -> Iterator[httpx.Client]:
    with segell_server.client(owner_key) as client:
        yield client


@pytest.fixture(scope="module")
def sandbox(owner: httpx.Client) -> Iterator[dict[str, Any]]:
    response = owner.post("/v1/sandboxes", json={"name": "contracts-test", "backend": "embedded"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    yield created
    owner.delete(f"/v1/sandboxes/{created['id']}")


@pytest.fixture(scope="module")
def counter(owner: httpx.Client, sandbox: dict[str, Any]) -> dict[str, Any]:
    body = {"sources": {"Counter.sol": COUNTER}, "constructor_args": ["41"]}
    response = owner.post(f"/v1/sandboxes/{sandbox['id']}/contracts", json=body)
    assert response.status_code == 201, response.text
    deployed: dict[str, Any] = response.json()
    return deployed


def test_deploy_from_source_stores_the_abi_and_lists_it(
    owner: httpx.Client, sandbox: dict[str, Any], counter: dict[str, Any]
) -> None:
    assert counter["name"] == "Counter" and counter["source_unit"] == "Counter.sol:Counter"
    assert counter["deployment"]["status"] == "success"
    assert [e["event"] for e in counter["deployment"]["events"]] == ["OwnershipTransferred"]
    assert counter["deployment"]["events"][0]["args"]["newOwner"] == sandbox["accounts"][0]
    assert "add(uint256,string)" in counter["functions"]
    listed = owner.get(f"/v1/sandboxes/{sandbox['id']}/contracts").json()["items"]
    assert [(c["name"], c["origin"], c["on_chain"]) for c in listed] == [
        ("AdministrationRegistry", "segell", True),
        ("Notary", "segell", True),
        ("Counter", "deployed", True),
    ]
    shown = owner.get(f"/v1/sandboxes/{sandbox['id']}/contracts/{counter['address'].lower()}").json()
    assert shown["sources"] == {"Counter.sol": COUNTER}
    assert shown["constructor_args"] == ["41"]
    assert shown["abi"] == counter["abi"]


def test_transact_then_call_and_read_events_by_name(
    owner: httpx.Client, sandbox: dict[str, Any], counter: dict[str, Any]
) -> None:
    base = f"/v1/sandboxes/{sandbox['id']}/contracts/{counter['address']}"
    sent = owner.post(f"{base}/transact", json={"function": "add(uint256,string)", "args": [1, "primer"]})
    assert sent.status_code == 200, sent.text
    tx = sent.json()
    assert tx["status"] == "success" and tx["gas_used"] > 21_000
    assert tx["events"][0]["event"] == "Counted"
    assert tx["events"][0]["args"] == {"by": sandbox["accounts"][0], "value": "42", "note": "primer"}

    called = owner.post(f"{base}/call", json={"function": "count"}).json()
    assert called == {
        "function": "count()",
        "result": "42",
        "outputs": [{"name": "", "type": "uint256", "value": "42"}],
    }

    events = owner.get(f"{base}/events", params={"name": "Counted", "from_block": tx["block_number"]}).json()
    assert [(e["event"], e["transaction_hash"]) for e in events["items"]] == [("Counted", tx["transaction_hash"])]
    none_before = owner.get(f"{base}/events", params={"name": "Counted", "to_block": tx["block_number"] - 1}).json()
    assert none_before["items"] == []


def test_notarise_in_the_sandbox_notary_from_the_owner_account(owner: httpx.Client, sandbox: dict[str, Any]) -> None:
    notary = sandbox["contracts"]["notary"]
    base = f"/v1/sandboxes/{sandbox['id']}/contracts/{notary}"
    leaf = "0x" + keccak(text="acta del ple, 2026-03").hex()
    sent = owner.post(f"{base}/transact", json={"function": "anchorRoot", "args": {"root": leaf, "size": 1}})
    assert sent.status_code == 200, sent.text
    (anchored,) = sent.json()["events"]
    assert anchored["event"] == "RootAnchored"
    assert anchored["args"]["account"] == sandbox["accounts"][0]
    verified = owner.post(f"{base}/call", json={"function": "verify", "args": [[], leaf, leaf]}).json()
    assert verified["result"] is True
    again = owner.post(f"{base}/transact", json={"function": "anchorRoot", "args": [leaf, 1]})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "execution_reverted"
    assert again.json()["error"]["details"]["error"] == "NotaryRootAlreadyAnchored"


def test_compiler_errors_come_back_as_a_structured_422(owner: httpx.Client, sandbox: dict[str, Any]) -> None:
    broken = COUNTER.replace("count = start;", "count = start")
    response = owner.post(f"/v1/sandboxes/{sandbox['id']}/contracts", json={"sources": {"Counter.sol": broken}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "compilation_failed"
    first = error["details"][0]
    assert first["file"] == "Counter.sol" and first["severity"] == "error"
    assert (
        first["line"]
        == broken.splitlines().index("    constructor(uint256 start) Ownable(msg.sender) { count = start }") + 1
    )
    assert "Counter.sol:" in error["message"]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"function": "add(uint256)", "args": ["many"]}, "invalid_arguments", "uint256"),
        ({"function": "add(uint256)", "args": [1, 2]}, "invalid_arguments", "takes 1 argument"),
        ({"function": "add", "args": {"amount": 1, "memo": "x"}}, "invalid_arguments", "unknown memo"),
        ({"function": "subtract", "args": [1]}, "unknown_function", "add(uint256,string)"),
        ({"function": "add", "args": []}, "ambiguous_function", "overloaded"),
    ],
    ids=["wrong-type", "wrong-count", "unknown-name", "unknown-function", "ambiguous"],
)
def test_bad_calls_answer_422_saying_what_to_send(
    owner: httpx.Client, sandbox: dict[str, Any], counter: dict[str, Any], body: dict[str, Any], code: str, says: str
) -> None:
    base = f"/v1/sandboxes/{sandbox['id']}/contracts/{counter['address']}"
    for action in ("call", "transact"):
        response = owner.post(f"{base}/{action}", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code
        assert says in response.json()["error"]["message"]


def test_another_administration_gets_404_for_every_contract_endpoint(
    segell_server: RunningServer, sandbox: dict[str, Any], counter: dict[str, Any]
) -> None:
    base = f"/v1/sandboxes/{sandbox['id']}/contracts"
    with segell_server.client(segell_server.admit()) as stranger:
        answers = [
            stranger.get(base),
            stranger.post(base, json={"sources": {"Counter.sol": COUNTER}, "constructor_args": [1]}),
            stranger.get(f"{base}/{counter['address']}"),
            stranger.post(f"{base}/{counter['address']}/call", json={"function": "count"}),
            stranger.post(f"{base}/{counter['address']}/transact", json={"function": "add(uint256)", "args": [1]}),
            stranger.get(f"{base}/{counter['address']}/events"),
            stranger.post(f"{base}/{counter['address']}/register", json={"sources": {"Counter.sol": COUNTER}}),
        ]
    assert [a.status_code for a in answers] == [404] * 7
    assert {a.json()["error"]["code"] for a in answers} == {"not_found"}
    with segell_server.client(segell_server.governance_key) as governance:
        assert governance.get(base).status_code == 403  # sandboxes belong to administrations
    assert httpx.get(segell_server.url + base).status_code == 401


def test_deleted_sandbox_answers_409_and_reset_marks_contracts_gone(
    segell_server: RunningServer, owner: httpx.Client
) -> None:
    created = owner.post("/v1/sandboxes", json={"name": "short-lived", "backend": "embedded"}).json()
    base = f"/v1/sandboxes/{created['id']}/contracts"
    deployed = owner.post(base, json={"sources": {"Counter.sol": COUNTER}, "constructor_args": [0]}).json()
    assert owner.post(f"/v1/sandboxes/{created['id']}/reset").status_code == 200
    listed = owner.get(base).json()["items"]
    assert [(c["name"], c["on_chain"]) for c in listed] == [
        ("AdministrationRegistry", True),
        ("Notary", True),
        ("Counter", False),
    ]
    gone = owner.post(f"{base}/{deployed['address']}/call", json={"function": "count"})
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "contract_not_on_chain"
    # The reset chain starts the owner's nonce again: the next deployment lands at the same address and replaces it.
    again = owner.post(base, json={"sources": {"Counter.sol": COUNTER}, "constructor_args": [5]})
    assert again.status_code == 201 and again.json()["address"] == deployed["address"]
    listed = owner.get(base).json()["items"]
    assert [(c["name"], c["on_chain"]) for c in listed][2:] == [("Counter", True)]
    assert owner.post(f"{base}/{deployed['address']}/call", json={"function": "count"}).json()["result"] == "5"
    assert owner.delete(f"/v1/sandboxes/{created['id']}").status_code == 200
    after = owner.post(f"{base}/{deployed['address']}/call", json={"function": "count"})
    assert after.status_code == 409
    assert after.json()["error"]["code"] == "sandbox_deleted"


def test_cli_deploys_a_file_calls_and_sends(
    segell_server: RunningServer, owner_key: str, sandbox: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "Counter.sol"
    source.write_text(COUNTER)
    runner = CliRunner()
    env = {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": owner_key, "SEGELL_SANDBOX": sandbox["id"]}

    deployed = runner.invoke(app, ["contract", "deploy", str(source), "--arg", "7", "--json"], env=env)
    assert deployed.exit_code == 0, deployed.output
    address = json.loads(deployed.stdout)["address"]
    sent = runner.invoke(app, ["contract", "send", address, "add(uint256,string)", "3", "des de la CLI"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "status       success" in sent.stdout
    assert "Counted(by=" in sent.stdout and "value=10, note=des de la CLI)" in sent.stdout
    called = runner.invoke(app, ["contract", "call", address, "count"], env=env)
    assert (called.exit_code, json.loads(called.stdout)) == (0, "10")

    wrong = runner.invoke(app, ["contract", "call", address, "add(uint256)", "deu"], env=env)
    assert wrong.exit_code == 1
    assert "must be a uint256" in wrong.stderr and "invalid_arguments" in wrong.stderr


def test_sdk_deploys_calls_sends_and_reads_events(
    owner_key: str, segell_server: RunningServer, sandbox: dict[str, Any]
) -> None:
    with Client(segell_server.url, owner_key, timeout=60) as segell:
        deployed = segell.contracts.deploy(sandbox["id"], {"Counter.sol": COUNTER}, args={"start": 100})
        assert deployed.deployment.status == "success" and deployed.origin == "deployed"
        sent = segell.contracts.send(sandbox["id"], deployed.address, "add(uint256)", [5])
        assert sent.events[0].args["value"] == "105"
        assert segell.contracts.call(sandbox["id"], deployed.address, "count").result == "105"
        events = segell.contracts.events(sandbox["id"], deployed.address, "Counted", from_block=sent.block_number)
        assert [e.transaction_hash for e in events] == [sent.transaction_hash]
        assert deployed.address in {c.address for c in segell.contracts.list(sandbox["id"])}
        with pytest.raises(ConflictError) as caught:
            segell.contracts.call(sandbox["id"], deployed.address, "add(uint256)", [1], sender="0x" + "12" * 20)
        assert caught.value.code == "execution_reverted"
        assert caught.value.details["error"] == "OwnableUnauthorizedAccount"


ABSTRACT_AND_INTERFACE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
interface IThing { function f() external; }
abstract contract Base is IThing {}
"""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"sources": {"A.sol": ABSTRACT_AND_INTERFACE}, "contract": "Base"}, "not_deployable"),
        ({"sources": {"Counter.sol": COUNTER}, "contract": "Permits"}, "unknown_contract"),
        ({"sources": {"Counter.sol": COUNTER}, "constructor_args": ["-1"]}, "invalid_arguments"),
        ({"sources": {"../Counter.sol": COUNTER}}, "validation_error"),
        ({"sources": {"A.sol": ABSTRACT_AND_INTERFACE}}, "contract_not_chosen"),
    ],
    ids=["abstract", "unknown-contract", "constructor-argument", "path-escape", "nothing-deployable"],
)
def test_bad_deployments_answer_422_saying_what_to_send(
    owner: httpx.Client, sandbox: dict[str, Any], body: dict[str, Any], code: str
) -> None:
    response = owner.post(f"/v1/sandboxes/{sandbox['id']}/contracts", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code


def test_value_beyond_the_balance_or_to_a_function_that_is_not_payable_is_refused(
    owner: httpx.Client, sandbox: dict[str, Any], counter: dict[str, Any]
) -> None:
    base = f"/v1/sandboxes/{sandbox['id']}/contracts"
    too_much = owner.post(
        base, json={"sources": {"Counter.sol": COUNTER}, "constructor_args": [1], "value": str(10**30)}
    )
    assert too_much.status_code == 409 and too_much.json()["error"]["code"] == "insufficient_funds"
    not_payable = owner.post(
        f"{base}/{counter['address']}/transact", json={"function": "add(uint256)", "args": [1], "value": 5}
    )
    assert not_payable.status_code == 422 and "not payable" in not_payable.json()["error"]["message"]
