"""The transparency portal: its pages over plain HTTP and in real headless Chromium (a desktop and a 360x780 phone),
its downloads, against a real Segell server on the embedded chain with the sample publications of three municipalities
submitted through the submission API (`load_sample`), and a correction submitted with the SDK."""

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect
from playwright.sync_api import Error as PlaywrightError
from typer.testing import CliRunner

from segell.sdk import Client
from segell.sdk.transparency import Submission
from segell.services.cli import app
from segell.services.notary.settings import NotarySettings
from segell.services.opendata import api as opendata
from segell.services.opendata.sample import SAMPLE_DIR, load_sample, municipalities
from tests.helpers import RunningServer, make_settings, serve, wait_anchored
from tests.web.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DISABLED_FEATURES, low_contrast

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
SERIES = ("initial", "final", "executed")
GIRONA, VIC, OLOT = "L01170792", "L01082981", "L01171143"


@dataclass(frozen=True)
class Published:
    """A submission as the submission API answered it, and the bytes submitted."""

    submission: Submission
    content: bytes

    @property
    def version(self) -> int:
        return self.submission.version

    @property
    def figures(self) -> dict[str, Any]:
        return dict(self.submission.figures)

    @property
    def inhabitants(self) -> int | None:
        return self.submission.inhabitants

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def verification_code(self) -> str:
        return self.submission.verification_code

    @property
    def rows(self) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.content.decode("utf-8-sig"))))


@dataclass
class Portal:
    server: RunningServer
    #: Each municipality's budgets by year, oldest first.
    girona: list[Published]
    vic: list[Published]
    olot: list[Published]
    contracts: Published
    #: Girona's 2025 budget as first submitted, superseded by `girona_budget_2025`.
    girona_superseded: Published

    @property
    def girona_budget_2025(self) -> Published:
        return self.girona[-1]


def corrected(content: bytes) -> bytes:
    """The budget with its executed expense lowered by 5% (a correction of wrongly reported execution)."""
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    for row in rows:
        if row["direction"] == "expense":
            row["executed"] = f"{float(row['executed']) * 0.95:.2f}"
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-portal"), NotarySettings(batch_max_wait=0.05)))


@pytest.fixture(scope="module")
def portal(portal_server: RunningServer) -> Portal:
    """The sample publications of Girona, Vic and Olot (budgets for 2023-2025, every other block for 2025), submitted
    through the API once for the module; then Girona's 2025 budget corrected once with the SDK; all anchored."""
    codes = [GIRONA, VIC, OLOT]
    loaded = load_sample(portal_server.url, portal_server.governance_key, codes)
    files = {(m.code, block, year): path for m in municipalities(codes) for block, year, path in m.files}
    published = {
        (s.administration_code, s.block, s.period): Published(
            s, files[s.administration_code, s.block, s.period].read_bytes()
        )
        for s in loaded.submitted
    }
    first = published[GIRONA, "budget", 2025]
    with Client(portal_server.url, loaded.api_keys[GIRONA]) as girona:
        content = corrected(first.content)
        correction = Published(
            girona.transparency.submit("budget", content, year=2025, inhabitants=first.inhabitants), content
        )
    for item in [*published.values(), correction]:
        with portal_server.client(loaded.api_keys[item.submission.administration_code]) as client:
            wait_anchored(client, item.submission.receipt_id)

    def budgets(code: str) -> list[Published]:
        return [published[code, "budget", year] for year in (2023, 2024, 2025)]

    girona_budgets = [*budgets(GIRONA)[:2], correction]
    return Portal(
        portal_server, girona_budgets, budgets(VIC), budgets(OLOT), published[GIRONA, "contracts", 2025], first
    )


@pytest.fixture(scope="module")
def citizen(portal_server: RunningServer) -> Iterator[httpx.Client]:
    with portal_server.client() as client:
        yield client


