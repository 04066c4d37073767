"""Rules of the notary: accepting documents, receipts, revocation by the issuer, public verification.

Accepting a document writes its row and its outbox entry in one transaction, and the answer is sent only after
that transaction commits. A document is identified by (administration, SHA-256): submitting it again answers the
receipt it already has. An `Idempotency-Key` binds a key to one payload; the same key with another payload is
refused.

`OutboxEntry.seq` orders anchoring. It is the time of acceptance in nanoseconds since the epoch, made strictly
increasing within the process (`reserve_outbox_seq`); a batch request takes consecutive numbers in the order of
its hashes. Documents are thus anchored in the order they were accepted: exactly within one process, as far as
clocks agree across processes sharing a database. A batch request with at least `batch_max_size` new documents is
the exception: its full batches are built when it is accepted (`_place_in_new_batches`) and anchored as they come,
without waiting for older documents in the outbox.

Single submissions are accepted by `services.notary.committer.GroupCommitter`, many in one transaction (`accept`);
`submit` accepts one in a transaction of its own.
"""

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from eth_account import Account
from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from web3.exceptions import Web3Exception

from segell.chain.errors import LeafAlreadyRevoked, UnknownRoot
from segell.chain.keys import open_private_key
from segell.chain.merkle import MerkleTree
from segell.chain.notary import NotaryClient
from segell.services.errors import Conflict, Gone, NotFound, PayloadTooLarge, SegellError, ValidationFailed
from segell.services.file_names import safe_file_name
from segell.services.models import utcnow
from segell.services.notary import anchoring_repository, repository
from segell.services.notary.bulk import NewDocuments
from segell.services.notary.codes import (
    LEGACY_CHECK_SYMBOLS,
    MISTYPED,
    InvalidCodeError,
    format_code,
    generate_codes,
    is_legacy,
    parse_code,
)
from segell.services.notary.kinds import labels_of
from segell.services.notary.repository import ReceiptRow
from segell.services.notary.schemas import (
    Anchor,
    BundleSource,
    KindLabels,
    MatchAdministration,
    MatchCopy,
    MatchRevocation,
    MatchSigner,
    MatchSource,
    MatchStatus,
    ProofBundle,
    Receipt,
    ReceiptLinks,
    RevocationOut,
    SourceIssuer,
    Verification,
    VerificationMatch,
    VerificationStatus,
    metadata_json,
)
from segell.services.runtime import Runtime

LEAF_ENCODING = ["bytes32", "bytes32", "bytes32", "uint256"]
# The best status first: a document some administration vouches for is authentic, whatever others did with it;
# one that was anchored and then withdrawn by everyone that holds it is revoked; pending means not on chain yet.
STATUS_PRECEDENCE: tuple[MatchStatus, ...] = ("authentic", "revoked", "pending")

_seq_lock = threading.Lock()
_last_seq = 0


def reserve_outbox_seq(count: int) -> int:
    """The first of `count` consecutive outbox sequence numbers, all greater than any reserved before."""
    global _last_seq
    with _seq_lock:
        first = max(time.time_ns(), _last_seq + 1)
        _last_seq = first + count - 1
        return first


# What a public copy is served as (always as an attachment): a PDF, a detached signature, or any other file.
COPY_MEDIA_TYPES = ("application/pdf", "application/pkcs7-signature", "application/octet-stream")


@dataclass(frozen=True)
class PublicCopy:
    """The file of a document, kept for whoever holds its verification code to download (`public_copy`).

    `file_name` is the name to offer it under (made safe when stored; None: from the title, or the code);
    `media_type` what it is served as, one of `COPY_MEDIA_TYPES`.
    """

    content: bytes = field(repr=False)
    file_name: str | None = None
    media_type: str = "application/octet-stream"

    def __post_init__(self) -> None:
        if self.media_type not in COPY_MEDIA_TYPES:
            raise ValueError(f"a public copy is served as one of {', '.join(COPY_MEDIA_TYPES)}, not {self.media_type}")


@dataclass(frozen=True)
class PublicSigner:
    """Who signed a signed output, as the domain that signed it checked: shown by public verification."""

    name: str
    signed_at: datetime
    issuer: str
    organisation: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Submission:
    document_hash: str
    kind: str | None = None
    title: str | None = None
    metadata: dict[str, Any] | None = None
    salted: bool = False
    # Kind and title shown to anyone who verifies by hash, even when salted.
    public: bool = False
    # A code allocated beforehand (stored form, from `services.notary.codes`), e.g. to print it inside the
    # document before it is signed; None: a new one is generated.
    verification_code: str | None = None
    # The file itself (whose SHA-256 is `document_hash`), when its issuer lets whoever holds the code download it.
    copy: PublicCopy | None = None

    def fingerprint(self) -> str:
        """What an `Idempotency-Key` is bound to: the SHA-256 of the payload in canonical JSON."""
        payload: dict[str, Any] = {
            "hash": self.document_hash,
            "kind": self.kind,
            "title": self.title,
            "metadata": self.metadata,
            "salted": self.salted,
        }
        # Only when given, so that the fingerprints stored for earlier requests still match.
        if self.verification_code is not None:
            payload["verification_code"] = self.verification_code
        if self.public:
            payload["public"] = True
        if self.copy is not None:
            payload["public_copy"] = True
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def not_anchored(document_id: str) -> Conflict:
    return Conflict(
        f"Document {document_id} is not anchored yet; anchoring takes a few seconds, try again.",
        code="not_anchored",
        headers={"Retry-After": "1"},
    )


