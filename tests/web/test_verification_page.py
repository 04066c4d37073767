"""The citizen verification page in real headless Chromium, against a real Segell server on the embedded chain."""

import hashlib
import json
import re
import secrets
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, expect
from sqlalchemy import update

from segell.services.notary import api as notary
from segell.services.notary import codes
from segell.services.notary.anchoring import AnchoringWorker
from segell.services.notary.models import Document
from segell.services.notary.repository import batches
from segell.services.notary.settings import NotarySettings
from segell.services.runtime import Runtime
from tests.helpers import RunningServer, make_settings, serve, wait_anchored
from tests.web.conftest import Browser, Notarised, launch, low_contrast, notarise

RESULT = "#result"
PHONE = {"width": 360, "height": 780}


def check_file(page: Page, tmp_path: Path, content: bytes, name: str = "document.pdf") -> None:
    path = tmp_path / name
    path.write_bytes(content)
    page.set_input_files("#file", str(path))


def wait_result(page: Page, state: str) -> None:
    expect(page.locator(RESULT)).to_have_attribute("data-state", state)


def verify_requests(browser: Browser) -> list[str]:
    return [url for url in browser.requests if "/v1/" in url]


def test_authentic_file_is_hashed_in_the_browser_and_shown_authentic(
    browser: Browser, issuer: httpx.Client, tmp_path: Path
) -> None:
    document = notarise(issuer)
    page = browser.open()
    check_file(page, tmp_path, document.content)
    wait_result(page, "authentic")
    result = page.locator(RESULT)
    expect(result.locator("h3").first).to_have_text("Document autèntic")
    anchor = document.receipt["anchor"]
    expect(result).to_contain_text("Ajuntament de Girona")
    expect(result).to_contain_text(str(anchor["block_number"]))
    expect(result).to_contain_text(anchor["transaction_hash"])
    expect(result).to_contain_text(hashlib.sha256(document.content).hexdigest())
    # Only the SHA-256 went to the server, in the query of a GET: the file was never uploaded.
    assert verify_requests(browser) == [f"{browser.base_url}/v1/verify?hash={document.receipt['document_hash']}"]
    expect(page.locator("#signature-status")).to_have_text("No s'ha comprovat cap signatura.")
    browser.screenshot("authentic-file")


