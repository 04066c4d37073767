"""`segell network init`: the files of a QBFT network, against golden copies and against what Besu requires.

The golden folder tests/data/qbft-network was written by `segell network init --out DIR --seed golden`; a change
to it is a change to what operators run, to be read line by line.
"""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_keys import keys
from typer.testing import CliRunner

from segell.chain.network import BESU_RPC_APIS, NetworkError, NetworkSettings, generate_qbft_network
from segell.sdk.blocks import BFT_MIX_HASH, decode_qbft_extra_data
from segell.services.cli import app

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "qbft-network"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return generate_qbft_network(NetworkSettings(seed="golden"))


@pytest.fixture(scope="module")
def compose(files: dict[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(files["docker-compose.yml"])
    return loaded


def test_generation_with_seed_matches_golden_files(files: dict[str, str]) -> None:
    golden = {str(path.relative_to(GOLDEN)): path.read_text() for path in sorted(GOLDEN.rglob("*")) if path.is_file()}

    assert files == golden


def test_generation_with_seed_is_deterministic_and_without_seed_is_not() -> None:
    assert generate_qbft_network(NetworkSettings(seed="a")) == generate_qbft_network(NetworkSettings(seed="a"))
    first, second = generate_qbft_network(NetworkSettings()), generate_qbft_network(NetworkSettings())
    assert first["nodes/validator-1/key"] != second["nodes/validator-1/key"]


def test_genesis_extra_data_lists_the_validators_of_the_node_keys(files: dict[str, str]) -> None:
    genesis = json.loads(files["genesis.json"])
    extra = decode_qbft_extra_data(bytes.fromhex(genesis["extraData"][2:]))
    from_keys = [
        keys.PrivateKey(bytes.fromhex(files[f"nodes/validator-{n}/key"][2:])).public_key.to_canonical_address()
        for n in range(1, 5)
    ]

    assert list(extra.validators) == from_keys
    assert (extra.vanity, extra.vote, extra.round, extra.seals) == (bytes(32), None, 0, ())
    assert [files[f"nodes/validator-{n}/address"].strip().lower() for n in range(1, 5)] == [
        "0x" + a.hex() for a in from_keys
    ]


def test_genesis_has_qbft_settings_and_bft_mix_hash(files: dict[str, str]) -> None:
    genesis = json.loads(files["genesis.json"])

    assert genesis["config"]["qbft"] == {"blockperiodseconds": 2, "epochlength": 30000, "requesttimeoutseconds": 4}
    assert genesis["config"]["chainId"] == 2026
    assert genesis["mixHash"] == "0x" + BFT_MIX_HASH.hex()
    treasury = files["accounts/treasury.address"].strip()
    assert list(genesis["alloc"]) == [treasury]
    assert keys.PrivateKey(
        bytes.fromhex(files["accounts/treasury.key"].strip()[2:])
    ).public_key.to_checksum_address() == (treasury)


def test_node_key_files_are_as_besu_reads_them(files: dict[str, str]) -> None:
    for n in range(1, 5):
        key, public = files[f"nodes/validator-{n}/key"], files[f"nodes/validator-{n}/key.pub"]
        assert len(key) == 66 and key.startswith("0x")  # --node-private-key-file: 0x + 64 hex digits
        assert keys.PrivateKey(bytes.fromhex(key[2:])).public_key.to_bytes().hex() == public[2:]


def test_static_nodes_and_node_allowlist_are_the_validators_enodes(files: dict[str, str]) -> None:
    enodes = json.loads(files["static-nodes.json"])
    permissions = tomllib.loads(files["permissions_config.toml"])
    public_keys = [files[f"nodes/validator-{n}/key.pub"][2:] for n in range(1, 5)]

    assert enodes == [f"enode://{public}@172.28.0.{10 + n}:30303" for n, public in enumerate(public_keys, 1)]
    assert permissions["nodes-allowlist"] == enodes
    assert permissions["accounts-allowlist"] == [files["accounts/treasury.address"].strip()]


def test_allowed_accounts_join_the_account_allowlist() -> None:
    extra = "0x00000000000000000000000000000000000000aa"
    files = generate_qbft_network(NetworkSettings(seed="golden", allowed_accounts=(extra,)))

    assert tomllib.loads(files["permissions_config.toml"])["accounts-allowlist"][1] == (
        "0x00000000000000000000000000000000000000AA"
    )


def test_compose_runs_four_validators_postgres_two_apis_and_a_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert sorted(services) == sorted(
        [
            "validator-1",
            "validator-2",
            "validator-3",
            "validator-4",
            "postgres",
            "api-1",
            "api-2",
            "worker",
            "init-volumes",
        ]
    )
    assert [services[name]["command"] for name in ("api-1", "api-2", "worker")] == [
        ["segell", "up"],
        ["segell", "up"],
        ["segell", "worker"],
    ]
    assert {services[name]["environment"]["SEGELL_DATABASE_URL"] for name in ("api-1", "api-2", "worker")} == {
        "postgresql+psycopg://segell:segell@postgres:5432/segell"
    }


def test_no_validator_serves_admin_or_signing_methods(compose: dict[str, Any]) -> None:
    for n in range(1, 5):
        service = compose["services"][f"validator-{n}"]
        flags = dict(flag.split("=", 1) for flag in service["command"])
        assert flags["--rpc-http-api"].split(",") == list(BESU_RPC_APIS)
        assert set(BESU_RPC_APIS) <= {"ETH", "NET", "WEB3"}
        assert not {"--rpc-ws-enabled", "--graphql-http-enabled", "--engine-rpc-enabled"} & set(flags)
        assert service.get("ports", []) == (["127.0.0.1:8545:8545"] if n == 1 else [])  # loopback only
        assert flags["--permissions-nodes-config-file-enabled"] == "true"
        assert flags["--permissions-accounts-config-file-enabled"] == "true"
    assert compose["networks"]["chain"]["internal"] is True


def test_only_api_ports_are_published_on_loopback(compose: dict[str, Any]) -> None:
    published = {name: service.get("ports") for name, service in compose["services"].items() if service.get("ports")}

    assert published == {
        "validator-1": ["127.0.0.1:8545:8545"],
        "api-1": ["127.0.0.1:8000:8000"],
        "api-2": ["127.0.0.1:8001:8001"],
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (NetworkSettings(validators=3), "at least 4"),
        (NetworkSettings(block_period_seconds=0), "at least 1"),
        (NetworkSettings(allowed_accounts=("0x12",)), "not an account address"),
    ],
)
def test_generation_refuses_bad_settings(settings: NetworkSettings, message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        generate_qbft_network(settings)


def test_network_init_writes_keys_private_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "net"

    first = runner.invoke(app, ["network", "init", "--out", str(out), "--seed", "golden", "--json"])
    again = runner.invoke(app, ["network", "init", "--out", str(out)])

    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["validators"] == [
        (GOLDEN / f"nodes/validator-{n}/address").read_text().strip() for n in range(1, 5)
    ]
    assert (out / "genesis.json").read_text() == (GOLDEN / "genesis.json").read_text()
    for private in ("nodes/validator-1/key", "accounts/treasury.key", "segell.env"):
        assert stat.S_IMODE((out / private).stat().st_mode) == 0o600
    assert again.exit_code == 1
    assert "--force" in again.output
