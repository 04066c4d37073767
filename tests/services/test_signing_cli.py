"""`segell sign`, `segell validate` and the SDK's `sign` / `validate_signature` against a real Segell server."""

import io
import json
import secrets
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from typer.testing import CliRunner

from segell.sdk import Client, NotFoundError, SignatureValidation, SignedDocument
from segell.services.cli import app
from tests.helpers import RunningServer, make_pdf


@pytest.fixture(scope="module")
def administration_key(segell_server: RunningServer) -> str:
    with Client(segell_server.url, segell_server.governance_key) as governance:
        admitted = governance.administrations.admit(f"S{secrets.token_hex(4).upper()}", "Ajuntament de Vic")
    key = admitted.api_key.key
    with Client(segell_server.url, key) as segell:
        segell.certificates.issue("seal")
    return key


@pytest.fixture
def env(segell_server: RunningServer, administration_key: str) -> dict[str, str | None]:
    return {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": administration_key}


def test_sdk_signs_a_pdf_and_validates_it(segell_server: RunningServer, administration_key: str) -> None:
    with Client(segell_server.url, administration_key, timeout=60) as segell:
        signed = segell.signatures.sign(make_pdf("Ban de l'alcaldia"), sign_as="seal", filename="ban.pdf")
        receipt = segell.documents.wait_until_anchored(signed.receipt.id, timeout=60)
    assert isinstance(signed, SignedDocument)
    assert signed.format == "PAdES" and signed.filename == "ban-signed.pdf"
    assert signed.signer.kind == "seal" and signed.signer.name == "Ajuntament de Vic"
    assert signed.receipt.verification_code == signed.verification_code

    with Client(segell_server.url) as anyone:
        report = anyone.signatures.validate(signed.content)
    assert isinstance(report, SignatureValidation)
    assert report.passed and report.signed
    (signature,) = report.signatures
    assert signature.proof_of_existence is not None
    assert signature.proof_of_existence.block_number == receipt.anchor.block_number  # type: ignore[union-attr]
    assert signature.proof_of_existence.verification_code == signed.verification_code
    assert signature.signer is not None and signature.signer.registration_authority is not None
    assert signature.signer.registration_authority.name == "Ajuntament de Vic"
    assert signature.signer.registration_authority == signed.signer.registration_authority


def test_sdk_sign_with_an_unknown_certificate_raises_not_found(
    segell_server: RunningServer, administration_key: str
) -> None:
    with Client(segell_server.url, administration_key) as segell, pytest.raises(NotFoundError):
        segell.signatures.sign(b"acta", sign_as="employee", certificate="ab" * 20)


def test_cli_signs_a_pdf_then_validates_it(env: dict[str, str | None], tmp_path: Path) -> None:
    runner = CliRunner()
    pdf = tmp_path / "acord.pdf"
    pdf.write_bytes(make_pdf("Acord de Ple 9/2026"))

    signed = runner.invoke(app, ["sign", str(pdf), "--as", "seal", "--json"], env=env)
    assert signed.exit_code == 0, signed.output
    result = json.loads(signed.stdout)
    target = tmp_path / "acord-signed.pdf"
    assert result["file"] == str(target) and target.is_file()
    assert result["format"] == "PAdES"

    validated = runner.invoke(app, ["validate", str(target)], env={"SEGELL_URL": env["SEGELL_URL"]})
    assert validated.exit_code == 0, validated.output
    assert "TOTAL_PASSED" in validated.output
    assert "Ajuntament de Vic" in validated.output
    assert "registered by" in validated.output

    altered = tmp_path / "acord-altered.pdf"
    altered.write_bytes(target.read_bytes().replace(b"Acord de Ple 9/2026", b"Acord de Ple 8/2026"))
    refused = runner.invoke(app, ["validate", str(altered), "--json"], env={"SEGELL_URL": env["SEGELL_URL"]})
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["sub_indication"] == "HASH_FAILURE"


def test_cli_signs_any_file_detached_and_validates_with_the_signature(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    runner = CliRunner()
    data = tmp_path / "padro.csv"
    data.write_text("nom;any\nJoan;1980\n")

    signed = runner.invoke(app, ["sign", str(data), "--as", "seal", "--wait", "--public-copy", "--json"], env=env)
    assert signed.exit_code == 0, signed.output
    summary = json.loads(signed.stdout)
    signature = tmp_path / "padro.csv.p7s"
    assert signature.is_file() and summary["file"] == str(signature)
    assert summary["receipt"]["status"] == "anchored" and summary["receipt"]["public_copy"] is True

    # Anyone with the code downloads the signature; verifying it names who signed.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    anyone = {"SEGELL_URL": env["SEGELL_URL"], "SEGELL_API_KEY": None}
    fetched = runner.invoke(app, ["download", summary["verification_code"], "-o", str(downloads)], env=anyone)
    assert fetched.exit_code == 0, fetched.output
    assert (downloads / "padro.csv.p7s").read_bytes() == signature.read_bytes()
    checked = runner.invoke(app, ["verify", str(downloads / "padro.csv.p7s")], env=anyone)
    assert checked.exit_code == 0, checked.output
    assert "signed by" in checked.output and "certificate issued by" in checked.output

    validated = runner.invoke(
        app, ["validate", str(data), "--signature", str(signature)], env={"SEGELL_URL": env["SEGELL_URL"]}
    )
    assert validated.exit_code == 0, validated.output
    assert "CAdES" in validated.output and "existed by" in validated.output


def test_cli_validate_an_unsigned_file_exits_1(env: dict[str, str | None], tmp_path: Path) -> None:
    plain = tmp_path / "nota.txt"
    plain.write_text("res\n")
    result = CliRunner().invoke(app, ["validate", str(plain)], env={"SEGELL_URL": env["SEGELL_URL"]})
    assert result.exit_code == 1
    assert "not signed" in result.output


def test_cli_sign_needs_an_administration_key(segell_server: RunningServer, tmp_path: Path) -> None:
    plain = tmp_path / "nota.txt"
    plain.write_text("res\n")
    result = CliRunner().invoke(
        app, ["sign", str(plain), "--as", "seal"], env={"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": None}
    )
    assert result.exit_code == 1
    assert "--api-key" in result.output


def test_cli_sign_puts_the_stamp_where_asked_in_the_language_asked(env: dict[str, str | None], tmp_path: Path) -> None:
    pdf = tmp_path / "edicte.pdf"
    pdf.write_bytes(make_pdf("Edicte 4/2026"))  # one A4 page, its line at the top left

    signed = CliRunner().invoke(
        app, ["sign", str(pdf), "--as", "seal", "--lang", "en", "--placement", "LAST:bottom-right"], env=env
    )

    assert signed.exit_code == 0, signed.output
    (signature,) = PdfFileReader(io.BytesIO((tmp_path / "edicte-signed.pdf").read_bytes())).embedded_signatures
    left, bottom, right, top = (float(n) for n in signature.sig_field["/Rect"])
    assert right > 595 / 2 and top < 842 / 2
    drawing = signature.sig_field["/AP"]["/N"].get_object().data
    assert b"/ActualText (Document signed electronically)" in drawing


def test_cli_sign_with_an_invalid_placement_lists_the_valid_ones(env: dict[str, str | None], tmp_path: Path) -> None:
    pdf = tmp_path / "edicte.pdf"
    pdf.write_bytes(make_pdf("Edicte 5/2026"))

    refused = CliRunner().invoke(app, ["sign", str(pdf), "--as", "seal", "--placement", "centre"], env=env)

    assert refused.exit_code == 1
    assert "new-page" in refused.output and "last:bottom-right" in refused.output
    assert not (tmp_path / "edicte-signed.pdf").exists()