def totals(figures: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    expense = figures["expense"]
    return {key: sum(expense[chapter][key] for chapter in sorted(expense)) for key in SERIES}


# -- plain HTTP ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "heading", "budget"),
    [("ca", "Portal de transparència", "Pressupost"), ("es", "Portal de transparencia", "Presupuesto"),
     ("en", "Transparency portal", "Budget")],
)  # fmt: skip
def test_overview_lists_the_publishers_in_each_language(
    portal: Portal, citizen: httpx.Client, lang: str, heading: str, budget: str
) -> None:
    response = citizen.get("/transparency", params={"lang": lang})
    assert response.status_code == 200
    page = response.text
    assert f'<html lang="{lang}">' in page
    assert f"<h1>{heading}</h1>" in page
    for name in ("Ajuntament de Girona", "Ajuntament de Vic", "Ajuntament d&#x27;Olot"):
        assert name in page
    assert 'href="/transparency/L01170792"' in page
    assert budget in page
    assert response.cookies.get("segell_lang") == lang
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_page_language_follows_the_cookie_then_accept_language_then_catalan(portal: Portal) -> None:
    with portal.server.client() as fresh:
        assert '<html lang="ca">' in fresh.get("/transparency").text
        assert '<html lang="es">' in fresh.get("/transparency", headers={"Accept-Language": "es-ES,es;q=0.9"}).text
        fresh.cookies.set("segell_lang", "en")
        page = fresh.get("/transparency/L01170792", headers={"Accept-Language": "es"}).text
        assert '<html lang="en">' in page and "Superseded by version 2" in page


def test_administration_page_shows_every_version_with_its_status_and_verification(
    portal: Portal, citizen: httpx.Client
) -> None:
    page = citizen.get("/transparency/L01170792", params={"lang": "ca"}).text
    current, superseded = portal.girona_budget_2025, portal.girona_superseded
    assert f'href="/verify/{current.verification_code}"' in page
    assert f'href="/verify/{superseded.verification_code}"' in page
    assert "Substituïda per la versió 2" in page
    assert page.count('data-status="superseded"') == 1
    assert "/transparency/L01170792/budget/2025.csv?version=1" in page
    assert '/transparency/L01170792/budget/2025.csv"' in page
    # Every block the sample submitted is listed, none as not published yet.
    assert "Contractes adjudicats" in page and "Encara no s&#x27;ha publicat." not in page
    assert f'href="/verify/{portal.contracts.verification_code}"' in page


def test_version_not_yet_anchored_is_shown_being_anchored(tmp_path: Path) -> None:
    quiet = make_settings(tmp_path / "quiet", NotarySettings(anchoring_worker=False))
    [lleida] = municipalities(["L01252331"])
    budget = next(path for block, year, path in lleida.files if (block, year) == ("budget", 2025))
    with contextmanager(serve)(quiet) as server:
        key = server.admit(code=lleida.code, name=lleida.name)
        with Client(server.url, key) as council:
            submitted = council.transparency.submit("budget", budget, year=2026)
        with server.client() as citizen:
            page = citizen.get(f"/transparency/{lleida.code}", params={"lang": "en"}).text
    assert submitted.notarisation_status == "pending"
    assert f'<a class="verify verify-pending" href="/verify/{submitted.verification_code}"' in page
    assert ">Being anchored</a>" in page and "Verified on chain</a>" not in page
    # Its other blocks are not submitted.
    assert page.count("Not published yet.") == len(opendata.BLOCKS) - 1


