"""The citizen's page of accesses to their data, `/me/access`, in real headless Chromium against a real server where
two administrations exchange residence data and a third keeps a citizen's reusable diploma."""

import base64
import csv
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect

from tests.helpers import RunningServer, admit, log_in_citizen, make_pdf
from tests.services.test_interop_access import LEGAL_BASIS, Exchange, set_up_exchange
from tests.web.conftest import Browser, launch, low_contrast

PHONE = {"width": 360, "height": 780}


@dataclass
class Citizen:
    national_id: str
    token: str
    shown: dict[str, object]  # the access the citizen may see
    hidden: dict[str, object]  # one hidden for 30 days


@pytest.fixture(scope="module")
def exchange(web_server: RunningServer) -> Iterator[Exchange]:
    with admit(web_server, "Padró de Girona") as provider, admit(web_server, "Ajuntament de Salt") as consumer:
        yield set_up_exchange(web_server, provider, consumer)


def new_citizen(exchange: Exchange) -> Citizen:
    """A citizen whose residence Salt checked twice, once under an investigation's date; logged in with Salt."""
    subject = f"{secrets.randbelow(10**8):08d}W"
    exchange.register(subject)
    shown = exchange.ask(subject)
    hidden = exchange.ask(subject, hidden_until=(datetime.now(UTC) + timedelta(days=30)).isoformat())
    token = log_in_citizen(exchange.consumer.http)
    bound = exchange.consumer.http.post("/v1/interop/citizens", json={"citizen_token": token, "national_id": subject})
    assert bound.status_code == 200, bound.text
    return Citizen(subject, token, shown, hidden)


def open_logged_in(browser: Browser, citizen: Citizen, query: str = "") -> Page:
    page = browser.open(f"/me/access{query}#token={citizen.token}")
    expect(page.locator("#status")).to_have_attribute("data-state", "loaded")
    return page


def test_citizen_sees_who_accessed_their_data_and_not_the_hidden_access(browser: Browser, exchange: Exchange) -> None:
    citizen = new_citizen(exchange)
    page = open_logged_in(browser, citizen)
    rows = page.locator("#accesses tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-access", str(citizen.shown["id"]))
    expect(rows.first).to_contain_text("Ajuntament de Salt")
    expect(rows.first).to_contain_text("RESIDENCE")
    expect(rows.first).to_contain_text("Padró de Girona")
    expect(rows.first).to_contain_text("AJUTS-MENJADOR")
    expect(rows.first).to_contain_text(LEGAL_BASIS)
    expect(page.locator("#status")).to_have_text("1 accés a les teves dades.")
    expect(page.locator("h1")).to_have_text("Qui ha consultat les teves dades")
    expect(page.locator("#who")).to_have_text("Sessió iniciada amb Ajuntament de Salt.")
    # The token left the address bar (and never reached a server: it was in the fragment).
    assert "token" not in page.url
    assert all("token=" not in url for url in browser.requests)
    assert page.locator("#accesses caption").count() == 1
    assert page.locator("#accesses th[scope=col]").count() == 5
    assert low_contrast(page, "h1, h2, h3, p, th, td, button, a, caption, span, li, time") == {}
    browser.screenshot("access-desktop")
    # Reloaded, in Spanish: the login is kept for the tab.
    page.goto(f"{browser.base_url}/me/access?lang=es")
    expect(page.locator("#status")).to_have_attribute("data-state", "loaded")
    expect(page.locator("h1")).to_have_text("Quién ha consultado tus datos")
    expect(page.locator("html")).to_have_attribute("lang", "es")


def test_page_in_english_and_on_a_phone_fits_the_screen(
    headless_chromium: Chromium, web_server: RunningServer, exchange: Exchange
) -> None:
    citizen = new_citizen(exchange)
    phone = launch(headless_chromium, web_server.url, locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = open_logged_in(phone, citizen)
        expect(page.locator("h1")).to_have_text("Who has accessed your data")
        cell = page.locator("#accesses tbody td").first
        expect(cell).to_have_attribute("data-label", "When")
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
        # Each access is a block of its own: its cells one under the other, not side by side.
        boxes = [page.locator("#accesses tbody td").nth(i).bounding_box() for i in range(2)]
        assert boxes[0] is not None and boxes[1] is not None and boxes[1]["y"] > boxes[0]["y"]
        phone.screenshot("access-phone")
    finally:
        phone.close()
    assert phone.requests_elsewhere() == []


def test_export_downloads_csv_and_json_of_the_accesses_shown(browser: Browser, exchange: Exchange) -> None:
    citizen = new_citizen(exchange)
    page = open_logged_in(browser, citizen)
    with page.expect_download() as as_csv:
        page.click("#export-csv")
    with page.expect_download() as as_json:
        page.click("#export-json")
    assert as_csv.value.suggested_filename.startswith("segell-accesses-")
    assert as_csv.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(as_csv.value.path()).read_text(encoding="utf-8-sig"))))
    assert [(row["id"], row["consumer_name"], row["data"]) for row in rows] == [
        (citizen.shown["id"], "Ajuntament de Salt", "RESIDENCE")
    ]
    document = json.loads(Path(as_json.value.path()).read_text(encoding="utf-8"))
    assert [entry["id"] for entry in document["accesses"]] == [citizen.shown["id"]]