async def hash_upload(
    chunks: AsyncIterator[bytes], *, declared_length: str | None, limit: int, keep: bytearray | None = None
) -> str:
    """SHA-256 of a file as it arrives, chunk by chunk; `PayloadTooLarge` as soon as it exceeds `limit` bytes.
    With `keep`, the file is gathered in it too (for a public copy)."""
    too_large = PayloadTooLarge(
        f"The file is larger than {limit} bytes, the most this server hashes. Hash it yourself and send "
        '`{"hash": "<sha-256 hex>"}` as JSON instead.',
        details={"limit_bytes": limit},
    )
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise too_large
    digest = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        digest.update(chunk)
        if keep is not None:
            keep += chunk
    return digest.hexdigest()


def _invalid_code(exc: InvalidCodeError, location: str) -> ValidationFailed:
    return ValidationFailed(
        exc.args[0],
        code="invalid_code" if exc.mistyped else "validation_error",
        details=[{"location": location, "message": exc.args[0]}],
    )


def stored_code(text: str, *, location: str) -> str:
    """The stored form of a verification code as a person typed it; `ValidationFailed` (422) says what is wrong
    with it at `location` (`query.code`, `path.code`), as `invalid_code` when one character is mistyped."""
    try:
        return parse_code(text)
    except InvalidCodeError as exc:
        raise _invalid_code(exc, location) from None


def check_unknown_code(code: str, *, location: str) -> None:
    """For a code (stored form) no document holds: `ValidationFailed` `invalid_code` when only the legacy check
    accepts it, as a new code is then far likelier mistyped than one issued before that nobody stored."""
    if is_legacy(code):
        raise _invalid_code(InvalidCodeError(MISTYPED, mistyped=True), location)


# --- receipts -------------------------------------------------------------------------------------------------


def _0x(value: str) -> str:
    return value if value.startswith("0x") else "0x" + value


# Of all the symbols of a code, only three legacy check symbols are not safe in a query string (in a path, all are).
_QUERY_SAFE = str.maketrans({"*": "%2A", "$": "%24", "=": "%3D"})


def _links(document_id: str, formatted_code: str) -> dict[str, str]:
    return {
        "self": f"/v1/documents/{document_id}",
        "bundle": f"/v1/documents/{document_id}/bundle",
        "verify": f"/v1/verify?code={formatted_code.translate(_QUERY_SAFE)}",
    }