def test_csv_download_is_the_notarised_file_of_the_current_version(portal: Portal, citizen: httpx.Client) -> None:
    current = portal.girona_budget_2025
    response = citizen.get("/transparency/L01170792/budget/2025.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "L01170792-budget-2025-v2.csv" in response.headers["content-disposition"]
    assert response.content == current.content
    verified = citizen.get("/v1/verify", params={"hash": hashlib.sha256(response.content).hexdigest()}).json()
    assert verified["status"] == "authentic"
    [match] = verified["matches"]
    assert (match["administration"]["code"], match["kind"]) == ("L01170792", "transparency-publication")
    assert match["title"] == "Pressupost 2025 — Ajuntament de Girona (v2)"
    # The correction names the version it replaced.
    assert [source["verification_code"] for source in match["derived_from"]] == [
        portal.girona_superseded.verification_code
    ]
    old = citizen.get("/transparency/L01170792/budget/2025.csv", params={"version": 1})
    assert old.content == portal.girona_superseded.content != response.content


def test_json_download_holds_the_rows_typed_by_the_table_schema_or_as_strings(
    portal: Portal, citizen: httpx.Client
) -> None:
    current = portal.girona_budget_2025
    body = citizen.get("/transparency/L01170792/budget/2025.json").json()
    assert (body["administration"], body["block"], body["period"], body["version"]) == ("L01170792", "budget", 2025, 2)
    assert (body["status"], body["sha256"]) == ("current", current.sha256)
    assert body["verification_code"] == current.verification_code
    assert body["fields"] == ["direction", "chapter", "description", "initial_credit", "final_credit", "executed"]
    assert body["typed"] is True
    assert [row["executed"] for row in body["rows"]] == [float(row["executed"]) for row in current.rows]
    assert [row["chapter"] for row in body["rows"]] == [int(row["chapter"]) for row in current.rows]
    assert sum(row["direction"] == "expense" for row in body["rows"]) == 9
    old = citizen.get("/transparency/L01170792/budget/2025.json", params={"version": 1}).json()
    assert (old["version"], old["status"], old["sha256"]) == (1, "superseded", portal.girona_superseded.sha256)


@pytest.mark.parametrize(
    "path",
    [
        "/transparency/L99999999/budget/2025.csv",
        "/transparency/L01170792/pressupost/2025.csv",
        "/transparency/L01170792/budget/2019.json",
        "/transparency/L01170792/debt/2024.json",
        "/transparency/L01170792/budget/2025.json?version=7",
    ],
)
def test_download_of_an_unknown_administration_block_year_or_version_answers_404(
    portal: Portal, citizen: httpx.Client, path: str
) -> None:
    response = citizen.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("unknown_administration", "unknown_block", "not_published")


def test_page_of_an_unknown_administration_answers_404_in_the_pages_language(citizen: httpx.Client) -> None:
    response = citizen.get("/transparency/L99999999", params={"lang": "es"})
    assert response.status_code == 404
    assert "Ninguna administración con el código L99999999 publica en este portal." in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_chart_library_and_its_licence_are_served_from_the_server(citizen: httpx.Client) -> None:
    library = citizen.get("/static/web/chart.umd.min.js")
    licence = citizen.get("/static/web/chart.js-LICENSE.md")
    assert library.status_code == licence.status_code == 200
    assert library.content.startswith(b"/*!\n * Chart.js v4.")
    assert "MIT" in licence.text or "Permission is hereby granted" in licence.text


# -- Chromium ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """One Chromium for the module; each test gets a fresh context (profile) of its own."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--disable-features={','.join(DISABLED_FEATURES)}"],
    )
    yield browser
    browser.close()


@dataclass
class Visit:
    context: BrowserContext
    page: Page
    base_url: str
    #: Every request the pages made, and those of another host, refused (route interception).
    requests: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    #: What the pages logged as errors: a script failing, or the content security policy refusing something.
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"transparency-{name}.png"), full_page=True)


def new_visit(chromium: Browser, base_url: str, *, locale: str = "ca-ES", phone: bool = False) -> Visit:
    options: dict[str, object] = {"viewport": DESKTOP}
    if phone:
        options = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    context = chromium.new_context(locale=locale, timezone_id="UTC", **options)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    visit = Visit(context, context.new_page(), base_url)
    visit.page.on("console", lambda message: visit.errors.append(message.text) if message.type == "error" else None)
    visit.page.on("pageerror", lambda error: visit.errors.append(str(error)))

    def route(route: Route) -> None:
        url = route.request.url
        visit.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname == "127.0.0.1":
            route.continue_()
        else:
            visit.elsewhere.append(url)
            route.abort()

    context.route("**/*", route)
    return visit


