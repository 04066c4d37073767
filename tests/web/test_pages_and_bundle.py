"""The page routes, and the proof bundle and the document itself by verification code, over real HTTP (no
browser)."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import httpx
import pytest
from cryptography import x509

from segell.sdk import Client, GoneError, NotFoundError, ValidationError
from segell.services.identity.signature_schemas import Indication, SignatureReason, SubIndication
from segell.services.notary import api as notary
from segell.services.notary.codes import SYMBOLS, check_symbol
from segell.services.notary.settings import NotarySettings
from segell.services.web import pages
from tests.helpers import RunningServer, make_settings, serve
from tests.web.conftest import notarise


@pytest.fixture
def citizen(web_server: RunningServer) -> Iterator[httpx.Client]:
    with web_server.client() as client:
        yield client


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No anchoring worker: what is submitted stays pending."""
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-web-quiet"), NotarySettings(anchoring_worker=False)))


def mistype(code: str) -> str:
    """The same code with its first symbol replaced by another valid one: the check character no longer agrees."""
    first = code[0]
    replacement = next(symbol for symbol in SYMBOLS if symbol != first)
    return replacement + code[1:]


def assert_error(response: httpx.Response, status_code: int, code: str) -> str:
    assert response.status_code == status_code, response.text
    error = response.json()["error"]
    assert error["code"] == code
    return str(error["message"])


def test_bundle_by_code_is_the_issuers_bundle(issuer: httpx.Client, citizen: httpx.Client) -> None:
    document = notarise(issuer)
    own = issuer.get(f"/v1/documents/{document.receipt['id']}/bundle").json()
    typed = document.code.lower().replace("-", " ")
    response = citizen.get(f"/v1/verify/{typed}/bundle")
    assert response.status_code == 200, response.text
    assert response.json() == own
    assert own["receipt"]["verification_code"] == document.code


def test_bundle_of_a_revoked_document_is_still_served(issuer: httpx.Client, citizen: httpx.Client) -> None:
    document = notarise(issuer)
    revoked = issuer.post(f"/v1/documents/{document.receipt['id']}/revoke", json={"reason": "Duplicat"})
    assert revoked.status_code == 200, revoked.text
    response = citizen.get(f"/v1/verify/{document.code}/bundle")
    assert response.status_code == 200
    assert response.json()["document_hash"] == "0x" + document.receipt["document_hash"]


def test_bundle_of_an_unknown_code_answers_404(citizen: httpx.Client) -> None:
    # A well-formed code nobody was given: 16 zeros and their check symbol.
    message = assert_error(citizen.get(f"/v1/verify/{'0' * 16}{check_symbol('0' * 16)}/bundle"), 404, "not_found")
    assert "verification code" in message


def test_bundle_is_offered_under_a_file_name_of_its_code(issuer: httpx.Client, citizen: httpx.Client) -> None:
    document = notarise(issuer)
    response = citizen.get(f"/v1/verify/{document.code}/bundle")
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"{document.code}.segell.json\"; filename*=UTF-8''{document.code}.segell.json"
    )


def test_document_kept_for_the_holders_of_its_code_is_downloaded_by_it(
    issuer: httpx.Client, citizen: httpx.Client
) -> None:
    document = notarise(issuer, b"%PDF-1.7\n" + b"x" * 100, title="Llicència d'obres 12/2026", public_copy=True)
    response = citizen.get(f"/v1/verify/{document.code.lower()}/document")
    assert response.status_code == 200, response.text
    assert response.content == document.content
    assert response.headers["content-type"] == "application/pdf"
    # Named by its title, made safe; never opened as a page of this site.
    assert response.headers["content-disposition"] == (
        'attachment; filename="Llicencia d\'obres 12-2026.pdf"; '
        "filename*=UTF-8''Llic%C3%A8ncia%20d%27obres%2012-2026.pdf"
    )
    assert response.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    (match,) = citizen.get("/v1/verify", params={"code": document.code}).json()["matches"]
    assert match["public_copy"] == {
        "file_name": "Llicència d'obres 12-2026.pdf",
        "media_type": "application/pdf",
        "size": len(document.content),
        "url": f"/v1/verify/{document.code}/document",
    }
    # By hash, whoever asks has the file already: no copy is offered.
    by_hash = citizen.get("/v1/verify", params={"hash": document.receipt["document_hash"]}).json()
    assert by_hash["matches"][0]["public_copy"] is None


def test_document_without_a_public_copy_answers_404_saying_so(issuer: httpx.Client, citizen: httpx.Client) -> None:
    document = notarise(issuer)
    assert document.receipt["public_copy"] is False
    message = assert_error(citizen.get(f"/v1/verify/{document.code}/document"), 404, "no_public_copy")
    assert "kept no copy" in message
    assert citizen.get("/v1/verify", params={"code": document.code}).json()["matches"][0]["public_copy"] is None
    unknown = f"{'0' * 16}{check_symbol('0' * 16)}"
    assert "verification code" in assert_error(citizen.get(f"/v1/verify/{unknown}/document"), 404, "not_found")
    assert_error(citizen.get(f"/v1/verify/{mistype(document.code)}/document"), 422, "invalid_code")
    assert_error(citizen.get("/v1/verify/ABC/document"), 422, "validation_error")


