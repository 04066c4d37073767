"""The participation pages over plain HTTP and in real headless Chromium (a desktop and a 360x780 phone), against a
real Segell server on the embedded chain: a participatory budget voted end to end in the browser (open, choose
projects with the running total and the rules checked, cast, receipt, close by API, results, check my ballot), and
an ideas process's proposals searched, sorted and supported."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import sha3
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, Route, expect
from sqlalchemy import text

from tests.helpers import MovableClock, RunningServer, log_in_citizen, movable_clock, runtime_of
from tests.web.conftest import Browser, launch, low_contrast

PHONE = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
TEXTS = {"ca": "Pressupost de Sarrià", "es": "Presupuesto de Sarrià", "en": "Sarrià budget"}
# Barcelona's rules, in small: at most 2 districts, at least 2 projects in each district chosen, within 1,000,000 €.
PROJECTS = [
    ("P-01", "Parc infantil de la plaça", 300_000, "Sarrià"),
    ("P-02", "Carril bici del passeig", 400_000, "Sarrià"),
    ("P-03", "Biblioteca oberta a l'estiu", 250_000, "Gràcia"),
    ("P-04", "Ombres a l'escola", 200_000, "Gràcia"),
    ("P-05", "Horts urbans", 150_000, "Horta"),
    ("P-06", "Fonts d'aigua", 100_000, "Horta"),
]


def texts(value: str) -> dict[str, str]:
    return {"ca": value, "es": value, "en": value}


@dataclass
class Budget:
    id: str
    council: httpx.Client


@pytest.fixture(scope="module")
def council(web_server: RunningServer) -> Iterator[httpx.Client]:
    with web_server.client(web_server.admit(name="Ajuntament de Barcelona")) as client:
        yield client


@pytest.fixture(scope="module")
def budget(council: httpx.Client) -> Budget:
    process = {
        "type": "budget",
        "title": TEXTS,
        "description": texts("Projectes per al barri, votats pels veïns."),
        "projects": [
            {"id": pid, "title": texts(title), "cost": cost, "district": district}
            for pid, title, cost, district in PROJECTS
        ],
        "rules": {"budget_cap": 1_000_000, "min_projects": 2, "min_projects_per_district": 2, "max_districts": 2},
        "available_budget": 1_000_000,
        "eligibility": "citizens",
    }
    response = council.post("/v1/participation/processes", json=process)
    assert response.status_code == 201, response.text
    return Budget(response.json()["id"], council)


@pytest.fixture(scope="module")
def ideas(council: httpx.Client) -> str:
    process = {
        "type": "ideas",
        "title": texts("Idees per a la ciutat"),
        "description": texts("Proposa i dona suport a idees."),
        "services": ["PADRO-CERT", "LLICENCIA-OBRES"],
        "eligibility": "citizens",
    }
    response = council.post("/v1/participation/processes", json=process)
    assert response.status_code == 201, response.text
    process_id = str(response.json()["id"])
    for title, service in (
        ("Cita prèvia per telèfon", "PADRO-CERT"),
        ("Certificats per correu", "PADRO-CERT"),
        ("Tramitar llicències en línia", "LLICENCIA-OBRES"),
    ):
        with httpx.Client(base_url=str(council.base_url)) as citizen:
            citizen.headers["Authorization"] = f"Bearer {log_in_citizen(council)}"
            made = citizen.post(
                f"/v1/participation/processes/{process_id}/proposals",
                json={"title": title, "body": f"{title}: una proposta.", "service": service},
            )
        assert made.status_code == 201, made.text
    return process_id


@dataclass
class Challenge:
    id: str
    clock: MovableClock
    proposals: dict[str, str]  # title → proposal id


CHALLENGE = {"ca": "Repte: menys soroll", "es": "Reto: menos ruido", "en": "Challenge: less noise"}
IDEAS = ["Asfalt fonoabsorbent", "Zones de baixes emissions", "Horaris de càrrega i descàrrega"]


@pytest.fixture(scope="module")
def challenge(council: httpx.Client) -> Challenge:
    """A challenge in its proposals phase (now), with three proposals, one of them edited; voting starts in 2 h."""
    clock = MovableClock()
    start = clock.now - timedelta(hours=1)

    def period(begin: float, end: float) -> dict[str, str]:
        return {
            "starts_at": (start + timedelta(hours=begin)).isoformat(),
            "ends_at": (start + timedelta(hours=end)).isoformat(),
        }

    process = {
        "type": "challenge",
        "title": CHALLENGE,
        "description": texts("Com reduïm el soroll als carrers? Proposa, vota i segueix-ne el resultat."),
        "phases": {
            "proposals": period(0, 2),
            "evaluation": period(2, 3),
            "voting": period(3, 48),
            "results": period(48, 720),
        },
        "rules": {"min_projects": 1, "max_projects": 2},
        "eligibility": "citizens",
    }
    response = council.post("/v1/participation/processes", json=process)
    assert response.status_code == 201, response.text
    process_id = str(response.json()["id"])
    proposals = {}
    with httpx.Client(base_url=str(council.base_url)) as citizen:
        citizen.headers["Authorization"] = f"Bearer {log_in_citizen(council)}"
        for title in IDEAS:
            made = citizen.post(
                f"/v1/participation/processes/{process_id}/proposals",
                json={"title": title, "body": f"{title}: menys soroll al barri."},
            )
            assert made.status_code == 201, made.text
            proposals[title] = made.json()["id"]
        first = citizen.get(f"/v1/participation/proposals/{proposals[IDEAS[0]]}").json()
        edited = citizen.put(
            f"/v1/participation/proposals/{first['id']}",
            json={
                "title": IDEAS[0],
                "body": "Asfalt que absorbeix el soroll als carrers amb més trànsit.",
                "version_hash": first["version_hash"],
            },
        )
        assert edited.status_code == 200, edited.text
    return Challenge(process_id, clock, proposals)


def open_page(headless_chromium: Chromium, server: RunningServer, **options: object) -> Browser:
    browser = launch(headless_chromium, server.url, **options)
    errors: list[str] = []
    browser.page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    browser.page.on("pageerror", lambda error: errors.append(str(error)))
    browser.errors = errors  # type: ignore[attr-defined]
    return browser


def finish(browser: Browser, expected_errors: tuple[str, ...] = ()) -> None:
    """Close the browser; it must have asked nothing of another host, and logged no error but those expected (a
    refused request shows in the console)."""
    browser.close()
    assert browser.requests_elsewhere() == [], "requests left 127.0.0.1"
    assert browser.errors == list(expected_errors)  # type: ignore[attr-defined]


def choose(page: Page, *titles: str) -> None:
    for title in titles:
        page.get_by_label(title).check()


def test_budget_vote_end_to_end_in_chromium(
    headless_chromium: Chromium, web_server: RunningServer, budget: Budget
) -> None:
    token = log_in_citizen(budget.council)
    browser = open_page(headless_chromium, web_server, locale="ca-ES", **DESKTOP)
    try:
        page = browser.page
        page.goto(f"{web_server.url}/participation/processes/{budget.id}/ballot#token={token}")
        # The token leaves the address at once, and the page says the citizen is signed in.
        expect(page.locator("[data-session]")).to_contain_text("Has entrat")
        assert "token" not in page.url

        choose(page, "Parc infantil de la plaça", "Biblioteca oberta a l'estiu", "Horts urbans")
        expect(page.locator("#ballot-total")).to_contain_text("Triats: 3 projectes")
        problems = page.locator("#ballot-problems")
        expect(problems).to_contain_text("com a màxim 2 districtes")
        expect(problems).to_contain_text("A Gràcia, tria com a mínim 2 projectes")
        # Cast anyway: the page refuses before asking the server.
        page.get_by_role("button", name="Emet el meu vot").click()
        expect(page.locator("#ballot-message")).to_contain_text("com a màxim 2 districtes")

        page.get_by_label("Parc infantil de la plaça").uncheck()
        choose(page, "Carril bici del passeig", "Ombres a l'escola", "Fonts d'aigua")
        expect(problems).to_contain_text("Els projectes triats costen més de")
        page.get_by_label("Carril bici del passeig").uncheck()
        expect(page.locator("#ballot-total")).to_contain_text("Triats: 4 projectes, 700.000")
        expect(page.locator("#ballot-total")).to_contain_text("Queden: 300.000")
        expect(problems).to_have_text("La teva papereta compleix totes les normes.")
        browser.screenshot("participation-ballot-desktop")

        page.get_by_role("button", name="Emet el meu vot").click()
        receipt = page.locator("#receipt")
        expect(receipt).to_be_visible()
        commitment = page.locator("#receipt-commitment").inner_text()
        code = page.locator("#receipt-code").inner_text()
        assert re.fullmatch(r"[0-9a-f]{64}", commitment)

        # A second ballot by the same citizen: the server refuses it, the page says why.
        page.get_by_role("button", name="Emet el meu vot").click()
        expect(page.locator("#ballot-message")).not_to_be_empty()
        expect(page.locator("#ballot-message")).not_to_contain_text("S'emet")

        # Before close, the check says to come back.
        page.locator("#receipt-check").click()
        expect(page.locator("#check-result")).to_contain_text("encara no s'ha tancat")

        closed = budget.council.post(f"/v1/participation/processes/{budget.id}/close")
        assert closed.status_code == 200, closed.text
        tally = closed.json()["tally"]

        page.goto(f"{web_server.url}/participation/processes/{budget.id}/results")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('results-chart'))")
        drawn = page.evaluate(
            "() => { const c = Chart.getChart(document.getElementById('results-chart'));"
            " return [c.data.labels, c.data.datasets[0].data]; }"
        )
        rows = page.locator("#results-table tbody tr")
        table = [
            (rows.nth(i).locator("th").inner_text(), rows.nth(i).locator("td").first.inner_text())
            for i in range(rows.count())
        ]
        titles = {pid: title for pid, title, _, _ in PROJECTS}
        expected = [(titles[entry["option"]], entry["votes"]) for entry in tally["tally"]]
        assert [(label, int(votes)) for label, votes in table] == expected
        assert list(zip(drawn[0], drawn[1], strict=True)) == expected
        assert {label for label, votes in expected if votes == 1} == {
            "Biblioteca oberta a l'estiu",
            "Ombres a l'escola",
            "Horts urbans",
            "Fonts d'aigua",
        }
        browser.screenshot("participation-results-desktop")

        page.goto(f"{web_server.url}/participation/processes/{budget.id}/check")
        # The receipt kept on this device fills the form in; the browser checks it.
        expect(page.get_by_label("El teu comprovant")).to_have_value(commitment)
        page.get_by_role("button", name="Comprova").click()
        result = page.locator("#check-result[data-state='verified']")
        expect(result.locator("h2")).to_have_text("Verificat: el teu vot és entre els publicats, tal com el vas emetre")
        expect(result).to_contain_text(code)
        expect(result).to_contain_text(tally["ballots_root"])
        expect(result).to_contain_text("Biblioteca oberta a l'estiu · Ombres a l'escola · Horts urbans · Fonts d'aigua")
        expect(result.locator("#check-steps li[data-ok='true']")).to_have_count(4)
    finally:
        finish(browser, ("Failed to load resource: the server responded with a status of 409 (Conflict)",))


def test_proposals_are_searched_sorted_and_supported_in_chromium(
    headless_chromium: Chromium, web_server: RunningServer, council: httpx.Client, ideas: str
) -> None:
    token = log_in_citizen(council)
    browser = open_page(headless_chromium, web_server, locale="en-GB", **DESKTOP)
    try:
        page = browser.page
        page.goto(f"{web_server.url}/participation/processes/{ideas}/proposals?sort=newest#token={token}")
        expect(page.locator("#proposals-count")).to_contain_text("Proposals found: 3")
        page.get_by_label("Service", exact=True).select_option("PADRO-CERT")
        page.get_by_label("Words").fill("correu")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#proposals-count")).to_contain_text("Proposals found: 1")
        item = page.locator("li.proposal")
        expect(item.locator("h2")).to_have_text("Certificats per correu")

        item.get_by_role("button", name="Support “Certificats per correu”").click()
        expect(item.locator("[data-support-message]")).to_contain_text("your support is recorded")
        expect(item.locator("[data-support-count]")).to_have_text("Supports: 1")
        # A second support is refused by the server; the page says why in its own language.
        page.reload()
        item.get_by_role("button", name="Support “Certificats per correu”").click()
        expect(item.locator("[data-support-message]")).to_have_text(
            "You already support this proposal: one support per person."
        )

        # A citizen makes a proposal from the page: published, notarised, listed among the newest.
        page.get_by_text("Make a proposal").click()
        page.get_by_label("Title").fill("Bústia de suggeriments")
        page.get_by_label("Your proposal").fill("Una bústia a cada oficina.")
        page.get_by_label("Service it is about (optional)").select_option("LLICENCIA-OBRES")
        page.get_by_role("button", name="Publish my proposal").click()
        expect(page.locator("#propose-message")).to_contain_text("Your proposal is published")
        page.locator("#proposed-link").click()
        expect(page.locator("li.proposal h2").first).to_have_text("Bústia de suggeriments")
        expect(page.locator("#proposals-count")).to_contain_text("Proposals found: 4")

        page.get_by_label("Words").fill("")
        page.get_by_label("Service", exact=True).select_option("")
        page.get_by_label("Order").select_option("supports")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("li.proposal h2").first).to_have_text("Certificats per correu")
        page.get_by_label("Order").select_option("random")
        page.get_by_role("button", name="Show").click()
        first_order = page.locator("li.proposal h2").all_inner_texts()
        page.reload()
        assert page.locator("li.proposal h2").all_inner_texts() == first_order
    finally:
        finish(browser, ("Failed to load resource: the server responded with a status of 409 (Conflict)",))
    with web_server.client() as anyone:
        listed = anyone.get(f"/v1/participation/processes/{ideas}/proposals", params={"q": "correu"}).json()
    assert [(p["title"], p["supports"]) for p in listed["items"]] == [("Certificats per correu", 1)]


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_pages_fit_a_phone_and_read_well_in_each_language(
    headless_chromium: Chromium, web_server: RunningServer, budget: Budget, ideas: str, challenge: Challenge, lang: str
) -> None:
    browser = open_page(headless_chromium, web_server, locale="ca-ES", **PHONE)
    try:
        page = browser.page
        for path in (
            f"/participation/processes/{budget.id}",
            f"/participation/processes/{budget.id}/ballot",
            f"/participation/processes/{ideas}/proposals",
            f"/participation/processes/{budget.id}/results",
            f"/participation/processes/{budget.id}/check",
            f"/participation/processes/{challenge.id}",
            f"/participation/processes/{challenge.id}/ballot",
        ):
            page.goto(f"{web_server.url}{path}?lang={lang}")
            assert page.evaluate("document.documentElement.lang") == lang
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
            # The ballot before close and the results after it are the longer pages; the other of each is too short
            # for the contrast check's minimum of texts.
            if page.locator("#ballot, #results-table").count() or not path.endswith(("/ballot", "/results")):
                assert low_contrast(page, "main *, header *, footer *") == {}, path
        expect(page.locator("h1")).to_have_text(CHALLENGE[lang])
        browser.screenshot(f"participation-challenge-ballot-phone-{lang}")
    finally:
        finish(browser)


def test_page_of_an_unknown_process_answers_404(web_server: RunningServer) -> None:
    with web_server.client() as anyone:
        response = anyone.get("/participation/processes/prc_000000000000000000000000", params={"lang": "en"})

    assert response.status_code == 404
    assert "There is no participation process at this address." in response.text


def test_check_page_says_a_receipt_is_malformed(web_server: RunningServer, budget: Budget) -> None:
    with web_server.client() as anyone:
        page = anyone.get(
            f"/participation/processes/{budget.id}/check", params={"receipt": "ABCDE-FGHIJ", "lang": "es"}
        )

    assert page.status_code == 200
    assert "Eso no es un comprobante" in page.text
    assert 'aria-invalid="true"' in page.text


def test_processes_page_lists_the_open_processes_with_the_phase_under_way(
    web_server: RunningServer, budget: Budget, ideas: str, challenge: Challenge
) -> None:
    with web_server.client() as anyone:
        page = anyone.get("/participation", params={"lang": "es"})
        ideas_page = anyone.get(f"/participation/processes/{ideas}", params={"lang": "es"})

    assert page.status_code == 200
    assert f'href="/participation/processes/{budget.id}"' in page.text
    assert f'href="/participation/processes/{ideas}"' in page.text
    assert "Presupuesto participativo" in page.text
    listed = re.search(rf'processes/{challenge.id}">.*?</li>', page.text, re.S)
    assert listed is not None and "Reto · " in listed.group(0) and "Fase actual: Propuestas" in listed.group(0)
    assert "<dd>PADRO-CERT, LLICENCIA-OBRES</dd>" in ideas_page.text


# -- a challenge, voted end to end; check my ballot; accessibility ------------------------------------------------

AUDIT = """() => {
    const visible = (node) => node.getClientRects().length > 0;
    const name = (node) => (node.getAttribute("aria-label") || node.textContent || "").trim();
    const ids = [...document.querySelectorAll("[id]")].map((node) => node.id);
    const referenced = (attribute) => [...document.querySelectorAll(`[${attribute}]`)]
        .flatMap((node) => node.getAttribute(attribute).split(" ")).filter((id) => !document.getElementById(id));
    const levels = [...document.querySelectorAll("h1, h2, h3, h4")].map((node) => Number(node.tagName[1]));
    return {
        lang: document.documentElement.lang,
        title: document.title,
        h1: [...document.querySelectorAll("h1")].map((node) => node.textContent),
        unlabelled: [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
            .filter((node) => node.labels.length === 0 && !node.getAttribute("aria-label")).map((node) => node.id),
        unnamed: [...document.querySelectorAll("button, a[href]")].filter((node) => visible(node) && !name(node))
            .map((node) => node.outerHTML),
        described: referenced("aria-describedby"),
        labelled: referenced("aria-labelledby"),
        duplicate_ids: ids.filter((id, index) => ids.indexOf(id) !== index),
        skipped_levels: levels.filter((level, index) => index > 0 && level > levels[index - 1] + 1),
        unlabelled_regions: [...document.querySelectorAll("nav, [role=region], canvas")]
            .filter((node) => !node.getAttribute("aria-label") && !node.getAttribute("aria-labelledby"))
            .map((node) => node.outerHTML.slice(0, 80)),
        images: document.querySelectorAll("img:not([alt])").length,
        live: [...document.querySelectorAll("[aria-live], [role=status], [role=alert]")].length,
        fits: document.documentElement.scrollWidth <= window.innerWidth,
    };
}"""


def assert_accessible(page: Page, heading: str) -> None:
    """The checks the page tests make of every page (axe's basics, in the DOM): language, one h1, every control
    labelled, every link and button named, references that resolve, no heading level skipped, landmarks named,
    live regions for what changes, no sideways scrolling, and WCAG AA contrast."""
    found = page.evaluate(AUDIT)
    assert found["lang"] in ("ca", "es", "en")
    assert found["title"].endswith("· Segell")
    assert found["h1"] == [heading]
    assert found["unlabelled"] == []
    assert found["unnamed"] == []
    assert found["described"] == [] and found["labelled"] == []
    assert found["duplicate_ids"] == []
    assert found["skipped_levels"] == []
    assert found["unlabelled_regions"] == []
    assert found["images"] == 0
    assert found["live"] >= 1
    assert found["fits"], "the page scrolls sideways"
    assert low_contrast(page, "main *, header *, footer *") == {}


def test_challenge_vote_end_to_end_in_chromium_on_a_phone(
    headless_chromium: Chromium, web_server: RunningServer, council: httpx.Client, challenge: Challenge
) -> None:
    browser = open_page(headless_chromium, web_server, locale="es-ES", **PHONE)
    base = f"{web_server.url}/participation/processes/{challenge.id}"
    try:
        page = browser.page
        with movable_clock(web_server) as clock:
            clock.now = challenge.clock.now
            # In the proposals phase: the page says so, with every phase's dates; the ballot says when it opens.
            page.goto(base)
            expect(page.locator("#what-now")).to_contain_text("Ahora: propón ideas")
            expect(page.locator("#phases tr[aria-current='step'] th")).to_have_text("Propuestas · En curso")
            expect(page.locator("#phases tbody tr")).to_have_count(4)
            expect(page.locator("#phases tr[data-phase='voting'] th")).to_have_text("Votación · Por venir")
            expect(page.locator("#rules")).to_contain_text("Elige como máximo 2 propuestas.")
            expect(page.locator("#rules")).to_contain_text("Elige como mínimo 1 propuesta.")
            assert_accessible(page, CHALLENGE["es"])
            # A support of the edited proposal goes to its current version, and the page counts it there.
            page.goto(f"{base}/proposals#token={log_in_citizen(council)}")
            edited = page.locator("li.proposal").filter(has_text=IDEAS[0])
            expect(edited.locator("[data-version-count]")).to_have_text("(0 a esta versión)")
            edited.get_by_role("button", name=f"Apoyar «{IDEAS[0]}»").click()
            expect(edited.locator("[data-version-count]")).to_have_text("(1 a esta versión)")
            expect(edited.locator("[data-support-count]")).to_have_text("Apoyos: 1")
            page.goto(f"{base}/ballot")
            expect(page.locator("#ballot-unavailable")).to_contain_text("La votación se abre el")
            expect(page.locator("#ballot")).to_have_count(0)

            clock.advance(hours=3)
            token = log_in_citizen(council)
            page.goto(base)
            expect(page.locator("#phases tr[aria-current='step'] th")).to_have_text("Votación · En curso")
            expect(page.locator("#what-now")).to_contain_text("Ahora: vota")
            # Supports belong to the proposals phase: the page no longer offers them.
            page.goto(f"{base}/proposals")
            expect(page.locator("#supports-closed")).to_contain_text("durante la fase de propuestas")
            expect(page.locator("button[data-support]")).to_have_count(0)
            # The edited proposal shows its earlier version, notarised, and the hash chain that links them.
            edited = page.locator("li.proposal").filter(has_text=IDEAS[0])
            edited.get_by_text("Versiones anteriores (1)").click()
            expect(edited.locator("details.versions li")).to_have_count(1)
            expect(edited.locator("details.versions li")).to_contain_text("Versión 1")
            assert_accessible(page, CHALLENGE["es"])

            page.goto(f"{base}/ballot#token={token}")
            expect(page.locator("[data-session]")).to_contain_text("Has entrado")
            expect(page.locator("#voting-dates")).to_contain_text("abierta hasta el")
            # The edited proposal is offered in its current version.
            expect(page.locator("#options .project").filter(has_text=IDEAS[0])).to_contain_text("Versión 2")
            choose(page, *IDEAS)
            expect(page.locator("#ballot-total")).to_have_text("Elegidas: 3 propuestas.")
            problems = page.locator("#ballot-problems")
            expect(problems).to_have_text("Elige como máximo 2 propuestas.")
            page.get_by_role("button", name="Emitir mi voto").click()
            expect(page.locator("#ballot-message")).to_contain_text("como máximo 2 propuestas")
            page.get_by_label(IDEAS[2]).uncheck()
            expect(problems).to_have_text("Tu papeleta cumple todas las normas.")
            assert_accessible(page, CHALLENGE["es"])
            browser.screenshot("participation-challenge-ballot-phone")
            page.get_by_role("button", name="Emitir mi voto").click()
            expect(page.locator("#receipt")).to_be_visible()
            commitment = page.locator("#receipt-commitment").inner_text()

        closed = council.post(f"/v1/participation/processes/{challenge.id}/close")
        assert closed.status_code == 200, closed.text
        current = {
            council.get(f"/v1/participation/proposals/{pid}").json()["version_hash"]: title
            for title, pid in challenge.proposals.items()
        }
        expected = [
            (current[e["option"]], e["votes"]) for e in closed.json()["tally"]["tally"] if e["option"] in current
        ]
        assert sorted(expected) == sorted([(IDEAS[0], 1), (IDEAS[1], 1), (IDEAS[2], 0)])
        # The edited proposal is named with its version: the vote went to that version.
        expected = [(f"{title} (Versión 2)" if title == IDEAS[0] else title, votes) for title, votes in expected]

        page.goto(f"{base}/results")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('results-chart'))")
        drawn = page.evaluate(
            "() => { const c = Chart.getChart(document.getElementById('results-chart'));"
            " return [c.data.labels, c.data.datasets[0].data]; }"
        )
        rows = page.locator("#results-table tbody tr")
        table = [
            (rows.nth(i).locator("th").inner_text(), int(rows.nth(i).locator("td").inner_text()))
            for i in range(rows.count())
        ]
        assert table == expected
        assert list(zip(drawn[0], drawn[1], strict=True)) == expected
        expect(page.locator("#results-table thead")).to_contain_text("Propuesta")
        assert_accessible(page, CHALLENGE["es"])
        browser.screenshot("participation-challenge-results-phone")

        page.goto(f"{base}/check?receipt={commitment}")
        result = page.locator("#check-result[data-state='verified']")
        expect(result.locator("h2")).to_have_text("Verificado: tu voto está entre los publicados, tal como lo emitiste")
        expect(result).to_contain_text(f"{IDEAS[0]} (Versión 2)")
        assert_accessible(page, CHALLENGE["es"])
        browser.screenshot("participation-challenge-check-phone")
    finally:
        finish(browser)


@dataclass
class ClosedVote:
    id: str
    receipts: list[str]


@pytest.fixture(scope="module")
def closed_vote(council: httpx.Client) -> ClosedVote:
    """A small budget, three ballots cast through the API, closed: its ballots published and their root anchored."""
    process = {
        "type": "budget",
        "title": texts("Pressupost de les Corts"),
        "description": texts("Tres projectes, tres veïns."),
        "projects": [
            {"id": pid, "title": texts(title), "cost": cost, "district": district}
            for pid, title, cost, district in PROJECTS[:4]
        ],
        "rules": {"min_projects": 1},
        "available_budget": 1_000_000,
        "eligibility": "citizens",
    }
    response = council.post("/v1/participation/processes", json=process)
    assert response.status_code == 201, response.text
    process_id = str(response.json()["id"])
    receipts = []
    for choices in (["P-01", "P-02"], ["P-03"], ["P-01", "P-04"]):
        with httpx.Client(base_url=str(council.base_url)) as citizen:
            citizen.headers["Authorization"] = f"Bearer {log_in_citizen(council)}"
            cast = citizen.post(f"/v1/participation/processes/{process_id}/ballots", json={"choices": choices})
        assert cast.status_code == 201, cast.text
        receipts.append(str(cast.json()["commitment"]))
    closed = council.post(f"/v1/participation/processes/{process_id}/close")
    assert closed.status_code == 200, closed.text
    return ClosedVote(process_id, receipts)


def check_state(page: Page, state: str) -> None:
    expect(page.locator("#check-result")).to_have_attribute("data-state", state)


def test_check_my_ballot_verifies_a_real_receipt_in_the_browser_and_fails_an_altered_one(
    headless_chromium: Chromium, web_server: RunningServer, closed_vote: ClosedVote
) -> None:
    browser = open_page(headless_chromium, web_server, locale="en-GB", **DESKTOP)
    check = f"{web_server.url}/participation/processes/{closed_vote.id}/check"
    receipt = closed_vote.receipts[0]
    try:
        page = browser.page
        page.goto(f"{check}?receipt={receipt}")
        check_state(page, "verified")
        result = page.locator("#check-result")
        expect(result.locator("h2")).to_have_text("Verified: your ballot is among the published ones, as you cast it")
        expect(result).to_contain_text("Parc infantil de la plaça · Carril bici del passeig")
        steps = result.locator("#check-steps li")
        expect(steps).to_have_count(4)
        expect(steps.nth(0)).to_contain_text(f"is your receipt, {receipt}")
        expect(steps.nth(3)).to_contain_text("read through this server's /rpc, holds the batch root")
        assert_accessible(page, "Pressupost de les Corts")
        browser.screenshot("participation-check-verified-desktop")
        # The browser asked the chain itself: anchorOf and isRevoked at the deployment's Notary, through /rpc.
        assert any(url.endswith("/rpc") for url in browser.requests)
        assert any(url.endswith("/.well-known/segell.json") for url in browser.requests)

        altered = receipt[:-1] + ("0" if receipt[-1] != "0" else "1")
        page.goto(f"{check}?receipt={altered}")
        check_state(page, "not-found")
        expect(page.locator("#check-result h2")).to_have_text("Not verified")
        expect(page.locator("#check-result")).to_contain_text("No published ballot has this receipt")

        # The page's Keccak-256 is Ethereum's, byte for byte.
        inputs = [bytes(range(256))[:length] * 1 for length in (0, 1, 32, 64, 135, 136, 137, 200)]
        computed = page.evaluate(
            "(all) => all.map((hex) => window.segellHashes.toHex(window.segellHashes.keccak256("
            "window.segellHashes.fromHex(hex))))",
            [value.hex() for value in inputs],
        )
        assert computed == [sha3.keccak_256(value).hexdigest() for value in inputs]
    finally:
        finish(browser, ("Failed to load resource: the server responded with a status of 404 (Not Found)",))


def test_check_my_ballot_fails_for_a_tampered_published_ballot(
    headless_chromium: Chromium, web_server: RunningServer, closed_vote: ClosedVote
) -> None:
    tampered, lied_about = closed_vote.receipts[1], closed_vote.receipts[2]
    with runtime_of(web_server).transaction() as session:
        record = session.execute(
            text("SELECT record FROM participation_ballots WHERE commitment = :c"), {"c": tampered}
        ).scalar_one()
        changed = json.loads(record) | {"choices": ["P-04"]}
        session.execute(
            text("UPDATE participation_ballots SET record = :r WHERE commitment = :c"),
            {"r": json.dumps(changed, sort_keys=True, separators=(",", ":")), "c": tampered},
        )
    browser = open_page(headless_chromium, web_server, locale="ca-ES", **PHONE)
    check = f"{web_server.url}/participation/processes/{closed_vote.id}/check"
    try:
        page = browser.page
        # The published ballot's choices were changed after close: it no longer hashes to the receipt.
        page.goto(f"{check}?receipt={tampered}")
        check_state(page, "failed")
        expect(page.locator("#check-result h2")).to_have_text("No verificat")
        steps = page.locator("#check-steps li")
        expect(steps).to_have_count(1)
        expect(steps.nth(0)).to_have_attribute("data-ok", "false")
        expect(steps.nth(0)).to_contain_text("no el teu comprovant")
        expect(page.locator("#check-result")).to_contain_text("Ombres a l'escola")
        assert_accessible(page, "Pressupost de les Corts")
        browser.screenshot("participation-check-tampered-phone")

        # A server that lies consistently, giving a one-ballot tree whose root is the ballot's own leaf: the proof
        # holds, but that root is not the one notarised and anchored.
        def lie(route: Route) -> None:
            body = httpx.get(route.request.url).json()
            body |= {"proof": [], "ballots_root": body["leaf"]}
            route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

        page.route(f"**/ballots/{lied_about}", lie)
        page.goto(f"{check}?receipt={lied_about}")
        check_state(page, "failed")
        steps = page.locator("#check-steps li")
        expect(steps).to_have_count(3)
        expect(steps.nth(1)).to_have_attribute("data-ok", "true")
        expect(steps.nth(2)).to_have_attribute("data-ok", "false")
        expect(steps.nth(2)).to_contain_text("l'arrel notaritzada amb el codi")

        # A root's bundle rewritten as a batch of one: its proof holds, but no such batch root is on the chain.
        def batch_of_one(route: Route) -> None:
            body = httpx.get(route.request.url).json()
            body |= {"proof": [], "leaf_index": 0, "tree_size": 1}
            route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

        page.unroute(f"**/ballots/{lied_about}")
        page.route("**/v1/verify/*/bundle", batch_of_one)
        page.goto(f"{check}?receipt={closed_vote.receipts[0]}")
        check_state(page, "failed")
        steps = page.locator("#check-steps li")
        expect(steps).to_have_count(4)
        expect(steps.nth(2)).to_have_attribute("data-ok", "true")
        expect(steps.nth(3)).to_have_attribute("data-ok", "false")
        expect(steps.nth(3)).to_contain_text("no conté l'arrel del lot")
    finally:
        finish(browser)