def test_dropped_file_is_checked_like_a_chosen_one(browser: Browser, issuer: httpx.Client) -> None:
    document = notarise(issuer)
    page = browser.open()
    # What the browser hands the page when a file is dropped on the zone.
    page.evaluate(
        """(bytes) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "dropped.pdf", {type: "application/pdf"}));
            const zone = document.getElementById("drop-zone");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        list(document.content),
    )
    wait_result(page, "authentic")
    expect(page.locator(RESULT)).to_contain_text(document.receipt["document_hash"])
    assert verify_requests(browser) == [f"{browser.base_url}/v1/verify?hash={document.receipt['document_hash']}"]


def test_file_registered_by_two_administrations_lists_both(
    browser: Browser, issuer: httpx.Client, web_server: RunningServer, tmp_path: Path
) -> None:
    document = notarise(issuer)
    with web_server.client(web_server.admit(name="Diputació de Girona")) as other:
        revoked = notarise(other, document.content)
        assert other.post(f"/v1/documents/{revoked.receipt['id']}/revoke", json={"reason": "Duplicat"}).is_success
    page = browser.open()
    check_file(page, tmp_path, document.content)
    wait_result(page, "authentic")
    matches = page.locator(f"{RESULT} .match")
    expect(matches).to_have_count(2)
    expect(page.locator(RESULT).locator(".verdict p").first).to_contain_text("Registrat per Ajuntament de Girona")
    expect(page.locator(f"{RESULT} .match[data-status='revoked']")).to_contain_text("Diputació de Girona")
    expect(page.locator(f"{RESULT} .match[data-status='revoked']")).to_contain_text("Duplicat")
    expect(page.locator(f"{RESULT} .match[data-status='authentic']")).to_contain_text("Ajuntament de Girona")


def test_tampered_file_is_shown_unknown(browser: Browser, issuer: httpx.Client, tmp_path: Path) -> None:
    document = notarise(issuer)
    tampered = bytearray(document.content)
    tampered[-1] ^= 0x01
    page = browser.open()
    check_file(page, tmp_path, bytes(tampered))
    wait_result(page, "unknown")
    result = page.locator(RESULT)
    expect(result.locator("h3").first).to_have_text("Document desconegut")
    expect(result).to_contain_text("potser s'ha alterat")
    expect(result).to_contain_text(hashlib.sha256(bytes(tampered)).hexdigest())
    expect(result).not_to_contain_text("Ajuntament de Girona")
    browser.screenshot("tampered-file")


def test_revoked_document_shows_the_date_and_the_reason(
    browser: Browser, issuer: httpx.Client, web_server: RunningServer
) -> None:
    document = notarise(issuer, public_copy=True)
    reason = "Substituït per una nova versió amb l'adreça corregida"
    revoked = issuer.post(f"/v1/documents/{document.receipt['id']}/revoke", json={"reason": reason})
    assert revoked.status_code == 200, revoked.text
    with web_server.client() as citizen:
        revocation = citizen.get("/v1/verify", params={"code": document.code}).json()["matches"][0]["revocation"]
    page = browser.open(f"/verify/{document.code}")
    wait_result(page, "revoked")
    result = page.locator(RESULT)
    expect(result.locator("h3").first).to_have_text("Document revocat")
    expect(result).to_contain_text(reason)
    revoked_at = result.locator("dt:text-is('Revocat el') + dd time")
    expect(revoked_at).to_have_attribute("datetime", revocation["revoked_at"])
    year, month, day = (int(part) for part in revocation["revoked_at"][:10].split("-"))
    catalan_months = ["gener", "febrer", "març", "abril", "maig", "juny", "juliol", "agost", "setembre", "octubre",
                      "novembre", "desembre"]  # fmt: skip
    expect(revoked_at).to_contain_text(re.compile(rf"\b{day}\b.*{catalan_months[month - 1]}.*\b{year}\b"))
    # Its issuer kept a copy for download; withdrawn, the document is no longer offered.
    expect(page.locator("#document-link")).to_have_count(0)
    browser.screenshot("revoked-document")


def test_valid_code_typed_loosely_is_shown_authentic_with_its_bundle(
    browser: Browser, issuer: httpx.Client, tmp_path: Path
) -> None:
    document = notarise(issuer)
    page = browser.open()
    page.fill("#code", "  " + document.code.lower().replace("-", " ") + " ")
    page.click("#code-submit")
    wait_result(page, "authentic")
    expect(page.locator(RESULT)).to_contain_text(str(document.receipt["anchor"]["block_number"]))
    expect(page).to_have_url(f"{browser.base_url}/verify/{document.code}")
    expect(page.locator("#signature-status")).to_have_text("No s'ha comprovat cap signatura.")
    expect(page.locator("#signature")).to_contain_text("tria'n el fitxer")
    with page.expect_download() as download_info:
        page.click("#bundle-link")
    download = download_info.value
    assert download.suggested_filename == f"{document.code}.segell.json"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    own = issuer.get(f"/v1/documents/{document.receipt['id']}/bundle").json()
    assert json.loads(saved.read_text()) == own
    browser.screenshot("valid-code")


def test_salted_file_is_shown_with_its_issuer_and_date_but_not_what_it_is(
    browser: Browser, issuer: httpx.Client, tmp_path: Path
) -> None:
    document = notarise(issuer, title="Certificat de convivència", salted=True)
    page = browser.open()
    check_file(page, tmp_path, document.content)
    wait_result(page, "authentic")
    result = page.locator(RESULT)
    expect(result.locator("h3").first).to_have_text("Document autèntic")
    expect(result).to_contain_text("Ajuntament de Girona")
    expect(result.locator("dt")).to_contain_text(["Emès per", "Ancorat el"])
    # No "Document" row at all rather than an empty or "null" one.
    expect(result.locator(".match dt").get_by_text("Document", exact=True)).to_have_count(0)
    shown = result.inner_text()
    assert "Certificat de convivència" not in shown
    assert "null" not in shown and "undefined" not in shown
    browser.screenshot("salted-file")

    # The code printed on the document shows what it is.
    page.fill("#code", document.code)
    page.click("#code-submit")
    expect(result).to_contain_text("certificat — Certificat de convivència")


def test_mistyped_code_is_caught_by_its_check_character_before_any_lookup(
    browser: Browser, issuer: httpx.Client
) -> None:
    document = notarise(issuer)
    # Two adjacent characters swapped: the commonest slip; the check character catches every one.
    code = document.code.replace("-", "")
    swaps = [code[:i] + code[i + 1] + code[i] + code[i + 2 :] for i in range(15) if code[i] != code[i + 1]]
    # One the legacy check does not take either: a code only that check takes is asked about (the server tells it).
    swapped = next(swap for swap in swaps if not codes.is_valid_code(swap))
    page = browser.open()
    page.fill("#code", swapped)
    page.press("#code", "Enter")
    wait_result(page, "code-problem")
    result = page.locator(RESULT)
    expect(result.locator("h3")).to_have_text("El codi té un error de tecleig")
    expect(result).to_contain_text("Compara cada caràcter amb el document")
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    assert verify_requests(browser) == []
    browser.screenshot("mistyped-code")
    page.fill("#code", document.code[:-3])
    page.press("#code", "Enter")
    expect(result).to_contain_text("Un codi de verificació té 17 caràcters (XXXX-XXXX-XXXX-XXXX-C); aquest en té 15.")


def test_well_formed_code_of_no_document_is_shown_unknown(browser: Browser) -> None:
    page = browser.open()
    page.fill("#code", "0000-0000-0000-0000-0")  # a valid check character: all zeros weigh zero
    page.press("#code", "Enter")
    wait_result(page, "unknown")
    expect(page.locator(RESULT)).to_contain_text("Cap document no té aquest codi de verificació.")
    browser.screenshot("unknown-code")


def test_pending_document_is_shown_pending_then_authentic_without_reload(
    headless_chromium: Chromium, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(tmp_path_factory.mktemp("segell-web-pending"), NotarySettings(anchoring_worker=False))
    with contextmanager(serve)(settings) as server:
        with server.client(server.admit(name="Consell Comarcal del Gironès")) as issuer:
            receipt = issuer.post("/v1/documents", json={"hash": hashlib.sha256(b"pending").hexdigest()}).json()
        pending = launch(headless_chromium, server.url)
        try:
            page = pending.open(f"/verify/{receipt['verification_code']}")
            wait_result(page, "pending")
            expect(page.locator(RESULT).locator("h3").first).to_have_text("Registrat, encara no ancorat")
            expect(page.locator(RESULT)).to_contain_text("Consell Comarcal del Gironès ha registrat aquest document")
            expect(page.locator("#bundle-link")).to_have_count(0)
            pending.screenshot("pending-document")
            # The anchoring worker starts only now: the page, left open, sees the document anchored.
            worker = AnchoringWorker(server.app.state.runtime)  # type: ignore[attr-defined]
            worker.start()
            try:
                wait_result(page, "authentic")
            finally:
                worker.stop()
            expect(page.locator("#bundle-link")).to_be_visible()
            page_loads = [url for url in pending.requests if "/verify/" in url and "/v1/" not in url]
            assert page_loads == [f"{server.url}/verify/{receipt['verification_code']}"]
            assert pending.requests_elsewhere() == []
        finally:
            pending.close()


def focused(page: Page) -> dict[str, str]:
    state: dict[str, str] = page.evaluate(
        """() => {
            const node = document.activeElement;
            const style = getComputedStyle(node);
            return {id: node.id, text: node.textContent.trim(), tag: node.tagName,
                    outline: `${style.outlineStyle} ${style.outlineWidth}`};
        }"""
    )
    return state


def tab_to(page: Page, limit: int = 20, **wanted: str) -> dict[str, str]:
    """Press Tab until the focused element has the `wanted` id or text; its state then."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = focused(page)
        if all(state[key] == value for key, value in wanted.items()):
            return state
    raise AssertionError(f"Tab never reached {wanted}")


def test_keyboard_only_use_with_visible_focus(browser: Browser, issuer: httpx.Client, tmp_path: Path) -> None:
    document = notarise(issuer)
    page = browser.open()
    # On the plain page the two ways to check come first, the (empty) result after them.
    assert box_of(page, "#code")["y"] < box_of(page, RESULT)["y"]
    expect(page.locator(RESULT)).to_have_text("Encara no s'ha comprovat cap document.")
    first = tab_to(page, limit=1)
    assert first["text"] == "Vés a la comprovació" and first["outline"] == "solid 3px"
    # A file chosen from the keyboard: Space on the file field opens the chooser.
    state = tab_to(page, id="file")
    assert state["outline"] == "solid 3px"
    path = tmp_path / "resolucio.pdf"
    path.write_bytes(document.content)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(path))
    wait_result(page, "authentic")
    # A code typed and sent from the keyboard.
    state = tab_to(page, id="code")
    assert state["outline"] == "solid 3px"
    page.keyboard.type(document.code)
    page.keyboard.press("Enter")
    wait_result(page, "authentic")
    expect(page.locator("#bundle-link")).to_be_visible()
    state = tab_to(page, id="bundle-link")
    assert state["outline"] == "solid 3px"
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"{document.code}.segell.json"
    # The language switch, from the keyboard too.
    page.keyboard.press("Shift+Tab")
    state = tab_to(page, limit=40, text="English")
    assert state["outline"] == "solid 3px"
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Check a document")
    expect(page.locator(RESULT).locator("h3").first).to_have_text("Authentic document")
    browser.screenshot("keyboard-only")