@pytest.fixture
def visit(chromium: Browser, portal: Portal) -> Iterator[Visit]:
    opened = new_visit(chromium, portal.server.url)
    try:
        yield opened
    finally:
        opened.context.close()
    assert opened.requests, "the route interception saw no request"
    assert opened.elsewhere == [], "requests left 127.0.0.1"
    assert opened.errors == []


def chart_data(page: Page, canvas: str) -> dict[str, object]:
    page.wait_for_function("(id) => window.Chart && Chart.getChart(document.getElementById(id))", arg=canvas)
    return page.evaluate(  # type: ignore[no-any-return]
        """(id) => {
            const chart = Chart.getChart(document.getElementById(id));
            return {type: chart.config.type, labels: chart.data.labels,
                    datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data}))};
        }""",
        canvas,
    )


def table_cells(page: Page, table: str) -> list[list[str]]:
    return page.evaluate(  # type: ignore[no-any-return]
        """(id) => [...document.querySelectorAll(`#${id} tbody tr`)].map(
            (row) => [...row.children].map((cell) => cell.textContent.trim()))""",
        table,
    )


def test_budget_charts_are_drawn_from_the_published_figures(visit: Visit, portal: Portal) -> None:
    page = visit.open("/transparency/L01170792?lang=en")
    budget = portal.girona_budget_2025
    chapters = chart_data(page, "chapters-chart")
    expense = budget.figures["expense"]
    assert chapters["type"] == "bar"
    assert chapters["labels"][0] == "1. Staff costs" and len(chapters["labels"]) == 9  # type: ignore[index]
    assert [d["label"] for d in chapters["datasets"]] == ["Initial credits", "Final credits", "Executed"]  # type: ignore[union-attr, index]
    for dataset, key in zip(chapters["datasets"], SERIES, strict=True):  # type: ignore[call-overload]
        assert dataset["data"] == [expense[str(n)][key] for n in range(1, 10)]
    # The table says the same as the chart: chapter 6's executed credits, as English writes euros.
    row = table_cells(page, "chapters-chart-table")[5]
    assert row[0] == "6. Real investments" and row[3] == f"€{expense['6']['executed']:,.2f}"

    years = chart_data(page, "years-chart")
    assert years["labels"] == ["2023", "2024", "2025"]
    expected = [totals(published.figures) for published in (portal.girona[0], portal.girona[1], budget)]
    for dataset, key in zip(years["datasets"], SERIES, strict=True):  # type: ignore[call-overload]
        assert dataset["data"] == pytest.approx([year[key] for year in expected])
    # The corrected 2025 budget is charted, not the version it replaced.
    assert years["datasets"][2]["data"][2] != pytest.approx(totals(portal.girona_superseded.figures)["executed"])  # type: ignore[index]
    canvas = page.locator("#chapters-chart")
    expect(canvas).to_have_attribute("role", "img")
    expect(canvas).to_have_attribute("aria-label", re.compile("The table that follows gives the same figures"))
    visit.screenshot("administration-en-desktop")


