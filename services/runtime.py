"""The long-lived objects a running Segell holds: database, chain node, deployed contracts, governance account."""

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.types import Wei

from segell.chain.deploy import Deployment, check_deployment, ensure_deployed, load_record
from segell.chain.errors import ChainStateLost, DeploymentOutdated
from segell.chain.gateway import ReadOnlyGateway
from segell.chain.keys import (
    generate_account,
    load_or_create_master_key,
    load_sealed_account,
    refuse_development_key,
    save_sealed_account,
)
from segell.chain.nodes import ChainNode, start_node
from segell.chain.notary import NotaryClient
from segell.chain.registry import RegistryClient
from segell.chain.transactions import guard_nonces, send_transaction
from segell.services import db
from segell.services.locks import CrossProcessLock, account_lock
from segell.services.settings import Settings

log = logging.getLogger("segell")

# What the governance account starts with on a local chain, and what each new administration account receives.
GOVERNANCE_FUNDS_WEI = 10**9 * 10**18
ACCOUNT_FUNDS_WEI = 10 * 10**18


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    master_key: bytes
    governance: LocalAccount
    node: ChainNode
    deployment: Deployment
    registry: RegistryClient
    notary: NotaryClient
    database_revision: str
    gateway: ReadOnlyGateway
    #: Held around the governance account's sequences of transactions, by one thread of one process at a time.
    governance_lock: CrossProcessLock

    @classmethod
    def start(cls, settings: Settings) -> "Runtime":
        home = settings.home_dir
        keep_home_private(home)
        master_key = load_or_create_master_key(settings.master_key_path, settings.master_key)
        engine = db.create_db_engine(settings.sqlalchemy_url)
        revision = db.migrate(engine)
        governance = _load_or_create_governance(settings.keys_dir / "governance.json", master_key)
        node = start_node(
            chain_spec(settings),
            state_dir=settings.chain_dir,
            genesis_accounts={governance.address: GOVERNANCE_FUNDS_WEI},
            anvil_binary=Path(settings.anvil_binary) if settings.anvil_binary else None,
            confirmations=settings.chain_confirmations,
        )
        # Several processes may send from one account (API processes and the worker): nonces are read and used
        # under a lock they all share (a PostgreSQL advisory lock per account).
        guard_nonces(node.w3, account_lock(engine))
        try:
            refuse_development_key(governance.key, is_local_dev=node.is_local_dev)
            _require_funds(node, governance.address)
            deployment = ensure_deployed(node.w3, governance, _deployment_record(home / "deployments", node))
        except BaseException:
            node.stop()
            raise
        return cls(
            settings=settings,
            engine=engine,
            sessions=db.session_factory(engine),
            master_key=master_key,
            governance=governance,
            node=node,
            deployment=deployment,
            registry=RegistryClient(node.w3, deployment.registry),
            notary=NotaryClient(node.w3, deployment.notary),
            database_revision=revision,
            # The managed anvil is read over its IPC socket, a remote node over HTTP, the embedded one in-process.
            gateway=ReadOnlyGateway(node.w3.provider),
            governance_lock=CrossProcessLock(engine, "governance"),
        )

    def stop(self) -> None:
        self.gateway.close()
        self.node.stop()
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with db.transaction(self.sessions) as session:
            yield session

    def fund(self, address: str, amount_wei: int = ACCOUNT_FUNDS_WEI) -> None:
        """Give a new account gas money from the governance account."""
        send_transaction(self.node.w3, self.governance, {"to": address, "value": Wei(amount_wei)})


def keep_home_private(home: Path) -> None:
    """Make everything in `home` readable by its owner only: what this process and its children create from now on
    (a umask of 077: files 0600, folders 0700, the SQLite database and its -wal and -shm included), and what is
    there already, written by an older Segell or another process.

    `home` holds the master key, sealed keys, the database and the chains' state: nobody else on the machine should
    read any of it.
    """
    os.umask(0o077)
    for directory, _, files in os.walk(home):
        for path in [directory, *(os.path.join(directory, name) for name in files)]:
            try:
                mode = os.lstat(path).st_mode
                if not stat.S_ISLNK(mode) and mode & 0o077:
                    os.chmod(path, stat.S_IMODE(mode) & 0o700)
            except OSError as exc:  # e.g. a file of another user in a shared volume
                log.warning("could not make %s private to its owner: %s", path, exc.strerror or exc)


class GovernanceUnfunded(RuntimeError):
    pass


def _require_funds(node: ChainNode, address: str) -> None:
    # Managed chains fund the governance account themselves; on a network its operator has to.
    if node.w3.eth.get_balance(Web3.to_checksum_address(address)) == 0:
        raise GovernanceUnfunded(
            f"The governance account {address} has no funds on chain {node.chain_id} ({node.endpoint}). "
            "Fund it (on Besu: in the genesis `alloc`, or by a transfer from a funded account), then start again; "
            "its key stays sealed in SEGELL_HOME/keys/governance.json."
        )


def _deployment_record(directory: Path, node: ChainNode) -> Path:
    """The deployment record of the chain `node` reaches: `<backend>-<chain id>.json`, unless the node holds the
    contracts of another record of the same chain id instead.

    A second process that reaches by URL the anvil `segell up` manages (`segell worker --chain http://...`) is
    an rpc backend; it finds the `anvil-31337` record because the node has those contracts.
    """
    own = directory / f"{node.backend}-{node.chain_id}.json"
    candidates = [own] + sorted(path for path in directory.glob(f"*-{node.chain_id}.json") if path != own)
    for path in candidates:
        deployment = load_record(path)
        if deployment is None:
            continue
        try:
            check_deployment(node.w3, deployment, path)
        except ChainStateLost:
            continue
        except DeploymentOutdated:
            pass  # the node holds these contracts: ensure_deployed explains what changed
        if path != own:
            log.info("deployment: %s, whose contracts the node at %s holds", path.name, node.endpoint)
        return path
    return own


def chain_spec(settings: Settings) -> str:
    """`auto` keeps a SEGELL_HOME on the managed chain it already holds; a new home takes anvil, else embedded."""
    if settings.chain != "auto":
        return settings.chain
    records = sorted((settings.home_dir / "deployments").glob("*.json"), key=lambda path: path.stat().st_mtime)
    held = [path.name.split("-")[0] for path in records if path.name.startswith(("embedded-", "anvil-"))]
    if held:
        log.info("chain auto: %s, the chain %s already holds", held[-1], settings.home_dir)
        return held[-1]
    return "auto"


def _load_or_create_governance(path: Path, master_key: bytes) -> LocalAccount:
    if path.exists():
        return load_sealed_account(path, master_key)
    account = generate_account()
    save_sealed_account(path, account, master_key)
    log.info("created the governance account %s (sealed in %s)", account.address, path)
    return account
