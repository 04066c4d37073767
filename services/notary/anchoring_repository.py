"""SQL of the anchoring worker: set-based statements over the outbox, batches and documents.

The hot path (a batch of up to `batch_max_size` documents) never builds an ORM object per row: rows are read as
tuples and written with one statement per table (over `json_each` on SQLite, an executemany on PostgreSQL) or
one UPDATE ... WHERE batch_id.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from segell.services import locks
from segell.services.administrations.api import Administration, ChainAccount
from segell.services.models import utcnow
from segell.services.notary.models import Batch, Document, OutboxEntry

#: The name of the advisory lock the anchoring leader holds, and of the channel it is woken on.
LEADER_LOCK = "anchoring"

documents: Table = Document.__table__  # type: ignore[assignment]
outbox: Table = OutboxEntry.__table__  # type: ignore[assignment]
batches: Table = Batch.__table__  # type: ignore[assignment]
administrations: Table = Administration.__table__  # type: ignore[assignment]
accounts: Table = ChainAccount.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class PendingAdministration:
    """An administration with documents in the outbox: how many, and since when the oldest waits."""

    administration_id: int
    code: str
    registry_id: str
    status: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class OutboxItem:
    document_id: str
    document_hash: str
    salt: str | None


@dataclass(frozen=True)
class BatchToAnchor:
    """A batch written by T1 whose root is to be anchored (or checked on chain, for the reconciler)."""

    id: int
    administration_id: int
    code: str
    registry_id: str
    root: str
    size: int
    created_at: datetime
    transaction_hash: str | None = None


def wake_leader(session: Session) -> None:
    """On PostgreSQL, wake the anchoring leader (whichever process leads) once this transaction commits: it has
    batches to anchor. On SQLite the one process's worker finds them at its next poll."""
    if session.get_bind().dialect.name == "postgresql":
        locks.wake_leader(session.connection(), LEADER_LOCK)


def pending_by_administration(session: Session) -> list[PendingAdministration]:
    counts = (
        select(
            outbox.c.administration_id,
            func.count().label("count"),
            func.min(outbox.c.created_at).label("oldest"),
        )
        .group_by(outbox.c.administration_id)
        .subquery()
    )
    query = select(
        counts.c.administration_id,
        administrations.c.code,
        administrations.c.registry_id,
        administrations.c.status,
        counts.c.count,
        counts.c.oldest,
    ).join(administrations, administrations.c.id == counts.c.administration_id)
    return [PendingAdministration(*row) for row in session.execute(query)]


def administration_identity(session: Session, administration_id: int) -> tuple[str, str]:
    """An administration's (code, bytes32 registry id as 0x-hex)."""
    query = select(administrations.c.code, administrations.c.registry_id).where(
        administrations.c.id == administration_id
    )
    code, registry_id = session.execute(query).one()
    return code, registry_id


