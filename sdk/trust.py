"""Trust anchors: the Notary contracts whose word a verifier takes, and the local store that pins them.

Anyone can deploy a contract that answers ``anchorOf`` like a Notary, so a proof bundle naming a contract proves
nothing until the verifier says which contracts it trusts. A :class:`TrustedNotary` is one such contract (on one
chain, or on whichever chain the node serves); a :class:`TrustStore` keeps the deployments pinned with
``segell trust add URL`` in a JSON file (by default :func:`default_trust_store_path`).

Example::

    store = TrustStore(default_trust_store_path())
    result = verify_bundle(bundle, document, rpc_url, trusted_notaries=store.trusted_notaries())
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import TrustStoreError

__all__ = [
    "PinnedDeployment",
    "TrustStore",
    "TrustedNotary",
    "default_trust_store_path",
]

TRUST_STORE_FORMAT = "segell-trust-store"
TRUST_STORE_VERSION = 1
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_CHAIN_AND_ADDRESS = re.compile(r"(?:eip155:)?([0-9]{1,20}):(0x[0-9a-fA-F]{40})")


def _address(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise ValueError(f"{what} must be an address, 0x followed by 40 hex digits; got {_brief(value)}")
    return value.lower()


def _brief(value: object) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:60] + "...")
    return f"a {type(value).__name__}"


@dataclass(frozen=True, slots=True)
class TrustedNotary:
    """A Notary contract whose records a verifier accepts.

    Attributes:
        address: the contract's address, lower case.
        chain_id: the chain it is trusted on; ``None`` trusts the address on whichever chain the node serves (the
            node's chain id is still checked against the bundle's).
        registry: the ``AdministrationRegistry`` the Notary must name, when known (a pinned deployment knows it).
        name: the deployment's name, for people.

    Example::

        TrustedNotary.parse("31337:0x5FbDB2315678afecb367f032d93F642f64180aa3")
        TrustedNotary("0x5FbDB2315678afecb367f032d93F642f64180aa3", chain_id=31337)
    """

    address: str
    chain_id: int | None = None
    registry: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _address(self.address, "A trusted notary"))
        if self.registry is not None:
            object.__setattr__(self, "registry", _address(self.registry, "A trusted notary's registry"))
        if self.chain_id is not None and (
            not isinstance(self.chain_id, int) or isinstance(self.chain_id, bool) or self.chain_id < 1
        ):
            raise ValueError(f"A trusted notary's chain id must be a positive integer; got {_brief(self.chain_id)}")

    @classmethod
    def parse(cls, text: str) -> TrustedNotary:
        """``0xADDRESS`` (on any chain) or ``CHAIN_ID:0xADDRESS`` (``eip155:CHAIN_ID:0xADDRESS`` too)."""
        text = text.strip()
        if _ADDRESS.fullmatch(text):
            return cls(text)
        matched = _CHAIN_AND_ADDRESS.fullmatch(text)
        if matched is None or int(matched[1]) < 1:
            raise ValueError(
                f"{_brief(text)} is not a notary: write its address (0x followed by 40 hex digits), or "
                "CHAIN_ID:ADDRESS to trust it on one chain only, e.g. 31337:0x5FbDB2315678afecb367f032d93F642f64180aa3."
            )
        return cls(matched[2], chain_id=int(matched[1]))

    def covers(self, chain_id: int, address: str) -> bool:
        """Whether this anchor vouches for the contract ``address`` on chain ``chain_id``."""
        return self.address == address.lower() and (self.chain_id is None or self.chain_id == chain_id)

    def __str__(self) -> str:
        return self.address if self.chain_id is None else f"{self.chain_id}:{self.address}"


@dataclass(frozen=True, slots=True)
class PinnedDeployment:
    """A Segell deployment pinned in a trust store, as its ``/.well-known/segell.json`` described it.

    Attributes:
        name: the deployment's name.
        url: where it was read from.
        chain_id: the EIP-155 chain id of its chain.
        notary: the address of its ``Notary``.
        registry: the address of its ``AdministrationRegistry``.
        deployment_block: the block its contracts were deployed in.
        pinned_at: when it was pinned, in UTC.
    """

    name: str
    url: str
    chain_id: int
    notary: str
    registry: str
    deployment_block: int
    pinned_at: datetime

    @property
    def trusted_notary(self) -> TrustedNotary:
        """The trust anchor this pin stands for."""
        return TrustedNotary(self.notary, chain_id=self.chain_id, registry=self.registry, name=self.name)

    def _to_json(self) -> dict[str, Any]:
        return {**asdict(self), "pinned_at": self.pinned_at.isoformat()}

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> PinnedDeployment:
        chain_id, block = data["chain_id"], data["deployment_block"]
        if not isinstance(chain_id, int) or not isinstance(block, int) or not isinstance(data["name"], str):
            raise ValueError("chain_id and deployment_block must be integers, name a string")
        pinned_at = datetime.fromisoformat(str(data["pinned_at"]))
        return cls(
            name=data["name"],
            url=str(data["url"]),
            chain_id=chain_id,
            notary=_address(data["notary"], "notary"),
            registry=_address(data["registry"], "registry"),
            deployment_block=block,
            pinned_at=pinned_at if pinned_at.tzinfo else pinned_at.replace(tzinfo=UTC),
        )


def default_trust_store_path() -> Path:
    """Where the trust store lives: ``$SEGELL_TRUST_STORE``, else ``$XDG_CONFIG_HOME/segell/trust.json``, else
    ``~/.config/segell/trust.json``."""
    explicit = os.environ.get("SEGELL_TRUST_STORE")
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "segell" / "trust.json"


class TrustStore:
    """The deployments a user trusts, one per (chain id, notary address), kept in a JSON file.

    A missing file is an empty store; the file is written atomically on every change.

    Raises:
        TrustStoreError: the file cannot be read or written, or is not a trust store.

    Example::

        store = TrustStore(default_trust_store_path())
        store.pin(client.deployment().pinned(url))
        print([str(anchor) for anchor in store.trusted_notaries()])
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def deployments(self) -> list[PinnedDeployment]:
        """The pinned deployments, in the order they were pinned."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise TrustStoreError(f"Cannot read the trust store {self.path}: {exc}.", path=self.path) from exc
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != TRUST_STORE_FORMAT:
                raise ValueError(f"it is not a {TRUST_STORE_FORMAT}")
            if data.get("version") != TRUST_STORE_VERSION:
                raise ValueError(f"version {data.get('version')!r} is not {TRUST_STORE_VERSION}")
            return [PinnedDeployment._from_json(entry) for entry in data["deployments"]]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise TrustStoreError(
                f"The trust store {self.path} is damaged ({type(exc).__name__}: {exc}). Move it away and pin the "
                "deployments again with `segell trust add URL`.",
                path=self.path,
            ) from None

    def trusted_notaries(self) -> list[TrustedNotary]:
        """The trust anchors of every pinned deployment, for ``verify_bundle(trusted_notaries=...)``."""
        return [pinned.trusted_notary for pinned in self.deployments()]

    def pin(self, deployment: PinnedDeployment) -> PinnedDeployment | None:
        """Pin a deployment, replacing the pin of the same (chain id, notary); return the replaced one, if any."""
        kept, replaced = [], None
        for pinned in self.deployments():
            if (pinned.chain_id, pinned.notary) == (deployment.chain_id, deployment.notary.lower()):
                replaced = pinned
            else:
                kept.append(pinned)
        self._write([*kept, deployment])
        return replaced

    def unpin(self, anchor: TrustedNotary) -> list[PinnedDeployment]:
        """Remove the pins ``anchor`` covers (every chain's, when it names none); return those removed."""
        pinned = self.deployments()
        removed = [entry for entry in pinned if anchor.covers(entry.chain_id, entry.notary)]
        if removed:
            self._write([entry for entry in pinned if entry not in removed])
        return removed

    def _write(self, deployments: Iterable[PinnedDeployment]) -> None:
        document = {
            "format": TRUST_STORE_FORMAT,
            "version": TRUST_STORE_VERSION,
            "deployments": [pinned._to_json() for pinned in deployments],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.path.parent, prefix=".trust-", delete=False
            ) as temporary:
                temporary.write(json.dumps(document, indent=2) + "\n")
            os.replace(temporary.name, self.path)
        except OSError as exc:
            raise TrustStoreError(
                f"Cannot write the trust store {self.path}: {exc.strerror or exc}. Set SEGELL_TRUST_STORE to a "
                "file you may write.",
                path=self.path,
            ) from exc
