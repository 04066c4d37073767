"""Typed, immutable results returned by :class:`sdk.Client`.

Timestamps are timezone-aware :class:`datetime.datetime` objects in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

__all__ = [
    "Administration",
    "AdministrationStatus",
    "AdmittedAdministration",
    "ApiKeyInfo",
    "ChainBackend",
    "ChainStatus",
    "ContractAddresses",
    "DatabaseStatus",
    "Health",
    "Identity",
    "IssuedApiKey",
    "Role",
    "ServiceUrls",
]

ChainBackend = Literal["embedded", "anvil", "rpc"]
AdministrationStatus = Literal["active", "suspended"]
Role = Literal["governance", "administration"]

_Json = Mapping[str, Any]


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 datetime string, got {value!r}")
    moment = datetime.fromisoformat(value)
    # Segell records UTC; a timestamp read back from SQLite arrives without its offset.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _optional_datetime(value: Any) -> datetime | None:
    return None if value is None else _datetime(value)


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The chain the server is connected to.

    Attributes:
        backend: ``"embedded"`` (in-process EVM), ``"anvil"`` (managed local node) or ``"rpc"``.
        rpc_url: the JSON-RPC URL of the node, ``None`` for the embedded chain.
        chain_id: the EIP-155 chain id.
        head_block: the latest block number, or ``None`` when the node cannot be reached.
        local_dev: whether this is a local development chain (well-known keys allowed).
    """

    backend: ChainBackend
    rpc_url: str | None
    chain_id: int
    head_block: int | None
    local_dev: bool

    @classmethod
    def _from_json(cls, data: _Json) -> ChainStatus:
        return cls(
            backend=cast(ChainBackend, str(data["backend"])),
            rpc_url=data["rpc_url"],
            chain_id=int(data["chain_id"]),
            head_block=None if data["head_block"] is None else int(data["head_block"]),
            local_dev=bool(data["local_dev"]),
        )


@dataclass(frozen=True, slots=True)
class ContractAddresses:
    """Where the standard contracts are deployed.

    Attributes:
        registry: address of the ``AdministrationRegistry`` contract.
        notary: address of the ``Notary`` contract.
        deployed_at_block: block number of the deployment.
    """

    registry: str
    notary: str
    deployed_at_block: int

    @classmethod
    def _from_json(cls, data: _Json) -> ContractAddresses:
        return cls(
            registry=str(data["registry"]),
            notary=str(data["notary"]),
            deployed_at_block=int(data["deployed_at_block"]),
        )


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """The service database.

    Attributes:
        dialect: the SQLAlchemy dialect, e.g. ``"sqlite"`` or ``"postgresql"``.
        ok: whether the server could reach it.
    """

    dialect: str
    ok: bool

    @classmethod
    def _from_json(cls, data: _Json) -> DatabaseStatus:
        return cls(dialect=str(data["dialect"]), ok=bool(data["ok"]))


@dataclass(frozen=True, slots=True)
class ServiceUrls:
    """Where to reach the sandbox.

    Attributes:
        api: base URL of the HTTP API.
        docs: URL of the interactive API documentation.
        rpc: JSON-RPC URL of the chain.
    """

    api: str
    docs: str
    rpc: str

    @classmethod
    def _from_json(cls, data: _Json) -> ServiceUrls:
        return cls(api=str(data["api"]), docs=str(data["docs"]), rpc=str(data["rpc"]))


@dataclass(frozen=True, slots=True)
class Health:
    """What ``GET /health`` reports about a Segell server.

    Attributes:
        status: ``"ok"`` or ``"degraded"``.
        version: the server version.
        chain: the chain the server is connected to.
        contracts: where the standard contracts are deployed.
        database: the service database.
        urls: where to reach the API, its documentation and the chain.
    """

    status: Literal["ok", "degraded"]
    version: str
    chain: ChainStatus
    contracts: ContractAddresses
    database: DatabaseStatus
    urls: ServiceUrls

    @property
    def is_ok(self) -> bool:
        """``True`` when every component of the server is working."""
        return self.status == "ok"

    @classmethod
    def _from_json(cls, data: _Json) -> Health:
        return cls(
            status=cast(Literal["ok", "degraded"], str(data["status"])),
            version=str(data["version"]),
            chain=ChainStatus._from_json(data["chain"]),
            contracts=ContractAddresses._from_json(data["contracts"]),
            database=DatabaseStatus._from_json(data["database"]),
            urls=ServiceUrls._from_json(data["urls"]),
        )


