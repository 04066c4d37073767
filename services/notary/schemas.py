import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from segell.services.display_text import WHITE_SPACE, DisplayText
from segell.services.notary import codes

MAX_BATCH_HASHES = 10_000
MAX_METADATA_BYTES = 16 * 1024
# The most receipts a page of `GET /v1/documents` holds, and the most ids (and hashes) `POST /v1/documents/bundles`
# takes at once.
MAX_PAGE = 1000
MAX_BUNDLES_ASKED = 1000

_HASH = re.compile(r"(0[xX])?[0-9a-fA-F]{64}")


def _normalise_hash(value: str) -> str:
    if not _HASH.fullmatch(value):
        raise ValueError("must be a SHA-256 digest: 64 hexadecimal digits, optionally prefixed with 0x")
    return value[-64:].lower()


# A SHA-256 digest in hex, with or without 0x, any case; stored and answered as 64 lower-case digits.
DocumentHash = Annotated[
    str,
    AfterValidator(_normalise_hash),
    WithJsonSchema({"type": "string", "pattern": r"^(0[xX])?[0-9a-fA-F]{64}$", "examples": ["9f86d081" * 8]}),
]
# A verification code as people type it. `codes.parse_code` refuses what the pattern does, in words a person can act
# on, and tells a mistyped code by its check symbol.
VerificationCode = Annotated[
    str,
    StringConstraints(max_length=64),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 64,
            "pattern": codes.PATTERN,
            "format": codes.OPENAPI_FORMAT,
            "examples": ["V8KC-24VN-NTPW-8Q1C-H"],
        }
    ),
]
# Opaque receipt ids: 32 lower-case hex digits.
DocumentId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


Kind = Annotated[str, DisplayText(max_length=64, one_word=True)]
Title = Annotated[str, DisplayText(max_length=300)]
# A name to offer a public copy under: stored made safe (`services.file_names.safe_file_name`).
FileName = Annotated[str, DisplayText(max_length=255)]
# Printable ASCII, as HTTP header values travel.
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
# Any text but NUL and DEL, with something in it once trimmed.
RevocationReason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=500,
        pattern=rf"^[^\x00\x7f]*[^\x00\x7f{WHITE_SPACE}][^\x00\x7f]*$",
    ),
]


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if metadata is not None and len(metadata_json(metadata)) > MAX_METADATA_BYTES:
        raise ValueError(f"must take at most {MAX_METADATA_BYTES} bytes as JSON")
    return metadata


