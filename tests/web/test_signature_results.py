"""Signature results on the verification page, in real Chromium: a PDF signed by Segell, validated by
`POST /v1/signatures/validate` only when the citizen asks, and plain words for files that are not signed."""

import base64
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from segell.services.identity.certificates import signing_identity
from segell.services.identity.signing import SigningIdentity, sign_detached
from tests.helpers import RunningServer, administration_record, make_pdf, runtime_of, wait_anchored
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
    ("lang", "label", "verdict", "etsi"),
    [
        (
            "ca",
            "Autoritat de registre (qui va demanar el certificat)",
            "La signatura és vàlida: signada per Ajuntament de Girona, amb un certificat vigent i no revocat.",
            ("Resultat ETSI", "Superada (TOTAL_PASSED)"),
        ),
        (
            "es",
            "Autoridad de registro (quién pidió el certificado)",
            "La firma es válida: firmada por Ajuntament de Girona, con un certificado vigente y no revocado.",
            ("Resultado ETSI", "Superada (TOTAL_PASSED)"),
        ),
        (
            "en",
            "Registration authority (who asked for the certificate)",
            "The signature is valid: signed by Ajuntament de Girona, with a certificate in good standing.",
            ("ETSI result", "Passed (TOTAL_PASSED)"),
        ),
    ],
)
def test_signature_result_says_why_in_the_pages_language_and_names_the_registration_authority(
    browser: Browser,
    signed_pdf: dict[str, Any],
    tmp_path: Path,
    lang: str,
    label: str,
    verdict: str,
    etsi: tuple[str, str],
) -> None:
    authority = signed_pdf["signer"]["registration_authority"]
    page = browser.open(f"/?lang={lang}")
    choose(page, tmp_path, signed_pdf["bytes"], "resolucio-signed.pdf")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "authentic")
    page.click("#validate-signature")
    signature = page.locator("#signature")
    expect(signature).to_have_attribute("data-indication", "TOTAL_PASSED")
    expect(signature.locator(f'dt:text-is("{label}") + dd')).to_have_text(f"Ajuntament de Girona ({authority['code']})")
    expect(signature.locator(".signature-reason")).to_have_text(verdict)
    expect(signature.locator(f'dt:text-is("{etsi[0]}") + dd')).to_have_text(etsi[1])
    expect(page.locator("html")).to_have_attribute("lang", lang)
    browser.screenshot(f"signature-valid-{lang}")


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
    expect(signature.locator(".signature-reason")).to_have_text(
        "The file was changed after it was signed: its content is not the one the signature covers."
    )
    expect(signature.locator("dt:text-is('ETSI result') + dd")).to_have_text(
        "Failed: the signed content was changed (TOTAL_FAILED / HASH_FAILURE)"
    )
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


def test_revoked_certificate_verdicts_are_translated_and_follow_a_language_switch(
    browser: Browser, issuer: httpx.Client, web_server: RunningServer, tmp_path: Path
) -> None:
    issued = issuer.post(
        "/v1/certificates", json={"profile": "employee", "name": "Núria Vidal", "national_id": "12345678Z"}
    )
    assert issued.status_code == 201, issued.text
    serial = issued.json()["serial"]
    code = issuer.get("/v1/me").json()["administration"]["code"]
    held = signing_identity(runtime_of(web_server), administration_record(web_server, code).id, serial)
    identity = SigningIdentity(held.private_key, held.certificate, held.chain)
    # Signed while valid but never notarised, then signed again after the revocation by whoever kept the key. The
    # signer runs an event loop of its own: in a thread, beside Playwright's.
    with ThreadPoolExecutor(1) as thread:
        moment = datetime.now(UTC) - timedelta(minutes=1)
        before = thread.submit(sign_detached, b"informe previ", identity, signing_time=moment).result()
        revoked = issuer.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        assert revoked.status_code == 200, revoked.text
        moment = datetime.now(UTC) + timedelta(seconds=1)
        after = thread.submit(sign_detached, b"informe posterior", identity, signing_time=moment).result()

    page = browser.open("/?lang=es")
    choose(page, tmp_path, b"informe previ", "informe-previ.txt")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "unknown")
    (tmp_path / "previ.p7s").write_bytes(before.content)
    page.set_input_files("#detached-signature", str(tmp_path / "previ.p7s"))
    page.click("#validate-signature")
    item = page.locator("#signature .signature-item")
    expect(item).to_have_attribute("data-reason", "revoked_without_proof")
    expect(item.locator(".signature-reason")).to_have_text(
        re.compile(
            r"^El certificado de Núria Vidal se revocó el .* \(motivo: clave comprometida\) y nada prueba que "
            r"la firma existiera antes\.$"
        )
    )
    expect(item.locator("dt:text-is('Resultado ETSI') + dd")).to_have_text(
        "Indeterminada: el certificado está revocado y nada prueba que la firma existiera antes "
        "(INDETERMINATE / REVOKED_NO_POE)"
    )
    browser.screenshot("signature-revoked-no-proof-es")
    page.click("text=Català")
    expect(item.locator(".signature-reason")).to_have_text(
        re.compile(r"^El certificat de Núria Vidal es va revocar el .* \(motiu: clau compromesa\) i res no prova")
    )

    choose(page, tmp_path, b"informe posterior", "informe-posterior.txt")
    expect(page.locator(RESULT)).to_have_attribute("data-state", "unknown")
    (tmp_path / "posterior.p7s").write_bytes(after.content)
    page.set_input_files("#detached-signature", str(tmp_path / "posterior.p7s"))
    page.click("#validate-signature")
    expect(page.locator("#signature-status")).to_have_text("Signatura no vàlida")
    expect(item).to_have_attribute("data-reason", "signed_after_revocation")
    expect(item.locator(".signature-reason")).to_have_text(
        re.compile(r"^El document es va signar el .*, després que el certificat de Núria Vidal es revoqués el .*")
    )
    expect(item.locator("dt:text-is('Resultat ETSI') + dd")).to_have_text(
        "No superada: el certificat es va revocar abans de signar (TOTAL_FAILED / REVOKED)"
    )
    browser.screenshot("signature-revoked-ca")
