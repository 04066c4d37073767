"""The notarisation API other domains call in process (`services.notary.api`), against a real server: notarising
in the caller's transaction, reserved codes, provenance links, first anchoring, kinds."""

import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from segell.services.administrations.models import Administration
from segell.services.errors import NotFound
from segell.services.notary import api as notary
from segell.services.notary.models import Document, DocumentSigner, DocumentSource, OutboxEntry
from segell.services.runtime import Runtime
from tests.helpers import RunningServer


@dataclass
class Tenant:
    id: int
    code: str
    http: httpx.Client


@pytest.fixture(scope="module")
def runtime(segell_server: RunningServer) -> Runtime:
    runtime: Runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def _tenant(server: RunningServer, runtime: Runtime, name: str) -> Iterator[Tenant]:
    key = server.admit(name=name)
    with server.client(key) as http:
        code = http.get("/v1/me").json()["administration"]["code"]
        with runtime.transaction() as session:
            administration_id = session.execute(
                select(Administration.id).where(Administration.code == code)
            ).scalar_one()
        yield Tenant(administration_id, code, http)


@pytest.fixture(scope="module")
def tenant(segell_server: RunningServer, runtime: Runtime) -> Iterator[Tenant]:
    yield from _tenant(segell_server, runtime, "Ajuntament de Vic")


@pytest.fixture(scope="module")
def other(segell_server: RunningServer, runtime: Runtime) -> Iterator[Tenant]:
    yield from _tenant(segell_server, runtime, "Ajuntament de Reus")


def new_hash() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def wait_until_anchored(http: httpx.Client, receipt_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        receipt: dict[str, Any] = http.get(f"/v1/documents/{receipt_id}").json()
        if receipt["status"] != "pending":
            return receipt
        assert time.monotonic() < deadline, f"not anchored: {receipt}"
        time.sleep(0.1)


class CallerFailed(Exception):
    pass


def test_notarise_rolls_back_with_the_callers_transaction(runtime: Runtime, tenant: Tenant) -> None:
    document_hash = new_hash()
    with pytest.raises(CallerFailed), runtime.transaction() as session:
        receipt = notary.notarise(session, tenant.id, document_hash, kind="document", title="Acta")
        assert receipt.status == "pending"
        raise CallerFailed  # the caller's own output failed after notarising

    with runtime.transaction() as session:
        documents = session.execute(select(func.count()).where(Document.document_hash == document_hash)).scalar()
        outbox = session.execute(select(func.count()).where(OutboxEntry.document_id == receipt.id)).scalar()
    assert (documents, outbox) == (0, 0)


def test_notarise_commits_document_and_outbox_row_with_the_callers_transaction(
    runtime: Runtime, tenant: Tenant
) -> None:
    document_hash = new_hash()
    with runtime.transaction() as session:
        receipt = notary.notarise(session, tenant.id, document_hash, kind="document", title="Acta", public=True)

    anchored = wait_until_anchored(tenant.http, receipt.id)
    assert anchored["document_hash"] == document_hash
    assert (anchored["kind"], anchored["title"], anchored["public"]) == ("document", "Acta", True)
    assert anchored["status"] == "anchored"


def test_notarise_under_a_reserved_code_keeps_that_code(runtime: Runtime, tenant: Tenant) -> None:
    with runtime.transaction() as session:
        code = notary.reserve_code(session)
    with runtime.transaction() as session:
        receipt = notary.notarise(session, tenant.id, new_hash(), kind="signed-pdf", code=code)

    assert receipt.verification_code == code.shown
    assert len(code.stored) == 17 and code.shown.replace("-", "") == code.stored


def test_notarise_with_an_unknown_kind_is_refused(runtime: Runtime, tenant: Tenant) -> None:
    with pytest.raises(ValueError, match="unknown kind 'acta'"), runtime.transaction() as session:
        notary.notarise(session, tenant.id, new_hash(), kind="acta")


def test_notarise_with_signers_and_a_public_copy_writes_them_with_the_output(runtime: Runtime, tenant: Tenant) -> None:
    content = b"%PDF-1.7\nsigned output"
    signer = notary.PublicSigner(
        name="Joana Puig", signed_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC), issuer="CN=Segell Sandbox Issuing CA"
    )
    copy = notary.PublicCopy(content, file_name="acta: signada*.pdf", media_type="application/pdf")
    with runtime.transaction() as session:
        receipt = notary.notarise(
            session,
            tenant.id,
            hashlib.sha256(content).hexdigest(),
            kind="signed-pdf",
            signers=[signer],
            public_copy=copy,
        )
    assert receipt.public_copy is True
    with runtime.transaction() as session:
        kept = notary.public_copy_by_code(session, receipt.verification_code)
        (row,) = session.execute(select(DocumentSigner).where(DocumentSigner.document_id == receipt.id)).scalars()
    assert (kept.content, kept.file_name, kept.media_type) == (content, "acta- signada.pdf", "application/pdf")
    assert (row.name, row.signed_at, row.issuer, row.kind) == (signer.name, signer.signed_at, signer.issuer, None)


