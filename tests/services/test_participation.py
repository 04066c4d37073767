"""Participation against the real app: a budget from opening to a published, recounted result, and each way it
must refuse or detect what it must."""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from segell.sdk import Client, ballots_root, recount_tally, verify_ballot_inclusion
from segell.services.cli import app
from tests.helpers import RunningServer, log_in_citizen, wait_anchored
from tests.services.participation_support import at_once, budget_process, citizen_token, new_phone, texts

PREFIX = "/v1/participation"


@pytest.fixture(scope="module")
def council(segell_server: RunningServer) -> Iterator[tuple[str, httpx.Client]]:
    code = "L08019PAR"
    with segell_server.client(segell_server.admit(code=code)) as client:
        yield code, client


def citizen(server: RunningServer, token: str) -> httpx.Client:
    return server.client(token)


def open_with_census(council: httpx.Client, body: dict[str, Any], phones: list[str]) -> str:
    opened = council.post(f"{PREFIX}/processes", json=body)
    assert opened.status_code == 201, opened.text
    process_id = str(opened.json()["id"])
    ids = council.post(f"{PREFIX}/census/citizen-ids", json={"phones": phones}).json()["citizen_ids"]
    census = council.post(f"{PREFIX}/processes/{process_id}/census", json={"citizen_ids": ids})
    assert census.json() == {"added": len(phones), "census_size": len(phones)}
    return process_id