def wait_remembered(browser: Browser, language: str) -> None:
    """The renderer hands document.cookie to the browser's cookie store asynchronously: a navigation issued in the
    same millisecond as the click could still go without it."""
    for _ in range(100):
        if {"name": "segell_lang", "value": language} in [
            {"name": c["name"], "value": c["value"]} for c in browser.context.cookies()
        ]:
            return
        browser.page.wait_for_timeout(20)
    raise AssertionError(f"the language {language} was not remembered in a cookie")


def test_language_switch_is_applied_at_once_and_remembered_across_reload(
    browser: Browser, issuer: httpx.Client
) -> None:
    document = notarise(issuer)
    page = browser.open(f"/verify/{document.code}")
    wait_result(page, "authentic")
    expect(page.locator("h1")).to_have_text("Comprova un document")
    page.click("text=Español")
    expect(page.locator("h1")).to_have_text("Comprueba un documento")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator(".languages a[aria-current='true']")).to_have_text("Español")
    expect(page.locator(RESULT).locator("h3").first).to_have_text("Documento auténtico")
    expect(page.locator("label[for='code']")).to_have_text("Código de verificación")
    wait_remembered(browser, "es")
    page.reload()
    expect(page.locator("h1")).to_have_text("Comprueba un documento")
    wait_result(page, "authentic")
    expect(page.locator(RESULT).locator("h3").first).to_have_text("Documento auténtico")
    browser.screenshot("language-es")
    page.click("text=English")
    wait_remembered(browser, "en")
    browser.open("/")
    expect(page.locator("h1")).to_have_text("Check a document")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    browser.screenshot("language-en")


