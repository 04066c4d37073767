"""The after-transaction survey's page: over plain HTTP (its language, one answer per link, what it says of a spent or
unknown link) and in real headless Chromium on a desktop and a 360x780 phone, against a real Segell server."""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import expect

from tests.helpers import RunningServer
from tests.web.conftest import Browser, launch, low_contrast

PHONE = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def council(web_server: RunningServer) -> Iterator[httpx.Client]:
    with web_server.client(web_server.admit(name="Ajuntament de Figueres")) as client:
        yield client


def invitation(council: httpx.Client, **extra: object) -> dict[str, str]:
    body = {"procedure": "PADRO-CERT", "procedure_name": "Certificat de padró", **extra}
    response = council.post("/v1/participation/invitations", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_survey_page_opens_in_the_language_of_the_procedure(web_server: RunningServer, council: httpx.Client) -> None:
    link = invitation(council, language="es")["url"]

    with httpx.Client() as anyone:
        page = anyone.get(link)

    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert "Acabas de hacer «Certificat de padró» con Ajuntament de Figueres." in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_survey_form_takes_one_answer_then_says_it_is_answered(
    web_server: RunningServer, council: httpx.Client
) -> None:
    token = invitation(council)["token"]
    path = f"/participation/survey/{token}?lang=en"

    with web_server.client() as anyone:
        missing = anyone.post(path, data={"idea": "Sense valoració"})
        first = anyone.post(path, data={"rating": "2", "idea": "Obrir també a la tarda."})
        second = anyone.post(path, data={"rating": "5"})
        view = anyone.get(f"/v1/participation/invitations/{token}").json()

    assert (missing.status_code, "Choose a rating from 1 to 5." in missing.text) == (422, True)
    assert (first.status_code, "your rating and your idea are recorded" in first.text) == (201, True)
    assert (second.status_code, "already been answered" in second.text) == (409, True)
    assert view["status"] == "answered"


def test_survey_page_of_an_unknown_link_answers_404_saying_so(web_server: RunningServer) -> None:
    with web_server.client() as anyone:
        unknown = anyone.get("/participation/survey/" + "x" * 32, params={"lang": "ca"})
        malformed = anyone.get("/participation/survey/short", params={"lang": "ca"})

    assert [unknown.status_code, malformed.status_code] == [404, 404]
    assert "Cap enquesta no té aquest enllaç" in unknown.text


def answer_in_browser(browser: Browser, link: str, rating: int, idea: str) -> None:
    page = browser.page
    page.goto(link)
    page.get_by_role("radio", name=re.compile(f"^{rating} ")).check()
    page.get_by_role("textbox").fill(idea)
    page.get_by_role("button", name=re.compile("Envia|Send|Enviar")).click()
    expect(page.locator("#survey-done")).to_be_visible()


def test_citizen_rates_a_procedure_in_chromium_and_the_rating_is_counted(
    headless_chromium: Chromium, web_server: RunningServer, council: httpx.Client
) -> None:
    created = invitation(council, procedure="LLICENCIA-OBRES")
    browser = launch(headless_chromium, web_server.url, locale="ca-ES")
    try:
        answer_in_browser(browser, created["url"], 4, "Poder adjuntar els plànols en PDF.")
        expect(browser.page.locator("#survey-done")).to_contain_text("la teva idea queden registrades")
        browser.screenshot("participation-survey-desktop")
        browser.page.goto(created["url"])
        expect(browser.page.locator("#survey-closed")).to_contain_text("ja s'ha respost")
    finally:
        browser.close()
    assert browser.requests_elsewhere() == []
    code = council.get("/v1/me").json()["administration"]["code"]
    ratings = httpx.get(f"{web_server.url}/v1/participation/ratings/{code}").json()["procedures"]
    assert [(p["procedure"], p["counts"]) for p in ratings if p["procedure"] == "LLICENCIA-OBRES"] == [
        ("LLICENCIA-OBRES", [0, 0, 0, 1, 0])
    ]


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_survey_page_fits_a_phone_and_reads_well_in_each_language(
    headless_chromium: Chromium, web_server: RunningServer, council: httpx.Client, lang: str
) -> None:
    created = invitation(council, language=lang)
    browser = launch(headless_chromium, web_server.url, **PHONE)
    try:
        page = browser.page
        page.goto(created["url"])
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert low_contrast(page, "main *, header *, footer *") == {}
        # Every control has a name a screen reader reads out.
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('input, textarea, button')]
                .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                    && !(e.tagName === 'BUTTON' && e.textContent.trim()))
                .map((e) => e.outerHTML)"""
        )
        assert unnamed == []
        browser.screenshot(f"participation-survey-phone-{lang}", full_page=True)
    finally:
        browser.close()
    assert browser.requests_elsewhere() == []
