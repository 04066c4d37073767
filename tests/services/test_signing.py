"""Signing over HTTP against a real server: PAdES with a stamped verification code, detached CAdES checked by
openssl, pyHanko's own validator as an independent reader, notarisation of the output, tenancy."""

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import qrcode
import qrcode.constants
from asn1crypto import cms, pem
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import func, select

from segell.sdk import Client
from segell.services.administrations.models import Administration
from segell.services.notary.codes import parse_code
from segell.services.notary.models import Document
from segell.services.runtime import Runtime
from tests.helpers import RunningServer, Tenant, admit, make_pdf, openssl


@pytest.fixture(scope="module")
def tenant(segell_server: RunningServer) -> Iterator[Tenant]:
    with admit(segell_server, "Ajuntament de Girona") as admitted:
        yield admitted


@pytest.fixture(scope="module")
def other(segell_server: RunningServer) -> Iterator[Tenant]:
    with admit(segell_server, "Ajuntament de Lleida") as admitted:
        yield admitted


@pytest.fixture(scope="module")
def employee(tenant: Tenant) -> str:
    return tenant.issue("employee", name="Joana Puig i Ferrer")


@pytest.fixture(scope="module")
def ca_files(segell_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("ca")
    files = {}
    with segell_server.client() as anyone:
        for name in ("root.pem", "issuing.pem", "issuing.crl", "root.crl"):
            response = anyone.get(f"/v1/ca/{name}")
            assert response.status_code == 200, response.text
            files[name] = directory / name
            files[name].write_bytes(response.content)
    return files


def load_certificate(path: Path) -> asn1_x509.Certificate:
    _, _, der = pem.unarmor(path.read_bytes())
    return asn1_x509.Certificate.load(der)


def qr_modules(drawing: bytes) -> set[tuple[int, int]]:
    """The dark modules (row, column) pyHanko drew: one `column row 1 1 re` per module."""
    found = re.findall(rb"(\d+) (\d+) 1 1 re", drawing)
    return {(int(row), int(column)) for column, row in found}


def expected_qr_modules(url: str) -> set[tuple[int, int]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make()
    return {(r, c) for r, row in enumerate(code.modules) for c, dark in enumerate(row) if dark}


def test_sign_pdf_stamps_code_url_and_qr_code_then_notarises_the_signed_pdf(
    tenant: Tenant, employee: str, segell_server: RunningServer
) -> None:
    pdf = make_pdf("Resolucio 12/2026 de l'Alcaldia")

    signed = tenant.signed(pdf, "resolucio.pdf", certificate=employee)

    content = base64.b64decode(signed["content"])
    code, url = signed["verification_code"], signed["verification_url"]
    assert signed["format"] == "PAdES"
    assert signed["media_type"] == "application/pdf"
    assert signed["filename"] == "resolucio-signed.pdf"
    assert signed["document_hash"] == hashlib.sha256(pdf).hexdigest()
    assert signed["signed_hash"] == hashlib.sha256(content).hexdigest()
    assert url == f"{segell_server.url}/verify/{code}"
    assert signed["signer"] == {
        "name": "Joana Puig i Ferrer",
        "organisation": "Ajuntament de Girona",
        "kind": "employee",
        "certificate_serial": employee,
        "issuer": signed["signer"]["issuer"],
        "registration_authority": {"code": tenant.code, "name": "Ajuntament de Girona"},
    }
    assert "Segell Sandbox Issuing CA" in signed["signer"]["issuer"]
    # The original document is kept whole: signing appends an incremental update.
    assert content.startswith(pdf)

    reader = PdfFileReader(io.BytesIO(content))
    (signature,) = reader.embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    widget = signature.sig_field
    appearance = widget["/AP"]["/N"].get_object()
    shown = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), appearance.data.decode("latin-1"))
    # In the administration's language, Catalan unless it has one; each line's text is its marked span's.
    assert f"/ActualText (Codi segur de verificació: {code})" in shown
    assert f"/ActualText ({url})" in shown
    assert "/ActualText (Signat per: Joana Puig i Ferrer)" in shown
    assert "/QR Do" in shown
    assert "/QR" in appearance["/Resources"]["/XObject"]
    # The QR code's modules are exactly those of a QR code of the verification URL.
    assert qr_modules(appearance["/Resources"]["/XObject"]["/QR"].get_object().data) == expected_qr_modules(url)
    assert signature.evaluate_signature_coverage().name == "ENTIRE_FILE"

    receipt = signed["receipt"]
    assert receipt["document_hash"] == signed["signed_hash"]
    assert receipt["verification_code"] == code
    assert receipt["kind"] == "signed-pdf"
    assert receipt["title"] == "resolucio.pdf"
    assert receipt["metadata"]["signed_document_sha256"] == signed["document_hash"]
    with httpx.Client(base_url=segell_server.url) as anyone:
        by_code = anyone.get("/v1/verify", params={"code": code}).json()
    assert by_code["document_hash"] == signed["signed_hash"]
    assert by_code["matches"][0]["administration"]["name"] == "Ajuntament de Girona"
    assert parse_code(code) == parse_code(receipt["verification_code"])
    # Who signed it, as checked when it was signed; no copy, as none was asked for.
    assert by_code["matches"][0]["signers"] == [
        {
            "name": "Joana Puig i Ferrer",
            "organisation": "Ajuntament de Girona",
            "kind": "employee",
            "signed_at": by_code["matches"][0]["signers"][0]["signed_at"],
            "issuer": signed["signer"]["issuer"],
        }
    ]
    assert datetime.fromisoformat(by_code["matches"][0]["signers"][0]["signed_at"]) == datetime.fromisoformat(
        signed["signing_time"]
    )
    assert by_code["matches"][0]["public_copy"] is None and receipt["public_copy"] is False


