"""Signature results on the verification page, in real Chromium: a PDF signed by Segell, validated by
`POST /v1/signatures/validate` only when the citizen asks, and plain words for files that are not signed."""

import base64
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.helpers import RunningServer, make_pdf, wait_anchored
from tests.web.conftest import Browser, notarise

RESULT = "#result"


@pytest.fixture(scope="module")
def signed_pdf(issuer: httpx.Client) -> dict[str, Any]:
    """A PDF signed with the administration's seal, its verification code stamped in it, notarised and anchored,
    and kept for whoever holds its code to download."""
    issued = issuer.post("/v1/certificates", json={"profile": "seal"})
    assert issued.status_code == 201, issued.text
    response = issuer.post(
        "/v1/signatures",
        # A file name with characters no file name should carry: the copy is offered under a safe one.
        files={"file": ("Resolució 2026-118: llicència*.pdf", make_pdf("Resolucio de l'alcaldia 2026/118"))},
        data={"as": "seal", "public_copy": "true"},
    )
    assert response.status_code == 201, response.text
    signed: dict[str, Any] = response.json()
    signed["bytes"] = base64.b64decode(signed["content"])
    signed["receipt"] = wait_anchored(issuer, signed["receipt"]["id"])
    return signed


def choose(page: Page, tmp_path: Path, content: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    page.set_input_files("#file", str(path))


def uploads(browser: Browser) -> list[str]:
    return [url for url in browser.requests if url.endswith("/v1/signatures/validate")]


def test_signed_pdf_shows_who_signed_and_that_the_signature_is_valid(
    browser: Browser, signed_pdf: dict[str, Any], tmp_path: Path
) -> None:
    page = browser.open("/?lang=en")
    choose(page, tmp_path, signed_pdf["bytes"], "resolucio-signed.pdf")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "authentic")
    signature = page.locator("#signature")
    # Nothing is sent until the citizen asks: the page says so in plain words.
    expect(page.locator("#signature-status")).to_have_text("No signature checked.")
    assert uploads(browser) == []
    page.click("#validate-signature")
    expect(signature).to_have_attribute("data-indication", "TOTAL_PASSED")
    expect(page.locator("#signature-status")).to_have_text("Valid signature")
    expect(signature).to_contain_text(signed_pdf["signer"]["name"])
    expect(signature).to_contain_text("Ajuntament de Girona")
    expect(signature).to_contain_text("administration's seal")
    expect(signature).to_contain_text("PAdES")
    expect(signature.locator("dt:text-is('Proof of existence') + dd")).to_contain_text(
        f"block {signed_pdf['receipt']['anchor']['block_number']}"
    )
    assert uploads(browser) == [f"{browser.base_url}/v1/signatures/validate"]
    browser.screenshot("signature-valid")


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("ca", "Autoritat de registre (qui va demanar el certificat)"),
        ("es", "Autoridad de registro (quién pidió el certificado)"),
        ("en", "Registration authority (who asked for the certificate)"),
    ],
)
def test_signature_result_names_the_registration_authority(
    browser: Browser, signed_pdf: dict[str, Any], tmp_path: Path, lang: str, label: str
) -> None:
    authority = signed_pdf["signer"]["registration_authority"]
    page = browser.open(f"/?lang={lang}")
    choose(page, tmp_path, signed_pdf["bytes"], "resolucio-signed.pdf")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "authentic")
    page.click("#validate-signature")
    signature = page.locator("#signature")
    expect(signature).to_have_attribute("data-indication", "TOTAL_PASSED")
    expect(signature.locator(f'dt:text-is("{label}") + dd')).to_have_text(f"Ajuntament de Girona ({authority['code']})")


def test_verification_url_stamped_in_the_signed_pdf_shows_who_signed_it_and_offers_the_document(
    browser: Browser, web_server: RunningServer, signed_pdf: dict[str, Any], tmp_path: Path
) -> None:
    assert signed_pdf["verification_url"] == f"{browser.base_url}/verify/{signed_pdf['verification_code']}"
    with web_server.client() as citizen:
        (match,) = citizen.get("/v1/verify", params={"code": signed_pdf["verification_code"]}).json()["matches"]
    page = browser.open(signed_pdf["verification_url"].removeprefix(browser.base_url) + "?lang=en")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "authentic")
    expect(page.locator(RESULT)).to_contain_text("Ajuntament de Girona")
    # Who signed it, as Segell checked when it signed: nothing to upload for that.
    signer, signers = signed_pdf["signer"], page.locator("#signers")
    expect(signers.locator("h4")).to_have_text("Who signed it")
    expect(signers.locator("dt:text-is('Signed by') + dd")).to_have_text(signer["name"])
    expect(signers.locator("dt:text-is('Signatory') + dd")).to_have_text("administration's seal")
    expect(signers.locator("dt:text-is('Certificate issued by') + dd")).to_have_text(signer["issuer"])
    expect(signers.locator("dt:text-is('Signed on') + dd time")).to_have_attribute(
        "datetime", match["signers"][0]["signed_at"]
    )
    assert datetime.fromisoformat(match["signers"][0]["signed_at"]) == datetime.fromisoformat(
        signed_pdf["signing_time"]
    )
    expect(page.locator("#signature")).to_have_count(0)
    assert uploads(browser) == []
    # The signed PDF itself, under a name safe on any system.
    with page.expect_download() as download_info:
        page.click("#document-link")
    download = download_info.value
    assert download.suggested_filename == "Resolució 2026-118- llicència-signed.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == signed_pdf["bytes"]
    browser.screenshot("signed-pdf-by-code")
    page.click("text=Español")
    expect(signers.locator("h4")).to_have_text("Quién lo firmó")
    expect(page.locator("#document-link")).to_have_text("Descarga el documento")
    page.click("text=Català")
    expect(signers.locator("h4")).to_have_text("Qui l'ha signat")
    expect(page.locator("#document-link")).to_have_text("Descarrega el document")


def test_signed_pdf_changed_after_signing_shows_an_invalid_signature(
    browser: Browser, signed_pdf: dict[str, Any], tmp_path: Path
) -> None:
    original = signed_pdf["bytes"]
    changed = original.replace(b"2026/118", b"2026/119", 1)
    assert changed != original
    page = browser.open("/?lang=en")
    choose(page, tmp_path, changed, "resolucio-changed.pdf")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "unknown")
    page.click("#validate-signature")
    signature = page.locator("#signature")
    expect(signature).to_have_attribute("data-indication", "TOTAL_FAILED")
    expect(page.locator("#signature-status")).to_have_text("Invalid signature")
    expect(signature).to_contain_text("HASH_FAILURE")
    browser.screenshot("signature-invalid")


def test_unsigned_file_is_said_to_be_not_signed(browser: Browser, issuer: httpx.Client, tmp_path: Path) -> None:
    document = notarise(issuer, make_pdf("Certificat sense signatura"))
    page = browser.open("/?lang=en")
    choose(page, tmp_path, document.content, "unsigned.pdf")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "authentic")
    expect(page.locator("#signature-status")).to_have_text("No signature checked.")
    page.click("#validate-signature")
    expect(page.locator("#signature-status")).to_have_text("Not signed: this file has no electronic signature.")
    expect(page.locator("#signature")).not_to_have_attribute("data-indication", "TOTAL_PASSED")
    browser.screenshot("signature-not-signed")
