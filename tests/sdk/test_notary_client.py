"""The SDK's notary methods against a real Segell server (tests/conftest.py) whose anchoring worker runs in process."""

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from segell.sdk import (
    BATCH_LIMIT,
    BUNDLES_LIMIT,
    AnchorTimeoutError,
    Client,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    Receipt,
    SegellError,
    ValidationError,
    verify_bundle_proof,
)
from segell.services.notary.settings import NotarySettings
from tests.helpers import RunningServer, make_settings, serve

# New codes end in a symbol of their own alphabet: no `* ~ $ = U`.
CODE_PATTERN = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z]")
ANCHOR_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def issuer_key(segell_server: RunningServer) -> str:
    return segell_server.admit(name="Ajuntament de Prova")


@pytest.fixture
def issuer(segell_server: RunningServer, issuer_key: str) -> Iterator[Client]:
    with Client(segell_server.url, issuer_key, timeout=60) as client:
        yield client


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that keeps the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


def document(directory: Path, text: str = "Resolució d'alcaldia") -> Path:
    path = directory / f"doc-{secrets.token_hex(4)}.txt"
    path.write_text(f"{text} {secrets.token_hex(8)}\n")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_notarise_path_streams_the_file_and_returns_a_receipt(
    segell_server: RunningServer, issuer_key: str, tmp_path: Path
) -> None:
    path = document(tmp_path)
    transport = RecordingTransport()
    with Client(segell_server.url, issuer_key, transport=transport) as client:
        receipt = client.documents.notarise(
            path, kind="resolution", title="Resolució 12/2026", metadata={"expedient": "2026/0042", "pàgines": 3}
        )

    assert receipt.status in ("pending", "anchored")
    assert receipt.document_hash == sha256(path)
    assert CODE_PATTERN.fullmatch(receipt.verification_code), receipt.verification_code
    assert (receipt.kind, receipt.title) == ("resolution", "Resolució 12/2026")
    assert receipt.metadata == {"expedient": "2026/0042", "pàgines": 3}
    assert receipt.salted is False
    assert abs(datetime.now(UTC) - receipt.created_at) < timedelta(minutes=5)
    assert receipt.links["bundle"].endswith(f"/v1/documents/{receipt.id}/bundle")
    (request,) = transport.requests
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.headers["Content-Length"] == str(path.stat().st_size)
    assert not isinstance(request.stream, httpx.ByteStream), "a path is sent from the open file, not from memory"


def test_notarise_bytes_then_its_hash_answers_the_same_receipt(issuer: Client) -> None:
    content = f"Certificat d'empadronament {secrets.token_hex(8)}".encode()
    digest = hashlib.sha256(content).hexdigest()

    from_bytes = issuer.documents.notarise(content, kind="certificate")
    from_hash = issuer.documents.notarise(digest)
    from_0x_upper = issuer.documents.notarise("0x" + digest.upper())

    assert from_bytes.document_hash == digest
    assert from_hash.id == from_bytes.id == from_0x_upper.id
    assert from_hash.verification_code == from_bytes.verification_code


def test_notarise_hash_with_metadata_and_salt(issuer: Client) -> None:
    digest = secrets.token_hex(32)

    receipt = issuer.documents.notarise(
        digest, kind="license", title="Llicència d'obres", metadata={"n": 1}, salted=True
    )

    assert receipt.document_hash == digest
    assert receipt.salted is True
    assert (receipt.kind, receipt.title, receipt.metadata) == ("license", "Llicència d'obres", {"n": 1})


def test_notarise_public_salted_documents_shows_kind_and_title_to_verification_by_hash(
    issuer: Client, tmp_path: Path
) -> None:
    path = tmp_path / "certificat.pdf"
    path.write_bytes(secrets.token_bytes(300))
    private_digest = secrets.token_hex(32)

    by_file = issuer.documents.notarise(path, kind="certificat", title="Certificat", salted=True, public=True)
    by_hash = issuer.documents.notarise(private_digest, kind="certificat", title="Certificat", salted=True)
    (many,) = issuer.documents.notarise_many([secrets.token_hex(32)], kind="padró", salted=True, public=True)
    for receipt in (by_file, by_hash, many):
        issuer.documents.wait_until_anchored(receipt.id, timeout=ANCHOR_TIMEOUT_S)

    assert (by_file.public, by_hash.public, many.public) == (True, False, True)
    (shown,) = issuer.documents.verify(path=path).matches
    (withheld,) = issuer.documents.verify(hash=private_digest).matches
    (shown_many,) = issuer.documents.verify(hash=many.document_hash).matches
    assert (shown.kind, shown.title) == ("certificat", "Certificat")
    assert (withheld.status, withheld.kind, withheld.title) == ("authentic", None, None)
    assert shown_many.kind == "padró"


