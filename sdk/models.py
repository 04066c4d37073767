"""Typed, immutable results returned by :class:`sdk.Client`.

Timestamps are timezone-aware :class:`datetime.datetime` objects in UTC.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import unquote

from ._convert import Json, moment, optional_datetime, optional_int, optional_str, parse_datetime, strings
from .trust import PinnedDeployment, TrustedNotary

if TYPE_CHECKING:
    import httpx

__all__ = [
    "Administration",
    "AdministrationStatus",
    "AdmittedAdministration",
    "Anchor",
    "ApiKeyInfo",
    "BundleSet",
    "ChainBackend",
    "ChainStatus",
    "ContractAddresses",
    "DatabaseStatus",
    "DeploymentInfo",
    "DocumentPage",
    "DocumentCopy",
    "DocumentStatus",
    "Health",
    "Identity",
    "IssuedApiKey",
    "Issuer",
    "Language",
    "PublicCopyInfo",
    "Receipt",
    "Revocation",
    "Role",
    "ServiceUrls",
    "Verification",
    "VerificationMatch",
    "VerificationSigner",
    "VerificationSource",
    "VerificationStatus",
]

ChainBackend = Literal["embedded", "anvil", "rpc"]
AdministrationStatus = Literal["active", "suspended"]
Role = Literal["governance", "administration"]
DocumentStatus = Literal["pending", "anchored", "revoked"]
VerificationStatus = Literal["authentic", "pending", "revoked", "unknown"]


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The chain the server is connected to.

    Attributes:
        backend: ``"embedded"`` (in-process EVM), ``"anvil"`` (managed local node) or ``"rpc"``.
        rpc_url: the node's own JSON-RPC URL where a server publishes it; Segell servers no longer do (read
            the chain through ``health.urls.rpc``), so this is ``None`` from them.
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
    def _from_json(cls, data: Json) -> ChainStatus:
        return cls(
            backend=cast(ChainBackend, str(data["backend"])),
            rpc_url=data.get("rpc_url"),
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
    def _from_json(cls, data: Json) -> ContractAddresses:
        return cls(
            registry=str(data["registry"]),
            notary=str(data["notary"]),
            deployed_at_block=int(data["deployed_at_block"]),
        )


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """What a Segell deployment publishes about itself at ``/.well-known/segell.json``, to be pinned.

    Attributes:
        name: the deployment's name, e.g. ``"Segell del Consorci AOC"``.
        chain_id: the EIP-155 chain id of its chain.
        notary: the address of its ``Notary`` contract.
        registry: the address of the ``AdministrationRegistry`` that Notary names.
        deployment_block: the block the contracts were deployed in.
        api_url: the deployment's API.
        rpc_url: its read-only JSON-RPC endpoint.
    """

    name: str
    chain_id: int
    notary: str
    registry: str
    deployment_block: int
    api_url: str
    rpc_url: str

    def pinned(self, url: str) -> PinnedDeployment:
        """This deployment as a trust store entry, read from ``url`` now."""
        return PinnedDeployment(
            name=self.name,
            url=url,
            chain_id=self.chain_id,
            notary=self.notary.lower(),
            registry=self.registry.lower(),
            deployment_block=self.deployment_block,
            pinned_at=datetime.now(UTC).replace(microsecond=0),
        )

    @property
    def trusted_notary(self) -> TrustedNotary:
        """The trust anchor for ``verify_bundle(trusted_notaries=[...])``."""
        return TrustedNotary(self.notary, chain_id=self.chain_id, registry=self.registry, name=self.name)

    @classmethod
    def _from_json(cls, data: Json) -> DeploymentInfo:
        chain_id, block = data["chain_id"], data["deployment_block"]
        if not isinstance(chain_id, int) or not isinstance(block, int):
            raise TypeError("chain_id and deployment_block must be integers")
        info = cls(
            name=str(data["name"]),
            chain_id=chain_id,
            notary=str(data["notary"]),
            registry=str(data["registry"]),
            deployment_block=block,
            api_url=str(data["api_url"]),
            rpc_url=str(data["rpc_url"]),
        )
        info.trusted_notary  # noqa: B018 - validates both addresses (ValueError)
        return info


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
    def _from_json(cls, data: Json) -> DatabaseStatus:
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
    def _from_json(cls, data: Json) -> ServiceUrls:
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
    def _from_json(cls, data: Json) -> Health:
        return cls(
            status=cast(Literal["ok", "degraded"], str(data["status"])),
            version=str(data["version"]),
            chain=ChainStatus._from_json(data["chain"]),
            contracts=ContractAddresses._from_json(data["contracts"]),
            database=DatabaseStatus._from_json(data["database"]),
            urls=ServiceUrls._from_json(data["urls"]),
        )


#: The languages citizens read Segell in: Catalan, Spanish, English.
Language = Literal["ca", "es", "en"]


def _labels(data: Json) -> Mapping[str, str] | None:
    labels = data.get("kind_labels")
    return None if labels is None else {str(language): str(label) for language, label in labels.items()}


@dataclass(frozen=True, slots=True)
class Administration:
    """A member administration of the consortium.

    Attributes:
        code: the administration's public code, e.g. ``"L01080193"``.
        registry_id: its ``bytes32`` identifier in the on-chain registry, as ``0x`` + 64 hex digits.
        name: display name, e.g. ``"Ajuntament de Barcelona"``.
        status: ``"active"`` or ``"suspended"``; a suspended administration cannot anchor.
        accounts: the chain accounts that act for it.
        admitted_at: when it was admitted.
        admission_tx: hash of the admission transaction, if it has been sent.
        language: the language of its citizens' SMS (``"ca"``, ``"es"`` or ``"en"``), unless an app asks for
            another.
        sms_templates: its own SMS text by language (``{code}``, ``{administration}``); ``None`` for a language
            where Segell's default text is used.
    """

    code: str
    registry_id: str
    name: str
    status: AdministrationStatus
    accounts: tuple[str, ...]
    admitted_at: datetime
    admission_tx: str | None
    language: Language = "ca"
    sms_templates: Mapping[Language, str | None] = field(default_factory=lambda: dict.fromkeys(("ca", "es", "en")))

    @property
    def is_active(self) -> bool:
        """``True`` unless the administration is suspended."""
        return self.status == "active"

    @classmethod
    def _from_json(cls, data: Json) -> Administration:
        return cls(
            code=str(data["code"]),
            registry_id=str(data["registry_id"]),
            name=str(data["name"]),
            status=cast(AdministrationStatus, str(data["status"])),
            accounts=tuple(str(account) for account in data["accounts"]),
            admitted_at=parse_datetime(data["admitted_at"]),
            admission_tx=data["admission_tx"],
            language=cast(Language, str(data.get("language", "ca"))),
            sms_templates={
                cast(Language, language): optional_str(text)
                for language, text in (data.get("sms_templates") or {}).items()
            },
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
    def _from_json(cls, data: Json) -> IssuedApiKey:
        return cls(id=str(data["id"]), key=str(data["key"]), created_at=parse_datetime(data["created_at"]))


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
    def _from_json(cls, data: Json) -> ApiKeyInfo:
        return cls(
            id=str(data["id"]),
            prefix=str(data["prefix"]),
            created_at=parse_datetime(data["created_at"]),
            revoked_at=optional_datetime(data["revoked_at"]),
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
    def _from_json(cls, data: Json) -> AdmittedAdministration:
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
    def _from_json(cls, data: Json) -> Identity:
        administration = data["administration"]
        return cls(
            role=cast(Role, str(data["role"])),
            administration=None if administration is None else Administration._from_json(administration),
            key_id=str(data["key_id"]),
        )


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a notarised document's Merkle root was anchored on chain.

    Attributes:
        root: the Merkle root of the batch, ``0x`` + 64 hex digits.
        leaf: the document's leaf in that tree.
        leaf_index: its position among the batch's leaves.
        tree_size: how many leaves the batch has.
        transaction_hash: the ``anchorRoot`` transaction.
        block_number: the block that holds it.
        block_hash: that block's hash (``None`` if the server did not record it).
        block_timestamp: that block's timestamp, in UTC.
        chain_id: the chain's EIP-155 id.
        contract: the ``Notary`` contract's address.
    """

    root: str
    leaf: str
    leaf_index: int
    tree_size: int
    transaction_hash: str
    block_number: int
    block_hash: str | None
    block_timestamp: datetime
    chain_id: int
    contract: str

    @classmethod
    def _from_json(cls, data: Json) -> Anchor:
        return cls(
            root=str(data["root"]),
            leaf=str(data["leaf"]),
            leaf_index=int(data["leaf_index"]),
            tree_size=int(data["tree_size"]),
            transaction_hash=str(data["transaction_hash"]),
            block_number=int(data["block_number"]),
            block_hash=optional_str(data.get("block_hash")),
            block_timestamp=moment(data["block_timestamp"]),
            chain_id=int(data["chain_id"]),
            contract=str(data["contract"]),
        )


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revocation by the issuing administration, recorded on chain.

    Attributes:
        reason: why it was revoked.
        transaction_hash: the ``revoke`` transaction, if known.
        block_number: the block that holds it, if known.
        revoked_at: when it was revoked, in UTC.
    """

    reason: str
    transaction_hash: str | None
    block_number: int | None
    revoked_at: datetime | None

    @classmethod
    def _from_json(cls, data: Json) -> Revocation:
        revoked_at = data.get("revoked_at")
        return cls(
            reason=str(data["reason"]),
            transaction_hash=optional_str(data.get("transaction_hash")),
            block_number=optional_int(data.get("block_number")),
            revoked_at=None if revoked_at is None else moment(revoked_at),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """The notary's receipt for a document: what was notarised, its verification code and its status.

    Attributes:
        id: the receipt id, used by :meth:`Documents.get`, :meth:`Documents.bundle` and :meth:`Documents.revoke`.
        status: ``"pending"`` (accepted, not yet anchored), ``"anchored"`` or ``"revoked"``.
        document_hash: SHA-256 of the document, 64 hex digits.
        verification_code: the code printed on the document, ``XXXX-XXXX-XXXX-XXXX-C``, that anyone can check.
        kind: the document kind given at submission, e.g. ``"resolution"``.
        title: its title, if given.
        metadata: the metadata given at submission (JSON object), if any.
        salted: whether a random salt hides the hash in the tree.
        created_at: when the notary accepted it.
        anchor: where its root was anchored, once anchored.
        revocation: the revocation, once revoked.
        links: related URLs of the API (``self``, ``bundle``, ``verify``, ...).
        public: whether public verification by hash shows its kind and title even though it is salted.
        public_copy: whether a copy of the file is kept for whoever holds the verification code to download
            (:meth:`Documents.download`), until the document is revoked.
    """

    id: str
    status: DocumentStatus
    document_hash: str
    verification_code: str
    kind: str | None
    title: str | None
    metadata: Mapping[str, Any] | None
    salted: bool
    created_at: datetime
    anchor: Anchor | None
    revocation: Revocation | None
    links: Mapping[str, str]
    public: bool = False
    public_copy: bool = False

    @property
    def is_anchored(self) -> bool:
        """``True`` once the root is on chain (revoked documents were anchored too)."""
        return self.anchor is not None

    @classmethod
    def _from_json(cls, data: Json) -> Receipt:
        anchor = data.get("anchor")
        revocation = data.get("revocation")
        metadata = data.get("metadata")
        return cls(
            id=str(data["id"]),
            status=cast(DocumentStatus, str(data["status"])),
            document_hash=str(data["document_hash"]),
            verification_code=str(data["verification_code"]),
            kind=optional_str(data.get("kind")),
            title=optional_str(data.get("title")),
            metadata=None if metadata is None else dict(metadata),
            salted=bool(data.get("salted", False)),
            created_at=parse_datetime(data["created_at"]),
            anchor=None if anchor is None else Anchor._from_json(anchor),
            revocation=None if revocation is None else Revocation._from_json(revocation),
            links={str(name): str(url) for name, url in (data.get("links") or {}).items()},
            public=bool(data.get("public", False)),
            public_copy=bool(data.get("public_copy", False)),
        )


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """A page of the administration's documents, newest first (:meth:`Documents.list`).

    Attributes:
        items: the receipts of this page.
        next_cursor: pass it as ``cursor=`` (with the same filters) for the next page; ``None`` on the last one.
    """

    items: tuple[Receipt, ...]
    next_cursor: str | None

    @classmethod
    def _from_json(cls, data: Json) -> DocumentPage:
        return cls(
            items=tuple(Receipt._from_json(item) for item in data["items"]),
            next_cursor=optional_str(data["next_cursor"]),
        )


@dataclass(frozen=True, slots=True)
class BundleSet:
    """Proof bundles fetched in bulk (:meth:`Documents.bundles`).

    Attributes:
        items: the bundles of the anchored (or revoked) documents asked for, as parsed JSON, each document once:
            those asked by id first, then by hash, in the order asked.
        pending: receipt ids of the documents asked for that are not anchored yet.
        missing: the ids and hashes asked for that match none of the administration's documents (hashes as 64
            lower-case hex digits).
    """

    items: tuple[dict[str, Any], ...]
    pending: tuple[str, ...]
    missing: tuple[str, ...]

    @classmethod
    def _from_json(cls, data: Json) -> BundleSet:
        items = data["items"]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise TypeError("items must be a list of proof bundles")
        return cls(items=tuple(items), pending=strings(data["pending"]), missing=strings(data["missing"]))


@dataclass(frozen=True, slots=True)
class Issuer:
    """The administration that notarised a document, as public verification names it.

    Attributes:
        code: its public code, e.g. ``"L01080193"``.
        name: its display name.
    """

    code: str
    name: str

    @classmethod
    def _from_json(cls, data: Json) -> Issuer:
        return cls(code=str(data["code"]), name=str(data["name"]))


@dataclass(frozen=True, slots=True)
class VerificationSource:
    """A document the verified one was made from, as its issuer linked them (a signed PDF: its original).

    Attributes:
        verification_code: the source's code: verify it on its own with :meth:`Client.verify`.
        administration: who notarised the source.
        kind: the source's kind, if given.
        title: its title, if given.
        kind_labels: how people read the kind, by language (``"ca"``, ``"es"``, ``"en"``), for the kinds Segell
            itself notarises (``signed-pdf``, ``certificate``, ...); ``None`` for any other kind.
    """

    verification_code: str
    administration: Issuer
    kind: str | None
    title: str | None
    kind_labels: Mapping[str, str] | None = None

    @classmethod
    def _from_json(cls, data: Json) -> VerificationSource:
        return cls(
            verification_code=str(data["verification_code"]),
            administration=Issuer._from_json(data["administration"]),
            kind=optional_str(data.get("kind")),
            title=optional_str(data.get("title")),
            kind_labels=_labels(data),
        )


@dataclass(frozen=True, slots=True)
class VerificationSigner:
    """Who signed a signed output Segell made, as it checked when it signed: the certificate was the issuing
    administration's own, valid and not revoked then.

    Attributes:
        name: the signing certificate's common name: a person, or the seal's name.
        organisation: the certificate's organisation, for employees and seals.
        kind: ``"employee"``, ``"seal"`` or ``"citizen"``.
        signed_at: when it was signed.
        issuer: who issued the signing certificate (RFC 4514).
    """

    name: str
    organisation: str | None
    kind: str | None
    signed_at: datetime
    issuer: str

    @classmethod
    def _from_json(cls, data: Json) -> VerificationSigner:
        return cls(
            name=str(data["name"]),
            organisation=optional_str(data.get("organisation")),
            kind=optional_str(data.get("kind")),
            signed_at=parse_datetime(data["signed_at"]),
            issuer=str(data["issuer"]),
        )


@dataclass(frozen=True, slots=True)
class PublicCopyInfo:
    """The copy of a document its issuer made available to whoever holds its code: :meth:`Documents.download`.

    Attributes:
        file_name: the name it is offered under.
        media_type: e.g. ``application/pdf``.
        size: its size in bytes.
        url: where it is served, relative to the server.
    """

    file_name: str
    media_type: str
    size: int
    url: str

    @classmethod
    def _from_json(cls, data: Json) -> PublicCopyInfo:
        return cls(
            file_name=str(data["file_name"]),
            media_type=str(data["media_type"]),
            size=int(data["size"]),
            url=str(data["url"]),
        )


# `filename*=UTF-8''...` (RFC 6266) first, then a plain `filename="..."`.
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*UTF-8''([^;\s]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename\s*=\s*"([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DocumentCopy:
    """A document downloaded by its verification code (:meth:`Documents.download`).

    Attributes:
        file_name: the name the server offers it under (already safe to save under on any system).
        media_type: e.g. ``application/pdf``.
        content: the file.
    """

    file_name: str
    media_type: str
    content: bytes = field(repr=False)

    @classmethod
    def _from_response(cls, response: httpx.Response) -> DocumentCopy:
        disposition = response.headers.get("content-disposition", "")
        if match := _FILENAME_STAR.search(disposition):
            name = unquote(match.group(1))
        elif match := _FILENAME.search(disposition):
            name = match.group(1)
        else:
            name = "document"
        media_type = response.headers.get("content-type", "application/octet-stream").partition(";")[0].strip()
        return cls(file_name=name, media_type=media_type, content=response.content)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`content` to ``path`` (a directory: under :attr:`file_name` in it); return the file's path."""
        target = Path(path)
        if target.is_dir():
            # Only the name: a name from the server never leads the file out of `path`.
            name = Path(self.file_name.replace("\\", "/")).name
            target = target / (name if name not in ("", ".", "..") else "document")
        target.write_bytes(self.content)
        return target


