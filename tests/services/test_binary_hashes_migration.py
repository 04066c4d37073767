"""Migration 0026: a database with documents at 0020 keeps every hash, leaf and root when they become 32-byte
values, and every document stays verifiable (its leaf in its batch's tree, whose root is the batch's), on SQLite and
PostgreSQL; and back down to 0020."""

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segell.chain.merkle import MerkleTree, leaf_hashes, verify_document
from segell.services.db import _migrations_config, create_db_engine, head_revision, migrate
from segell.services.notary import repository
from segell.services.notary.models import Document

REGISTRY_ID = "0x" + b"L01080193".ljust(32, b"\0").hex()
BATCH_SIZE = 5


def _to(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = _migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _documents_at_0020(engine: Engine) -> dict[str, str]:
    """Two anchored batches and three pending documents, written as 0020 stored them (hex text); their ids by hash."""
    _to(engine, "0020")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    hashes = [secrets.token_hex(32) for _ in range(2 * BATCH_SIZE + 3)]
    ids = {h: secrets.token_hex(16) for h in hashes}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO administrations (id, code, registry_id, name, status, admitted_at, language)"
                " VALUES (1, 'L01080193', :registry_id, 'Ajuntament', 'active', :now, 'ca')"
            ),
            {"registry_id": REGISTRY_ID, "now": now},
        )
        for number in (1, 2):
            members = hashes[(number - 1) * BATCH_SIZE : number * BATCH_SIZE]
            leaves = leaf_hashes([bytes.fromhex(h) for h in members], bytes.fromhex(REGISTRY_ID[2:]))
            tree = MerkleTree.build(leaves)
            connection.execute(
                text(
                    "INSERT INTO batches (id, administration_id, root, size, tree, status, created_at)"
                    " VALUES (:id, 1, :root, :size, :tree, 'anchored', :now)"
                ),
                {"id": number, "root": tree.root.hex(), "size": tree.size, "tree": tree.to_bytes(), "now": now},
            )
            for index, (document_hash, leaf) in enumerate(zip(members, leaves, strict=True)):
                _insert_document(connection, ids[document_hash], document_hash, now, number, index, leaf.hex())
        for document_hash in hashes[2 * BATCH_SIZE :]:
            _insert_document(connection, ids[document_hash], document_hash, now, None, None, None)
            connection.execute(
                text(
                    "INSERT INTO notary_outbox (document_id, administration_id, seq, created_at)"
                    " VALUES (:id, 1, :seq, :now)"
                ),
                {"id": ids[document_hash], "seq": len(ids), "now": now},
            )
    return ids


def _insert_document(
    connection: object,
    document_id: str,
    document_hash: str,
    now: str,
    batch: int | None,
    index: int | None,
    leaf: str | None,
) -> None:
    connection.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO documents (id, administration_id, document_hash, verification_code, status, batch_id,"
            " leaf_index, leaf, created_at, public) VALUES (:id, 1, :hash, :code, 'pending', :batch, :index, :leaf,"
            " :now, false)"
        ),
        {
            "id": document_id,
            "hash": document_hash,
            "code": secrets.token_hex(8).upper(),
            "batch": batch,
            "index": index,
            "leaf": leaf,
            "now": now,
        },
    )


def _assert_kept_and_verifiable(engine: Engine, ids: dict[str, str]) -> None:
    octets = "length" if engine.dialect.name == "sqlite" else "octet_length"
    with engine.connect() as connection:
        widths = connection.execute(
            text(
                f"SELECT DISTINCT {octets}(document_hash) FROM documents"
                f" UNION SELECT DISTINCT {octets}(root) FROM batches"
            )
        ).scalars()
        assert set(widths) == {32}
    with Session(engine) as session:
        anchored = 0
        for document_hash, document_id in ids.items():
            [row] = repository.receipts_for_verification(session, document_hash=document_hash)
            assert (row.id, row.document_hash) == (document_id, document_hash)
            if row.batch_id is None:
                assert row.leaf is None
                continue
            tree = MerkleTree.from_bytes(repository.tree_of_batch(session, row.batch_id))
            assert row.root == tree.root.hex()
            assert row.leaf == tree.leaf(row.leaf_index).hex()
            assert verify_document(
                document_hash=bytes.fromhex(row.document_hash),
                administration=bytes.fromhex(REGISTRY_ID[2:]),
                salt=bytes(32),
                index=row.leaf_index,
                proof=tree.proof(row.leaf_index),
                root=bytes.fromhex(row.root),
                size=tree.size,
            )
            anchored += 1
        assert anchored == 2 * BATCH_SIZE


def _assert_hashes_unique(engine: Engine, ids: dict[str, str]) -> None:
    """The unique constraints on (hash, administration) and on roots survive the conversion."""
    existing = next(iter(ids))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(Document.__table__).values(
                id=secrets.token_hex(16),
                administration_id=1,
                document_hash=existing,
                verification_code="X" * 16,
                status="pending",
                created_at=datetime.now(UTC),
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE batches SET root = (SELECT root FROM batches WHERE id = 1) WHERE id = 2"))


def _upgrade_and_back(engine: Engine) -> None:
    ids = _documents_at_0020(engine)
    assert migrate(engine) == head_revision()
    _assert_kept_and_verifiable(engine, ids)
    _assert_hashes_unique(engine, ids)
    _to(engine, "0020", down=True)
    with engine.connect() as connection:
        stored = {row[0]: row[1] for row in connection.execute(text("SELECT document_hash, id FROM documents"))}
        roots = connection.execute(text("SELECT root FROM batches ORDER BY id")).scalars().all()
    assert stored == ids
    assert all(isinstance(root, str) and len(root) == 64 for root in roots)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path}/segell.db")
    yield engine
    engine.dispose()


def test_upgrade_keeps_every_hash_verifiable_on_sqlite(sqlite_engine: Engine) -> None:
    _upgrade_and_back(sqlite_engine)
    with sqlite_engine.connect() as connection:
        # Foreign keys are on again, and every one holds after the tables were rebuilt.
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []


def test_upgrade_keeps_every_hash_verifiable_on_postgres(postgres_database: str) -> None:
    engine = create_db_engine(postgres_database)
    try:
        _upgrade_and_back(engine)
    finally:
        engine.dispose()