def test_notarise_with_same_idempotency_key_answers_the_same_receipt(issuer: Client) -> None:
    key = f"expedient-{secrets.token_hex(6)}"
    digest = secrets.token_hex(32)

    first = issuer.documents.notarise(digest, idempotency_key=key)
    again = issuer.documents.notarise(digest, idempotency_key=key)
    with pytest.raises(ConflictError):  # the key is bound to its first payload
        issuer.documents.notarise(secrets.token_hex(32), idempotency_key=key)

    assert again == issuer.documents.get(first.id)
    assert again.id == first.id


def test_notarise_many_mixes_hashes_and_paths_keeping_their_order(issuer: Client, tmp_path: Path) -> None:
    paths = [document(tmp_path, f"Certificat {n}") for n in range(3)]
    hashes = [secrets.token_hex(32) for _ in range(2)]
    items: list[str | Path] = [hashes[0], paths[0], str(paths[1]), hashes[1], paths[2]]

    receipts = issuer.documents.notarise_many(items, kind="certificate")

    expected = [hashes[0], sha256(paths[0]), sha256(paths[1]), hashes[1], sha256(paths[2])]
    assert [receipt.document_hash for receipt in receipts] == expected
    assert len({receipt.id for receipt in receipts}) == 5
    assert {receipt.kind for receipt in receipts} == {"certificate"}


@pytest.mark.slow
def test_notarise_many_sends_chunks_of_the_batch_limit(segell_server: RunningServer, issuer_key: str) -> None:
    hashes = [secrets.token_hex(32) for _ in range(BATCH_LIMIT + 1)]
    transport = RecordingTransport()
    with Client(segell_server.url, issuer_key, timeout=120, transport=transport) as client:
        receipts = client.documents.notarise_many(hashes)

    assert [request.url.path for request in transport.requests] == ["/v1/documents/batch"] * 2
    # Both chunks are sent at once: either may arrive first.
    assert sorted(len(json.loads(request.content)["hashes"]) for request in transport.requests) == [1, BATCH_LIMIT]
    assert [receipt.document_hash for receipt in receipts] == hashes


def test_wait_until_anchored_then_status_and_bundle(issuer: Client, tmp_path: Path) -> None:
    path = document(tmp_path)
    submitted = issuer.documents.notarise(path, title="Acta")

    anchored = issuer.documents.wait_until_anchored(submitted.id, timeout=ANCHOR_TIMEOUT_S)
    bundle = issuer.documents.bundle(submitted.id)

    assert anchored.status == "anchored" and anchored.is_anchored
    assert anchored.anchor is not None
    assert issuer.documents.get(submitted.id) == anchored
    assert bundle["format"] == "segell-proof-bundle" and bundle["version"] == 1
    assert bundle["document_hash"] == "0x" + sha256(path)
    assert bundle["root"] == anchored.anchor.root
    assert bundle["leaf"] == anchored.anchor.leaf
    assert bundle["leaf_index"] == anchored.anchor.leaf_index
    assert bundle["chain"]["block_number"] == anchored.anchor.block_number
    assert bundle["chain"]["transaction_hash"] == anchored.anchor.transaction_hash
    assert bundle["receipt"]["verification_code"] == anchored.verification_code


def test_wait_for_bundles_of_many_documents_takes_a_few_requests(segell_server: RunningServer, issuer_key: str) -> None:
    hashes = [secrets.token_hex(32) for _ in range(BUNDLES_LIMIT + 1)]
    transport = RecordingTransport()
    with Client(segell_server.url, issuer_key, timeout=60, transport=transport) as client:
        receipts = client.documents.notarise_many(hashes, kind="certificat")
        transport.requests.clear()

        bundles = client.documents.wait_for_bundles([receipt.id for receipt in receipts], timeout=ANCHOR_TIMEOUT_S)

    assert [bundle["receipt"]["id"] for bundle in bundles] == [receipt.id for receipt in receipts]
    assert [bundle["document_hash"] for bundle in bundles] == ["0x" + h for h in hashes]
    assert verify_bundle_proof(bundles[-1], hashes[-1]).status == "proof_valid"
    # Two requests a round (a thousand ids each), a round every quarter of a second at most: not two per document.
    assert {(request.method, request.url.path) for request in transport.requests} == {("POST", "/v1/documents/bundles")}
    assert len(transport.requests) <= 40, len(transport.requests)