def metadata_json(metadata: dict[str, Any]) -> str:
    try:
        return json.dumps(metadata, ensure_ascii=True, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except ValueError as exc:
        raise ValueError("must be plain JSON (no NaN or Infinity)") from exc


Metadata = Annotated[
    dict[str, Any] | None,
    AfterValidator(check_metadata),
    Field(description=f"Any JSON object the issuer wants kept with the receipt (at most {MAX_METADATA_BYTES} bytes)."),
]


PUBLIC_DESCRIPTION = (
    "Show the kind and title to anyone who verifies the document by its hash. Without it, verification by hash "
    "of a salted document says who issued it and when, not what it is; by verification code, it says both."
)


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash: DocumentHash = Field(description="SHA-256 of the document, computed by the issuer.")
    kind: Kind | None = None
    title: Title | None = None
    metadata: Metadata = None
    salted: StrictBool = Field(
        default=False, description="Put a random salt in the leaf, for a document whose content could be guessed."
    )
    public: StrictBool = Field(default=False, description=PUBLIC_DESCRIPTION)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashes: Annotated[
        list[DocumentHash],
        BeforeValidator(
            lambda value: _refuse_too_many(value) if isinstance(value, list) else value,
        ),
        Field(min_length=1, max_length=MAX_BATCH_HASHES),
    ] = Field(description=f"SHA-256 digests, 1 to {MAX_BATCH_HASHES} per request.")
    kind: Kind | None = None
    salted: StrictBool = False
    public: StrictBool = Field(default=False, description=PUBLIC_DESCRIPTION)


def _refuse_too_many(hashes: list[Any]) -> list[Any]:
    # Say the limit before validating ten thousand items, and in words a client can act on.
    if len(hashes) > MAX_BATCH_HASHES:
        raise ValueError(
            f"at most {MAX_BATCH_HASHES} hashes per request, got {len(hashes)}: split them over several requests"
        )
    return hashes


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RevocationReason = Field(description="Why the document is withdrawn; recorded on chain, for everyone.")


class Anchor(BaseModel):
    root: str = Field(description="Merkle root anchored on chain, 0x-hex.")
    leaf: str = Field(description="This document's leaf, 0x-hex.")
    leaf_index: int
    tree_size: int
    transaction_hash: str | None
    block_number: int
    block_hash: str | None
    block_timestamp: int = Field(description="Seconds since the epoch, as the block records it.")
    chain_id: int
    contract: str = Field(description="Address of the Notary contract.")


class RevocationOut(BaseModel):
    reason: str
    transaction_hash: str
    block_number: int
    revoked_at: datetime = Field(description="The timestamp of the block that recorded the revocation.")


class ReceiptLinks(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    self_: str = Field(alias="self")
    bundle: str
    verify: str


DocumentStatus = Literal["pending", "anchored", "revoked"]


class Receipt(BaseModel):
    id: str
    status: DocumentStatus
    document_hash: str = Field(description="SHA-256 of the document, 64 lower-case hex digits.")
    verification_code: str = Field(description="What a citizen types to check the document: XXXX-XXXX-XXXX-XXXX-C.")
    kind: str | None
    title: str | None
    metadata: dict[str, Any] | None
    salted: bool
    public: bool = Field(description="Kind and title shown by public verification by hash, even when salted.")
    public_copy: bool = Field(
        description="A copy of the file is kept, for whoever holds the verification code to download "
        "(`GET /v1/verify/{code}/document`) until the document is revoked."
    )
    created_at: datetime
    anchor: Anchor | None = Field(description="Where the document is anchored; null while pending.")
    revocation: RevocationOut | None
    links: ReceiptLinks


class ReceiptList(BaseModel):
    items: list[Receipt] = Field(description="One receipt per submitted hash, in the order submitted.")


class ReceiptPage(BaseModel):
    items: list[Receipt] = Field(description="Receipts, newest first.")
    next_cursor: str | None = Field(
        description="Pass it as `cursor` for the next page, with the same filters; null on the last page."
    )


class ChainInfo(BaseModel):
    chain_id: int
    contract: str
    transaction_hash: str | None
    block_number: int
    block_hash: str | None
    timestamp: int


class IssuerInfo(BaseModel):
    code: str
    name: str
    account: str | None = Field(description="The chain account that anchored the root.")


class BundleReceipt(BaseModel):
    id: str
    verification_code: str
    kind: str | None
    title: str | None


class SourceIssuer(BaseModel):
    code: str
    name: str


class BundleSource(BaseModel):
    """A receipt the document was made from (its provenance), with what it takes to check that one on its own."""

    receipt_id: str
    verification_code: str = Field(description="The source's verification code: its own bundle is served under it.")
    kind: str | None
    title: str | None
    document_hash: str = Field(description="SHA-256 of the source, 0x-hex.")
    administration: str = Field(description="The source's issuer, its bytes32 id in the registry.")
    issuer: SourceIssuer
    leaf: str | None = Field(description="The source's leaf, 0x-hex; null while the source is not anchored.")
    leaf_index: int | None
    root: str | None = Field(description="The root that anchors the source; null while it is not anchored.")
    tree_size: int | None
    chain_id: int | None
    contract: str | None
    block_number: int | None
    bundle: str = Field(description="Where the source's own proof bundle is served (public, by its code).")


class ProofBundle(BaseModel):
    """Everything needed to check the document against any node of the chain, without Segell."""

    format: Literal["segell-proof-bundle"]
    version: Literal[1]
    hash_algorithm: Literal["sha-256"]
    document_hash: str
    salt: str
    administration: str = Field(description="The issuer's bytes32 id in the registry.")
    leaf_encoding: list[str]
    leaf_index: int
    leaf: str
    proof: list[str]
    root: str
    tree_size: int
    chain: ChainInfo
    issuer: IssuerInfo
    receipt: BundleReceipt
    derived_from: list[BundleSource] = Field(
        default_factory=list,
        description="Informative: the receipts the document was made from, as its issuer linked them (provenance). "
        "Each is checked with its own bundle.",
    )


class BundlesRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["ids"], "properties": {"ids": {"minItems": 1}}},
                {"required": ["hashes"], "properties": {"hashes": {"minItems": 1}}},
            ]
        },
    )

    ids: list[DocumentId] = Field(
        default_factory=list, max_length=MAX_BUNDLES_ASKED, description="Receipt ids (32 hex digits)."
    )
    hashes: list[DocumentHash] = Field(
        default_factory=list, max_length=MAX_BUNDLES_ASKED, description="SHA-256 digests of documents."
    )

    @model_validator(mode="after")
    def _asks_for_something(self) -> "BundlesRequest":
        if not self.ids and not self.hashes:
            raise ValueError("give at least one receipt id in `ids` or one SHA-256 in `hashes`")
        return self