@pytest.fixture(scope="module")
def certificate_document(issuer: httpx.Client) -> Notarised:
    """A document of a kind Segell itself notarises, whose label the page shows in each language."""
    return notarise(issuer, kind="certificate", title="Segell electrònic de l'Ajuntament")


def test_first_visit_follows_the_browsers_language_then_the_citizens_choice(
    headless_chromium: Chromium, web_server: RunningServer, certificate_document: Notarised
) -> None:
    spanish = launch(headless_chromium, web_server.url, locale="es-ES")
    try:
        page = spanish.open(f"/verify/{certificate_document.code}")
        wait_result(page, "authentic")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.locator("h1")).to_have_text("Comprueba un documento")
        expect(page.locator(RESULT).locator("h3").first).to_have_text("Documento auténtico")
        expect(page.locator(f"{RESULT} .match dt:text-is('Documento') + dd")).to_have_text(
            "Certificado electrónico — Segell electrònic de l'Ajuntament"
        )
        # The citizen's choice is kept, and wins over the browser's language from then on.
        page.click("text=Català")
        wait_remembered(spanish, "ca")
        page.reload()
        wait_result(page, "authentic")
        expect(page.locator("html")).to_have_attribute("lang", "ca")
        expect(page.locator("h1")).to_have_text("Comprova un document")
        expect(page.locator(f"{RESULT} .match dt:text-is('Document') + dd")).to_have_text(
            "Certificat electrònic — Segell electrònic de l'Ajuntament"
        )
        assert spanish.requests_elsewhere() == []
    finally:
        spanish.close()