def test_sign_pdf_notarised_before_links_the_signed_pdf_to_the_originals_receipt(
    tenant: Tenant, employee: str, segell_server: RunningServer
) -> None:
    pdf = make_pdf("Decret 7/2026 de l'Alcaldia")
    original = tenant.http.post("/v1/documents", json={"hash": hashlib.sha256(pdf).hexdigest(), "title": "Decret"})
    assert original.status_code == 202, original.text

    signed = tenant.signed(pdf, "decret.pdf", certificate=employee)

    original_anchored = tenant.wait_until_anchored(original.json()["id"])
    tenant.wait_until_anchored(signed["receipt"]["id"])
    with httpx.Client(base_url=segell_server.url) as anyone:
        bundle = anyone.get(f"/v1/verify/{signed['verification_code']}/bundle").json()
        verification = anyone.get("/v1/verify", params={"code": signed["verification_code"]}).json()
    (source,) = bundle["derived_from"]
    assert source == {
        "receipt_id": original_anchored["id"],
        "verification_code": original_anchored["verification_code"],
        "kind": None,
        "title": "Decret",
        "document_hash": "0x" + signed["document_hash"],
        "administration": bundle["administration"],
        "issuer": {"code": tenant.code, "name": "Ajuntament de Girona"},
        "leaf": original_anchored["anchor"]["leaf"],
        "leaf_index": original_anchored["anchor"]["leaf_index"],
        "root": original_anchored["anchor"]["root"],
        "tree_size": original_anchored["anchor"]["tree_size"],
        "chain_id": original_anchored["anchor"]["chain_id"],
        "contract": original_anchored["anchor"]["contract"],
        "block_number": original_anchored["anchor"]["block_number"],
        "bundle": f"/v1/verify/{original_anchored['verification_code']}/bundle",
    }
    (match,) = verification["matches"]
    assert [link["verification_code"] for link in match["derived_from"]] == [original_anchored["verification_code"]]


