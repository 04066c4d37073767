"""Public verification over real HTTP: by hash, by verification code and by file, before and after anchoring."""

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import delete, insert, select, update

from segell.chain.notary import NotaryClient
from segell.services.db import create_db_engine
from segell.services.errors import SegellError
from segell.services.notary import api as notary_api
from segell.services.notary import service
from segell.services.notary.codes import (
    LEGACY_CHECK_SYMBOLS,
    SYMBOLS,
    check_symbol,
    format_code,
    generate_code,
    parse_code,
)
from segell.services.notary.models import Document
from segell.services.notary.repository import batches, documents, revocations
from segell.services.notary.schemas import Verification
from segell.services.notary.service import AnchoredRoots, Lookup
from segell.services.notary.settings import NotarySettings
from segell.services.notary.verifier import GroupVerifier
from tests.helpers import PostgresSchemas, RunningServer, make_settings, new_hash, runtime_of, serve, wait_anchored

SMALL_LIMIT = 16 * 1024


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def segell_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Every test of this module on SQLite and on PostgreSQL: the lookup goes through each one's driver."""
    home = tmp_path_factory.mktemp("segell-home")
    if request.param == "sqlite":
        yield from serve(make_settings(home))
        return
    postgres: PostgresSchemas = request.getfixturevalue("postgres")
    with postgres.schema("segell_verify") as database_url:
        yield from serve(make_settings(home, database_url=database_url))