def test_page_in_each_language_on_a_desktop_and_a_phone(
    headless_chromium: Chromium, web_server: RunningServer, certificate_document: Notarised
) -> None:
    # A browser in British English: the first visit is in English, then the citizen picks the other two.
    english = launch(headless_chromium, web_server.url, locale="en-GB")
    shown = [
        ("en", None, "Check a document", "Document", "Electronic certificate", "Authentic document"),
        ("es", "Español", "Comprueba un documento", "Documento", "Certificado electrónico", "Documento auténtico"),
        ("ca", "Català", "Comprova un document", "Document", "Certificat electrònic", "Document autèntic"),
    ]
    try:
        page = english.open(f"/verify/{certificate_document.code}")
        wait_result(page, "authentic")
        for lang, link, heading, document_label, kind, authentic in shown:
            page.set_viewport_size({"width": 1280, "height": 800})
            if link:
                page.click(f"text={link}")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            expect(page.locator("h1")).to_have_text(heading)
            expect(page.locator(RESULT).locator("h3").first).to_have_text(authentic)
            row = page.locator(f"{RESULT} .match dt:text-is('{document_label}') + dd")
            expect(row).to_have_text(f"{kind} — Segell electrònic de l'Ajuntament")
            english.screenshot(f"verify-{lang}-desktop")
            page.set_viewport_size({"width": 360, "height": 780})
            expect(row).to_be_visible()
            assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0, lang
            english.screenshot(f"verify-{lang}-phone")
        assert english.requests_elsewhere() == []
    finally:
        english.close()


