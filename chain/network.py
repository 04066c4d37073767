"""The files of a consortium network: Hyperledger Besu validators agreeing by QBFT, with Segell in front.

`generate_qbft_network` returns every file as text, keyed by its path in the output folder; `write_network`
writes them. Nothing here starts a node: Besu runs where its operators run it (docs/deploy.md).

- ``genesis.json``: the chain's first block with the QBFT settings and ``extraData`` =
  ``rlp([32 zero bytes, [validators], [], 0, []])`` (Besu ``QbftExtraDataCodec.encodeFromAddresses``).
- ``nodes/validator-N/key`` (0600) and ``key.pub``: each validator's secp256k1 node key as Besu's
  ``--node-private-key-file`` reads it (``0x`` + 64 hex digits); the node key is also the validator's signing key,
  and its address is in the genesis ``extraData``.
- ``static-nodes.json``: the validators' enode URLs; they find each other by these alone (discovery is off).
- ``permissions_config.toml``: the node allowlist (the enodes) and the account allowlist (the treasury and any
  account given), read by Besu's ``--permissions-*-config-file``.
- ``accounts/treasury.key`` (0600): the account the genesis funds, from which the operator funds Segell's
  governance account.
- ``docker-compose.yml``: the validators, PostgreSQL, two Segell API processes and an anchoring worker.

Example::

    files = generate_qbft_network(validators=4, seed="reproducible")
    write_network(files, Path("network"))
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak

from segell.sdk.blocks import BFT_MIX_HASH, QbftExtraData, encode_qbft_extra_data

__all__ = [
    "BESU_IMAGE",
    "BESU_RPC_APIS",
    "NetworkError",
    "NetworkSettings",
    "generate_qbft_network",
    "write_network",
]

#: The Besu release the compose file runs.
BESU_IMAGE = "hyperledger/besu:24.12.2"
#: The only JSON-RPC APIs the validators serve: no ADMIN, DEBUG, MINER, PERM, QBFT (validator votes), TXPOOL,
#: PLUGINS or TRACE, and no method that signs (Besu holds no account keys; Segell signs and sends raw).
BESU_RPC_APIS = ("ETH", "NET", "WEB3")
#: Private files: node and account keys.
PRIVATE_FILES = frozenset({"key", "treasury.key", "segell.env"})

_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SUBNET = "172.28.0"
_FIRST_HOST = 11
_P2P_PORT = 30303
_RPC_PORT = 8545
_TREASURY_WEI = 10**9 * 10**18


class NetworkError(ValueError):
    """The network cannot be generated as asked (too few validators, a bad address, a folder in the way)."""


@dataclass(frozen=True)
class NetworkSettings:
    """What a generated network is made of.

    Attributes:
        validators: how many QBFT validators (4 or more: QBFT tolerates f faulty of 3f + 1).
        chain_id: the EIP-155 chain id.
        block_period_seconds: seconds between blocks (``blockperiodseconds``).
        epoch_length: blocks between two resets of the validators' votes (``epochlength``).
        request_timeout_seconds: seconds a round lasts before a round change (``requesttimeoutseconds``).
        timestamp: the genesis timestamp (seconds since 1970).
        allowed_accounts: addresses, besides the treasury, that may send transactions (Segell's accounts).
        seed: derive every key from this text instead of the system's random source: for tests and
            reproducible examples only, since anyone with the seed has the keys.
    """

    validators: int = 4
    chain_id: int = 2026
    block_period_seconds: int = 2
    epoch_length: int = 30_000
    request_timeout_seconds: int = 4
    timestamp: int = 1_767_225_600  # 2026-01-01T00:00:00Z
    allowed_accounts: tuple[str, ...] = ()
    seed: str | None = None


@dataclass(frozen=True)
class _Validator:
    name: str
    ip: str
    key: PrivateKey

    @property
    def address(self) -> str:
        return self.key.public_key.to_checksum_address()

    @property
    def enode(self) -> str:
        return f"enode://{self.key.public_key.to_bytes().hex()}@{self.ip}:{_P2P_PORT}"


def generate_qbft_network(settings: NetworkSettings) -> dict[str, str]:
    """Every file of the network, as ``{relative path: text}``.

    Raises:
        NetworkError: fewer than 4 or more than 100 validators, a period or timeout below 1 second, or an
            allowed account that is not an address.
    """
    _check(settings)
    validators = [
        _Validator(f"validator-{n}", f"{_SUBNET}.{_FIRST_HOST + n - 1}", _private_key(settings.seed, f"validator-{n}"))
        for n in range(1, settings.validators + 1)
    ]
    treasury = _private_key(settings.seed, "treasury")
    allowed = [treasury.public_key.to_checksum_address(), *(_checksum(a) for a in settings.allowed_accounts)]
    files = {
        "genesis.json": _genesis(settings, validators, treasury),
        "static-nodes.json": json.dumps([v.enode for v in validators], indent=2) + "\n",
        "permissions_config.toml": _permissions(validators, allowed),
        "accounts/treasury.key": "0x" + treasury.to_bytes().hex() + "\n",
        "accounts/treasury.address": treasury.public_key.to_checksum_address() + "\n",
        "docker-compose.yml": _compose(settings, validators),
        # One master key for every Segell process, so that each opens the keys the others sealed.
        "segell.env": "SEGELL_MASTER_KEY=" + _secret(settings.seed, "segell-master-key").hex() + "\n",
    }
    for validator in validators:
        files[f"nodes/{validator.name}/key"] = "0x" + validator.key.to_bytes().hex()
        files[f"nodes/{validator.name}/key.pub"] = "0x" + validator.key.public_key.to_bytes().hex()
        files[f"nodes/{validator.name}/address"] = validator.address + "\n"
    return dict(sorted(files.items()))


def write_network(files: Mapping[str, str], out: Path, *, force: bool = False) -> list[Path]:
    """Write the files under ``out`` (keys with mode 0600); refuses to overwrite a network unless ``force``."""
    if (out / "genesis.json").exists() and not force:
        raise NetworkError(
            f"{out} already holds a network (genesis.json): choose another --out, or pass --force to replace its "
            "keys and genesis (a running network cannot take a new genesis)"
        )
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        private = path.name in PRIVATE_FILES
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        if private:
            path.chmod(0o600)
        written.append(path)
    return written


def _check(settings: NetworkSettings) -> None:
    if not 4 <= settings.validators <= 100:
        raise NetworkError(
            f"{settings.validators} validators: a QBFT network needs at least 4 (it then survives one faulty "
            "validator) and this generator writes at most 100"
        )
    if settings.block_period_seconds < 1 or settings.request_timeout_seconds < 1 or settings.epoch_length < 1:
        raise NetworkError("block period, request timeout and epoch length must each be at least 1")
    if not 0 < settings.chain_id < 2**63:
        raise NetworkError(f"chain id {settings.chain_id} is not a positive 64-bit integer")


def _checksum(address: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(address):
        raise NetworkError(f"{address!r} is not an account address (0x and 40 hex digits)")
    return to_checksum_address(address)


def _private_key(seed: str | None, label: str) -> PrivateKey:
    if seed is None:
        return PrivateKey(_random_scalar())
    counter = 0
    while True:
        candidate = keccak(f"segell-network:{seed}:{label}:{counter}".encode())
        if 0 < int.from_bytes(candidate, "big") < _SECP256K1_ORDER:
            return PrivateKey(candidate)
        counter += 1


def _secret(seed: str | None, label: str) -> bytes:
    return secrets.token_bytes(32) if seed is None else keccak(f"segell-network:{seed}:{label}".encode())


def _random_scalar() -> bytes:
    while True:
        candidate = secrets.token_bytes(32)
        if 0 < int.from_bytes(candidate, "big") < _SECP256K1_ORDER:
            return candidate


def _genesis(settings: NetworkSettings, validators: Sequence[_Validator], treasury: PrivateKey) -> str:
    extra = QbftExtraData(
        vanity=bytes(32), validators=tuple(v.key.public_key.to_canonical_address() for v in validators)
    )
    genesis = {
        "config": {
            "chainId": settings.chain_id,
            "homesteadBlock": 0,
            "eip150Block": 0,
            "eip155Block": 0,
            "eip158Block": 0,
            "byzantiumBlock": 0,
            "constantinopleBlock": 0,
            "petersburgBlock": 0,
            "istanbulBlock": 0,
            "berlinBlock": 0,
            "londonBlock": 0,
            "shanghaiTime": 0,
            "cancunTime": 0,
            "zeroBaseFee": True,
            "qbft": {
                "blockperiodseconds": settings.block_period_seconds,
                "epochlength": settings.epoch_length,
                "requesttimeoutseconds": settings.request_timeout_seconds,
            },
        },
        "nonce": "0x0",
        "timestamp": hex(settings.timestamp),
        "extraData": "0x" + encode_qbft_extra_data(extra).hex(),
        "gasLimit": "0x1fffffffffffff",
        "difficulty": "0x1",
        "mixHash": "0x" + BFT_MIX_HASH.hex(),
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": {treasury.public_key.to_checksum_address(): {"balance": hex(_TREASURY_WEI)}},
    }
    return json.dumps(genesis, indent=2) + "\n"


def _permissions(validators: Sequence[_Validator], accounts: Sequence[str]) -> str:
    def toml_list(items: Sequence[str]) -> str:
        return "[\n" + "".join(f'  "{item}",\n' for item in items) + "]"

    return (
        "# Besu node and account allowlists (--permissions-nodes-config-file, --permissions-accounts-config-file).\n"
        "# Add the account of each Segell administration that anchors here, then reload (docs/deploy.md).\n"
        f"nodes-allowlist={toml_list([v.enode for v in validators])}\n"
        f"accounts-allowlist={toml_list(list(accounts))}\n"
    )


def _compose(settings: NetworkSettings, validators: Sequence[_Validator]) -> str:
    apis = ",".join(BESU_RPC_APIS)
    lines = [
        f"# A QBFT network of {len(validators)} Hyperledger Besu validators (chain id {settings.chain_id}),",
        "# PostgreSQL, two Segell API processes and an anchoring worker.",
        "# Build Segell's image first: docker build -t segell .",
        "# The validators serve JSON-RPC with the APIs " + apis + " only, on the internal `chain` network; the",
        "# first one also on 127.0.0.1:8545 of this machine. Each member of a real consortium runs its own validator.",
        "services:",
    ]
    for validator in validators:
        lines += [
            f"  {validator.name}:",
            f"    image: {BESU_IMAGE}",
            "    command:",
            "      - --genesis-file=/network/genesis.json",
            "      - --data-path=/opt/besu/data",
            f"      - --node-private-key-file=/network/nodes/{validator.name}/key",
            "      - --static-nodes-file=/network/static-nodes.json",
            "      - --discovery-enabled=false",
            f"      - --p2p-host={validator.ip}",
            f"      - --p2p-port={_P2P_PORT}",
            "      - --permissions-nodes-config-file-enabled=true",
            "      - --permissions-nodes-config-file=/network/permissions_config.toml",
            "      - --permissions-accounts-config-file-enabled=true",
            "      - --permissions-accounts-config-file=/network/permissions_config.toml",
            "      - --rpc-http-enabled=true",
            "      - --rpc-http-host=0.0.0.0",
            f"      - --rpc-http-port={_RPC_PORT}",
            f"      - --rpc-http-api={apis}",
            f"      - --host-allowlist={validator.ip}" + (",127.0.0.1,localhost" if validator is validators[0] else ""),
            "      - --min-gas-price=0",
            "      - --sync-mode=FULL",
            "    volumes:",
            "      - ./genesis.json:/network/genesis.json:ro",
            "      - ./static-nodes.json:/network/static-nodes.json:ro",
            "      - ./permissions_config.toml:/network/permissions_config.toml:ro",
            f"      - ./nodes/{validator.name}/key:/network/nodes/{validator.name}/key:ro",
            f"      - {validator.name}-data:/opt/besu/data",
            "    networks:",
            "      chain:",
            f"        ipv4_address: {validator.ip}",
        ]
        if validator is validators[0]:
            # The operator's own door to the chain (ETH, NET, WEB3 only): funding, and checking bundles by hand.
            lines += ["      default: {}", "    ports:", f'      - "127.0.0.1:{_RPC_PORT}:{_RPC_PORT}"']
        lines += ["    restart: unless-stopped"]
    first, second, third = (validators[i % len(validators)] for i in range(3))
    lines += [
        "  init-volumes:",  # a new named volume belongs to root; Segell runs as uid 1000
        "    image: segell",
        "    user: root",
        '    entrypoint: ["/bin/sh", "-c"]',
        '    command: ["chown 1000:1000 /data && chmod 700 /data"]',
        "    network_mode: none",
        "    volumes:",
        "      - segell-data:/data",
        '    restart: "no"',
        "  postgres:",
        "    image: postgres:16",
        "    environment:",
        "      POSTGRES_USER: segell",
        "      POSTGRES_PASSWORD: segell",
        "      POSTGRES_DB: segell",
        "    volumes:",
        "      - postgres-data:/var/lib/postgresql/data",
        "    networks: [chain]",
        "    healthcheck:",
        '      test: ["CMD-SHELL", "pg_isready -U segell -d segell"]',
        "      interval: 2s",
        "      timeout: 5s",
        "      retries: 30",
        "    restart: unless-stopped",
    ]
    for name, validator, port in (("api-1", first, 8000), ("api-2", second, 8001)):
        lines += _segell_service(name, validator, ["segell", "up"], port)
    lines += _segell_service("worker", third, ["segell", "worker"], None)
    lines += [
        "networks:",
        "  chain:",
        "    internal: true",
        "    ipam:",
        "      config:",
        f"        - subnet: {_SUBNET}.0/24",
        "volumes:",
    ]
    lines += [f"  {v.name}-data:" for v in validators]
    lines += ["  postgres-data:", "  segell-data:"]
    return "\n".join(lines) + "\n"


def _segell_service(name: str, validator: _Validator, command: Sequence[str], port: int | None) -> list[str]:
    lines = [
        f"  {name}:",
        "    image: segell",
        "    env_file: segell.env",
        '    user: "1000:1000"',
        f"    command: {json.dumps(list(command))}",
        "    environment:",
        f"      SEGELL_CHAIN: http://{validator.ip}:{_RPC_PORT}",
        '      SEGELL_CHAIN_CONFIRMATIONS: "0"  # QBFT blocks are final once sealed',
        "      SEGELL_DATABASE_URL: postgresql+psycopg://segell:segell@postgres:5432/segell",
        "      SEGELL_HOME: /data",
    ]
    if port is not None:
        lines += [
            '      SEGELL_ANCHORING_WORKER: "false"  # the worker service anchors',
            "      SEGELL_HOST: 0.0.0.0",
            f'      SEGELL_PORT: "{port}"',
            f"      SEGELL_PUBLIC_URL: http://127.0.0.1:{port}",
            "    ports:",
            f'      - "127.0.0.1:{port}:{port}"',
            "    networks: [chain, default]",
        ]
    else:
        lines += ["    networks: [chain]"]
    lines += [
        "    volumes:",
        "      - segell-data:/data",
        "    depends_on:",
        "      init-volumes:",
        "        condition: service_completed_successfully",
        "      postgres:",
        "        condition: service_healthy",
        f"      {validator.name}:",
        "        condition: service_started",
    ]
    if name == "api-1":
        # The first process creates the governance account and deploys the contracts; the others wait for it.
        health = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
        lines += [
            "    healthcheck:",
            f"      test: {json.dumps(['CMD', 'python', '-c', health])}",
            "      interval: 5s",
            "      timeout: 5s",
            "      retries: 60",
        ]
    else:
        lines += ["      api-1:", "        condition: service_healthy"]
    lines += ["    restart: unless-stopped"]
    return lines