def _from_timestamp(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def receipt_from_row(row: ReceiptRow) -> Receipt:
    anchor = None
    if row.root is not None and row.leaf is not None:
        anchor = Anchor(
            root=_0x(row.root),
            leaf=_0x(row.leaf),
            leaf_index=row.leaf_index,
            tree_size=row.tree_size,
            transaction_hash=row.transaction_hash,
            block_number=row.block_number,
            block_hash=row.block_hash,
            block_timestamp=row.block_timestamp,
            chain_id=row.chain_id,
            contract=row.contract,
        )
    revocation = None
    if row.revocation_reason is not None:
        revocation = RevocationOut(
            reason=row.revocation_reason,
            transaction_hash=row.revocation_transaction_hash,
            block_number=row.revocation_block_number,
            revoked_at=_from_timestamp(row.revocation_block_timestamp),
        )
    code = format_code(row.verification_code)
    return Receipt(
        id=row.id,
        status=row.status,
        document_hash=row.document_hash,
        verification_code=code,
        kind=row.kind,
        title=row.title,
        metadata=json.loads(row.metadata_json) if row.metadata_json is not None else None,
        salted=row.salt is not None,
        public=row.public,
        public_copy=bool(row.has_public_copy),
        created_at=row.created_at,
        anchor=anchor,
        revocation=revocation,
        links=ReceiptLinks.model_validate(_links(row.id, code)),
    )


def _new_receipt(
    row: dict[str, Any], metadata: dict[str, Any] | None, created_at: str, *, public_copy: bool = False
) -> dict[str, Any]:
    """The receipt of a document just accepted, in its JSON form: a batch answers ten thousand of these, and
    building them as dictionaries takes a tenth of the time of validating models."""
    document_id, code = row["id"], format_code(row["verification_code"])
    return {
        "id": document_id,
        "status": "pending",
        "document_hash": row["document_hash"],
        "verification_code": code,
        "kind": row["kind"],
        "title": row["title"],
        "metadata": metadata,
        "salted": row["salt"] is not None,
        "public": row["public"],
        "public_copy": public_copy,
        "created_at": created_at,
        "anchor": None,
        "revocation": None,
        "links": _links(document_id, code),
    }


def _json_time(moment: datetime) -> str:
    # Exactly as the receipts served by the models show it.
    return str(_DATETIME.dump_python(moment, mode="json"))


_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _new_ids(count: int) -> list[str]:
    """Receipt ids: 32 hex digits, the time in milliseconds then 80 random bits.

    Ids that grow with time are inserted at the end of the primary key's index (and of the outbox's) rather than
    all over it, which makes bulk inserts cheaper, the more so as the table grows.
    """
    prefix = f"{time.time_ns() // 1_000_000:012x}"
    randomness = secrets.token_hex(10 * count)
    return [prefix + randomness[20 * i : 20 * (i + 1)] for i in range(count)]


def _new_rows(
    administration_id: int,
    hashes: Sequence[str],
    *,
    kind: str | None,
    title: str | None,
    salted: bool,
    public: bool,
    **extra: Any,
) -> list[dict[str, Any]]:
    count = len(hashes)
    ids = _new_ids(count)
    codes = generate_codes(count)
    now = utcnow()
    return [
        {
            "id": ids[i],
            "administration_id": administration_id,
            "document_hash": document_hash,
            "salt": secrets.token_hex(32) if salted else None,
            "public": public,
            "kind": kind,
            "title": title,
            "metadata_json": None,
            "verification_code": codes[i],
            "idempotency_key": None,
            "request_fingerprint": None,
            "status": "pending",
            "batch_id": None,
            "leaf_index": None,
            "leaf": None,
            "created_at": now,
            **extra,
        }
        for i, document_hash in enumerate(hashes)
    ]


def _outbox_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    first = reserve_outbox_seq(len(rows))
    return [
        {
            "document_id": row["id"],
            "administration_id": row["administration_id"],
            "seq": first + i,
            "created_at": row["created_at"],
        }
        for i, row in enumerate(rows)
    ]


def _known(
    session: Session, administration_id: int, submission: Submission, idempotency_key: str | None
) -> ReceiptRow | None:
    if idempotency_key is not None:
        row = repository.receipt_by_idempotency_key(session, administration_id, idempotency_key)
        if row is not None:
            if row.request_fingerprint != submission.fingerprint():
                raise Conflict(
                    f"Idempotency-Key {idempotency_key!r} was used for another request (document {row.id}). "
                    "Send a new key for a new document.",
                    code="idempotency_key_reused",
                )
            return row
    return repository.receipt_by_hash(session, administration_id, submission.document_hash)


def submit(
    runtime: Runtime, administration_id: int, submission: Submission, idempotency_key: str | None
) -> tuple[Receipt, bool]:
    """Accept one document: its receipt, and True when it is new (False: the receipt it already had).

    With `submission.verification_code`, the document is stored under that code; `Conflict` when another
    document holds it, or when this document was already accepted under another code.
    """
    with runtime.transaction() as session:
        # Answered once the transaction commits, on leaving this block.
        return accept(session, administration_id, submission, idempotency_key)


def accept(
    session: Session,
    administration_id: int,
    submission: Submission,
    idempotency_key: str | None,
) -> tuple[Receipt, bool]:
    """`submit` within the caller's transaction, which must commit before the receipt is answered.

    A refusal (`SegellError`) is raised before anything is written: the transaction stays usable for others.
    """
    metadata = metadata_json(submission.metadata) if submission.metadata is not None else None
    # A concurrent request may insert the same document between the lookup and the insert: the insert then
    # does nothing, and the lookup, run again, finds its row. A third round only follows a code collision.
    for _ in range(3):
        known = _known(session, administration_id, submission, idempotency_key)
        if known is not None:
            _check_code(known, submission.verification_code)
            receipt = receipt_from_row(known)
            if submission.copy is not None and not receipt.public_copy:
                # Its issuer now lets the holders of the code download it: the receipt is otherwise unchanged.
                _keep_copy(session, known.id, submission.copy)
                receipt = receipt.model_copy(update={"public_copy": True})
            return receipt, False
        if submission.verification_code is not None and repository.code_in_use(session, submission.verification_code):
            raise _code_in_use(submission.verification_code)
        (row,) = _new_rows(
            administration_id,
            [submission.document_hash],
            kind=submission.kind,
            title=submission.title,
            salted=submission.salted,
            public=submission.public,
            metadata_json=metadata,
            idempotency_key=idempotency_key,
            request_fingerprint=submission.fingerprint() if idempotency_key is not None else None,
        )
        if submission.verification_code is not None:
            row["verification_code"] = submission.verification_code
        if repository.insert_document(session, row):
            repository.add_to_outbox(session, _outbox_rows([row]))
            if submission.copy is not None:
                _keep_copy(session, row["id"], submission.copy)
            new = _new_receipt(
                row, submission.metadata, _json_time(row["created_at"]), public_copy=submission.copy is not None
            )
            return Receipt.model_validate(new), True
    raise SegellError("Could not store the document; try again.")


def _keep_copy(session: Session, document_id: str, copy: PublicCopy) -> None:
    file_name = safe_file_name(copy.file_name) if copy.file_name else None
    repository.add_copy(session, document_id, content=copy.content, file_name=file_name, media_type=copy.media_type)


def accept_new(session: Session, documents: Sequence[tuple[int, Submission]]) -> list[Receipt | None]:
    """Store documents without looking them up first (submissions with neither an `Idempotency-Key`, a
    pre-allocated code nor a copy), with their outbox entries, in one statement on PostgreSQL: each one's receipt, or
    None where the database refused the row (the administration holds the document already, a concurrent request
    stored it meanwhile, or its code collided), for the caller to `accept`, which looks it up."""
    rows = [
        _new_rows(
            administration_id,
            [submission.document_hash],
            kind=submission.kind,
            title=submission.title,
            salted=submission.salted,
            public=submission.public,
            metadata_json=metadata_json(submission.metadata) if submission.metadata is not None else None,
        )[0]
        for administration_id, submission in documents
    ]
    stored = repository.insert_documents_queued(session, rows, reserve_outbox_seq(len(rows)))
    inserted = [row if row["id"] in stored else None for row in rows]
    return [
        None
        if row is None
        else Receipt.model_validate(_new_receipt(row, submission.metadata, _json_time(row["created_at"])))
        for row, (_, submission) in zip(inserted, documents, strict=True)
    ]


def _code_in_use(code: str) -> Conflict:
    return Conflict(
        f"Verification code {format_code(code)} is already in use by another document; allocate a new one.",
        code="verification_code_in_use",
    )


def _check_code(known: ReceiptRow, code: str | None) -> None:
    """A document already accepted keeps its code: asking for another one for it is refused."""
    if code is not None and known.verification_code != code:
        raise Conflict(
            f"Document {known.id} was already accepted with verification code "
            f"{format_code(known.verification_code)}, not {format_code(code)}.",
            code="verification_code_mismatch",
        )


@dataclass(frozen=True)
class Batching:
    """How to fill batches when documents are accepted: `size` documents per batch (the worker's
    `batch_max_size`), leaves for the administration `registry_id` (bytes32 registry id, 0x-hex)."""

    size: int
    registry_id: str


def submit_many(
    session: Session,
    administration_id: int,
    hashes: Sequence[str],
    *,
    kind: str | None,
    salted: bool,
    public: bool = False,
) -> list[dict[str, Any]]:
    """Accept many documents in one transaction: their receipts in JSON form, one per hash, in order.

    A hash repeated in the request, or already notarised by the administration, answers the receipt it has.
    """
    _, accepted, receipts = _accept_many(session, administration_id, hashes, kind=kind, salted=salted, public=public)
    for row in accepted:
        receipts[row["document_hash"]] = _new_receipt(row, None, _json_time(row["created_at"]))
    return [receipts[h] for h in hashes]


def submit_many_json(
    session: Session,
    administration_id: int,
    hashes: Sequence[str],
    *,
    kind: str | None,
    salted: bool,
    public: bool = False,
    batching: Batching | None = None,
) -> bytes:
    """`submit_many` answered as the JSON text `{"items": [...]}` (what `POST /v1/documents/batch` sends), encoded.

    The receipts of new documents are written straight as text: for ten thousand of them, building dictionaries
    and encoding them takes several times longer than storing the documents' rows. With `batching`, full batches
    are made at once (`_accept_many`), their receipts copied from one template (`NewDocuments.receipts_json`).
    """
    placed, accepted, known = _accept_many(
        session, administration_id, hashes, kind=kind, salted=salted, public=public, batching=batching
    )
    texts: dict[str, str] = {}
    if placed is not None:
        placed_json = placed.receipts_json(_json_time(placed.created_at))
        if not accepted and len(placed) == len(hashes):
            # The usual case: every hash new and given once, all of them in full batches.
            return b"".join((b'{"items":[', placed_json.joined(), b"]}"))
        texts.update(zip(placed.hashes, placed_json.texts(), strict=True))
    new, accepted_hashes = _new_receipts_json(accepted, kind, public), [row["document_hash"] for row in accepted]
    if placed is None and accepted_hashes == hashes:  # every hash new and given once, fewer than a batch
        return ('{"items":[' + ",".join(new) + "]}").encode()
    texts.update(zip(accepted_hashes, new, strict=True))
    texts.update((h, _dumps(receipt)) for h, receipt in known.items())
    return ('{"items":[' + ",".join([texts[h] for h in hashes]) + "]}").encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# How a link writes each check symbol: those of legacy codes that are not safe in a query string, escaped.
_QUERY_CHECK = {symbol: symbol.translate(_QUERY_SAFE) for symbol in LEGACY_CHECK_SYMBOLS}


def _new_receipts_json(rows: Sequence[dict[str, Any]], kind: str | None, public: bool) -> list[str]:
    """`_new_receipt` of batch items (all of one `kind` and `public`, no title, no metadata) as JSON text, exactly as
    `_dumps` writes it. Ids, hashes, codes and times hold no character JSON escapes; the kind is encoded as any
    string."""
    kind_json = "null" if kind is None else _dumps(kind)
    public_json = "true" if public else "false"
    times: dict[datetime, str] = {}  # the rows stored together share their time
    texts = []
    for row in rows:
        document_id, code, moment = row["id"], format_code(row["verification_code"]), row["created_at"]
        created_at = times.get(moment) or times.setdefault(moment, _json_time(moment))
        texts.append(
            f'{{"id":"{document_id}","status":"pending","document_hash":"{row["document_hash"]}",'
            f'"verification_code":"{code}","kind":{kind_json},"title":null,"metadata":null,'
            f'"salted":{"false" if row["salt"] is None else "true"},"public":{public_json},"public_copy":false,'
            f'"created_at":"{created_at}","anchor":null,'
            f'"revocation":null,"links":{{"self":"/v1/documents/{document_id}",'
            f'"bundle":"/v1/documents/{document_id}/bundle","verify":"/v1/verify?code={code[:-1]}'
            f'{_QUERY_CHECK[code[-1]]}"}}}}'
        )
    return texts


def _accept_many(
    session: Session,
    administration_id: int,
    hashes: Sequence[str],
    *,
    kind: str | None,
    salted: bool,
    public: bool,
    batching: Batching | None = None,
) -> tuple[NewDocuments | None, list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Store the new documents among `hashes`: (those placed in full batches, the rows of the others, the receipts
    of the hashes that were known).

    With `batching`, every full batch of new documents is placed in a batch of its own in this transaction,
    ready to anchor, instead of going through the outbox: the anchoring worker then writes no row per document.
    The rest (fewer than a batch) take the outbox.
    """
    unique = list(dict.fromkeys(hashes))
    receipts: dict[str, dict[str, Any]] = {}
    accepted: list[dict[str, Any]] = []
    placed = None
    if batching is not None and len(unique) >= batching.size:
        # Optimistically, as all hashes are usually new: the lookup only follows a refusal.
        placed = _place_in_new_batches(
            session, administration_id, unique, batching, kind=kind, salted=salted, public=public
        )
        if placed is None:
            receipts.update(_known_receipts(session, administration_id, unique))
            unique = [h for h in unique if h not in receipts]
            placed = _place_in_new_batches(
                session, administration_id, unique, batching, kind=kind, salted=salted, public=public
            )
        if placed is not None:
            unique = unique[len(placed) :]
    # Inserted first and looked up after: new hashes, the usual case, then cost no lookup at all; a hash already
    # notarised is a row the insert leaves out, whose receipt is read below.
    rows = _new_rows(
        administration_id,
        [h for h in unique if h not in receipts],
        kind=kind,
        title=None,
        salted=salted,
        public=public,
    )
    for _ in range(3):
        if not rows:
            break
        inserted_now = rows
        count = repository.insert_documents(session, rows)
        if count == len(rows):
            rows = []
        else:
            inserted = repository.stored_ids(session, [row["id"] for row in rows]) if count else set()
            inserted_now = [row for row in rows if row["id"] in inserted]
            # A concurrent request inserted some of these hashes first (answer its receipts), or a verification
            # code collided (insert those again with new codes).
            refused = [row["document_hash"] for row in rows if row["id"] not in inserted]
            receipts.update(_known_receipts(session, administration_id, refused))
            missing = [h for h in refused if h not in receipts]
            rows = _new_rows(administration_id, missing, kind=kind, title=None, salted=salted, public=public)
        repository.add_to_outbox(session, _outbox_rows(inserted_now))
        accepted.extend(inserted_now)
    if rows:
        raise SegellError("Could not store the documents; try again.")
    return placed, accepted, receipts


def _place_in_new_batches(
    session: Session,
    administration_id: int,
    hashes: Sequence[str],
    batching: Batching,
    *,
    kind: str | None,
    salted: bool,
    public: bool,
) -> NewDocuments | None:
    """Store the first full batches of `hashes` in new batches, ready to anchor: those documents (the first ones
    of `hashes`, in order), or None when there is no full batch or the database refused one of them (already
    notarised, stored meanwhile by a concurrent request, or a code that collided), in which case nothing of it is
    kept."""
    full = len(hashes) - len(hashes) % batching.size
    if not full:
        return None
    new = NewDocuments(
        administration_id, list(hashes[:full]), kind=kind, public=public, created_at=utcnow(), salted=salted
    )
    administration = bytes.fromhex(batching.registry_id.removeprefix("0x"))
    batch_ids: list[int] = []
    for start in range(0, full, batching.size):
        stop = start + batching.size
        leaves = new.leaves_of(start, stop, administration)
        tree = MerkleTree.build(leaves)
        batch_id = repository.insert_built_batch(
            session, administration_id=administration_id, root=tree.root.hex(), size=tree.size, tree=tree.to_bytes()
        )
        if batch_id is None:
            break
        batch_ids.append(batch_id)
        new.place(start, stop, batch_id, leaves)
    else:
        if repository.copy_new_documents(session, new):
            # The worker anchors them as soon as they are committed, not at its next poll.
            anchoring_repository.wake_leader(session)
            return new
    if batch_ids:
        repository.discard_batches(session, batch_ids)
    return None


def _known_receipts(session: Session, administration_id: int, hashes: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = repository.receipts_by_hashes(session, administration_id, hashes)
    return {h: receipt_from_row(row).model_dump(mode="json", by_alias=True) for h, row in rows.items()}


def get_receipt(session: Session, administration_id: int, document_id: str) -> Receipt:
    return receipt_from_row(_owned(session, administration_id, document_id))


def _owned(session: Session, administration_id: int, document_id: str) -> ReceiptRow:
    row = repository.receipt(session, administration_id, document_id)
    if row is None:
        # Another administration's document is not disclosed either.
        raise NotFound(f"No document {document_id} for this administration.")
    return row


# --- proof bundles --------------------------------------------------------------------------------------------


def _tree_and_leaf(session: Session, row: ReceiptRow) -> tuple[MerkleTree, bytes]:
    tree = MerkleTree.from_bytes(repository.tree_of_batch(session, row.batch_id))
    return tree, bytes.fromhex(row.leaf.removeprefix("0x"))


def bundle(session: Session, administration_id: int, document_id: str) -> ProofBundle:
    """The proof bundle of an anchored document (docs/proof-bundle.md)."""
    row = _owned(session, administration_id, document_id)
    if row.root is None:
        raise not_anchored(document_id)
    tree, _ = _tree_and_leaf(session, row)
    sources = repository.sources_of(session, [row.id]).get(row.id, [])
    return ProofBundle.model_validate(bundle_json(row, tree, sources))


def bundles_json(session: Session, rows: Sequence[ReceiptRow]) -> list[dict[str, Any]]:
    """The proof bundles of anchored documents, in the order of `rows`, in their JSON form (as `bundle` answers
    them): each batch's tree is read once, whatever number of its documents are asked for."""
    by_batch: dict[int, list[int]] = {}
    for position, row in enumerate(rows):
        by_batch.setdefault(row.batch_id, []).append(position)
    sources = repository.sources_of(session, [row.id for row in rows])
    found: list[dict[str, Any] | None] = [None] * len(rows)
    for batch_id, blob in repository.trees_of_batches(session, by_batch):
        tree = MerkleTree.from_bytes(blob)
        for position in by_batch[batch_id]:
            row = rows[position]
            found[position] = bundle_json(row, tree, sources.get(row.id, []))
    return [item for item in found if item is not None]


def bundle_json(row: ReceiptRow, tree: MerkleTree, sources: Sequence[ReceiptRow]) -> dict[str, Any]:
    """The proof bundle of an anchored document whose batch has `tree`, with its fields in `ProofBundle`'s order."""
    return {
        "format": "segell-proof-bundle",
        "version": 1,
        "hash_algorithm": "sha-256",
        "document_hash": _0x(row.document_hash),
        "salt": _0x(row.salt or "00" * 32),
        "administration": row.administration_registry_id,
        "leaf_encoding": LEAF_ENCODING,
        "leaf_index": row.leaf_index,
        "leaf": _0x(row.leaf),
        "proof": [_0x(node.hex()) for node in tree.proof(row.leaf_index)],
        "root": _0x(tree.root.hex()),
        "tree_size": tree.size,
        "chain": {
            "chain_id": row.chain_id,
            "contract": row.contract,
            "transaction_hash": row.transaction_hash,
            "block_number": row.block_number,
            "block_hash": row.block_hash,
            "timestamp": row.block_timestamp,
        },
        "issuer": {"code": row.administration_code, "name": row.administration_name, "account": row.account},
        "receipt": {
            "id": row.id,
            "verification_code": format_code(row.verification_code),
            "kind": row.kind,
            "title": row.title,
        },
        "derived_from": [_bundle_source(source).model_dump(mode="json") for source in sources],
    }


def _by_code(session: Session, code: str, location: str) -> ReceiptRow:
    rows = repository.receipts_for_verification(session, code=code)
    if not rows:
        check_unknown_code(code, location=location)
        raise NotFound("No document has this verification code; compare it with the one printed on the document.")
    return rows[0]


def bundle_by_code(session: Session, code: str, *, location: str = "code") -> ProofBundle:
    """The proof bundle of the document with this verification code (stored form), whoever issued it.

    The code is printed on the document, so whoever holds it holds the document: the bundle, salt included, is
    theirs to check without Segell.
    """
    row = _by_code(session, code, location)
    return bundle(session, row.administration_id, row.id)


@dataclass(frozen=True)
class CopyFile:
    """A public copy as it is served: its content, the (safe) name to save it under, its media type."""

    content: bytes = field(repr=False)
    file_name: str
    media_type: str


# The extension a copy offered under its title or code gets, by its media type.
_EXTENSIONS = {"application/pdf": ".pdf", "application/pkcs7-signature": ".p7s"}


def _copy_file_name(row: ReceiptRow, stored: str | None, media_type: str) -> str:
    if stored:
        return stored
    stem = row.title or format_code(row.verification_code)
    return safe_file_name(stem + _EXTENSIONS.get(media_type, ""))


def public_copy_by_code(session: Session, code: str, *, location: str = "code") -> CopyFile:
    """The copy of the document with this verification code (stored form) its issuer made available.

    `NotFound` for an unknown code (`not_found`) or a document without a copy (`no_public_copy`); `Gone`
    (`document_revoked`) once its issuer revoked it: a withdrawn document is no longer handed out.
    """
    row = _by_code(session, code, location)
    if row.revocation_reason is not None or row.status == "revoked":
        revoked_on = (
            f" on {_from_timestamp(row.revocation_block_timestamp):%Y-%m-%d}"
            if row.revocation_block_timestamp is not None
            else ""
        )
        raise Gone(
            f"{row.administration_name} revoked this document{revoked_on}: its copy is no longer served. "
            "Check the code to see why.",
            code="document_revoked",
        )
    copy = repository.copy_content(session, row.id) if row.has_public_copy else None
    if copy is None:
        raise NotFound(
            "The issuer of this document kept no copy for download. The code still checks it: ask the issuer for "
            "the document, or check the file you have.",
            code="no_public_copy",
        )
    return CopyFile(
        content=bytes(copy.content),
        file_name=_copy_file_name(row, copy.file_name, copy.media_type),
        media_type=copy.media_type,
    )


def _bundle_source(row: ReceiptRow) -> BundleSource:
    anchored = row.root is not None and row.leaf is not None
    code = format_code(row.verification_code)
    return BundleSource(
        receipt_id=row.id,
        verification_code=code,
        kind=row.kind,
        title=row.title,
        document_hash=_0x(row.document_hash),
        administration=row.administration_registry_id,
        issuer=SourceIssuer(code=row.administration_code, name=row.administration_name),
        leaf=_0x(row.leaf) if anchored else None,
        leaf_index=row.leaf_index if anchored else None,
        root=_0x(row.root) if anchored else None,
        tree_size=row.tree_size if anchored else None,
        chain_id=row.chain_id if anchored else None,
        contract=row.contract if anchored else None,
        block_number=row.block_number if anchored else None,
        bundle=f"/v1/verify/{code}/bundle",
    )


# --- revocation -----------------------------------------------------------------------------------------------


def revoke(runtime: Runtime, session: Session, administration_id: int, document_id: str, reason: str) -> Receipt:
    """Revoke an anchored document on chain from its issuer's account, then record it."""
    row = _owned(session, administration_id, document_id)
    if row.revocation_reason is not None or row.status == "revoked":
        raise Conflict(f"Document {document_id} is already revoked.", code="already_revoked")
    if row.root is None:
        raise not_anchored(document_id)
    tree, leaf = _tree_and_leaf(session, row)
    account_row = repository.sealed_key(session, administration_id, row.account)
    if account_row is None:
        raise SegellError(f"Administration {row.administration_code} has no chain account to revoke from.")
    address, sealed = account_row
    account = Account.from_key(open_private_key(sealed, runtime.master_key, label=address))
    notary = runtime.notary
    try:
        sent = notary.revoke(account, tree.root, leaf, tree.proof(row.leaf_index), reason)
        transaction_hash, block_number, recorded_reason = sent.transaction_hash, sent.block_number, reason
    except LeafAlreadyRevoked:
        # Revoked on chain by an earlier attempt whose database commit did not happen: record what the chain says.
        record = notary.revocation_of(leaf)
        block_number, recorded_reason = record.block_number, record.reason
        transaction_hash = _revocation_transaction(notary, leaf, block_number)
    except UnknownRoot:
        raise Conflict(
            f"The chain node no longer holds the root of document {document_id}; it is being anchored again. "
            "Try again in a few seconds.",
            code="not_anchored",
            headers={"Retry-After": "1"},
        ) from None
    timestamp = int(notary.w3.eth.get_block(block_number)["timestamp"])
    repository.record_revocation(
        session,
        document_id=document_id,
        reason=recorded_reason,
        transaction_hash=transaction_hash,
        block_number=block_number,
        block_timestamp=timestamp,
    )
    return get_receipt(session, administration_id, document_id)


def _revocation_transaction(notary: NotaryClient, leaf: bytes, block_number: int) -> str:
    try:
        logs = notary.contract.events.LeafRevoked.get_logs(
            from_block=block_number, to_block=block_number, argument_filters={"leaf": leaf}
        )
    except Web3Exception:
        logs = []
    return logs[0]["transactionHash"].to_0x_hex() if logs else "0x" + "00" * 32


# --- public verification --------------------------------------------------------------------------------------


class AnchoredRoots:
    """Roots the chain node was seen to hold, trusted for `ttl` seconds so that verification rarely asks the node.

    Only positive answers are kept: a root not (or no longer) on chain is asked about every time, and a root
    seen once is asked about again after `ttl`, so a node that lost its state is noticed within that time.
    """

    def __init__(self, ttl: float = 60.0, capacity: int = 100_000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def is_anchored(self, notary: NotaryClient, root: str) -> bool:
        key = (notary.address, root)
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
        if seen is not None and now - seen < self.ttl:
            return True
        anchored = notary.is_anchored(bytes.fromhex(root.removeprefix("0x")))
        with self._lock:
            if anchored:
                self._seen[key] = now
                self._seen.move_to_end(key)
                while len(self._seen) > self.capacity:
                    self._seen.popitem(last=False)
            else:
                self._seen.pop(key, None)
        return anchored


def _described(row: ReceiptRow, *, by_hash: bool) -> bool:
    # A salted document's content could be guessed: whoever tries hashes learns that it is authentic, by whom and
    # when, not what it is, unless its issuer made that public. A code is printed on the document: its holder has it.
    return not by_hash or row.salt is None or bool(row.public)


def _kind_labels(kind: str | None) -> KindLabels | None:
    labels = labels_of(kind)
    return None if labels is None else KindLabels.model_validate(labels)


def _match(
    row: ReceiptRow,
    notary: NotaryClient,
    anchored_roots: AnchoredRoots,
    sources: Sequence[ReceiptRow],
    signers: Sequence[Any],
    copy: Any | None,
    *,
    by_hash: bool,
) -> VerificationMatch:
    anchored = row.root is not None
    described = _described(row, by_hash=by_hash)
    status: MatchStatus
    if row.revocation_reason is not None:
        status = "revoked"
    elif anchored and anchored_roots.is_anchored(notary, row.root):
        status = "authentic"
    else:
        # Not anchored yet, or anchored on a node that lost it since: the reconciler anchors it again.
        status = "pending"
    show_anchor = anchored and status != "pending"
    return VerificationMatch(
        status=status,
        administration=MatchAdministration(code=row.administration_code, name=row.administration_name),
        kind=row.kind if described else None,
        kind_labels=_kind_labels(row.kind) if described else None,
        title=row.title if described else None,
        anchored_at=_from_timestamp(row.block_timestamp) if show_anchor else None,
        block_number=row.block_number if show_anchor else None,
        transaction_hash=row.transaction_hash if show_anchor else None,
        chain_id=row.chain_id if show_anchor else None,
        # The contract that was asked: the deployment's own Notary, whatever a stored row says.
        contract=notary.address if show_anchor else None,
        revocation=(
            MatchRevocation(reason=row.revocation_reason, revoked_at=_from_timestamp(row.revocation_block_timestamp))
            if row.revocation_reason is not None
            else None
        ),
        # What the document was made from is part of what it is: shown where its kind and title are.
        derived_from=[
            MatchSource(
                verification_code=format_code(source.verification_code),
                administration=MatchAdministration(code=source.administration_code, name=source.administration_name),
                kind=source.kind,
                kind_labels=_kind_labels(source.kind),
                title=source.title,
            )
            for source in (sources if described else ())
        ],
        signers=[
            MatchSigner(
                name=signer.name,
                organisation=signer.organisation,
                kind=signer.kind if signer.kind in ("employee", "seal", "citizen") else None,
                signed_at=signer.signed_at,
                issuer=signer.issuer,
            )
            for signer in (signers if described else ())
        ],
        # By code only, whose holder holds the document; and not once it is withdrawn.
        public_copy=(
            MatchCopy(
                file_name=_copy_file_name(row, copy.file_name, copy.media_type),
                media_type=copy.media_type,
                size=copy.size,
                url=f"/v1/verify/{format_code(row.verification_code)}/document",
            )
            if copy is not None and not by_hash and status != "revoked"
            else None
        ),
    )


class Lookup(NamedTuple):
    """One public verification: of a document's hash (64 hex digits), or of a verification code (stored form)."""

    document_hash: str | None = None
    code: str | None = None


def verify(
    engine: Engine,
    notary: NotaryClient,
    anchored_roots: AnchoredRoots,
    *,
    document_hash: str | None = None,
    code: str | None = None,
    location: str = "query.code",
) -> Verification:
    """What the database says about a hash or a code, each anchored root checked on chain."""
    (answer,) = verify_many(engine, notary, anchored_roots, [Lookup(document_hash, code)], location=location)
    if isinstance(answer, SegellError):
        raise answer
    return answer


def verify_many(
    engine: Engine,
    notary: NotaryClient,
    anchored_roots: AnchoredRoots,
    lookups: Sequence[Lookup],
    *,
    location: str = "query.code",
    matches: repository.MatchesReader | None = None,
) -> list[Verification | SegellError]:
    """`verify` of each lookup: its verification, or the error it is refused with.

    The hashes and codes are looked up through the database driver alone: together by `matches` (one statement on
    PostgreSQL), else on a pooled connection (`repository.matches_on_driver`); a connection of `engine` reads the
    rest only for matches that show sources, signers or a copy, one for all the lookups."""
    hashes = list(dict.fromkeys(h for lookup in lookups if lookup.code is None and (h := lookup.document_hash)))
    codes = list(dict.fromkeys(code for lookup in lookups if (code := lookup.code) is not None))
    if matches is not None:
        rows = matches.read(hashes, codes)
    else:
        rows = repository.matches_on_driver(engine, hashes=hashes, codes=codes)
    of_hash: dict[str, list[ReceiptRow]] = {}
    of_code: dict[str, list[ReceiptRow]] = {}
    for row in rows:
        of_hash.setdefault(row.document_hash, []).append(row)
        of_code[row.verification_code] = [row]
    answers: list[Verification | SegellError] = []
    with ExitStack() as stack:
        connection: list[repository.Reader] = []

        def reader() -> repository.Reader:
            if not connection:
                connection.append(stack.enter_context(engine.connect()))
            return connection[0]

        for lookup in lookups:
            found = (
                of_code.get(lookup.code, []) if lookup.code is not None else of_hash.get(lookup.document_hash or "", [])
            )
            try:
                answers.append(
                    _verification(
                        reader,
                        found,
                        notary,
                        anchored_roots,
                        document_hash=lookup.document_hash,
                        code=lookup.code,
                        location=location,
                    )
                )
            except SegellError as refused:
                answers.append(refused)
    return answers


def _verification(
    reader: Callable[[], repository.Reader],
    rows: Sequence[ReceiptRow],
    notary: NotaryClient,
    anchored_roots: AnchoredRoots,
    *,
    document_hash: str | None,
    code: str | None,
    location: str,
) -> Verification:
    by_hash = code is None
    if not rows and code is not None:
        check_unknown_code(code, location=location)
    described = [row for row in rows if _described(row, by_hash=by_hash)]
    with_sources = [row.id for row in described if row.has_sources]
    with_signers = [row.id for row in described if row.has_signers]
    with_copies = [row.id for row in rows if row.has_public_copy] if not by_hash else []
    session = reader() if with_sources or with_signers or with_copies else None
    sources = repository.sources_of(session, with_sources) if session is not None and with_sources else {}
    signers = repository.signers_of(session, with_signers) if session is not None and with_signers else {}
    copies = repository.copies_of(session, with_copies) if session is not None and with_copies else {}
    matches = [
        _match(
            row,
            notary,
            anchored_roots,
            sources.get(row.id, []),
            signers.get(row.id, []),
            copies.get(row.id),
            by_hash=by_hash,
        )
        for row in rows
    ]
    statuses = {match.status for match in matches}
    status: VerificationStatus = next((s for s in STATUS_PRECEDENCE if s in statuses), "unknown")
    found_hash = rows[0].document_hash if rows else document_hash
    return Verification(status=status, document_hash=found_hash, matches=matches)


@dataclass(frozen=True)
class Anchoring:
    """When a hash was anchored: the receipt, its block and the block's time."""

    receipt_id: str
    document_hash: str
    verification_code: str
    anchored_at: datetime
    block_number: int
    transaction_hash: str | None


def first_anchoring(
    session: Session, notary: NotaryClient, anchored_roots: AnchoredRoots, hashes: Sequence[str]
) -> Anchoring | None:
    """The earliest anchoring on chain of any of `hashes` (SHA-256, 64 hex digits), by any administration: a proof
    that the content existed then. Roots are checked on chain (`anchored_roots`); a revoked document still counts,
    as it did exist."""
    rows = [row for h in hashes for row in repository.receipts_for_verification(session, document_hash=h)]
    anchored = [row for row in rows if row.root is not None and anchored_roots.is_anchored(notary, row.root)]
    if not anchored:
        return None
    first = min(anchored, key=lambda row: (row.block_timestamp, row.block_number))
    return Anchoring(
        receipt_id=first.id,
        document_hash=first.document_hash,
        verification_code=format_code(first.verification_code),
        anchored_at=_from_timestamp(first.block_timestamp),
        block_number=first.block_number,
        transaction_hash=first.transaction_hash,
    )


# --- provenance -----------------------------------------------------------------------------------------------


def linkable_sources(session: Session, administration_id: int, source_ids: Sequence[str]) -> list[str]:
    """The receipts an output of `administration_id` may name as made from, without repeats: its own, and other
    administrations' marked public. `NotFound` (`unknown_source`) for any other, which is not disclosed."""
    unique = list(dict.fromkeys(source_ids))
    rows = repository.receipts_by_ids(session, unique)
    for source_id in unique:
        row = rows.get(source_id)
        if row is None or (row.administration_id != administration_id and not row.public):
            raise NotFound(
                f"No receipt {source_id} this administration may name as a source: its own receipts, and other "
                "administrations' public ones.",
                code="unknown_source",
            )
    return unique


def accept_derived(
    session: Session,
    administration_id: int,
    submission: Submission,
    derived_from: Sequence[str],
    signers: Sequence[PublicSigner] = (),
) -> tuple[Receipt, bool]:
    """`accept`, linking a new document to the receipts it was made from, and recording who signed it, in the
    same transaction. A document already notarised keeps the links and signers it was given then: its bundles may
    have been handed out."""
    source_ids = linkable_sources(session, administration_id, derived_from)
    receipt, created = accept(session, administration_id, submission, None)
    if created:
        repository.add_sources(session, receipt.id, source_ids)
        repository.add_signers(
            session,
            receipt.id,
            [
                {
                    "name": signer.name,
                    "organisation": signer.organisation,
                    "kind": signer.kind,
                    "issuer": signer.issuer,
                    "signed_at": signer.signed_at,
                }
                for signer in signers
            ],
        )
    return receipt, created


def linkable_receipt_of_hash(session: Session, administration_id: int, document_hash: str) -> str | None:
    """The receipt of `document_hash` an output of `administration_id` would link to: its own, else the first
    public one of another administration; None when there is neither."""
    rows = repository.receipts_for_verification(session, document_hash=document_hash)
    own = [row for row in rows if row.administration_id == administration_id]
    public = sorted((row for row in rows if row.public), key=lambda row: (row.created_at, row.id))
    chosen = own or public
    return chosen[0].id if chosen else None