def test_list_pages_and_iterate_over_them_newest_first(issuer: Client) -> None:
    kind = f"k{secrets.token_hex(6)}"
    receipts = issuer.documents.notarise_many([secrets.token_hex(32) for _ in range(7)], kind=kind)
    newest_first = sorted(receipts, key=lambda receipt: (receipt.created_at, receipt.id), reverse=True)
    today = receipts[0].created_at.date()

    first = issuer.documents.list(kind=kind, limit=3)
    second = issuer.documents.list(kind=kind, limit=3, cursor=first.next_cursor)
    every = list(issuer.documents.iterate(kind=kind, page_size=3))
    # Dates and datetimes as Python objects; a datetime without a time zone is UTC.
    that_day = list(issuer.documents.iterate(kind=kind, since=today, until=today))
    before = issuer.documents.list(kind=kind, until=datetime.combine(today, datetime.min.time()))

    assert [r.id for r in first.items + second.items] == [r.id for r in newest_first[:6]]
    assert first.next_cursor is not None and second.next_cursor is not None
    assert [r.id for r in every] == [r.id for r in that_day] == [r.id for r in newest_first]
    assert all(r.kind == kind and r.status in ("pending", "anchored") for r in every)
    assert before.items == () and before.next_cursor is None


def test_list_with_a_bad_cursor_raises_validation_error(issuer: Client) -> None:
    with pytest.raises(ValidationError) as raised:
        issuer.documents.list(cursor="not-a-cursor")

    assert raised.value.code == "invalid_cursor"


def test_export_bundles_streams_anchored_documents(issuer: Client) -> None:
    kind = f"k{secrets.token_hex(6)}"
    receipts = issuer.documents.notarise_many([secrets.token_hex(32) for _ in range(3)], kind=kind)
    issuer.documents.wait_for_bundles([receipt.id for receipt in receipts], timeout=ANCHOR_TIMEOUT_S)

    with issuer.documents.export_bundles(kind=kind) as export:
        bundles = list(export)

    assert export.pending == 0
    assert sorted(bundle["receipt"]["id"] for bundle in bundles) == sorted(receipt.id for receipt in receipts)
    assert bundles == [issuer.documents.bundle(bundle["receipt"]["id"]) for bundle in bundles]


def test_bundles_refuse_a_hash_that_is_not_one_before_sending(issuer: Client) -> None:
    with pytest.raises(ValueError, match="64 digits"):
        issuer.documents.bundles(hashes=["acta.pdf"])


def test_revoke_makes_status_and_public_verification_say_revoked(issuer: Client) -> None:
    digest = secrets.token_hex(32)
    receipt = issuer.documents.wait_until_anchored(issuer.documents.notarise(digest).id, timeout=ANCHOR_TIMEOUT_S)

    revoked = issuer.documents.revoke(receipt.id, "Substituït per la resolució 13/2026")

    assert revoked.status == "revoked"
    assert revoked.revocation is not None
    assert revoked.revocation.reason == "Substituït per la resolució 13/2026"
    assert revoked.revocation.transaction_hash is not None
    assert issuer.documents.get(receipt.id).status == "revoked"
    verification = issuer.documents.verify(hash=digest)
    assert verification.status == "revoked"
    (match,) = verification.matches
    assert match.revocation is not None and match.revocation.reason == "Substituït per la resolució 13/2026"
    with pytest.raises(ConflictError):
        issuer.documents.revoke(receipt.id, "again")


def test_verify_by_hash_code_and_path_is_public(segell_server: RunningServer, issuer: Client, tmp_path: Path) -> None:
    path = document(tmp_path)
    receipt = issuer.documents.wait_until_anchored(
        issuer.documents.notarise(path, kind="minutes").id, timeout=ANCHOR_TIMEOUT_S
    )

    with Client(segell_server.url) as anonymous:
        by_hash = anonymous.documents.verify(hash=receipt.document_hash)
        by_code = anonymous.documents.verify(code=receipt.verification_code.lower().replace("-", " "))
        by_path = anonymous.documents.verify(path=path)
        unknown = anonymous.documents.verify(hash=secrets.token_hex(32))

    assert by_hash == by_code == by_path
    assert by_hash.status == "authentic" and by_hash.is_authentic
    assert by_hash.document_hash == receipt.document_hash
    (match,) = by_hash.matches
    assert match.administration.name == "Ajuntament de Prova"
    assert match.kind == "minutes"
    assert receipt.anchor is not None
    assert match.block_number == receipt.anchor.block_number
    assert match.transaction_hash == receipt.anchor.transaction_hash
    assert match.anchored_at is not None
    assert unknown.status == "unknown" and unknown.matches == () and not unknown.is_authentic