@dataclass(frozen=True, slots=True)
class VerificationMatch:
    """One notarisation of the hash that was verified (several administrations may notarise the same file).

    Attributes:
        status: ``"authentic"``, ``"pending"`` or ``"revoked"``.
        administration: who notarised it.
        kind: the document kind, if given; ``None`` too for a salted document looked up by hash, unless its issuer
            marked it public.
        title: its title, likewise.
        anchored_at: when its root was anchored, ``None`` while pending.
        block_number, transaction_hash, chain_id, contract: where, once anchored.
        revocation: the revocation, if revoked.
        derived_from: the documents it was made from, where its kind and title are shown.
        kind_labels: how people read the kind, by language (``"ca"``, ``"es"``, ``"en"``), for the kinds Segell
            itself notarises; ``None`` for any other kind, or where the kind is not shown.
        signers: who signed it, for a signed output Segell made, where its kind and title are shown.
        public_copy: the copy its issuer made available, when looked up by code and not revoked.
    """

    status: VerificationStatus
    administration: Issuer
    kind: str | None
    title: str | None
    anchored_at: datetime | None
    block_number: int | None
    transaction_hash: str | None
    chain_id: int | None
    contract: str | None
    revocation: Revocation | None
    derived_from: tuple[VerificationSource, ...] = ()
    kind_labels: Mapping[str, str] | None = None
    signers: tuple[VerificationSigner, ...] = ()
    public_copy: PublicCopyInfo | None = None

    @classmethod
    def _from_json(cls, data: Json) -> VerificationMatch:
        anchored_at = data.get("anchored_at")
        revocation = data.get("revocation")
        return cls(
            status=cast(VerificationStatus, str(data["status"])),
            administration=Issuer._from_json(data["administration"]),
            kind=optional_str(data.get("kind")),
            title=optional_str(data.get("title")),
            anchored_at=None if anchored_at is None else moment(anchored_at),
            block_number=optional_int(data.get("block_number")),
            transaction_hash=optional_str(data.get("transaction_hash")),
            chain_id=optional_int(data.get("chain_id")),
            contract=optional_str(data.get("contract")),
            revocation=None if revocation is None else Revocation._from_json(revocation),
            derived_from=tuple(VerificationSource._from_json(source) for source in data.get("derived_from") or ()),
            kind_labels=_labels(data),
            signers=tuple(VerificationSigner._from_json(signer) for signer in data.get("signers") or ()),
            public_copy=None if data.get("public_copy") is None else PublicCopyInfo._from_json(data["public_copy"]),
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """What Segell's public verification says about a hash or a verification code.

    Attributes:
        status: ``"authentic"``, ``"pending"`` (accepted, not yet on chain), ``"revoked"`` or ``"unknown"``.
        document_hash: the SHA-256 that was looked up (``None`` when a code matched nothing).
        matches: every notarisation of that hash, one per administration.
    """

    status: VerificationStatus
    document_hash: str | None
    matches: tuple[VerificationMatch, ...]

    @property
    def is_authentic(self) -> bool:
        """``True`` when the document is notarised, anchored and not revoked."""
        return self.status == "authentic"

    @classmethod
    def _from_json(cls, data: Json) -> Verification:
        return cls(
            status=cast(VerificationStatus, str(data["status"])),
            document_hash=optional_str(data.get("document_hash")),
            matches=tuple(VerificationMatch._from_json(match) for match in data.get("matches") or ()),
        )