class BundleSet(BaseModel):
    items: list[ProofBundle] = Field(
        description="The bundles of the anchored (or revoked) documents asked for: those asked by id first, then by "
        "hash, each document once, in the order asked."
    )
    pending: list[str] = Field(description="Receipt ids of the documents asked for that are not anchored yet.")
    missing: list[str] = Field(
        description="Ids and hashes asked for that match none of this administration's documents (hashes as 64 "
        "lower-case hex digits)."
    )


class MatchAdministration(BaseModel):
    code: str
    name: str


class MatchRevocation(BaseModel):
    reason: str
    revoked_at: datetime


MatchStatus = Literal["authentic", "pending", "revoked"]
VerificationStatus = Literal["authentic", "pending", "revoked", "unknown"]


class KindLabels(BaseModel):
    """How people read a kind of document, in Catalan, Spanish and English."""

    ca: str
    es: str
    en: str


KIND_LABELS_DESCRIPTION = (
    "How people read `kind`, by language, for the kinds Segell itself notarises (`signed-pdf`, `certificate`, ...); "
    "null for a kind its issuer named itself, and wherever `kind` is null."
)


class MatchSource(BaseModel):
    """A receipt the verified document was made from: verify it by its code."""

    verification_code: str
    administration: MatchAdministration
    kind: str | None
    kind_labels: KindLabels | None = Field(description=KIND_LABELS_DESCRIPTION)
    title: str | None


SignerKind = Literal["employee", "seal", "citizen"]


class MatchSigner(BaseModel):
    """Who signed a signed output, as Segell checked when it signed it: the certificate was the administration's
    own, valid and not revoked at that time."""

    name: str = Field(description="The signing certificate's common name: a person, or the seal's name.")
    organisation: str | None = Field(description="The certificate's organisation, for employees and seals.")
    kind: SignerKind | None = Field(description="employee, seal or citizen: the certificate's profile.")
    signed_at: datetime = Field(description="When it was signed, as the signature records it.")
    issuer: str = Field(description="Who issued the signing certificate (RFC 4514).")


class MatchCopy(BaseModel):
    """A copy of the document its issuer allowed whoever holds the verification code to download."""

    file_name: str = Field(description="The name it is offered under.")
    media_type: str
    size: int = Field(description="Its size in bytes.")
    url: str = Field(description="Where to download it: `/v1/verify/{code}/document`.")


class VerificationMatch(BaseModel):
    status: MatchStatus
    administration: MatchAdministration
    kind: str | None = Field(
        description="Null when none was given, or when a salted document is looked up by hash and its issuer did not "
        "mark it public."
    )
    kind_labels: KindLabels | None = Field(description=KIND_LABELS_DESCRIPTION)
    title: str | None = Field(description="As `kind`.")
    anchored_at: datetime | None
    block_number: int | None
    transaction_hash: str | None
    chain_id: int | None
    contract: str | None
    revocation: MatchRevocation | None
    derived_from: list[MatchSource] = Field(
        default_factory=list,
        description="The receipts this document was made from (a signed PDF: its original), shown where its kind "
        "and title are.",
    )
    signers: list[MatchSigner] = Field(
        default_factory=list,
        description="Who signed it, for a signed output Segell made, shown where its kind and title are.",
    )
    public_copy: MatchCopy | None = Field(
        default=None,
        description="The copy of the document its issuer made available: looked up by verification code only, and "
        "null once the document is revoked.",
    )


class Verification(BaseModel):
    status: VerificationStatus = Field(
        description="The best of the matches: authentic, then revoked, then pending; unknown when none."
    )
    document_hash: str | None = Field(description="The hash looked up; null for a code that matches nothing.")
    matches: list[VerificationMatch] = Field(description="One per administration that notarised the document.")
