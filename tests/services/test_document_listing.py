"""An administration's documents listed page by page (`GET /v1/documents`) and their proof bundles fetched in bulk
(`POST /v1/documents/bundles`, the streamed `GET /v1/documents/bundles`), against a real server whose anchoring
the tests drive themselves: what is pending stays pending until a test anchors it."""

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from segell.sdk import verify_bundle_proof
from segell.services.notary import repository
from segell.services.notary.anchoring import AnchoringWorker
from segell.services.notary.repository import ReceiptFilter
from segell.services.notary.settings import NotarySettings
from tests.helpers import PostgresSchemas, RunningServer, make_settings, runtime_of, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("segell-listing"), NotarySettings(anchoring_worker=False, batch_max_wait=0)
    )
    yield from serve(settings)


def anchor(server: RunningServer) -> int:
    """Anchor every pending document now; how many were."""
    return AnchoringWorker(runtime_of(server)).run_once()


@pytest.fixture(scope="module")
def issuer(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client(server.admit()) as client:
        yield client


@pytest.fixture(scope="module")
def other_issuer(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client(server.admit()) as client:
        yield client


def new_kind() -> str:
    """A kind of this test's own: filtering by it leaves out what the module's other tests notarised."""
    return f"k{secrets.token_hex(6)}"


def submit(client: httpx.Client, count: int, **fields: Any) -> list[dict[str, Any]]:
    response = client.post(
        "/v1/documents/batch", json={"hashes": [secrets.token_hex(32) for _ in range(count)], **fields}
    )
    assert response.status_code == 202, response.text
    return list(response.json()["items"])


def submit_one(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/documents", json={"hash": secrets.token_hex(32), **fields})
    assert response.status_code == 202, response.text
    return dict(response.json())


def every_page(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Each page's answer, following `next_cursor` to the end."""
    pages, cursor = [], None
    while True:
        response = client.get("/v1/documents", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


def listed_ids(client: httpx.Client, **params: Any) -> list[str]:
    return [item["id"] for page in every_page(client, limit=1000, **params) for item in page["items"]]


def newest_first(receipts: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(receipts, key=lambda r: (r["created_at"], r["id"]), reverse=True)]


def test_pages_follow_one_another_newest_first_without_gaps_or_repeats(issuer: httpx.Client) -> None:
    kind = new_kind()
    # A batch's documents share their acceptance time: the id orders them.
    receipts = submit(issuer, 12, kind=kind) + [submit_one(issuer, kind=kind) for _ in range(3)]
    receipts += submit(issuer, 4, kind=kind)

    pages = every_page(issuer, limit=5, kind=kind)

    assert [len(page["items"]) for page in pages] == [5, 5, 5, 4]
    assert [item["id"] for page in pages for item in page["items"]] == newest_first(receipts)
    assert all(page["next_cursor"] for page in pages[:-1]) and pages[-1]["next_cursor"] is None


def test_a_page_is_the_same_receipt_as_the_document_answers(issuer: httpx.Client) -> None:
    receipt = submit_one(issuer, kind="acta", title="Acta del Ple", metadata={"sessio": 3})

    (listed,) = issuer.get("/v1/documents", params={"limit": 1}).json()["items"]

    assert listed == receipt == issuer.get(f"/v1/documents/{receipt['id']}").json()


def test_list_filters_by_kind_status_and_acceptance_time(server: RunningServer, issuer: httpx.Client) -> None:
    decree, minute = new_kind(), new_kind()
    decrees = submit(issuer, 3, kind=decree)
    anchor(server)
    revoked = decrees[0]["id"]
    response = issuer.post(f"/v1/documents/{revoked}/revoke", json={"reason": "Substituït"})
    assert response.status_code == 200, response.text
    minutes = [submit_one(issuer, kind=minute) for _ in range(2)]
    cut = minutes[1]["created_at"]  # the later of the two minutes
    today = datetime.fromisoformat(cut).date()

    assert listed_ids(issuer, kind=decree) == newest_first(decrees)
    assert listed_ids(issuer, kind=minute, status="pending") == newest_first(minutes)
    assert listed_ids(issuer, kind=decree, status="anchored") == newest_first(decrees[1:])
    assert listed_ids(issuer, kind=decree, status="revoked") == [revoked]
    assert listed_ids(issuer, kind=decree, status="pending") == []
    # `since` takes what was accepted at or after it, `until` what was accepted before it.
    assert listed_ids(issuer, kind=minute, since=cut) == [minutes[1]["id"]]
    assert listed_ids(issuer, kind=minute, until=cut) == [minutes[0]["id"]]
    # With an offset: the same instant, written as the time an hour ahead.
    shifted = (datetime.fromisoformat(cut) + timedelta(hours=1)).astimezone(UTC).isoformat()
    assert listed_ids(issuer, kind=minute, until=shifted.replace("+00:00", "+01:00")) == [minutes[0]["id"]]
    # A date alone: from its midnight (since), through its end (until).
    assert listed_ids(issuer, kind=minute, since=today.isoformat(), until=today.isoformat()) == newest_first(minutes)
    assert listed_ids(issuer, kind=minute, until=(today - timedelta(days=1)).isoformat()) == []
    assert listed_ids(issuer, kind=minute, since=(today + timedelta(days=1)).isoformat()) == []
    # An empty range is no error: nothing is in it.
    assert listed_ids(issuer, since=today.isoformat(), until=(today - timedelta(days=2)).isoformat()) == []


def other_cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("params", "location", "code"),
    [
        ({"since": "ahir"}, "query.since", "validation_error"),
        ({"since": "2026-02-30"}, "query.since", "validation_error"),
        ({"until": "2026-03-01T10:00"}, "query.until", "validation_error"),
        ({"until": "2026-03-01 10:00:00Z"}, "query.until", "validation_error"),
        ({"status": "signed"}, "query.status", "validation_error"),
        ({"limit": 0}, "query.limit", "validation_error"),
        ({"limit": 1001}, "query.limit", "validation_error"),
        ({"kind": "two words"}, "query.kind", "validation_error"),
        ({"cursor": "not a cursor"}, "query.cursor", "invalid_cursor"),
        ({"cursor": other_cursor({"v": 1, "t": "2026-03-01T00:00:00+00:00"})}, "query.cursor", "invalid_cursor"),
        ({"cursor": other_cursor({"v": 1, "t": "ahir", "i": "0" * 32})}, "query.cursor", "invalid_cursor"),
        (
            {"cursor": other_cursor({"v": 1, "t": "2026-03-01T00:00:00", "i": "0" * 32})},
            "query.cursor",
            "invalid_cursor",
        ),
        (
            {"cursor": other_cursor({"v": 2, "t": "2026-03-01T00:00:00+00:00", "i": "0" * 32})},
            "query.cursor",
            "invalid_cursor",
        ),
        (
            {"cursor": other_cursor({"v": 1, "t": "2026-03-01T00:00:00+00:00", "i": "../x"})},
            "query.cursor",
            "invalid_cursor",
        ),
        ({"cursor": other_cursor([1, 2, 3])}, "query.cursor", "invalid_cursor"),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else str(value),
)
def test_list_with_a_bad_filter_or_cursor_answers_422_naming_it(
    issuer: httpx.Client, params: dict[str, Any], location: str, code: str
) -> None:
    response = issuer.get("/v1/documents", params=params)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["details"][0]["location"] == location
    assert location in error["message"]


def test_bad_dates_say_what_a_date_looks_like(issuer: httpx.Client) -> None:
    for path in ("/v1/documents", "/v1/documents/bundles"):
        response = issuer.get(path, params={"since": "1/3/2026"})
        assert response.status_code == 422
        assert "2026-03-01T09:30:00Z" in response.json()["error"]["message"]


def test_bundles_answer_anchored_documents_name_pending_and_missing_ones(
    server: RunningServer, issuer: httpx.Client
) -> None:
    anchored = submit(issuer, 3, kind="certificat")
    anchor(server)
    pending = submit_one(issuer)
    unknown_id, unknown_hash = secrets.token_hex(16), secrets.token_hex(32)
    body = {
        "ids": [anchored[2]["id"], pending["id"], unknown_id, anchored[0]["id"], anchored[2]["id"]],
        "hashes": ["0x" + anchored[1]["document_hash"].upper(), anchored[0]["document_hash"], unknown_hash],
    }

    response = issuer.post("/v1/documents/bundles", json=body)

    assert response.status_code == 200, response.text
    found = response.json()
    # By id first, then by hash; each document once.
    assert [bundle["receipt"]["id"] for bundle in found["items"]] == [anchored[i]["id"] for i in (2, 0, 1)]
    assert found["pending"] == [pending["id"]]
    assert found["missing"] == [unknown_id, unknown_hash]
    for bundle in found["items"]:
        assert bundle == issuer.get(f"/v1/documents/{bundle['receipt']['id']}/bundle").json()
        assert verify_bundle_proof(bundle, bundle["document_hash"]).status == "proof_valid"


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({}, "body"),
        ({"ids": [], "hashes": []}, "body"),
        ({"ids": ["0" * 32] * 1001}, "body.ids"),
        ({"hashes": ["ab" * 32] * 1001}, "body.hashes"),
        ({"ids": ["../../etc/passwd"]}, "body.ids.0"),
        ({"hashes": ["not a hash"]}, "body.hashes.0"),
        ({"ids": ["0" * 32], "codes": ["X"]}, "body.codes"),
    ],
    ids=["empty", "empty-lists", "too-many-ids", "too-many-hashes", "bad-id", "bad-hash", "unknown-field"],
)
def test_bundles_of_a_bad_request_answer_422_naming_what(
    issuer: httpx.Client, body: dict[str, Any], location: str
) -> None:
    response = issuer.post("/v1/documents/bundles", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["location"] == location


def exported(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """The bundles streamed by the export, and how many documents it says it left out as pending."""
    with client.stream("GET", "/v1/documents/bundles", params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = list(response.iter_lines())
    return [json.loads(line) for line in lines], int(response.headers["x-segell-pending"])


def test_export_streams_a_bundle_per_anchored_document_newest_first(server: RunningServer) -> None:
    # An administration of its own: the export without filters, and its count of pending documents, take all it has.
    with server.client(server.admit()) as client:
        minutes = submit(client, 205, kind="acta")  # more than one of the export's reads
        decrees = submit(client, 2, kind="decret")
        anchor(server)
        pending = submit(client, 3, kind="acta")

        bundles, pending_count = exported(client, kind="acta")
        everything, pending_everything = exported(client)
        later, _ = exported(client, since=minutes[0]["created_at"], until=decrees[0]["created_at"])

    assert [bundle["receipt"]["id"] for bundle in bundles] == newest_first(minutes)
    assert pending_count == len(pending)
    assert {bundle["receipt"]["kind"] for bundle in bundles} == {"acta"}
    assert [bundle["receipt"]["id"] for bundle in everything] == newest_first(minutes + decrees)
    assert pending_everything == len(pending)
    assert [bundle["receipt"]["id"] for bundle in later] == newest_first(minutes)
    one = bundles[17]
    with server.client() as anonymous:
        by_code = anonymous.get(f"/v1/verify/{one['receipt']['verification_code']}/bundle").json()
    assert one == by_code
    assert verify_bundle_proof(one, one["document_hash"]).status == "proof_valid"


def test_another_administration_never_sees_your_documents(
    server: RunningServer, issuer: httpx.Client, other_issuer: httpx.Client
) -> None:
    theirs = submit_one(other_issuer, kind="padró")
    mine = submit(issuer, 3, kind="padró")
    anchor(server)
    mine_pending = submit_one(issuer, kind="padró")
    my_page = issuer.get("/v1/documents", params={"limit": 1}).json()

    their_ids = listed_ids(other_issuer)
    their_bundles = other_issuer.post(
        "/v1/documents/bundles",
        json={"ids": [r["id"] for r in [*mine, mine_pending]], "hashes": [r["document_hash"] for r in mine]},
    ).json()
    exported_bundles, pending_count = exported(other_issuer, kind="padró")
    # My cursor only says where a page ended: it lists their own documents, never mine.
    with_my_cursor = other_issuer.get("/v1/documents", params={"cursor": my_page["next_cursor"]}).json()

    assert their_ids == [theirs["id"]]
    assert their_bundles["items"] == [] and their_bundles["pending"] == []
    assert their_bundles["missing"] == [r["id"] for r in [*mine, mine_pending]] + [r["document_hash"] for r in mine]
    assert [bundle["receipt"]["id"] for bundle in exported_bundles] == [theirs["id"]] and pending_count == 0
    assert [item["id"] for item in with_my_cursor["items"]] == [theirs["id"]]
    assert {r["id"] for r in mine} <= set(listed_ids(issuer))


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/documents"), ("GET", "/v1/documents/bundles"), ("POST", "/v1/documents/bundles")],
)
def test_listing_and_bundles_need_an_administration_key(server: RunningServer, method: str, path: str) -> None:
    body = {"json": {"ids": ["0" * 32]}} if method == "POST" else {}
    with server.client(server.governance_key) as governance, server.client() as anonymous:
        as_governance = governance.request(method, path, **body)
        without_key = anonymous.request(method, path, **body)

    assert as_governance.status_code == 403
    assert as_governance.json()["error"]["code"] == "administration_key_required"
    assert without_key.status_code == 401


def test_a_page_is_read_through_the_index_by_administration_and_time(server: RunningServer) -> None:
    runtime = runtime_of(server)
    where = ReceiptFilter(kind="acta", since=datetime(2026, 1, 1, tzinfo=UTC))
    query = repository.page_query(1, where, before=(datetime.now(UTC), "f" * 32), limit=100)
    with runtime.transaction() as session:
        compiled = query.compile(dialect=session.get_bind().dialect)
        values = [compiled.params[name] for name in compiled.positiontup or ()]
        parameters = tuple(str(value) if isinstance(value, datetime) else value for value in values)
        plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters).all()
    steps = " | ".join(str(row[-1]) for row in plan)

    assert "ix_documents_administration_created" in steps, steps
    assert "TEMP B-TREE" not in steps, steps  # no sort: the index gives the order


@pytest.fixture(scope="module")
def postgres_server(postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server on a PostgreSQL schema of its own (SEGELL_TEST_POSTGRES_URL), anchoring when a test says."""
    with postgres.schema("segell_listing") as database_url:
        home = tmp_path_factory.mktemp("segell-listing-postgres")
        settings = make_settings(
            home, NotarySettings(anchoring_worker=False, batch_max_wait=0), database_url=database_url
        )
        yield from serve(settings)


@pytest.mark.postgres
def test_pages_filters_and_bulk_bundles_on_postgresql(postgres_server: RunningServer) -> None:
    with (
        postgres_server.client(postgres_server.admit()) as client,
        postgres_server.client(postgres_server.admit()) as other,
    ):
        anchored = submit(client, 7, kind="acta") + [submit_one(client, kind="acta") for _ in range(2)]
        anchor(postgres_server)
        pending = submit_one(client, kind="acta")
        theirs = submit_one(other, kind="acta")

        pages = every_page(client, limit=4, kind="acta")
        found = client.post("/v1/documents/bundles", json={"ids": [r["id"] for r in [*anchored, pending, theirs]]})
        bundles, pending_count = exported(client, since=anchored[0]["created_at"])

        assert [item["id"] for page in pages for item in page["items"]] == newest_first([*anchored, pending])
        assert listed_ids(client, status="pending") == [pending["id"]]
        assert listed_ids(client, until=anchored[-1]["created_at"]) == newest_first(anchored[:-1])
        assert listed_ids(other) == [theirs["id"]]
        assert [bundle["receipt"]["id"] for bundle in found.json()["items"]] == [r["id"] for r in anchored]
        assert (found.json()["pending"], found.json()["missing"]) == ([pending["id"]], [theirs["id"]])
        assert [bundle["receipt"]["id"] for bundle in bundles] == newest_first(anchored) and pending_count == 1