def test_document_of_a_revoked_receipt_is_no_longer_served(issuer: httpx.Client, citizen: httpx.Client) -> None:
    document = notarise(issuer, public_copy=True)
    assert citizen.get(f"/v1/verify/{document.code}/document").status_code == 200
    revoked = issuer.post(f"/v1/documents/{document.receipt['id']}/revoke", json={"reason": "Anul·lat"})
    assert revoked.status_code == 200, revoked.text
    message = assert_error(citizen.get(f"/v1/verify/{document.code}/document"), 410, "document_revoked")
    assert "revoked this document" in message and "no longer served" in message
    (match,) = citizen.get("/v1/verify", params={"code": document.code}).json()["matches"]
    assert match["status"] == "revoked" and match["public_copy"] is None


def test_sdk_downloads_the_document_by_code_without_a_key(
    web_server: RunningServer, issuer: httpx.Client, tmp_path: Path
) -> None:
    kept = notarise(issuer, title="Acta: sessió 3/2026", public_copy=True)
    not_kept = notarise(issuer)
    with Client(web_server.url) as anyone:
        copy = anyone.documents.download(kept.code)
        with pytest.raises(NotFoundError) as none:
            anyone.documents.download(not_kept.code)
        issuer.post(f"/v1/documents/{kept.receipt['id']}/revoke", json={"reason": "Errada"})
        with pytest.raises(GoneError) as gone:
            anyone.documents.download(kept.code)
    assert copy.content == kept.content and copy.media_type == "application/pdf"
    assert copy.file_name == "Acta- sessió 3-2026.pdf"
    assert copy.save(tmp_path) == tmp_path / "Acta- sessió 3-2026.pdf"
    assert (tmp_path / "Acta- sessió 3-2026.pdf").read_bytes() == kept.content
    assert none.value.code == "no_public_copy" and gone.value.code == "document_revoked"


def test_bundle_of_a_mistyped_code_answers_422_invalid_code(issuer: httpx.Client, citizen: httpx.Client) -> None:
    document = notarise(issuer)
    message = assert_error(citizen.get(f"/v1/verify/{mistype(document.code)}/bundle"), 422, "invalid_code")
    assert "mistyped" in message


def test_bundle_of_a_malformed_code_answers_422(citizen: httpx.Client) -> None:
    message = assert_error(citizen.get("/v1/verify/ABC/bundle"), 422, "validation_error")
    assert "17 characters" in message


def test_bundle_of_a_pending_document_answers_409_with_retry_after(quiet_server: RunningServer) -> None:
    with quiet_server.client(quiet_server.admit()) as issuer, quiet_server.client() as citizen:
        receipt = issuer.post("/v1/documents", json={"hash": "ab" * 32}).json()
        response = citizen.get(f"/v1/verify/{receipt['verification_code']}/bundle")
    assert_error(response, 409, "not_anchored")
    assert response.headers["retry-after"] == "1"


def test_page_is_catalan_by_default_and_loads_nothing_from_elsewhere(citizen: httpx.Client) -> None:
    response = citizen.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="ca">' in response.text
    assert '<h1 data-i18n="heading">Comprova un document</h1>' in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    # Every src and href is on this server (or a fragment, a query, or the empty data: icon).
    for reference in re.findall(r'(?:src|href)="([^"]*)"', response.text):
        assert reference.startswith(("/", "#", "?", "data:")), reference


def test_page_language_comes_from_the_query_then_the_cookie(web_server: RunningServer) -> None:
    with web_server.client() as citizen:
        chosen = citizen.get("/", params={"lang": "es"})
        assert '<html lang="es">' in chosen.text
        assert chosen.cookies.get("segell_lang") == "es"
        assert '<html lang="es">' in citizen.get("/").text  # remembered
    with web_server.client() as citizen:
        assert '<html lang="en">' in citizen.get("/", headers={"Cookie": "segell_lang=en"}).text
        unknown = citizen.get("/", params={"lang": "fr"}, headers={"Cookie": "segell_lang=xx"})
        assert '<html lang="ca">' in unknown.text
        assert "segell_lang" not in unknown.cookies


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("es-ES,es;q=0.9,en;q=0.8", "es"),
        ("en-GB,en;q=0.9", "en"),
        ("ca", "ca"),
        ("fr-FR,fr;q=0.9,es;q=0.5,en;q=0.4", "es"),
        ("de;q=0.9, en;q=0.1, es;q=0.2", "es"),
        ("es;q=0, en", "en"),
        ("EN-us", "en"),
        ("en;q=abc, es;q=0.3", "es"),
        ("fr, de", "ca"),
        ("*", "ca"),
        ("", "ca"),
        (";;, ,q=;,", "ca"),
    ],
)
def test_first_visit_follows_accept_language(citizen: httpx.Client, accept_language: str, expected: str) -> None:
    for path in ("/", "/verify/0000-0000-0000-0000-0"):
        response = citizen.get(path, headers={"Accept-Language": accept_language})
        assert response.status_code == 200
        assert f'<html lang="{expected}">' in response.text, path
        assert "segell_lang" not in response.cookies  # the browser's language is not a choice to remember
        assert set(response.headers["vary"].split(", ")) == {"Cookie", "Accept-Language"}