def test_notarise_with_a_public_copy_of_another_file_is_refused_before_writing(
    runtime: Runtime, tenant: Tenant
) -> None:
    document_hash = new_hash()
    with pytest.raises(ValueError, match="public copy"), runtime.transaction() as session:
        notary.notarise(session, tenant.id, document_hash, kind="document", public_copy=notary.PublicCopy(b"other"))
    with pytest.raises(ValueError, match="served as one of"):
        notary.PublicCopy(b"<html>", media_type="text/html")
    with runtime.transaction() as session:
        assert session.execute(select(func.count()).where(Document.document_hash == document_hash)).scalar() == 0


def test_notarise_derived_from_links_the_sources_in_order(runtime: Runtime, tenant: Tenant) -> None:
    with runtime.transaction() as session:
        first = notary.notarise(session, tenant.id, new_hash(), kind="document", title="Primer")
        second = notary.notarise(session, tenant.id, new_hash(), kind="document", title="Segon")
        derived = notary.notarise(
            session, tenant.id, new_hash(), kind="signed-pdf", derived_from=[second.id, first.id, second.id]
        )

    with runtime.transaction() as session:
        links = session.execute(
            select(DocumentSource.source_id, DocumentSource.position)
            .where(DocumentSource.document_id == derived.id)
            .order_by(DocumentSource.position)
        ).all()
    assert [tuple(link) for link in links] == [(second.id, 0), (first.id, 1)]


def test_notarise_derived_from_a_private_receipt_of_another_administration_is_refused(
    runtime: Runtime, tenant: Tenant, other: Tenant
) -> None:
    with runtime.transaction() as session:
        theirs = notary.notarise(session, other.id, new_hash(), kind="document")
    document_hash = new_hash()

    with pytest.raises(NotFound) as refused, runtime.transaction() as session:
        notary.notarise(session, tenant.id, document_hash, kind="signed-pdf", derived_from=[theirs.id])

    assert refused.value.code == "unknown_source"
    with runtime.transaction() as session:
        assert session.execute(select(func.count()).where(Document.document_hash == document_hash)).scalar() == 0


def test_notarise_derived_from_a_public_receipt_of_another_administration_links_it(
    runtime: Runtime, tenant: Tenant, other: Tenant
) -> None:
    with runtime.transaction() as session:
        theirs = notary.notarise(session, other.id, new_hash(), kind="document", title="Padró", public=True)
        derived = notary.notarise(session, tenant.id, new_hash(), kind="signed-pdf", derived_from=[theirs.id])

    verification = tenant.http.get("/v1/verify", params={"code": derived.verification_code}).json()
    (match,) = verification["matches"]
    assert match["derived_from"] == [
        {
            "verification_code": theirs.verification_code,
            "administration": {"code": other.code, "name": "Ajuntament de Reus"},
            "kind": "document",
            "kind_labels": {"ca": "Document", "es": "Documento", "en": "Document"},
            "title": "Padró",
        }
    ]


def test_notarise_again_keeps_the_first_links(runtime: Runtime, tenant: Tenant) -> None:
    document_hash = new_hash()
    with runtime.transaction() as session:
        source = notary.notarise(session, tenant.id, new_hash(), kind="document")
        first = notary.notarise(session, tenant.id, document_hash, kind="signed-pdf", derived_from=[source.id])
    with runtime.transaction() as session:
        again = notary.notarise(session, tenant.id, document_hash, kind="signed-pdf", derived_from=[])
        links = session.execute(select(DocumentSource.source_id).where(DocumentSource.document_id == first.id))
        assert list(links.scalars()) == [source.id]
    assert again.id == first.id


def test_notarise_many_writes_each_output_and_links_an_answer_to_its_request(
    runtime: Runtime, tenant: Tenant, other: Tenant
) -> None:
    hashes = [new_hash() for _ in range(4)]
    with runtime.transaction() as session:
        receipts = notary.notarise_many(
            session,
            [
                notary.Output(tenant.id, hashes[0], "interop-request", title="A", public=True),
                notary.Output(other.id, hashes[1], "interop-answer", title="A", public=True, derived_from=[0]),
                notary.Output(tenant.id, hashes[2], "interop-request", title="B", public=True),
                notary.Output(other.id, hashes[3], "interop-answer", title="B", public=True, derived_from=[2]),
            ],
        )

    assert [receipt.document_hash for receipt in receipts] == hashes
    assert [receipt.kind for receipt in receipts] == ["interop-request", "interop-answer"] * 2
    assert all(receipt.status == "pending" and receipt.public for receipt in receipts)
    with runtime.transaction() as session:
        links = session.execute(
            select(DocumentSource.document_id, DocumentSource.source_id, DocumentSource.position).where(
                DocumentSource.document_id.in_([receipts[1].id, receipts[3].id])
            )
        ).all()
        outbox = session.execute(
            select(func.count()).where(OutboxEntry.document_id.in_([receipt.id for receipt in receipts]))
        ).scalar()
        owners = dict(
            session.execute(
                select(Document.id, Document.administration_id).where(Document.id.in_([r.id for r in receipts]))
            ).all()
        )
    assert sorted(tuple(link) for link in links) == sorted(
        [(receipts[1].id, receipts[0].id, 0), (receipts[3].id, receipts[2].id, 0)]
    )
    assert outbox == 4
    assert [owners[receipt.id] for receipt in receipts] == [tenant.id, other.id, tenant.id, other.id]
    answer = other.http.get(f"/v1/documents/{receipts[1].id}")
    assert answer.status_code == 200 and answer.json()["document_hash"] == hashes[1]