def take_outbox(session: Session, administration_id: int, limit: int) -> list[OutboxItem]:
    """The first `limit` outbox entries of one administration by `seq`, locked against other workers.

    PostgreSQL: `FOR UPDATE OF notary_outbox SKIP LOCKED`, so concurrent workers take disjoint rows. SQLite renders
    no lock: one worker per SQLite database is assumed (docs/notary.md, "Durability").
    """
    query = (
        select(outbox.c.document_id, documents.c.document_hash, documents.c.salt)
        .join(documents, documents.c.id == outbox.c.document_id)
        .where(outbox.c.administration_id == administration_id)
        .order_by(outbox.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
    )
    return [OutboxItem(*row) for row in session.execute(query)]


def insert_batch(session: Session, *, administration_id: int, root: str, size: int, tree: bytes) -> int:
    statement = (
        insert(batches)
        .values(
            administration_id=administration_id,
            root=root,
            size=size,
            tree=tree,
            status="anchoring",
            created_at=utcnow(),
        )
        .returning(batches.c.id)
    )
    return int(session.execute(statement).scalar_one())


def place_documents(session: Session, batch_id: int, items: Sequence[OutboxItem], leaves: Sequence[bytes]) -> None:
    """Set each document's batch, leaf and index, and take its entries out of the outbox.

    Straight to the driver: building SQLAlchemy parameters for 10,000 rows costs more than the statements. On
    SQLite, one statement each over a JSON array (as `repository.insert_documents`): an executemany would wait for
    the interpreter once per row while the API's threads are busy, holding the database's write lock meanwhile.
    """
    cursor = session.connection().connection.cursor()
    try:
        if session.get_bind().dialect.name == "sqlite":
            # Leaves as one blob of 32 bytes each, document k's at offset 32 k: JSON holds no bytes.
            placements = json.dumps([item.document_id for item in items])
            cursor.execute(
                "UPDATE documents SET batch_id = ?, leaf = substr(?, placed.key * 32 + 1, 32), leaf_index = placed.key"
                " FROM json_each(?) AS placed WHERE documents.id = placed.value",
                (batch_id, b"".join(leaves), placements),
            )
            cursor.execute(
                "DELETE FROM notary_outbox WHERE document_id IN (SELECT value FROM json_each(?))",
                (json.dumps([item.document_id for item in items]),),
            )
            return
        # PostgreSQL: one statement each over arrays, where an executemany runs one statement per document.
        ids = [item.document_id for item in items]
        cursor.execute(
            "UPDATE documents SET batch_id = %s, leaf = placed.leaf, leaf_index = placed.ord - 1"
            " FROM unnest(%s::varchar[], %s::bytea[]) WITH ORDINALITY AS placed(id, leaf, ord)"
            " WHERE documents.id = placed.id",
            (batch_id, ids, list(leaves)),
        )
        cursor.execute("DELETE FROM notary_outbox WHERE document_id = ANY(%s::varchar[])", (ids,))
    finally:
        cursor.close()


_BATCH_COLUMNS = (
    batches.c.id,
    batches.c.administration_id,
    administrations.c.code,
    administrations.c.registry_id,
    batches.c.root,
    batches.c.size,
    batches.c.created_at,
    batches.c.transaction_hash,
)


def batches_with_status(
    session: Session, status: str, *, after_id: int = 0, limit: int | None = None
) -> list[BatchToAnchor]:
    query = (
        select(*_BATCH_COLUMNS)
        .join(administrations, administrations.c.id == batches.c.administration_id)
        .where(batches.c.status == status, batches.c.id > after_id)
        .order_by(batches.c.id)
        .limit(limit)
    )
    return [BatchToAnchor(*row) for row in session.execute(query)]


def first_account(session: Session, administration_id: int) -> tuple[str, str] | None:
    """The (address, sealed key) of the account an administration anchors from: its first one."""
    query = (
        select(accounts.c.address, accounts.c.sealed_key)
        .where(accounts.c.administration_id == administration_id)
        .order_by(accounts.c.created_at, accounts.c.address)
        .limit(1)
    )
    row = session.execute(query).first()
    return (row[0], row[1]) if row else None


def mark_anchored(session: Session, batch_id: int, chain_fields: dict[str, Any]) -> int:
    """T2: the batch is anchored with its transaction data; returns how many documents that anchors.

    The documents' rows are not written: a document is anchored when its batch is (`repository._RECEIPTS`).
    Idempotent: a batch already anchored (by another worker) changes nothing and counts no document.
    """
    finished = session.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.status == "anchoring")
        .values(status="anchored", anchored_at=utcnow(), **chain_fields)
        .returning(batches.c.size)
    ).first()
    return 0 if finished is None else int(finished[0])


def claim_built(session: Session, batch_id: int) -> bool:
    """Take a batch made at acceptance ("built") for anchoring: it becomes "anchoring" as if this worker had built
    it now. False when another worker took it first."""
    claimed = session.execute(
        update(batches)
        .where(batches.c.id == batch_id, batches.c.status == "built")
        .values(status="anchoring", created_at=utcnow())
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def update_anchor(session: Session, batch_id: int, chain_fields: dict[str, Any]) -> None:
    """Record where an anchored batch's root was anchored again (after a node lost it)."""
    session.execute(update(batches).where(batches.c.id == batch_id).values(**chain_fields))
