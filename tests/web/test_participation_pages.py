"""The participation pages over plain HTTP and in real headless Chromium (a desktop and a 360x780 phone), against a
real Segell server on the embedded chain: a participatory budget voted end to end in the browser (open, choose
projects with the running total and the rules checked, cast, receipt, close by API, results, check my ballot), and
an ideas process's proposals searched, sorted and supported."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect

from tests.helpers import RunningServer, log_in_citizen
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
        # The receipt kept on this device fills the form in.
        expect(page.get_by_label("El teu comprovant")).to_have_value(commitment)
        page.get_by_role("button", name="Comprova").click()
        result = page.locator("#check-result")
        expect(result).to_contain_text("El teu vot és entre els publicats")
        expect(result).to_contain_text(code)
        expect(result).to_contain_text(tally["ballots_root"])
        expect(result).to_contain_text("P-03, P-04, P-05, P-06")
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
        page.get_by_label("Service").select_option("PADRO-CERT")
        page.get_by_label("Words").fill("correu")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#proposals-count")).to_contain_text("Proposals found: 1")
        item = page.locator("li.proposal")
        expect(item.locator("h2")).to_have_text("Certificats per correu")

        item.get_by_role("button", name="Support “Certificats per correu”").click()
        expect(item.locator("[data-support-message]")).to_contain_text("your support is recorded")
        expect(item.locator("[data-support-count]")).to_have_text("Supports: 1")

        page.get_by_label("Words").fill("")
        page.get_by_label("Service").select_option("")
        page.get_by_label("Order").select_option("supports")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("li.proposal h2").first).to_have_text("Certificats per correu")
        page.get_by_label("Order").select_option("random")
        page.get_by_role("button", name="Show").click()
        first_order = page.locator("li.proposal h2").all_inner_texts()
        page.reload()
        assert page.locator("li.proposal h2").all_inner_texts() == first_order
    finally:
        finish(browser)
    with web_server.client() as anyone:
        listed = anyone.get(f"/v1/participation/processes/{ideas}/proposals", params={"q": "correu"}).json()
    assert [(p["title"], p["supports"]) for p in listed["items"]] == [("Certificats per correu", 1)]


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_pages_fit_a_phone_and_read_well_in_each_language(
    headless_chromium: Chromium, web_server: RunningServer, budget: Budget, ideas: str, lang: str
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
        ):
            page.goto(f"{web_server.url}{path}?lang={lang}")
            assert page.evaluate("document.documentElement.lang") == lang
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
            # The ballot before close and the results after it are the longer pages; the other of each is too short
            # for the contrast check's minimum of texts.
            if page.locator("#ballot, #results-table").count() or not path.endswith(("/ballot", "/results")):
                assert low_contrast(page, "main *, header *, footer *") == {}, path
        expect(page.locator("h1")).to_have_text(TEXTS[lang])
        browser.screenshot(f"participation-check-phone-{lang}")
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


def test_processes_page_lists_the_open_processes(web_server: RunningServer, budget: Budget, ideas: str) -> None:
    with web_server.client() as anyone:
        page = anyone.get("/participation", params={"lang": "es"})

    assert page.status_code == 200
    assert f'href="/participation/processes/{budget.id}"' in page.text
    assert f'href="/participation/processes/{ideas}"' in page.text
    assert "Presupuesto participativo" in page.text