def test_document_made_from_another_shows_the_chain_with_a_link_to_check_each(
    browser: Browser, issuer: httpx.Client, web_server: RunningServer
) -> None:
    original = notarise(issuer, title="Decret 4/2026")
    runtime = web_server.app.state.runtime  # type: ignore[attr-defined]
    administration_id = runtime_administration_id(web_server, original.receipt["id"])
    with runtime.transaction() as session:
        signed = notary.notarise(
            session,
            administration_id,
            hashlib.sha256(original.content + b"signed").hexdigest(),
            kind="signed-pdf",
            title="Decret 4/2026 signat",
            derived_from=[original.receipt["id"]],
        )
    wait_anchored(issuer, signed.id)

    page = browser.open(f"/verify/{signed.verification_code}")
    wait_result(page, "authentic")
    match = page.locator(f"{RESULT} .match")
    expect(match).to_contain_text("Document PDF signat — Decret 4/2026 signat")
    source = match.locator(f".derived li[data-code='{original.code}']")
    expect(match.locator(".derived h4")).to_have_text("Fet a partir de")
    expect(source).to_contain_text("Decret 4/2026 · Ajuntament de Girona")
    expect(source).to_contain_text(original.code)
    page.click("text=Español")
    expect(match).to_contain_text("Documento PDF firmado")
    expect(match.locator(".derived h4")).to_have_text("Hecho a partir de")
    browser.screenshot("derived-from")

    source.locator("a").click()
    expect(page).to_have_url(f"{browser.base_url}/verify/{original.code}")
    wait_result(page, "authentic")
    expect(page.locator(RESULT)).to_contain_text("Decret 4/2026")
    expect(page.locator(f"{RESULT} .derived")).to_have_count(0)


def runtime_administration_id(server: RunningServer, receipt_id: str) -> int:
    runtime = server.app.state.runtime  # type: ignore[attr-defined]
    with runtime.transaction() as session:
        document = session.get(Document, receipt_id)
        assert document is not None
        return int(document.administration_id)


def test_no_request_leaves_127_0_0_1(browser: Browser, issuer: httpx.Client, tmp_path: Path) -> None:
    document = notarise(issuer)
    page = browser.open(f"/verify/{document.code}")
    wait_result(page, "authentic")
    check_file(page, tmp_path, document.content)
    wait_result(page, "authentic")
    with page.expect_download():
        page.click("text=Español")
        page.fill("#code", document.code)
        page.press("#code", "Enter")
        wait_result(page, "authentic")
        page.click("#bundle-link")
    page.click("summary")
    page.reload()
    wait_result(page, "authentic")
    assert browser.requests_elsewhere() == []
    # Every request of the pages, the download included, went through the proxy to the server.
    assert set(browser.requests) <= set(browser.proxy.targets)
    local = [url for url in browser.proxy.targets if url.startswith(browser.base_url)]
    paths = {re.sub(r"\?.*", "", url.removeprefix(browser.base_url)) for url in local}
    assert paths == {
        f"/verify/{document.code}",
        "/static/web/verify.css",
        "/static/web/hashes.js",
        "/static/web/verify.js",
        "/v1/verify",
        f"/v1/verify/{document.code}/bundle",
    }
    browser.screenshot("no-external-requests")