def test_sign_pdf_never_notarised_links_no_original(
    tenant: Tenant, employee: str, segell_server: RunningServer
) -> None:
    signed = tenant.signed(make_pdf("Esborrany sense registre"), "esborrany.pdf", certificate=employee)

    tenant.wait_until_anchored(signed["receipt"]["id"])
    with httpx.Client(base_url=segell_server.url) as anyone:
        bundle = anyone.get(f"/v1/verify/{signed['verification_code']}/bundle").json()
    assert bundle["derived_from"] == []


def test_signed_pdf_validates_with_pyhanko_as_an_independent_reader(
    tenant: Tenant, employee: str, ca_files: dict[str, Path]
) -> None:
    signed = tenant.signed(make_pdf("Decret 7/2026"), "decret.pdf", certificate=employee)
    content = base64.b64decode(signed["content"])
    crls = [asn1_crl.CertificateList.load(ca_files[name].read_bytes()) for name in ("issuing.crl", "root.crl")]
    context = ValidationContext(
        trust_roots=[load_certificate(ca_files["root.pem"])],
        other_certs=[load_certificate(ca_files["issuing.pem"])],
        crls=crls,
        allow_fetching=False,
        revocation_mode="hard-fail",
    )

    (signature,) = PdfFileReader(io.BytesIO(content)).embedded_signatures
    status = validate_pdf_signature(signature, context)

    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.coverage.name == "ENTIRE_FILE"
    assert status.signing_cert.serial_number == int(employee, 16)

    tampered = content.replace(b"Decret 7/2026", b"Decret 8/2026")
    (tampered_signature,) = PdfFileReader(io.BytesIO(tampered)).embedded_signatures
    assert not validate_pdf_signature(tampered_signature, context).intact


def test_cms_signature_verifies_with_openssl_cms(
    tenant: Tenant, employee: str, ca_files: dict[str, Path], tmp_path: Path
) -> None:
    data = "Padró municipal: extracte de 2026\n".encode()
    signed = tenant.signed(data, "padro.csv", certificate=employee)
    signature = base64.b64decode(signed["content"])
    assert signed["format"] == "CAdES"
    assert signed["filename"] == "padro.csv.p7s"
    assert signed["media_type"] == "application/pkcs7-signature"
    assert signed["receipt"]["document_hash"] == hashlib.sha256(signature).hexdigest()
    assert signed["receipt"]["kind"] == "cms-signature"

    signer_info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    attributes = {attribute["type"].native: attribute["values"][0] for attribute in signer_info["signed_attrs"]}
    assert {"signing_certificate_v2", "signing_time", "message_digest", "content_type"} <= set(attributes)
    assert attributes["signing_time"].native.isoformat() == signed["signing_time"].replace("Z", "+00:00")

    (tmp_path / "padro.csv").write_bytes(data)
    (tmp_path / "padro.csv.p7s").write_bytes(signature)
    verify = [
        "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "padro.csv.p7s",
        "-CAfile", ca_files["root.pem"], "-certfile", ca_files["issuing.pem"], "-out", "/dev/null",
    ]  # fmt: skip
    verified = openssl(*verify, "-content", tmp_path / "padro.csv")
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr

    (tmp_path / "altered.csv").write_bytes(data.replace(b"2026", b"2025"))
    refused = openssl(*verify, "-content", tmp_path / "altered.csv")
    assert refused.returncode != 0
    assert "content verify error" in refused.stderr


def test_signed_output_kept_as_a_public_copy_is_downloaded_by_its_code(
    tenant: Tenant, employee: str, segell_server: RunningServer, tmp_path: Path
) -> None:
    signed = tenant.signed(b"id;nom\n1;Padro\n", "padró: 2026*.csv", certificate=employee, public_copy="true")
    assert signed["format"] == "CAdES" and signed["filename"] == "padró- 2026.csv.p7s"
    assert signed["receipt"]["public_copy"] is True
    with Client(segell_server.url) as anyone:
        (match,) = anyone.documents.verify(code=signed["verification_code"]).matches
        copy = anyone.documents.download(signed["verification_code"])
    assert [signer.name for signer in match.signers] == ["Joana Puig i Ferrer"]
    assert match.public_copy is not None and match.public_copy.file_name == "padró- 2026.csv.p7s"
    assert copy.content == base64.b64decode(signed["content"])
    assert copy.media_type == "application/pkcs7-signature" and copy.file_name == "padró- 2026.csv.p7s"
    assert copy.save(tmp_path).name == "padró- 2026.csv.p7s"