def test_the_citizens_choice_wins_over_accept_language(web_server: RunningServer) -> None:
    spanish_browser = {"Accept-Language": "es-ES,es;q=0.9"}
    with web_server.client() as citizen:
        assert '<html lang="en">' in citizen.get("/", params={"lang": "en"}, headers=spanish_browser).text
        assert '<html lang="en">' in citizen.get("/", headers=spanish_browser).text  # remembered
    with web_server.client() as citizen:
        remembered = citizen.get("/", headers={**spanish_browser, "Cookie": "segell_lang=ca"})
        assert '<html lang="ca">' in remembered.text
        assert '<h1 data-i18n="heading">Comprova un document</h1>' in remembered.text
        unknown = citizen.get("/", headers={**spanish_browser, "Cookie": "segell_lang=xx"})
        assert '<html lang="es">' in unknown.text
        assert '<h1 data-i18n="heading">Comprueba un documento</h1>' in unknown.text


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_every_text_of_the_page_is_in_every_language_with_the_same_placeholders() -> None:
    texts = pages.translations()
    assert set(texts) == {"ca", "es", "en"}
    for language in ("es", "en"):
        assert set(texts[language]) == set(texts["ca"]), language
        for key, text in texts["ca"].items():
            assert text.strip(), key
            assert _placeholders(texts[language][key]) == _placeholders(text), (language, key)


def test_every_signature_result_the_server_can_answer_has_words_in_every_language() -> None:
    # Every reason, indication and sub-indication of ETSI EN 319 102-1 the reports may carry, and every CRL reason.
    needed = [
        *(f"signature_reason_{reason}" for reason in get_args(SignatureReason)),
        *(f"signature_indication_{indication}" for indication in get_args(Indication)),
        *(f"signature_sub_{sub}" for sub in get_args(SubIndication)),
        *(f"crl_reason_{flag.value}" for flag in x509.ReasonFlags),
        *(f"kind_{kind}" for kind in notary.KINDS),
    ]
    for language, texts in pages.translations().items():
        missing = [key for key in needed if key not in texts]
        assert missing == [], language
        assert texts["signature_reason_valid"] != texts["signature_indication_TOTAL_PASSED"]


def test_verify_url_puts_the_code_in_the_page_escaped(citizen: httpx.Client) -> None:
    response = citizen.get('/verify/"><img src=x onerror=alert(1)>')
    assert response.status_code == 200
    assert "<img src=x" not in response.text
    assert 'data-code="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in response.text


def test_static_files_are_served_with_etags(citizen: httpx.Client) -> None:
    script = citizen.get("/static/web/verify.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert citizen.get("/static/web/verify.js", headers={"If-None-Match": script.headers["etag"]}).status_code == 304
    assert citizen.get("/static/web/verify.css").headers["content-type"].startswith("text/css")
    assert_error(citizen.get("/static/web/secret.py"), 404, "not_found")
    assert_error(citizen.get("/static/web/..%2frouter.py"), 404, "not_found")


def test_pages_stay_out_of_the_api_schema_and_the_bundle_is_in_it(citizen: httpx.Client) -> None:
    paths = citizen.get("/openapi.json").json()["paths"]
    assert "/" not in paths and "/verify/{code}" not in paths and "/static/web/{name}" not in paths
    operation = paths["/v1/verify/{code}/bundle"]["get"]
    assert set(operation["responses"]) == {"200", "404", "409", "422", "503"}
    assert "security" not in operation
    document = paths["/v1/verify/{code}/document"]["get"]
    assert set(document["responses"]) == {"200", "404", "410", "422"}
    assert set(document["responses"]["200"]["content"]) == {
        "application/pdf",
        "application/pkcs7-signature",
        "application/octet-stream",
    }
    assert "security" not in document


def test_sdk_downloads_the_bundle_by_code_without_a_key(web_server: RunningServer, issuer: httpx.Client) -> None:
    document = notarise(issuer)
    with Client(web_server.url) as anyone:
        bundle = anyone.documents.bundle_by_code(document.code.lower())
        with pytest.raises(ValidationError) as mistyped:
            anyone.documents.bundle_by_code(mistype(document.code))
    assert bundle == issuer.get(f"/v1/documents/{document.receipt['id']}/bundle").json()
    assert mistyped.value.code == "invalid_code"