def test_accessibility_basics_in_the_dom(browser: Browser, issuer: httpx.Client) -> None:
    document = notarise(issuer, public_copy=True)
    page = browser.open(f"/verify/{document.code}")
    wait_result(page, "authentic")
    # A code's page reads result first, on the first screen of a desktop too, with the document to download; the
    # two ways to check another document follow, side by side.
    assert visible_without_scrolling(page, "#verdict") and visible_without_scrolling(page, "#document-link")
    assert box_of(page, RESULT)["y"] < box_of(page, "#code")["y"]
    by_file, by_code = box_of(page, "#drop-zone"), box_of(page, "#code-form")
    assert abs(by_file["y"] - by_code["y"]) < 80 and by_code["x"] > by_file["x"] + by_file["width"]
    browser.screenshot("desktop-code-first-screen", full_page=False)
    browser.screenshot("desktop-code")
    audit = page.evaluate(
        """() => {
            const visible = (node) => node.getClientRects().length > 0;
            const name = (node) => (node.getAttribute("aria-label") || node.textContent || "").trim();
            return {
                lang: document.documentElement.lang,
                title: document.title,
                h1: [...document.querySelectorAll("h1")].map((n) => n.textContent),
                unlabelled: [...document.querySelectorAll("input, select, textarea")]
                    .filter((n) => n.labels.length === 0 && !n.getAttribute("aria-label")).map((n) => n.id || n.name),
                unnamed: [...document.querySelectorAll("button, a[href]")].filter((n) => visible(n) && !name(n))
                    .map((n) => n.outerHTML),
                live: document.getElementById("result").getAttribute("aria-live"),
                described: [...document.querySelectorAll("[aria-describedby]")].flatMap(
                    (n) => n.getAttribute("aria-describedby").split(" ")).filter((id) => !document.getElementById(id)),
                nav: document.querySelector("nav").getAttribute("aria-label"),
                images: [...document.querySelectorAll("img:not([alt])")].length,
                viewport: document.querySelector("meta[name=viewport]").content,
            };
        }"""
    )
    assert audit["lang"] == "ca"
    assert audit["title"] == "Comprova un document · Segell"
    assert audit["h1"] == ["Comprova un document"]
    assert audit["unlabelled"] == []
    assert audit["unnamed"] == []
    assert audit["live"] == "polite"
    assert audit["described"] == []
    assert audit["nav"] == "Idioma"
    assert audit["images"] == 0
    assert "width=device-width" in audit["viewport"]
    # WCAG AA: at least 4.5:1 between every text and the background it is drawn on.
    low = low_contrast(page, "h1, h2, h3, p, label, a, button, dt, dd, li, code, summary")
    assert low == {}
    # The result region is announced: its text changes inside the aria-live element.
    expect(page.locator("#result[aria-live='polite'] h3").first).to_have_text("Document autèntic")