@pytest.fixture
def citizen(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No anchoring worker: what is submitted stays pending. Files over 16 KiB are refused."""
    settings = make_settings(
        tmp_path_factory.mktemp("segell-verify"), NotarySettings(anchoring_worker=False, max_document_bytes=SMALL_LIMIT)
    )
    yield from serve(settings)


def test_verify_unknown_hash_answers_unknown(citizen: httpx.Client) -> None:
    document_hash = new_hash()
    response = citizen.get("/v1/verify", params={"hash": "0x" + document_hash.upper()})
    assert response.status_code == 200
    assert response.json() == {"status": "unknown", "document_hash": document_hash, "matches": []}


def test_verify_pending_document_answers_pending(quiet_server: RunningServer) -> None:
    with quiet_server.client(quiet_server.admit("L00000001")) as issuer, quiet_server.client() as citizen:
        receipt = issuer.post("/v1/documents", json={"hash": new_hash(), "kind": "certificat", "title": "Títol"}).json()
        by_hash = citizen.get("/v1/verify", params={"hash": receipt["document_hash"]}).json()
        by_code = citizen.get("/v1/verify", params={"code": receipt["verification_code"]}).json()
    assert by_hash == by_code
    assert by_hash["status"] == "pending"
    assert by_hash["document_hash"] == receipt["document_hash"]
    (match,) = by_hash["matches"]
    assert match == {
        "status": "pending",
        "administration": {"code": "L00000001", "name": "Ajuntament L00000001"},
        "kind": "certificat",
        "kind_labels": None,
        "title": "Títol",
        "anchored_at": None,
        "block_number": None,
        "transaction_hash": None,
        "chain_id": None,
        "contract": None,
        "revocation": None,
        "derived_from": [],
        "signers": [],
        "public_copy": None,
    }


def test_verify_anchored_document_by_hash_code_and_file(
    segell_server: RunningServer, issuer: httpx.Client, citizen: httpx.Client
) -> None:
    content = secrets.token_bytes(50_000)
    receipt = issuer.post(
        "/v1/documents",
        content=content,
        params={"title": "Padró"},
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    anchor = wait_anchored(issuer, receipt["id"])["anchor"]
    code = receipt["verification_code"]
    answers = [
        citizen.get("/v1/verify", params={"hash": hashlib.sha256(content).hexdigest()}),
        citizen.get("/v1/verify", params={"code": code}),
        citizen.get("/v1/verify", params={"code": code.lower().replace("-", " ")}),
        citizen.get(receipt["links"]["verify"]),
        citizen.post("/v1/verify", content=content, headers={"Content-Type": "application/octet-stream"}),
    ]
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    first = answers[0].json()
    assert all(a.json() == first for a in answers)
    assert first["status"] == "authentic"
    assert first["document_hash"] == hashlib.sha256(content).hexdigest()
    (match,) = first["matches"]
    assert match["status"] == "authentic"
    assert match["title"] == "Padró"
    assert match["block_number"] == anchor["block_number"]
    assert match["transaction_hash"] == anchor["transaction_hash"]
    assert match["chain_id"] == anchor["chain_id"] and match["contract"] == anchor["contract"]
    assert datetime.fromisoformat(match["anchored_at"]) == datetime.fromtimestamp(anchor["block_timestamp"], UTC)
    assert match["revocation"] is None


@pytest.mark.parametrize("public", [False, True])
def test_verify_salted_document_by_hash_shows_kind_and_title_only_if_public(
    segell_server: RunningServer, issuer: httpx.Client, citizen: httpx.Client, public: bool
) -> None:
    content = secrets.token_bytes(1_000)
    submitted = [
        issuer.post(
            "/v1/documents",
            json={
                "hash": hashlib.sha256(content).hexdigest(),
                "kind": "certificat",
                "title": "Certificat d'empadronament",
                "salted": True,
                "public": public,
            },
        ),
        # Batches too: the kind is what they carry.
        issuer.post(
            "/v1/documents/batch", json={"hashes": [new_hash()], "kind": "padró", "salted": True, "public": public}
        ),
    ]
    single, batch = submitted[0].json(), submitted[1].json()["items"][0]
    wait_anchored(issuer, single["id"])
    wait_anchored(issuer, batch["id"])

    by_hash = citizen.get("/v1/verify", params={"hash": single["document_hash"]}).json()
    by_file = citizen.post("/v1/verify", content=content, headers={"Content-Type": "application/octet-stream"}).json()
    by_code = citizen.get("/v1/verify", params={"code": single["verification_code"]}).json()
    batch_by_hash = citizen.get("/v1/verify", params={"hash": batch["document_hash"]}).json()

    assert [r.status_code for r in submitted] == [202, 202]
    assert (single["salted"], single["public"], batch["public"]) == (True, public, public)
    assert by_hash == by_file
    (match,) = by_hash["matches"]
    assert match["status"] == "authentic"
    assert match["administration"]["name"].startswith("Ajuntament ")
    assert match["anchored_at"] is not None
    shown = ("certificat", "Certificat d'empadronament") if public else (None, None)
    assert (match["kind"], match["title"]) == shown
    assert (batch_by_hash["matches"][0]["kind"], batch_by_hash["matches"][0]["title"]) == (
        ("padró", None) if public else (None, None)
    )
    # The verification code is printed on the document: whoever has it sees what it is.
    assert (by_code["matches"][0]["kind"], by_code["matches"][0]["title"]) == (
        "certificat",
        "Certificat d'empadronament",
    )


def test_verify_unsalted_document_by_hash_shows_kind_and_title(issuer: httpx.Client, citizen: httpx.Client) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash(), "kind": "acta", "title": "Acta del Ple"}).json()

    (match,) = citizen.get("/v1/verify", params={"hash": receipt["document_hash"]}).json()["matches"]

    assert receipt["public"] is False
    assert (match["kind"], match["title"]) == ("acta", "Acta del Ple")


def test_submit_file_marked_public_says_so_in_its_receipt(issuer: httpx.Client) -> None:
    response = issuer.post(
        "/v1/documents",
        content=secrets.token_bytes(100),
        params={"kind": "certificat", "salted": "true", "public": "true"},
        headers={"Content-Type": "application/octet-stream"},
    )

    assert response.status_code == 202
    assert (response.json()["salted"], response.json()["public"]) == (True, True)


def test_verify_lists_every_administration_and_prefers_authentic_to_revoked(
    issuer: httpx.Client, other_issuer: httpx.Client, citizen: httpx.Client
) -> None:
    document_hash = new_hash()
    mine = issuer.post("/v1/documents", json={"hash": document_hash}).json()
    theirs = other_issuer.post("/v1/documents", json={"hash": document_hash}).json()
    wait_anchored(issuer, mine["id"])
    wait_anchored(other_issuer, theirs["id"])
    assert issuer.post(f"{mine['links']['self']}/revoke", json={"reason": "Anul·lat"}).status_code == 200

    both = citizen.get("/v1/verify", params={"hash": document_hash}).json()
    assert both["status"] == "authentic"
    statuses = {m["administration"]["code"]: m["status"] for m in both["matches"]}
    me, other = (c.get("/v1/me").json()["administration"]["code"] for c in (issuer, other_issuer))
    assert statuses == {me: "revoked", other: "authentic"}
    revoked = next(m for m in both["matches"] if m["status"] == "revoked")
    assert revoked["revocation"]["reason"] == "Anul·lat"
    assert datetime.fromisoformat(revoked["revocation"]["revoked_at"]).tzinfo is not None

    # By its code, the revoked receipt alone.
    by_code = citizen.get("/v1/verify", params={"code": mine["verification_code"]}).json()
    assert by_code["status"] == "revoked"
    assert [m["status"] for m in by_code["matches"]] == ["revoked"]

    assert other_issuer.post(f"{theirs['links']['self']}/revoke", json={"reason": "També"}).status_code == 200
    assert citizen.get("/v1/verify", params={"hash": document_hash}).json()["status"] == "revoked"


def test_verify_mistyped_code_answers_422_invalid_code(issuer: httpx.Client, citizen: httpx.Client) -> None:
    code = issuer.post("/v1/documents", json={"hash": new_hash()}).json()["verification_code"]
    stored = parse_code(code)
    typo = stored[:2] + ("7" if stored[2] != "7" else "8") + stored[3:]
    response = citizen.get("/v1/verify", params={"code": format_code(typo)})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_code"
    assert "mistyped" in error["message"]
    assert error["details"] == [{"location": "query.code", "message": error["message"]}]


def test_verify_unknown_but_well_formed_code_answers_unknown(citizen: httpx.Client) -> None:
    response = citizen.get("/v1/verify", params={"code": format_code(generate_code())})
    assert response.json() == {"status": "unknown", "document_hash": None, "matches": []}


@pytest.mark.parametrize(
    "params",
    [{}, {"hash": "a" * 64, "code": "0000-0000-0000-0000-0"}, {"hash": "xyz"}, {"code": "ABCD"}],
    ids=["neither", "both", "bad-hash", "short-code"],
)
def test_verify_without_exactly_one_valid_lookup_answers_422(citizen: httpx.Client, params: dict) -> None:
    response = citizen.get("/v1/verify", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_verify_with_a_malformed_hash_names_query_hash(citizen: httpx.Client) -> None:
    response = citizen.get("/v1/verify", params={"hash": "xyz"})
    assert response.status_code == 422
    assert [detail["location"] for detail in response.json()["error"]["details"]] == ["query.hash"]


def test_submit_with_invalid_parameters_names_each_before_the_missing_key(segell_server: RunningServer) -> None:
    with segell_server.client() as anonymous:
        response = anonymous.post(
            "/v1/documents",
            params={"salted": "maybe", "kind": "two words", "public": "yes"},
            headers={"Idempotency-Key": "has space"},
            json={"hash": new_hash()},
        )
    assert response.status_code == 422
    locations = [detail["location"] for detail in response.json()["error"]["details"]]
    assert locations == ["query.kind", "query.salted", "header.idempotency-key"]


def test_submit_reads_boolean_parameters_as_fastapi_does(issuer: httpx.Client) -> None:
    response = issuer.post(
        "/v1/documents",
        params={"public": "on", "salted": "0", "kind": "acta"},
        headers={"Content-Type": "application/octet-stream"},
        content=secrets.token_bytes(100),
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert (receipt["public"], receipt["salted"], receipt["kind"]) == (True, False, "acta")


def test_verify_file_needs_octet_stream(citizen: httpx.Client) -> None:
    response = citizen.post("/v1/verify", json={"hash": new_hash()})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_verify_file_over_the_limit_answers_413(quiet_server: RunningServer, framing: str) -> None:
    content = secrets.token_bytes(SMALL_LIMIT + 1)

    def chunks() -> Iterator[bytes]:
        yield content[:SMALL_LIMIT]
        yield content[SMALL_LIMIT:]

    with quiet_server.client() as citizen:
        response = citizen.post(
            "/v1/verify",
            content=content if framing == "content-length" else chunks(),
            headers={"Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"limit_bytes": SMALL_LIMIT}


def test_verify_says_pending_when_the_node_no_longer_holds_the_root(
    segell_server: RunningServer, issuer: httpx.Client, citizen: httpx.Client
) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    root = wait_anchored(issuer, receipt["id"])["anchor"]["root"][2:]
    runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    # What a node that lost its state looks like from here: the database holds a root the chain does not.
    lost = secrets.token_hex(32)
    with runtime.transaction() as session:
        session.execute(update(batches).where(batches.c.root == root).values(root=lost))
    try:
        answer = citizen.get("/v1/verify", params={"hash": receipt["document_hash"]}).json()
    finally:
        with runtime.transaction() as session:
            session.execute(update(batches).where(batches.c.root == lost).values(root=root))
    assert answer["status"] == "pending"
    assert answer["matches"][0]["status"] == "pending"
    assert answer["matches"][0]["block_number"] is None
    assert citizen.get("/v1/verify", params={"hash": receipt["document_hash"]}).json()["status"] == "authentic"


class _CountingNotary(NotaryClient):
    calls = 0

    def is_anchored(self, root: bytes) -> bool:
        self.calls += 1
        return super().is_anchored(root)


def test_anchored_roots_cache_only_positive_answers(segell_server: RunningServer, issuer: httpx.Client) -> None:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    root = wait_anchored(issuer, receipt["id"])["anchor"]["root"]
    runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    notary = _CountingNotary(runtime.node.w3, runtime.deployment.notary)
    roots = AnchoredRoots(ttl=0.5)
    assert [roots.is_anchored(notary, root[2:]) for _ in range(3)] == [True] * 3
    assert notary.calls == 1
    unknown = secrets.token_hex(32)
    assert [roots.is_anchored(notary, unknown) for _ in range(2)] == [False] * 2
    assert notary.calls == 3
    time.sleep(0.6)
    assert roots.is_anchored(notary, root[2:])
    assert notary.calls == 4


# --- public copies and codes issued before ---------------------------------------------------------------------


def test_public_copy_needs_the_file_not_its_hash(issuer: httpx.Client) -> None:
    response = issuer.post("/v1/documents", params={"public_copy": "true"}, json={"hash": new_hash()})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"][0]["location"] == "query.public_copy"
    assert "application/octet-stream" in error["message"]


def test_document_submitted_again_with_a_public_copy_keeps_its_receipt_and_gains_the_copy(
    issuer: httpx.Client, citizen: httpx.Client
) -> None:
    content = secrets.token_bytes(2_000)
    upload = {"content": content, "headers": {"Content-Type": "application/octet-stream"}}
    first = issuer.post("/v1/documents", params={"title": "Padró"}, **upload).json()  # type: ignore[arg-type]
    assert first["public_copy"] is False
    assert citizen.get(f"/v1/verify/{first['verification_code']}/document").status_code == 404
    again = issuer.post(
        "/v1/documents",
        params={"public_copy": "true", "filename": "../padró$*.bin"},
        **upload,  # type: ignore[arg-type]
    )
    assert again.status_code == 200, again.text
    assert {**again.json(), "public_copy": False} == first
    assert again.json()["public_copy"] is True
    download = citizen.get(f"/v1/verify/{first['verification_code']}/document")
    assert download.content == content
    assert download.headers["content-type"] == "application/octet-stream"
    # The name the issuer gave, made safe.
    assert download.headers["content-disposition"].endswith("filename*=UTF-8''padr%C3%B3.bin")


def test_public_copy_is_within_the_size_limit_of_uploads(quiet_server: RunningServer) -> None:
    with quiet_server.client(quiet_server.admit()) as issuer:
        response = issuer.post(
            "/v1/documents",
            params={"public_copy": "true"},
            content=secrets.token_bytes(SMALL_LIMIT + 1),
            headers={"Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"limit_bytes": SMALL_LIMIT}


def test_file_name_with_hidden_characters_answers_422(issuer: httpx.Client) -> None:
    response = issuer.post(
        "/v1/documents",
        params={"public_copy": "true", "filename": "acta\u202efdp.exe"},
        content=b"acta",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["location"] == "query.filename"


def legacy_code(check: str) -> str:
    """A code as issued before: 16 symbols and their modulo-37 check symbol `check`."""
    while True:
        data = generate_code()[:16]
        value = int("".join(f"{SYMBOLS.index(symbol):05b}" for symbol in data), 2)
        if LEGACY_CHECK_SYMBOLS[value % 37] == check and check_symbol(data) != check:
            return data + check


def test_documents_stored_with_legacy_codes_are_verified_by_them(
    segell_server: RunningServer, issuer: httpx.Client, citizen: httpx.Client
) -> None:
    runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    administration_id = administration_id_of(segell_server, issuer)
    stored = {check: legacy_code(check) for check in ["*", "$", "=", "~", "U", "7"]}
    hashes = {check: new_hash() for check in stored}
    # As documents notarised before the check symbols changed, stored with their codes then.
    with runtime.transaction() as session:
        receipts = {
            check: notary_api.notarise(
                session,
                administration_id,
                hashes[check],
                kind="document",
                code=notary_api.ReservedCode(stored=code, shown=format_code(code)),
            )
            for check, code in stored.items()
        }
    anchored = {check: wait_anchored(issuer, receipt.id) for check, receipt in receipts.items()}
    for check, code in stored.items():
        shown = receipts[check].verification_code
        assert parse_code(shown) == code
        for typed in (shown, code.lower(), " ".join(code)):
            answer = citizen.get("/v1/verify", params={"code": typed})
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "authentic" and answer.json()["document_hash"] == hashes[check]
        # The receipt's own link escapes what a query string cannot hold as it is.
        assert citizen.get(anchored[check]["links"]["verify"]).json()["status"] == "authentic"
        bundle = citizen.get(f"/v1/verify/{shown}/bundle")
        assert bundle.status_code == 200 and bundle.json()["receipt"]["verification_code"] == shown
        # Its file name leaves out a check symbol no file name should carry.
        name = shown[:-2] if check in "*$=~" else shown
        assert bundle.headers["content-disposition"] == (
            f"attachment; filename=\"{name}.segell.json\"; filename*=UTF-8''{name}.segell.json"
        )


def test_code_only_the_legacy_check_takes_is_mistyped_when_no_document_holds_it(citizen: httpx.Client) -> None:
    code = format_code(legacy_code("K"))
    for path, params in (("/v1/verify", {"code": code}), (f"/v1/verify/{code}/bundle", {})):
        response = citizen.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_code"


def administration_id_of(server: RunningServer, issuer: httpx.Client) -> int:
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    with server.app.state.runtime.transaction() as session:  # type: ignore[attr-defined]
        document = session.get(Document, receipt["id"])
        assert document is not None
        return int(document.administration_id)


# --- lookups read together, and nothing kept between requests ----------------------------------------------------


def test_lookups_read_together_answer_each_what_it_would_alone(
    segell_server: RunningServer, issuer: httpx.Client, other_issuer: httpx.Client
) -> None:
    shared = new_hash()
    mine = issuer.post("/v1/documents", json={"hash": shared, "title": "Meu"}).json()
    theirs = other_issuer.post("/v1/documents", json={"hash": shared, "title": "Seu"}).json()
    alone = issuer.post("/v1/documents", json={"hash": new_hash(), "title": "Sol"}).json()
    for receipt in (mine, theirs, alone):
        wait_anchored(issuer if receipt is not theirs else other_issuer, receipt["id"])
    runtime = runtime_of(segell_server)
    lookups = [
        Lookup(document_hash=shared),
        Lookup(code=parse_code(theirs["verification_code"])),  # one of the shared hash's receipts, by its code
        Lookup(document_hash=alone["document_hash"]),
        Lookup(code=parse_code(alone["verification_code"])),
        Lookup(document_hash=new_hash()),
        Lookup(code=generate_code()),
        Lookup(code=legacy_code("K")),  # refused: mistyped
        Lookup(document_hash=shared),
    ]
    roots = AnchoredRoots()
    together = service.verify_many(runtime.engine, runtime.notary, roots, lookups)

    def by_itself(lookup: Lookup) -> Verification | SegellError:
        try:
            return service.verify(runtime.engine, runtime.notary, roots, **lookup._asdict())
        except SegellError as refused:
            return refused

    apart = [by_itself(lookup) for lookup in lookups]
    assert [type(answer) for answer in together] == [type(answer) for answer in apart]
    assert [a.model_dump() if isinstance(a, Verification) else a.code for a in together] == [
        a.model_dump() if isinstance(a, Verification) else a.code for a in apart
    ]
    assert isinstance(together[6], SegellError) and together[6].code == "invalid_code"
    shown = [answer for answer in together if isinstance(answer, Verification)]
    assert [{match.title for match in answer.matches} for answer in shown] == [
        {"Meu", "Seu"},
        {"Seu"},
        {"Sol"},
        {"Sol"},
        set(),
        set(),
        {"Meu", "Seu"},
    ]


def test_verifications_sent_at_once_are_read_in_groups_each_answered_its_own(
    segell_server: RunningServer, issuer: httpx.Client
) -> None:
    receipts = [issuer.post("/v1/documents", json={"hash": new_hash()}).json() for _ in range(20)]
    wait_anchored(issuer, receipts[-1]["id"])
    runtime = runtime_of(segell_server)
    read: list[int] = []

    class CountingVerifier(GroupVerifier):
        def _answers(self, lookups: list[Lookup]) -> list[bytes | Exception]:
            read.append(len(lookups))
            return super()._answers(lookups)

    verifier = CountingVerifier(runtime, AnchoredRoots())
    lookups = [Lookup(document_hash=r["document_hash"]) for r in receipts] + [
        Lookup(code=parse_code(r["verification_code"])) for r in receipts
    ]

    async def all_at_once() -> list[bytes]:
        return await asyncio.gather(*(verifier.verify(lookup) for lookup in lookups))

    try:
        answers = [json.loads(answer) for answer in asyncio.run(all_at_once())]
    finally:
        verifier.close()
    assert sum(read) == len(lookups) and len(read) < len(lookups)
    expected = [r["document_hash"] for r in receipts] * 2
    assert [answer["document_hash"] for answer in answers] == expected
    assert [answer["matches"][0]["status"] for answer in answers] == ["authentic"] * len(lookups)


def test_verify_answers_what_another_connection_committed_since(
    segell_server: RunningServer, issuer: httpx.Client, citizen: httpx.Client
) -> None:
    """As another API process sees it: an anchoring and a revocation committed elsewhere are in the next answer
    of every connection, never a stale 'pending' or 'authentic' kept from before."""
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    wait_anchored(issuer, receipt["id"])
    # Another process's connections: an engine of their own on the same database.
    elsewhere = create_db_engine(segell_server.settings.sqlalchemy_url)

    def answers() -> set[str]:
        # Several requests at once and one after another: each pooled connection and each group answers.
        with ThreadPoolExecutor(8) as pool:
            found = pool.map(
                lambda params: citizen.get("/v1/verify", params=params).json()["status"],
                [{"hash": receipt["document_hash"]}, {"code": receipt["verification_code"]}] * 8,
            )
            return set(found)

    try:
        assert answers() == {"authentic"}
        with elsewhere.begin() as connection:
            batch_id = connection.execute(
                select(documents.c.batch_id).where(documents.c.id == receipt["id"])
            ).scalar_one()
            connection.execute(update(documents).where(documents.c.id == receipt["id"]).values(batch_id=None))
        assert answers() == {"pending"}
        with elsewhere.begin() as connection:
            connection.execute(update(documents).where(documents.c.id == receipt["id"]).values(batch_id=batch_id))
        assert answers() == {"authentic"}
        with elsewhere.begin() as connection:
            connection.execute(
                insert(revocations).values(
                    document_id=receipt["id"],
                    reason="Revocat en un altre procés",
                    transaction_hash="0x" + "00" * 32,
                    block_number=1,
                    block_timestamp=int(time.time()),
                )
            )
        assert answers() == {"revoked"}
    finally:
        with elsewhere.begin() as connection:
            connection.execute(delete(revocations).where(revocations.c.document_id == receipt["id"]))
        elsewhere.dispose()


def test_verification_reads_again_on_a_new_connection_when_its_own_is_lost(
    segell_server: RunningServer, issuer: httpx.Client, citizen: httpx.Client
) -> None:
    runtime = runtime_of(segell_server)
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite each group takes a pooled connection")
    receipt = issuer.post("/v1/documents", json={"hash": new_hash()}).json()
    wait_anchored(issuer, receipt["id"])
    assert citizen.get("/v1/verify", params={"hash": receipt["document_hash"]}).json()["status"] == "authentic"
    verifier: GroupVerifier = segell_server.app.state.notary_verifier  # type: ignore[attr-defined]
    lost = verifier.reader._connection
    assert lost is not None
    # What a server restart or an idle timeout does to it.
    with runtime.engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({lost.info.backend_pid})")
    answer = citizen.get("/v1/verify", params={"hash": receipt["document_hash"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "authentic"
    assert verifier.reader._connection is not lost