def test_budget_submitted_once_appears_in_the_portal_and_the_consolidated_dataset_and_verifies(
    visit: Visit, portal: Portal, runner: CliRunner, tmp_path: Path
) -> None:
    """The feature end to end, over real HTTP: a budget submitted once with `segell publish` is listed on its
    administration's page with its chart, its rows are in the consolidated dataset, and its version verifies on the
    citizen page. Submitted without inhabitants, it leaves the overview's comparison as it was."""
    [cadaques] = municipalities(["L01170327"])
    key = portal.server.admit(code=cadaques.code, name=cadaques.name)
    budget = tmp_path / "pressupost-2026.csv"
    budget.write_bytes((SAMPLE_DIR / cadaques.code / "budget-2025.csv").read_bytes())
    env = {"SEGELL_URL": portal.server.url, "SEGELL_API_KEY": key}
    published = runner.invoke(app, ["publish", "budget", str(budget), "--year", "2026", "--json"], env=env)
    assert published.exit_code == 0, published.output
    submission = json.loads(published.stdout)
    code = submission["verification_code"]
    with portal.server.client(key) as council:
        wait_anchored(council, submission["receipt_id"])
    figures = submission["figures"]["expense"]
    assert submission["sha256"] == hashlib.sha256(budget.read_bytes()).hexdigest()

    # The portal lists it, current and anchored, and charts its figures.
    page = visit.open(f"/transparency/{cadaques.code}?lang=en")
    row = page.locator("#publications-budget tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "current")
    expect(row.locator("a.verify")).to_have_attribute("href", f"/verify/{code}")
    expect(row.locator("a.verify")).to_have_text("Verified on chain")
    chapters = chart_data(page, "chapters-chart")
    for dataset, key_ in zip(chapters["datasets"], SERIES, strict=True):  # type: ignore[call-overload]
        assert dataset["data"] == [figures[chapter][key_] for chapter in sorted(figures, key=int)]

    # The consolidated dataset's CSV holds its rows, as the CKAN Action API gives it.
    with portal.server.client() as citizen:
        shown = citizen.get("/api/3/action/package_show", params={"id": "consolidated-budget"}).json()
        assert shown["success"] is True
        [resource] = shown["result"]["resources"]
        consolidated = citizen.get(resource["url"])
        by_code = citizen.get("/v1/verify", params={"code": code}).json()
    assert consolidated.status_code == 200
    ours = [row for row in csv.DictReader(io.StringIO(consolidated.text)) if row["administration"] == cadaques.code]
    submitted = list(csv.DictReader(io.StringIO(budget.read_text(encoding="utf-8"))))
    assert [{k: v for k, v in row.items() if k != "administration"} for row in ours] == [
        {"period": "2026", **row} for row in submitted
    ]
    assert by_code["status"] == "authentic"
    [match] = by_code["matches"]
    assert (match["kind"], match["administration"]["code"]) == ("transparency-publication", cadaques.code)

    # Its verification link opens the citizen page, which finds it authentic.
    row.locator("a.verify").click()
    expect(page).to_have_url(f"{visit.base_url}/verify/{code}")
    expect(page.locator("#result")).to_have_attribute("data-state", "authentic")
    expect(page.locator("#result")).to_contain_text(cadaques.name)
    # ...and leads back to the administration's publications on the portal.
    page.click("#portal-link")
    expect(page).to_have_url(f"{visit.base_url}/transparency/{cadaques.code}")


def test_administrations_are_compared_per_inhabitant(visit: Visit, portal: Portal) -> None:
    page = visit.open("/transparency?lang=es")
    compared = chart_data(page, "compare-chart")
    budgets = {"Ajuntament d'Olot": portal.olot[-1], "Ajuntament de Girona": portal.girona[-1],
               "Ajuntament de Vic": portal.vic[-1]}  # fmt: skip
    assert compared["labels"] == list(budgets)
    for dataset, key in zip(compared["datasets"], SERIES, strict=True):  # type: ignore[call-overload]
        per = [round(totals(b.figures)[key] / (b.inhabitants or 1), 2) for b in budgets.values()]
        assert dataset["data"] == pytest.approx(per)
    expect(page.locator(".years a[aria-current='page']")).to_have_text("2025")
    visit.screenshot("overview-es-desktop")
    # 2024: each municipality's 2024 budget, by its 2024 inhabitants.
    page.click(".years a:text-is('2024')")
    compared = chart_data(page, "compare-chart")
    assert compared["labels"] == list(budgets)
    vic_2024 = portal.vic[1]
    assert vic_2024.inhabitants is not None
    assert compared["datasets"][0]["data"][2] == round(totals(vic_2024.figures)["initial"] / vic_2024.inhabitants, 2)  # type: ignore[index]


def test_verified_on_chain_link_opens_the_versions_verification(visit: Visit, portal: Portal) -> None:
    page = visit.open("/transparency/L01170792")
    rows = page.locator("#publications-budget tbody tr")
    expect(rows).to_have_count(4)
    first, second = rows.nth(0), rows.nth(1)
    expect(first).to_have_attribute("data-status", "current")
    expect(first.locator("td").nth(1)).to_have_text("Vigent")
    expect(second).to_have_attribute("data-status", "superseded")
    expect(second.locator("td").nth(1)).to_have_text("Substituïda per la versió 2")
    expect(page.locator("#publications-contracts tbody tr")).to_have_count(1)
    link = first.locator("a.verify")
    expect(link).to_have_text("Verificat a la cadena")
    expect(link).to_have_attribute("aria-label", "Verificat a la cadena: Pressupost 2025, versió 2")
    visit.screenshot("administration-ca-desktop")
    link.click()
    expect(page).to_have_url(f"{visit.base_url}/verify/{portal.girona_budget_2025.verification_code}")
    expect(page.locator("#result")).to_have_attribute("data-state", "authentic")
    expect(page.locator("#result")).to_contain_text("Ajuntament de Girona")


def test_csv_is_downloaded_from_the_page(visit: Visit, portal: Portal, tmp_path: Path) -> None:
    page = visit.open("/transparency/L01170792?lang=en")
    with page.expect_download() as download:
        page.click("#publications-budget tbody tr[data-version='1'] a:text-is('CSV')")
    assert download.value.suggested_filename == "L01170792-budget-2025-v1.csv"
    saved = tmp_path / "saved.csv"
    download.value.save_as(saved)
    assert saved.read_bytes() == portal.girona_superseded.content
    with page.expect_download() as download:
        page.click("#publications-contracts a:text-is('JSON')")
    download.value.save_as(saved)
    rows = json.loads(saved.read_text())["rows"]
    submitted = portal.contracts.rows
    assert [row["reference"] for row in rows] == [row["reference"] for row in submitted]
    assert [row["amount_incl_vat"] for row in rows] == [float(row["amount_incl_vat"]) for row in submitted]


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_pages_fit_a_phone_in_each_language(chromium: Browser, portal: Portal, lang: str) -> None:
    phone = new_visit(chromium, portal.server.url, phone=True)
    try:
        for path, name in (("/transparency", "overview"), ("/transparency/L01170792", "administration")):
            page = phone.open(f"{path}?lang={lang}")
            chart_data(page, "compare-chart" if name == "overview" else "years-chart")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0, (lang, path)
            box = page.locator("canvas").first.bounding_box()
            assert box is not None and 250 < box["width"] <= 360
            phone.screenshot(f"{name}-{lang}-phone")
    finally:
        phone.context.close()
    assert phone.elsewhere == [] and phone.errors == []


def test_no_request_leaves_the_server(visit: Visit, portal: Portal) -> None:
    visit.open("/transparency")
    chart_data(visit.page, "compare-chart")
    visit.page.click("a:text-is('Ajuntament de Vic')")
    chart_data(visit.page, "chapters-chart")
    visit.page.click("text=English")
    expect(visit.page.locator("h1")).to_have_text("Ajuntament de Vic")
    paths = {urlsplit(url).path for url in visit.requests}
    assert paths == {
        "/transparency",
        "/transparency/L01082981",
        "/static/web/verify.css",
        "/static/web/transparency.css",
        "/static/web/transparency.js",
        "/static/web/chart.umd.min.js",
    }
    assert visit.elsewhere == []
    # The page's policy stops a script asking another host before any request is made...
    refused = visit.page.evaluate("() => fetch('https://cdn.example.org/chart.js').then(() => 'sent', () => 'refused')")
    assert refused == "refused" and visit.elsewhere == []
    assert any("Content Security Policy" in error for error in visit.errors), visit.errors
    visit.errors.clear()
    # ...and the interception refuses, and records, whatever would get past it.
    with pytest.raises(PlaywrightError):
        visit.page.goto("https://cdn.example.org/chart.js")
    assert visit.elsewhere == ["https://cdn.example.org/chart.js"]
    visit.elsewhere.clear()
    visit.errors.clear()


def test_accessibility_basics_and_keyboard_use(visit: Visit, portal: Portal) -> None:
    for path in ("/transparency", "/transparency/L01170792"):
        page = visit.open(path)
        chart_data(page, "compare-chart" if path == "/transparency" else "chapters-chart")
        audit = page.evaluate(
            """() => {
                const visible = (node) => node.getClientRects().length > 0;
                const name = (node) => (node.getAttribute("aria-label") || node.textContent || "").trim();
                const levels = [...document.querySelectorAll("h1, h2, h3, h4")].map((n) => Number(n.tagName[1]));
                return {
                    lang: document.documentElement.lang,
                    landmarks: ["header", "nav", "main", "footer"].map((t) => document.querySelectorAll(t).length),
                    h1: document.querySelectorAll("h1").length,
                    skipped: levels.some((level, i) => i > 0 && level > levels[i - 1] + 1),
                    unnamed: [...document.querySelectorAll("a[href], button, [tabindex]")]
                        .filter((n) => visible(n) && !name(n) && !n.getAttribute("aria-labelledby"))
                        .map((n) => n.outerHTML),
                    navs: [...document.querySelectorAll("nav")].map((n) => n.getAttribute("aria-label")),
                    canvases: [...document.querySelectorAll("canvas")].map((n) => [n.getAttribute("role"),
                        (n.getAttribute("aria-label") || "").length > 40]),
                    tables: [...document.querySelectorAll("table")].map((t) => [
                        !!document.getElementById(t.getAttribute("aria-labelledby") || "-"),
                        [...t.querySelectorAll("th")].every((th) => th.getAttribute("scope"))]),
                    labelled: [...document.querySelectorAll("[aria-labelledby]")]
                        .flatMap((n) => n.getAttribute("aria-labelledby").split(" "))
                        .filter((id) => !document.getElementById(id)),
                };
            }"""
        )
        assert audit["lang"] == "ca"
        assert audit["landmarks"][0] >= 1 and audit["landmarks"][1] >= 2 and audit["landmarks"][2:] == [1, 1]
        assert audit["h1"] == 1 and audit["skipped"] is False
        assert audit["unnamed"] == []
        assert audit["navs"][:2] == ["Seccions", "Idioma"]
        assert audit["canvases"] and all(canvas == ["img", True] for canvas in audit["canvases"])
        assert audit["tables"] and all(table == [True, True] for table in audit["tables"])
        assert audit["labelled"] == []
        low = low_contrast(page, "h1, h2, h3, p, a, th, td, li, figcaption, time")
        assert low == {}
    # From the keyboard: the skip link first, then to the first verification link, with a visible focus.
    page = visit.open("/transparency/L01170792")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Vés al contingut", "solid"]
    page.keyboard.press("Enter")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('verify')"):
            break
    else:
        raise AssertionError("no verification link reached from the keyboard")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth") == "3px"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/verify/"))


def test_every_text_of_the_portal_is_in_every_language_with_the_same_placeholders() -> None:
    from segell.services.web.portal import translations

    texts = translations()
    placeholders = {
        language: {key: sorted(re.findall(r"\{[a-z_]+\}", text)) for key, text in words.items()}
        for language, words in texts.items()
    }
    assert placeholders["ca"] == placeholders["es"] == placeholders["en"]
    assert all(len(text.strip()) > 0 for words in texts.values() for text in words.values())
    assert [len(words["months"].split("|")) for words in texts.values()] == [12, 12, 12]