def box_of(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not rendered"
    return dict(box)


def visible_without_scrolling(page: Page, selector: str) -> bool:
    """Whether the page is at its top and the middle of `selector` is the element itself, on screen and uncovered."""
    return bool(
        page.evaluate(
            """(selector) => {
                const node = document.querySelector(selector);
                const box = node.getBoundingClientRect();
                const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
                return window.scrollY === 0 && box.top >= 0 && box.bottom <= window.innerHeight && node.contains(hit);
            }""",
            selector,
        )
    )


def test_scanned_code_shows_the_result_and_the_document_on_a_phones_first_screen(
    headless_chromium: Chromium, web_server: RunningServer, issuer: httpx.Client
) -> None:
    document = notarise(issuer, title="Certificat d'empadronament de la unitat familiar", public_copy=True)
    phone = launch(headless_chromium, web_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = phone.open(f"/verify/{document.code}")
        wait_result(page, "authentic")
        expect(page.locator("#verdict h3")).to_have_text("Document autèntic")
        expect(page.locator("#verdict")).to_contain_text("Certificat d'empadronament de la unitat familiar")
        # The result, whole, on the first screen: the page opened where a QR code leads.
        verdict = box_of(page, "#verdict")
        assert verdict["y"] >= 0 and verdict["y"] + verdict["height"] <= PHONE["height"], verdict
        assert visible_without_scrolling(page, "#verdict")
        link = box_of(page, "#document-link")
        assert link["y"] + link["height"] <= PHONE["height"], link
        assert visible_without_scrolling(page, "#document-link")
        # The ways to check another document follow; nothing is wider than the screen.
        assert box_of(page, "#code")["y"] > verdict["y"] + verdict["height"]
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 0
        phone.screenshot("phone-360x780-code-first-screen", full_page=False)
        phone.screenshot("phone-360x780-code")
        assert phone.requests_elsewhere() == []
    finally:
        phone.close()


def legacy_code(check: str) -> str:
    """A code as issued before, whose modulo-37 check symbol is `check` (one of * ~ $ = U, or a data symbol)."""
    while True:
        data = codes.generate_code()[:16]
        value = int("".join(f"{codes.SYMBOLS.index(symbol):05b}" for symbol in data), 2)
        if codes.LEGACY_CHECK_SYMBOLS[value % 37] == check and codes.check_symbol(data) != check:
            return data + check


def runtime_of(server: RunningServer) -> Runtime:
    runtime: Runtime = server.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def test_page_computes_check_symbols_and_sha256_as_the_server_and_web_crypto(
    browser: Browser, issuer: httpx.Client, web_server: RunningServer
) -> None:
    # A document issued with a legacy code ending in "$" (the check before codes took it from their alphabet).
    legacy, content = legacy_code("$"), secrets.token_bytes(64)
    with runtime_of(web_server).transaction() as session:
        receipt = notary.notarise(
            session,
            runtime_administration_id(web_server, notarise(issuer).receipt["id"]),
            hashlib.sha256(content).hexdigest(),
            kind="document",
            title="Certificat de 2025",
            code=notary.ReservedCode(stored=legacy, shown=codes.format_code(legacy)),
        )
    wait_anchored(issuer, receipt.id)
    page = browser.open()
    # New codes take their check symbol from their own alphabet, computed alike here and in the page.
    generated = [*codes.generate_codes(300), "0" * 17, "Z" * 16 + codes.check_symbol("Z" * 16)]
    checks = page.evaluate("(all) => all.map((code) => window.segellCheckSymbol(code.slice(0, 16)))", generated)
    assert checks == [code[16] for code in generated]
    assert {code[16] for code in generated} <= set(codes.SYMBOLS)
    # The legacy code is still read, typed by hand, and its bundle is named without the "$".
    page.fill("#code", legacy.lower())
    page.press("#code", "Enter")
    wait_result(page, "authentic")
    expect(page.locator(RESULT)).to_contain_text("Certificat de 2025")
    with page.expect_download() as download_info:
        page.click("#bundle-link")
    assert download_info.value.suggested_filename == f"{receipt.verification_code[:-2]}.segell.json"
    # The fallback SHA-256, used where the browser offers no Web Crypto (plain http away from localhost).
    mismatches = page.evaluate(
        """async () => {
            const bad = [];
            for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100000]) {
                const bytes = new Uint8Array(length).map((_, i) => (i * 31 + length) & 255);
                const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
                const actual = window.segellSha256Fallback(bytes);
                if (expected.join() !== actual.join()) bad.push(length);
            }
            return bad;
        }"""
    )
    assert mismatches == []


def test_request_recorder_catches_a_page_asking_another_host(
    headless_chromium: Chromium, web_server: RunningServer
) -> None:
    # The API's JSON has no Content-Security-Policy: there a script can try to reach another host.
    other = launch(headless_chromium, web_server.url)
    try:
        page = other.open("/openapi.json")
        page.evaluate("() => fetch('http://segell-elsewhere.invalid/leak').catch(() => null)")
        page.wait_for_function("() => true")
    finally:
        other.close()
    assert "http://segell-elsewhere.invalid/leak" in other.requests
    assert "http://segell-elsewhere.invalid/leak" in other.proxy.targets
    assert other.requests_elsewhere() == ["http://segell-elsewhere.invalid/leak"] * 2


def test_page_shows_the_deployments_own_notary_whatever_a_stored_row_says(
    browser: Browser, web_server: RunningServer, issuer: httpx.Client
) -> None:
    document = notarise(issuer)
    elsewhere = "0x" + "5e" * 20
    runtime = web_server.app.state.runtime  # type: ignore[attr-defined]
    root = document.receipt["anchor"]["root"].removeprefix("0x")  # stored without its prefix
    with runtime.engine.begin() as connection:
        changed = connection.execute(update(batches).where(batches.c.root == root).values(contract=elsewhere))
    assert changed.rowcount == 1
    published = issuer.get("/.well-known/segell.json").json()

    page = browser.open(f"/verify/{document.code}")
    wait_result(page, "authentic")

    expect(page.locator(RESULT)).to_contain_text(published["notary"])
    expect(page.locator(RESULT)).not_to_contain_text(elsewhere)