def test_budget_runs_from_opening_to_a_published_recounted_result(
    segell_server: RunningServer, council: tuple[str, httpx.Client], tmp_path: Path
) -> None:
    code, admin = council
    phones = [new_phone() for _ in range(3)]
    process_id = open_with_census(admin, budget_process(), phones)
    # The first voter logs in through the real SMS flow; the census maps the number to the login's citizen id.
    tokens = [log_in_citizen(admin, phones[0])] + [citizen_token(segell_server, code, p) for p in phones[1:]]
    outsider = citizen_token(segell_server, code, new_phone())

    def cast(token: str, choices: list[str]) -> httpx.Response:
        with citizen(segell_server, token) as voter:
            return voter.post(f"{PREFIX}/processes/{process_id}/ballots", json={"choices": choices})

    one_district_short = cast(tokens[0], ["P1", "P3"])
    three_districts = cast(tokens[0], ["P1", "P2", "P3", "P4", "P5"])
    over_budget = cast(tokens[0], ["P1", "P2", "P5", "C1"])
    receipts = [
        cast(tokens[0], ["P1", "P2"]),
        cast(tokens[1], ["P3", "P4", "C1"]),
        cast(tokens[2], ["P1", "P2", "P3", "P4"]),
    ]
    not_in_census = cast(outsider, ["P1", "P2"])

    assert [one_district_short.status_code, three_districts.status_code, over_budget.status_code] == [422, 422, 422]
    assert "at least 2 projects in Gràcia" in one_district_short.json()["error"]["message"]
    assert "at most 2 districts" in three_districts.json()["error"]["message"]
    assert "over the ballot's budget of 500" in over_budget.json()["error"]["message"]
    assert [r.status_code for r in receipts] == [201, 201, 201]
    assert not_in_census.json()["error"]["code"] == "not_in_census"

    closed = admin.post(f"{PREFIX}/processes/{process_id}/close")
    assert closed.status_code == 200, closed.text
    tally = closed.json()["tally"]
    assert [(t["option"], t["votes"], t["funded"]) for t in tally["tally"]] == [
        ("P4", 2, True),
        ("P1", 2, True),
        ("P3", 2, True),
        ("P2", 2, False),
        ("C1", 1, True),
        ("P5", 0, False),
    ]
    assert cast(tokens[0], ["P3", "P4"]).json()["error"]["code"] == "process_closed"

    # Published as open data: ballots sorted by commitment, no times; the result's hash is the notarised one.
    ballots_file = httpx.get(tally["ballots_url"]).content
    result_file = httpx.get(tally["result_url"]).content
    ballots = json.loads(ballots_file)
    commitments = [b["commitment"] for b in ballots]
    assert commitments == sorted(r.json()["commitment"] for r in receipts)
    assert all(set(b) == {"commitment", "pseudonym", "choices", "nonce"} for b in ballots)
    assert hashlib.sha256(result_file).hexdigest() == tally["result_sha256"] == tally["result_receipt"]["document_hash"]
    assert ballots_root(commitments) == tally["ballots_root"] == tally["ballots_receipt"]["document_hash"]
    assert recount_tally(ballots_file, result_file).valid
    package = admin.get("/api/3/action/package_show", params={"id": tally["dataset"]}).json()["result"]
    assert [r["name"] for r in package["resources"]] == ["ballots", "result"]

    # The result is derived from the ballots' root, and both get anchored.
    wait_anchored(admin, tally["ballots_receipt"]["id"])
    wait_anchored(admin, tally["result_receipt"]["id"])
    bundle = admin.get(f"/v1/documents/{tally['result_receipt']['id']}/bundle").json()
    assert [link["document_hash"] for link in bundle["derived_from"]] == ["0x" + tally["ballots_root"]]

    # Each voter checks their receipt: offline against the root, and the root on chain.
    with Client(segell_server.url) as anyone:
        trusted = [anyone.deployment().trusted_notary]
        first = receipts[0].json()
        inclusion = anyone.participation.inclusion(process_id, first["commitment"])
        assert inclusion.code == first["code"] and verify_ballot_inclusion(
            first["commitment"], inclusion.proof, tally["ballots_root"]
        )
        assert anyone.participation.check_ballot(process_id, first["commitment"], trusted_notaries=trusted).valid
        assert anyone.participation.verify_tally(process_id, trusted_notaries=trusted).valid

    # And anyone recounts from the command line.
    notary = f"{trusted[0].chain_id}:{trusted[0].address}"
    env = {"SEGELL_URL": segell_server.url, "SEGELL_TRUST_STORE": str(tmp_path / "trust.json"), "SEGELL_RPC_URL": None}
    recounted = CliRunner().invoke(app, ["tally", "verify", process_id, "--notary", notary], env=env)
    assert recounted.exit_code == 0, recounted.output
    assert "3 ballots recounted" in recounted.output

    # A ballot altered after close: the published file no longer recounts to the anchored root.
    stored = segell_server.home / "opendata" / "resources" / tally["ballots_sha256"][:2] / tally["ballots_sha256"]
    altered = json.loads(stored.read_bytes())
    altered[0]["choices"] = ["P3", "P4"]
    stored.write_bytes(json.dumps(altered, separators=(",", ":")).encode())
    detected = CliRunner().invoke(app, ["tally", "verify", process_id, "--notary", notary], env=env)
    assert detected.exit_code == 1
    assert "its commitment is not the hash of its record" in detected.output
    # Recommitting the altered ballot changes the root away from the anchored one.
    altered[0]["commitment"] = hashlib.sha256(
        json.dumps(
            {
                "choices": sorted(altered[0]["choices"]),
                "nonce": altered[0]["nonce"],
                "pseudonym": altered[0]["pseudonym"],
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    altered.sort(key=lambda b: b["commitment"])
    assert not recount_tally(json.dumps(altered, separators=(",", ":")).encode(), result_file).valid


def test_second_ballot_is_refused_or_replaces_per_the_process_setting(
    segell_server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phone = new_phone()
    refusing = open_with_census(admin, budget_process(), [phone])
    replacing = open_with_census(admin, budget_process(ballot_replacement=True), [phone])
    with citizen(segell_server, citizen_token(segell_server, code, phone)) as voter:
        first = voter.post(f"{PREFIX}/processes/{refusing}/ballots", json={"choices": ["P1", "P2"]})
        second = voter.post(f"{PREFIX}/processes/{refusing}/ballots", json={"choices": ["P3", "P4"]})
        earlier = voter.post(f"{PREFIX}/processes/{replacing}/ballots", json={"choices": ["P1", "P2"]})
        later = voter.post(f"{PREFIX}/processes/{replacing}/ballots", json={"choices": ["P3", "P4"]})
    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json()["error"]["code"] == "already_voted"
    assert (earlier.json()["replaced"], later.json()["replaced"]) == (False, True)

    closed = admin.post(f"{PREFIX}/processes/{replacing}/close").json()["tally"]
    assert closed["ballots_count"] == 1
    assert {t["option"]: t["votes"] for t in closed["tally"]}["P3"] == 1
    gone = admin.get(f"{PREFIX}/processes/{replacing}/ballots/{earlier.json()['commitment']}")
    kept = admin.get(f"{PREFIX}/processes/{replacing}/ballots/{later.json()['commitment']}")
    assert (gone.status_code, kept.status_code) == (404, 200)


def test_support_of_a_changed_proposal_is_refused_and_bound_to_its_version(
    segell_server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    author_phone, supporter_phone = new_phone(), new_phone()
    process_id = open_with_census(
        admin,
        {
            "type": "ideas",
            "title": texts("Idees"),
            "description": texts("Millorem els tràmits."),
            "services": ["PAD-01"],
        },
        [author_phone, supporter_phone],
    )
    with (
        citizen(segell_server, citizen_token(segell_server, code, author_phone)) as author,
        citizen(segell_server, citizen_token(segell_server, code, supporter_phone)) as supporter,
    ):
        created = author.post(
            f"{PREFIX}/processes/{process_id}/proposals",
            json={"title": "Cita prèvia en línia", "body": "Demanar hora per internet.", "service": "PAD-01"},
        ).json()
        read_hash = created["version_hash"]
        edited = author.put(
            f"{PREFIX}/proposals/{created['id']}",
            json={
                "title": "Cita prèvia en línia i per telèfon",
                "body": "Per internet o per telèfon.",
                "version_hash": read_hash,
            },
        ).json()
        stale = supporter.post(f"{PREFIX}/proposals/{created['id']}/supports", json={"version_hash": read_hash})
        current = supporter.post(
            f"{PREFIX}/proposals/{created['id']}/supports", json={"version_hash": edited["version_hash"]}
        )
        again = supporter.post(
            f"{PREFIX}/proposals/{created['id']}/supports", json={"version_hash": edited["version_hash"]}
        )
        not_author = supporter.put(
            f"{PREFIX}/proposals/{created['id']}",
            json={"title": "x", "body": "y", "version_hash": edited["version_hash"]},
        )
    versions = admin.get(f"{PREFIX}/proposals/{created['id']}/versions").json()

    assert stale.status_code == 409 and stale.json()["error"]["code"] == "proposal_changed"
    assert current.status_code == 201 and current.json()["version"] == 2
    assert again.json()["error"]["code"] == "already_supported"
    assert not_author.json()["error"]["code"] == "not_author"
    assert [(v["version"], v["previous_hash"]) for v in versions] == [(1, None), (2, read_hash)]
    assert edited["version_hash"] != read_hash and edited["verification_code"] != created["verification_code"]
    shown = admin.get(f"{PREFIX}/proposals/{created['id']}").json()
    assert (shown["supports"], shown["supports_of_version"]) == (1, 1)


def test_proposals_search_sort_and_moderation(segell_server: RunningServer, council: tuple[str, httpx.Client]) -> None:
    code, admin = council
    phones = [new_phone() for _ in range(3)]
    process_id = open_with_census(
        admin,
        {"type": "ideas", "title": texts("Idees"), "description": texts("Idees.")},
        phones,
    )
    ids = []
    clients = [citizen(segell_server, citizen_token(segell_server, code, p)) for p in phones]
    try:
        for number, client in enumerate(clients):
            made = client.post(
                f"{PREFIX}/processes/{process_id}/proposals",
                json={"title": f"Idea {number} parc", "body": f"Text {number}"},
            )
            ids.append(made.json()["id"])
        # The last one gets two supports, the first one.
        for client in clients[:2]:
            hash_ = admin.get(f"{PREFIX}/proposals/{ids[2]}").json()["version_hash"]
            assert client.post(f"{PREFIX}/proposals/{ids[2]}/supports", json={"version_hash": hash_}).status_code == 201
        hash_ = admin.get(f"{PREFIX}/proposals/{ids[0]}").json()["version_hash"]
        assert clients[2].post(f"{PREFIX}/proposals/{ids[0]}/supports", json={"version_hash": hash_}).status_code == 201
    finally:
        for client in clients:
            client.close()

    def listed(**params: Any) -> list[str]:
        page = admin.get(f"{PREFIX}/processes/{process_id}/proposals", params=params)
        assert page.status_code == 200, page.text
        return [p["id"] for p in page.json()["items"]]

    assert listed(sort="supports") == [ids[2], ids[0], ids[1]]
    assert listed(sort="newest") == ids[::-1]
    assert listed(sort="random", seed="s1") == listed(sort="random", seed="s1")
    assert listed(sort="random", seed="s1", limit=1) + listed(sort="random", seed="s1", limit=2, offset=1) == listed(
        sort="random", seed="s1"
    )
    assert listed(q="IDEA 1") == [ids[1]]
    assert admin.get(f"{PREFIX}/processes/{process_id}/proposals", params={"sort": "random"}).status_code == 422

    hidden = admin.post(f"{PREFIX}/proposals/{ids[0]}/hide", json={"reason": "Dades personals d'un tercer"})
    assert hidden.status_code == 200, hidden.text
    assert (hidden.json()["title"], hidden.json()["hidden_reason"]) == (None, "Dades personals d'un tercer")
    assert listed(sort="newest") == [ids[2], ids[1]]
    found = admin.get("/v1/verify", params={"code": hidden.json()["hidden_verification_code"]})
    assert found.status_code == 200
    assert found.json()["matches"][0]["kind"] == "participation-moderation"


def test_one_ballot_and_one_support_per_citizen_under_50_concurrent_requests(
    segell_server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phone = new_phone()
    process_id = open_with_census(admin, budget_process(), [phone])
    ideas = open_with_census(admin, {"type": "ideas", "title": texts("I"), "description": texts("I")}, [phone])
    token = citizen_token(segell_server, code, phone)
    headers = {"Authorization": f"Bearer {token}"}
    with citizen(segell_server, token) as author:
        proposal = author.post(f"{PREFIX}/processes/{ideas}/proposals", json={"title": "T", "body": "B"}).json()

    ballots = at_once(
        segell_server,
        50,
        lambda c: c.post(f"{PREFIX}/processes/{process_id}/ballots", json={"choices": ["P1", "P2"]}, headers=headers),
    )
    supports = at_once(
        segell_server,
        50,
        lambda c: c.post(
            f"{PREFIX}/proposals/{proposal['id']}/supports",
            json={"version_hash": proposal["version_hash"]},
            headers=headers,
        ),
    )

    assert ballots == [201] + [409] * 49
    assert supports == [201] + [409] * 49
    assert admin.post(f"{PREFIX}/processes/{process_id}/close").json()["tally"]["ballots_count"] == 1


def test_process_requiring_the_stronger_factor_refuses_an_sms_login(
    segell_server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phone = new_phone()
    process_id = open_with_census(admin, budget_process(required_factor="totp"), [phone])
    with citizen(segell_server, citizen_token(segell_server, code, phone)) as sms_only:
        refused = sms_only.post(f"{PREFIX}/processes/{process_id}/ballots", json={"choices": ["P1", "P2"]})
    with citizen(segell_server, citizen_token(segell_server, code, phone, amr=("totp", "otp"))) as strong:
        accepted = strong.post(f"{PREFIX}/processes/{process_id}/ballots", json={"choices": ["P1", "P2"]})
    assert refused.json()["error"]["code"] == "factor_required"
    assert accepted.status_code == 201


def test_a_login_with_another_administration_cannot_vote(
    segell_server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    _, admin = council
    phone = new_phone()
    process_id = open_with_census(admin, budget_process(), [phone])
    other = "L08019OTH"
    segell_server.admit(code=other)
    with citizen(segell_server, citizen_token(segell_server, other, phone)) as elsewhere:
        refused = elsewhere.post(f"{PREFIX}/processes/{process_id}/ballots", json={"choices": ["P1", "P2"]})
    assert refused.json()["error"]["code"] == "other_administration"


def test_opening_a_process_that_does_not_hold_together_is_refused(council: tuple[str, httpx.Client]) -> None:
    _, admin = council
    no_projects = admin.post(f"{PREFIX}/processes", json=budget_process(projects=[]))
    no_phases = admin.post(
        f"{PREFIX}/processes", json={"type": "challenge", "title": texts("R"), "description": texts("R")}
    )
    backwards = admin.post(
        f"{PREFIX}/processes",
        json=budget_process(
            phases={
                "proposals": {"starts_at": "2026-03-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z"},
                "voting": {"starts_at": "2026-03-15T00:00:00Z", "ends_at": "2026-05-01T00:00:00Z"},
            }
        ),
    )
    assert (no_projects.status_code, no_phases.status_code) == (422, 422)
    assert [d["location"] for d in no_phases.json()["error"]["details"]] == ["body.challenge.phases"]
    assert backwards.status_code == 409
    assert backwards.json()["error"]["message"] == (
        "The process does not hold together: the voting phase starts before the proposals phase ends."
    )


def test_ballots_outside_the_voting_phase_are_refused(
    segell_server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    phone = new_phone()
    later = {"voting": {"starts_at": "2099-01-01T00:00:00Z", "ends_at": "2099-02-01T00:00:00Z"}}
    process_id = open_with_census(admin, budget_process(phases=later), [phone])
    with citizen(segell_server, citizen_token(segell_server, code, phone)) as voter:
        early = voter.post(f"{PREFIX}/processes/{process_id}/ballots", json={"choices": ["P1", "P2"]})
    assert early.status_code == 409 and early.json()["error"]["code"] == "outside_phase"


def test_recount_in_the_docs_runs_with_standard_python_and_one_json_rpc_call(
    segell_server: RunningServer, council: tuple[str, httpx.Client], capsys: pytest.CaptureFixture[str]
) -> None:
    code, admin = council
    phones = [new_phone(), new_phone()]
    process_id = open_with_census(admin, budget_process(), phones)
    for phone, choices in zip(phones, (["P1", "P2"], ["P3", "P4", "C1"]), strict=True):
        with citizen(segell_server, citizen_token(segell_server, code, phone)) as voter:
            assert voter.post(f"{PREFIX}/processes/{process_id}/ballots", json={"choices": choices}).status_code == 201
    tally = admin.post(f"{PREFIX}/processes/{process_id}/close").json()["tally"]
    wait_anchored(admin, tally["ballots_receipt"]["id"])
    wait_anchored(admin, tally["result_receipt"]["id"])
    text = (Path(__file__).parents[2] / "docs" / "participation.md").read_text()
    snippet = next(block for block in text.split("```python\n")[1:] if "eth_call" in block).split("```")[0]
    notary = admin.get("/.well-known/segell.json").json()["notary"]

    exec(
        snippet, {"API": segell_server.url, "PROCESS": process_id, "RPC": f"{segell_server.url}/rpc", "NOTARY": notary}
    )

    assert capsys.readouterr().out.strip() == "2 ballots recounted; root and result anchored"


def test_process_list_by_administration_code_refuses_a_malformed_code(
    segell_server: RunningServer, council: tuple[str, httpx.Client]
) -> None:
    code, admin = council
    with segell_server.client() as anyone:
        assert anyone.get(f"{PREFIX}/processes", params={"administration": code.lower()}).status_code == 200
        for malformed in ("\x00", "L08\x00019", "-L0801"):
            response = anyone.get(f"{PREFIX}/processes", params={"administration": malformed})
            assert response.status_code == 422, response.text
            assert response.json()["error"]["details"][0]["location"] == "query.administration"
        unknown = anyone.get(f"{PREFIX}/processes", params={"administration": "L99999999"})
        assert unknown.status_code == 404