@dataclass(frozen=True, slots=True)
class Administration:
    """A member administration of the consortium.

    Attributes:
        code: the administration's public code, e.g. ``"L01080193"``.
        chain_id: its ``bytes32`` identifier in the on-chain registry, as ``0x`` + 64 hex digits.
        name: display name, e.g. ``"Ajuntament de Barcelona"``.
        status: ``"active"`` or ``"suspended"``; a suspended administration cannot anchor.
        accounts: the chain accounts that act for it.
        admitted_at: when it was admitted.
        admission_tx: hash of the admission transaction, if it has been sent.
    """

    code: str
    chain_id: str
    name: str
    status: AdministrationStatus
    accounts: tuple[str, ...]
    admitted_at: datetime
    admission_tx: str | None

    @property
    def is_active(self) -> bool:
        """``True`` unless the administration is suspended."""
        return self.status == "active"

    @classmethod
    def _from_json(cls, data: _Json) -> Administration:
        return cls(
            code=str(data["code"]),
            chain_id=str(data["chain_id"]),
            name=str(data["name"]),
            status=cast(AdministrationStatus, str(data["status"])),
            accounts=tuple(str(account) for account in data["accounts"]),
            admitted_at=_datetime(data["admitted_at"]),
            admission_tx=data["admission_tx"],
        )


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A newly issued API key. ``key`` is the secret and is shown only this once.

    Attributes:
        id: the key id, used to list and revoke it.
        key: the full secret, ``sgl_<id>_<secret>``; store it now.
        created_at: when it was issued.
    """

    id: str
    key: str
    created_at: datetime

    def __repr__(self) -> str:
        # Keeps the secret out of logs and tracebacks.
        return f"IssuedApiKey(id={self.id!r}, key='***', created_at={self.created_at!r})"

    @classmethod
    def _from_json(cls, data: _Json) -> IssuedApiKey:
        return cls(id=str(data["id"]), key=str(data["key"]), created_at=_datetime(data["created_at"]))


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """An API key as listed: everything but the secret.

    Attributes:
        id: the key id.
        prefix: the first characters of the key, to recognise it.
        created_at: when it was issued.
        revoked_at: when it was revoked, or ``None`` while it is valid.
    """

    id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def is_revoked(self) -> bool:
        """``True`` once the key has been revoked."""
        return self.revoked_at is not None

    @classmethod
    def _from_json(cls, data: _Json) -> ApiKeyInfo:
        return cls(
            id=str(data["id"]),
            prefix=str(data["prefix"]),
            created_at=_datetime(data["created_at"]),
            revoked_at=_optional_datetime(data["revoked_at"]),
        )


@dataclass(frozen=True, slots=True)
class AdmittedAdministration:
    """The result of admitting an administration: the member and its first API key.

    Attributes:
        administration: the new member.
        api_key: its first API key; the secret is shown only this once.
    """

    administration: Administration
    api_key: IssuedApiKey

    @classmethod
    def _from_json(cls, data: _Json) -> AdmittedAdministration:
        return cls(
            administration=Administration._from_json(data["administration"]),
            api_key=IssuedApiKey._from_json(data["api_key"]),
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an API key belongs to, as reported by ``GET /v1/me``.

    Attributes:
        role: ``"governance"`` (the consortium operator) or ``"administration"``.
        administration: the administration the key belongs to; ``None`` for governance.
        key_id: the id of the key used for the request.
    """

    role: Role
    administration: Administration | None
    key_id: str

    @classmethod
    def _from_json(cls, data: _Json) -> Identity:
        administration = data["administration"]
        return cls(
            role=cast(Role, str(data["role"])),
            administration=None if administration is None else Administration._from_json(administration),
            key_id=str(data["key_id"]),
        )