def test_sign_pdf_as_cades_when_asked(tenant: Tenant, employee: str) -> None:
    pdf = make_pdf("Annex")
    signed = tenant.signed(pdf, "annex.pdf", certificate=employee, format="cades")
    assert signed["format"] == "CAdES"
    assert signed["filename"] == "annex.pdf.p7s"


def stamp_words(content: bytes) -> str:
    """The stamp's lines as the marked spans of its appearance give them (PDF string escapes decoded)."""
    (signature,) = PdfFileReader(io.BytesIO(content)).embedded_signatures
    drawing = signature.sig_field["/AP"]["/N"].get_object().data.decode("latin-1")
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), drawing)


def test_sign_pdf_stamp_goes_where_placement_says_in_the_lang_asked(tenant: Tenant, employee: str) -> None:
    signed = tenant.signed(make_pdf("Ban 3/2026"), "ban.pdf", certificate=employee, placement="New-Page", lang="es")

    content = base64.b64decode(signed["content"])
    reader = PdfFileReader(io.BytesIO(content))
    (signature,) = reader.embedded_signatures
    assert reader.root["/Pages"]["/Count"] == 2
    assert signature.sig_field["/P"].get_object() == reader.find_page_for_modification(1)[0].get_object()
    assert "/ActualText (Documento firmado electrónicamente)" in stamp_words(content)
    assert f"/ActualText (Código Seguro de Verificación: {signed['verification_code']})" in stamp_words(content)


def test_sign_pdf_without_lang_stamps_in_the_administrations_language(segell_server: RunningServer) -> None:
    with admit(segell_server, "Ajuntament de Tremp") as tremp:
        changed = tremp.http.patch(f"/v1/administrations/{tremp.code}", json={"language": "en"})
        assert changed.status_code == 200, changed.text
        signed = tremp.signed(make_pdf("Edicte"), "edicte.pdf", certificate=tremp.issue("employee", name="Pere Roca"))

    words = stamp_words(base64.b64decode(signed["content"]))
    assert "/ActualText (Document signed electronically)" in words
    assert f"/ActualText (Verification code: {signed['verification_code']})" in words


@pytest.mark.parametrize("placement", ["bottom-right", "last:middle", "0:top-left", "last : top-left", "nova-pàgina"])
def test_sign_with_an_invalid_placement_answers_422_listing_the_valid_ones(
    tenant: Tenant, employee: str, placement: str
) -> None:
    response = tenant.sign(make_pdf("Acta"), "acta.pdf", certificate=employee, placement=placement)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"][0]["location"] == "body.placement"
    for valid in ("auto", "new-page", "PAGE:CORNER", "first, last or a page number", "top-left", "bottom-right"):
        assert valid in error["message"]


def test_sign_with_an_unknown_lang_answers_422(tenant: Tenant, employee: str) -> None:
    response = tenant.sign(make_pdf("Acta"), "acta.pdf", certificate=employee, lang="fr")

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["location"] == "body.lang"


@pytest.mark.parametrize(
    ("placement", "code", "problem"),
    [("first:top-left", "no_room_for_stamp", "top-left corner"), ("2:bottom-right", "no_such_page", "no page 2")],
)
def test_sign_with_a_stamp_placement_the_pdf_cannot_take_answers_409(
    tenant: Tenant, employee: str, placement: str, code: str, problem: str
) -> None:
    # make_pdf writes its line at the top left of its only page.
    response = tenant.sign(make_pdf("Acta de la sessio"), "acta.pdf", certificate=employee, placement=placement)

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == code
    assert problem in response.json()["error"]["message"]