def test_notarise_many_keeps_the_receipt_and_links_of_an_output_notarised_before(
    runtime: Runtime, tenant: Tenant
) -> None:
    known_hash, new_source = new_hash(), new_hash()
    with runtime.transaction() as session:
        first = notary.notarise(session, tenant.id, known_hash, kind="document")
    with runtime.transaction() as session:
        source, again = notary.notarise_many(
            session,
            [
                notary.Output(tenant.id, new_source, "document"),
                notary.Output(tenant.id, known_hash, "signed-pdf", derived_from=[0]),
            ],
        )
        links = session.execute(select(DocumentSource.source_id).where(DocumentSource.document_id == first.id))
        assert list(links.scalars()) == []
    assert again.id == first.id and again.kind == "document"
    assert source.document_hash == new_source


def test_notarise_many_derived_from_a_private_output_of_another_administration_is_refused(
    runtime: Runtime, tenant: Tenant, other: Tenant
) -> None:
    hashes = [new_hash(), new_hash()]
    with pytest.raises(NotFound) as refused, runtime.transaction() as session:
        notary.notarise_many(
            session,
            [
                notary.Output(other.id, hashes[0], "interop-request"),
                notary.Output(tenant.id, hashes[1], "interop-answer", derived_from=[0]),
            ],
        )

    assert refused.value.code == "unknown_source"
    with runtime.transaction() as session:
        assert session.execute(select(func.count()).where(Document.document_hash.in_(hashes))).scalar() == 0


def test_notarise_many_with_an_unknown_kind_or_a_later_source_is_refused_before_writing(
    runtime: Runtime, tenant: Tenant
) -> None:
    document_hash = new_hash()
    with pytest.raises(ValueError, match="unknown kind"), runtime.transaction() as session:
        notary.notarise_many(session, [notary.Output(tenant.id, document_hash, "no-such-kind")])
    with pytest.raises(ValueError, match="name only outputs before it"), runtime.transaction() as session:
        notary.notarise_many(session, [notary.Output(tenant.id, document_hash, "document", derived_from=[0])])
    with runtime.transaction() as session:
        assert session.execute(select(func.count()).where(Document.document_hash == document_hash)).scalar() == 0


def test_first_anchoring_answers_the_earliest_anchor_of_any_hash(
    runtime: Runtime, segell_server: RunningServer, tenant: Tenant, other: Tenant
) -> None:
    earlier, later, never = new_hash(), new_hash(), new_hash()
    with runtime.transaction() as session:
        first = notary.notarise(session, tenant.id, earlier, kind="document")
    anchored = wait_until_anchored(tenant.http, first.id)
    time.sleep(1.1)  # a later block, with a later timestamp
    with runtime.transaction() as session:
        second = notary.notarise(session, other.id, later, kind="document")
    wait_until_anchored(other.http, second.id)
    anchored_roots = segell_server.app.state.anchored_roots  # type: ignore[attr-defined]

    with runtime.transaction() as session:
        found = notary.first_anchoring(session, runtime, anchored_roots, [later, earlier, never])
        nothing = notary.first_anchoring(session, runtime, anchored_roots, [never])

    assert found is not None
    assert (found.receipt_id, found.verification_code) == (first.id, first.verification_code)
    assert found.block_number == anchored["anchor"]["block_number"]
    assert found.transaction_hash == anchored["anchor"]["transaction_hash"]
    assert int(found.anchored_at.timestamp()) == anchored["anchor"]["block_timestamp"]
    assert nothing is None


def test_kinds_have_labels_in_catalan_spanish_and_english() -> None:
    labels = {entry.kind: dict(entry.labels) for entry in notary.kinds()}

    assert labels["signed-pdf"] == {
        "ca": "Document PDF signat",
        "es": "Documento PDF firmado",
        "en": "Signed PDF document",
    }
    assert {"document", "signed-pdf", "cms-signature", "certificate", "certificate-revocation"} <= set(labels)
    assert all(set(entry) == {"ca", "es", "en"} and all(entry.values()) for entry in labels.values())