def test_citizen_previews_a_requested_document_and_consents_on_the_page(
    browser: Browser, web_server: RunningServer, exchange: Exchange
) -> None:
    citizen = new_citizen(exchange)
    content = make_pdf("Titol de batxillerat")
    with admit(web_server, "Institut Santiago Sobrequés") as school:
        kept = school.http.post(
            "/v1/interop/once-only/documents",
            json={
                "national_id": citizen.national_id,
                "document_type": "DIPLOMA",
                "title": "Títol de batxillerat",
                "file_name": "títol-batxillerat.pdf",
                "content_base64": base64.b64encode(content).decode(),
                "seal_certificate": school.issue("seal"),
            },
        )
        assert kept.status_code == 201, kept.text
    asked = exchange.consumer.http.post(
        "/v1/interop/once-only/requests",
        json={
            "national_id": citizen.national_id,
            "document_type": "DIPLOMA",
            "procedure_code": "BEQUES-2027",
            "case_id": "B-2027-7",
            "officer": "Pere Vidal",
        },
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    fetch = f"/v1/interop/once-only/requests/{request_id}/document"
    assert exchange.consumer.http.get(fetch).json()["error"]["code"] == "consent_missing"

    page = open_logged_in(browser, citizen)
    request = page.locator(f'li.request[data-request="{request_id}"]')
    expect(request).to_have_attribute("data-status", "consent_pending")
    expect(request).to_contain_text("Ajuntament de Salt demana «Títol de batxillerat», que té Institut Santiago")
    with page.expect_download() as preview:
        request.get_by_role("button", name="Mira el document").click()
    assert Path(preview.value.path()).read_bytes() == content
    assert preview.value.suggested_filename == "títol-batxillerat.pdf"
    browser.screenshot("access-once-only-request")
    request.get_by_role("button", name="Consenteixo que s'enviï").click()
    expect(page.locator("#status")).to_have_text(
        "Has donat el consentiment: Ajuntament de Salt ja pot obtenir el document."
    )
    expect(request).to_have_attribute("data-status", "authorised")
    expect(request.get_by_role("button", name="Consenteixo que s'enviï")).to_have_count(0)

    delivered = exchange.consumer.http.get(fetch)
    assert delivered.status_code == 200, delivered.text
    assert base64.b64decode(delivered.json()["content_base64"]) == content
    # The delivery is an access like any other: it is on the page once loaded again.
    page.reload()
    expect(page.locator(f'#accesses tr[data-access="{request_id}"]')).to_contain_text("DIPLOMA")


def test_page_without_a_login_says_how_to_log_in(browser: Browser) -> None:
    page = browser.open("/me/access?lang=en")
    expect(page.locator("#status")).to_have_attribute("data-state", "signed_out")
    expect(page.locator("#status")).to_contain_text("You are not logged in.")
    expect(page.locator("#signed-in")).to_be_hidden()
    assert [url for url in browser.requests if "/v1/" in url] == []


def test_expired_or_forged_token_ends_the_session_on_the_page(browser: Browser) -> None:
    forged = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjaXRfMCJ9.c2lnbmF0dXJl"
    page = browser.open(f"/me/access?lang=en#token={forged}")
    expect(page.locator("#status")).to_have_attribute("data-state", "signed_out")
    expect(page.locator("#status")).to_have_text(
        "Your session has ended. Log in again on your administration's website or app."
    )
    assert page.evaluate("() => sessionStorage.getItem('segell_citizen_token')") is None


def test_unbound_login_is_told_its_administration_must_identify_it(browser: Browser, exchange: Exchange) -> None:
    token = log_in_citizen(exchange.consumer.http)
    page = browser.open(f"/me/access?lang=en#token={token}")
    expect(page.locator("#status")).to_have_attribute("data-state", "not_identified")
    expect(page.locator("#status")).to_contain_text("has not yet told Segell your national ID")


def test_page_headers_load_nothing_from_elsewhere(web_server: RunningServer) -> None:
    with httpx.Client(base_url=web_server.url) as http:
        response = http.get("/me/access")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "http" not in response.text.split("</head>")[0].replace('content="width=device-width', "")