def test_verify_needs_exactly_one_of_hash_code_path(issuer: Client) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        issuer.documents.verify()
    with pytest.raises(ValueError, match="exactly one"):
        issuer.documents.verify(hash=secrets.token_hex(32), code="ABCD")
    with pytest.raises(ValueError, match="64 digits"):
        issuer.documents.verify(hash="abc")


def test_governance_key_cannot_notarise(segell_server: RunningServer) -> None:
    with Client(segell_server.url, segell_server.governance_key) as governance:
        with pytest.raises(PermissionDeniedError) as raised:
            governance.documents.notarise(secrets.token_hex(32))

    assert raised.value.status_code == 403


# -- a server whose documents stay pending: no anchoring worker, a small upload limit ----------------


@pytest.fixture(scope="module")
def pending_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("no-worker")
    yield from serve(make_settings(home, NotarySettings(anchoring_worker=False, max_document_bytes=1024)))


@pytest.fixture
def pending_issuer(pending_server: RunningServer) -> Iterator[Client]:
    with Client(pending_server.url, pending_server.admit(name="Ajuntament en espera")) as client:
        yield client


def test_bundle_of_pending_document_raises_conflict_not_anchored(pending_issuer: Client) -> None:
    receipt = pending_issuer.documents.notarise(secrets.token_hex(32))

    with pytest.raises(ConflictError) as raised:
        pending_issuer.documents.bundle(receipt.id)

    assert receipt.status == "pending" and receipt.anchor is None
    assert raised.value.code == "not_anchored"


def test_wait_until_anchored_times_out_with_anchor_timeout_error(pending_issuer: Client) -> None:
    receipt: Receipt = pending_issuer.documents.notarise(secrets.token_hex(32))

    with pytest.raises(AnchorTimeoutError) as raised:
        pending_issuer.documents.wait_until_anchored(receipt.id, timeout=0.3)

    assert isinstance(raised.value, TimeoutError) and isinstance(raised.value, SegellError)
    assert raised.value.document_id == receipt.id
    assert raised.value.status == "pending"
    assert "still pending after 0.3 seconds" in raised.value.message


def test_file_over_the_size_limit_raises_payload_too_large(pending_issuer: Client, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(secrets.token_bytes(4096))

    with pytest.raises(PayloadTooLargeError) as raised:
        pending_issuer.documents.notarise(big)

    assert raised.value.status_code == 413
    accepted = pending_issuer.documents.notarise(hashlib.sha256(big.read_bytes()).hexdigest())  # its hash is fine
    assert accepted.document_hash == hashlib.sha256(big.read_bytes()).hexdigest()


def test_pending_documents_are_named_then_waited_for_until_the_timeout(pending_issuer: Client) -> None:
    receipts = pending_issuer.documents.notarise_many([secrets.token_hex(32) for _ in range(2)], kind="acta")

    found = pending_issuer.documents.bundles(ids=[receipts[0].id], hashes=[receipts[1].document_hash])
    with pending_issuer.documents.export_bundles(kind="acta") as export:
        exported = list(export)
    with pytest.raises(AnchorTimeoutError) as raised:
        pending_issuer.documents.wait_for_bundles([receipt.id for receipt in receipts], timeout=0.3)

    assert found.items == () and found.missing == ()
    assert found.pending == (receipts[0].id, receipts[1].id)
    assert exported == [] and export.pending == 2
    assert raised.value.document_id == receipts[0].id and raised.value.status == "pending"
    assert "2 of 2 documents are still pending after 0.3 seconds" in raised.value.message


def test_wait_for_bundles_of_an_unknown_document_raises_not_found(pending_issuer: Client) -> None:
    unknown = secrets.token_hex(16)

    with pytest.raises(NotFoundError) as raised:
        pending_issuer.documents.wait_for_bundles([unknown], timeout=1)

    assert raised.value.details == {"missing": [unknown]}