def test_sign_as_seal_takes_the_administrations_seal(tenant: Tenant) -> None:
    seal = tenant.issue("seal")
    signed = tenant.signed(make_pdf("Certificat d'empadronament"), "certificat.pdf", **{"as": "seal"})
    assert signed["signer"]["kind"] == "seal"
    assert signed["signer"]["certificate_serial"] == seal
    assert signed["signer"]["name"] == "Ajuntament de Girona"


def test_sign_names_the_certificate_when_there_are_several_employees(tenant: Tenant, employee: str) -> None:
    tenant.issue("employee", name="Pere Roca")
    response = tenant.sign(b"acta", "acta.txt")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "certificate_ambiguous"
    assert tenant.sign(b"acta", "acta.txt", certificate=employee).status_code == 201


def test_sign_as_employee_with_a_seal_certificate_is_refused(tenant: Tenant) -> None:
    seal = tenant.issue("seal")
    response = tenant.sign(b"acta", "acta.txt", certificate=seal)
    assert response.status_code == 422
    assert "seal certificate, not employee" in response.json()["error"]["message"]


def test_sign_with_a_revoked_certificate_is_refused(tenant: Tenant) -> None:
    serial = tenant.issue("employee", name="Marta Vidal")
    assert tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "superseded"}).status_code == 200
    response = tenant.sign(b"acta", "acta.txt", certificate=serial)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "certificate_revoked"


@pytest.mark.parametrize(
    ("data", "form", "status", "code"),
    [
        (b"", {}, 400, "empty_file"),
        (b"%PDF-1.7\nnot really a PDF", {}, 400, "unreadable_pdf"),
        (b"plain text", {"format": "pades"}, 422, "validation_error"),
        (b"plain text", {"as": "citizen"}, 422, "validation_error"),
    ],
    ids=["empty", "broken-pdf", "pades-of-text", "as-citizen"],
)
def test_sign_bad_input_answers_4xx(
    tenant: Tenant, employee: str, data: bytes, form: dict[str, str], status: int, code: str
) -> None:
    response = tenant.sign(data, "document", certificate=employee, **form)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def _documents_of(runtime: Runtime, administration_code: str) -> int:
    with runtime.transaction() as session:
        administration = session.scalars(select(Administration).where(Administration.code == administration_code)).one()
        count = session.scalar(select(func.count()).where(Document.administration_id == administration.id))
    return int(count or 0)


def test_sign_with_another_administrations_certificate_is_404_and_changes_nothing(
    tenant: Tenant, other: Tenant, segell_server: RunningServer
) -> None:
    runtime: Runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    theirs = other.issue("employee", name="Laia Serra")
    their_seal = other.issue("seal")
    before = (_documents_of(runtime, tenant.code), _documents_of(runtime, other.code))

    for serial, sign_as in ((theirs, "employee"), (their_seal, "seal")):
        response = tenant.sign(make_pdf("Suplantacio"), "suplantacio.pdf", certificate=serial, **{"as": sign_as})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"

    assert (_documents_of(runtime, tenant.code), _documents_of(runtime, other.code)) == before
    # Their own certificate still signs for them.
    assert other.signed(b"acta", "acta.txt", certificate=theirs)["signer"]["organisation"] == "Ajuntament de Lleida"


def test_governance_key_cannot_sign(segell_server: RunningServer) -> None:
    with segell_server.client(segell_server.governance_key) as governance:
        response = governance.post("/v1/signatures", files={"file": ("a.txt", b"a")}, data={"as": "seal"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "administration_key_required"


def test_sign_without_api_key_is_401(segell_server: RunningServer) -> None:
    with segell_server.client() as anyone:
        response = anyone.post("/v1/signatures", files={"file": ("a.txt", b"a")}, data={"as": "seal"})
    assert response.status_code == 401


def test_sign_as_seal_without_a_seal_is_409(segell_server: RunningServer) -> None:
    with admit(segell_server, "Consell Comarcal") as fresh:
        response = fresh.sign(b"acta", "acta.txt", **{"as": "seal"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "no_certificate"
