"""The transparency portal: its pages over plain HTTP and in real headless Chromium (a desktop and a 360x780 phone),
its downloads, against a real Segell server on the embedded chain with publications of three municipalities."""

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect
from playwright.sync_api import Error as PlaywrightError

from segell.services.notary.settings import NotarySettings
from segell.services.opendata import api as opendata
from tests.helpers import RunningServer, make_settings, serve
from tests.web.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DISABLED_FEATURES
from tests.web.publications import Published, budget_rows, publish

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
SERIES = ("initial", "final", "executed")


@dataclass
class Portal:
    server: RunningServer
    girona: list[Published]
    vic: list[Published]
    olot: list[Published]
    contracts: Published

    @property
    def girona_budget_2025(self) -> Published:
        return self.girona[-1]

    @property
    def girona_superseded(self) -> Published:
        return self.girona[-2]


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-portal"), NotarySettings(batch_max_wait=0.05)))


@pytest.fixture(scope="module")
def portal(portal_server: RunningServer) -> Portal:
    """Girona's budgets for 2023-2025 (2025 corrected once) and its contracts for 2025; Vic's for 2024-2025;
    Olot's for 2025."""
    girona_key = portal_server.admit(code="L01170792", name="Ajuntament de Girona")
    vic_key = portal_server.admit(code="L01082981", name="Ajuntament de Vic")
    olot_key = portal_server.admit(code="L01171143", name="Ajuntament d'Olot")

    def girona_budget(year: int, total: float, inhabitants: int, **ratios: float) -> Published:
        rows = budget_rows(total, **ratios)
        return publish(portal_server, girona_key, "L01170792", "budget", year, rows, inhabitants=inhabitants)

    girona = [
        girona_budget(2023, 148_012_345.67, 103_369),
        girona_budget(2024, 156_498_731.21, 104_920),
        girona_budget(2025, 161_003_517.89, 106_476),
        # A correction: 2025's executed figures were wrong.
        girona_budget(2025, 161_003_517.89, 106_476, executed_ratio=0.955),
    ]
    contract_rows = [
        {"reference": "2025/CONT/0014", "object": "Manteniment de l'enllumenat públic", "amount": "1284500.00"},
        {"reference": "2025/CONT/0031", "object": "Servei de neteja viària", "amount": "5420000.50"},
    ]
    contracts = publish(portal_server, girona_key, "L01170792", "contracts", 2025, contract_rows)
    vic = [
        publish(portal_server, vic_key, "L01082981", "budget", 2024, budget_rows(62_304_118.40), inhabitants=48_965),
        publish(portal_server, vic_key, "L01082981", "budget", 2025, budget_rows(64_797_506.13), inhabitants=49_621),
    ]
    olot_rows = budget_rows(53_911_274.58)
    olot = [publish(portal_server, olot_key, "L01171143", "budget", 2025, olot_rows, inhabitants=37_620)]
    return Portal(portal_server, girona, vic, olot, contracts)


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
    assert "Contractes" in page and "Encara no s&#x27;ha publicat." in page


def test_version_not_yet_anchored_is_shown_being_anchored(tmp_path: Path) -> None:
    quiet = make_settings(tmp_path / "quiet", NotarySettings(anchoring_worker=False))
    with contextmanager(serve)(quiet) as server:
        key = server.admit(code="L01250907", name="Ajuntament de Lleida")
        published = publish(server, key, "L01250907", "budget", 2026, budget_rows(214_000_000.5), wait_anchored=False)
        with server.client() as citizen:
            page = citizen.get("/transparency/L01250907", params={"lang": "en"}).text
    assert published.receipt["status"] == "pending"
    assert f'<a class="verify verify-pending" href="/verify/{published.verification_code}"' in page
    assert ">Being anchored</a>" in page and "Verified on chain</a>" not in page


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
    assert (match["administration"]["code"], match["title"]) == ("L01170792", "budget 2025")
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
    schema = opendata.table_schema("budget")
    assert body["typed"] is (schema is not None)
    if schema is None:
        assert body["rows"] == current.rows
    else:
        assert [row["executed"] for row in body["rows"]] == [float(row["executed"]) for row in current.rows]
    assert sum(row["direction"] == "expense" for row in body["rows"]) == 9
    old = citizen.get("/transparency/L01170792/budget/2025.json", params={"version": 1}).json()
    assert (old["version"], old["status"], old["sha256"]) == (1, "superseded", portal.girona_superseded.sha256)


@pytest.mark.parametrize(
    "path",
    [
        "/transparency/L99999999/budget/2025.csv",
        "/transparency/L01170792/pressupost/2025.csv",
        "/transparency/L01170792/budget/2019.json",
        "/transparency/L01170792/debt/2025.json",
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


def test_administrations_are_compared_per_inhabitant(visit: Visit, portal: Portal) -> None:
    page = visit.open("/transparency?lang=es")
    compared = chart_data(page, "compare-chart")
    budgets = {"Ajuntament d'Olot": portal.olot[0], "Ajuntament de Girona": portal.girona[-1],
               "Ajuntament de Vic": portal.vic[-1]}  # fmt: skip
    assert compared["labels"] == list(budgets)
    for dataset, key in zip(compared["datasets"], SERIES, strict=True):  # type: ignore[call-overload]
        per = [round(totals(b.figures)[key] / (b.inhabitants or 1), 2) for b in budgets.values()]
        assert dataset["data"] == pytest.approx(per)
    expect(page.locator(".years a[aria-current='page']")).to_have_text("2025")
    visit.screenshot("overview-es-desktop")
    # 2024: Girona and Vic only.
    page.click(".years a:text-is('2024')")
    compared = chart_data(page, "compare-chart")
    assert compared["labels"] == ["Ajuntament de Girona", "Ajuntament de Vic"]
    assert compared["datasets"][0]["data"][1] == round(totals(portal.vic[0].figures)["initial"] / 48_965, 2)  # type: ignore[index]


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
    assert [row["reference"] for row in rows] == ["2025/CONT/0014", "2025/CONT/0031"]
    assert list(csv.DictReader(io.StringIO(portal.contracts.content.decode())))[1]["amount"] == "5420000.50"


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
        low = low_contrast(page)
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


def low_contrast(page: Page) -> dict[str, float]:
    """Texts under 4.5:1 against the background they are drawn on (WCAG AA), as the verification page's test."""
    ratios: dict[str, float] = page.evaluate(
        """() => {
            const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
            const luminance = ([r, g, b]) => {
                const [R, G, B] = [r, g, b].map((v) => {
                    v /= 255;
                    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                });
                return 0.2126 * R + 0.7152 * G + 0.0722 * B;
            };
            const background = (node) => {
                for (; node; node = node.parentElement) {
                    const colour = rgb(getComputedStyle(node).backgroundColor);
                    if (colour.length < 4 || colour[3] > 0) return colour.slice(0, 3);
                }
                return [255, 255, 255];
            };
            const ratios = {};
            for (const node of document.querySelectorAll("h1, h2, h3, p, a, th, td, li, figcaption, time")) {
                if (!node.getClientRects().length || !node.textContent.trim()) continue;
                const a = luminance(rgb(getComputedStyle(node).color));
                const b = luminance(background(node));
                const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
                ratios[node.id || node.textContent.trim().slice(0, 40)] = ratio;
            }
            return ratios;
        }"""
    )
    assert len(ratios) > 20
    return {text: round(ratio, 2) for text, ratio in ratios.items() if ratio < 4.5}


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
