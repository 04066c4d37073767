"""`segell cert issue|show|list|revoke` and the SDK's certificate methods against a real Segell server."""

import json
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from segell.sdk import (
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RegistrationAuthority,
    ValidationError,
    verify_bundle,
)
from segell.services.cli import app
from tests.helpers import RunningServer, openssl


@pytest.fixture(scope="module")
def administration_key(segell_server: RunningServer) -> str:
    with Client(segell_server.url, segell_server.governance_key) as governance:
        admitted = governance.administrations.admit(f"C{secrets.token_hex(4).upper()}", "Consell Comarcal del Gironès")
    return admitted.api_key.key


@pytest.fixture
def segell(segell_server: RunningServer, administration_key: str) -> Iterator[Client]:
    with Client(segell_server.url, administration_key) as client:
        yield client


@pytest.fixture
def anyone(segell_server: RunningServer) -> Iterator[Client]:
    with Client(segell_server.url) as client:
        yield client


@pytest.fixture
def env(segell_server: RunningServer, administration_key: str) -> dict[str, str | None]:
    return {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": administration_key, "SEGELL_CERT_PASSPHRASE": None}


# --- CLI ------------------------------------------------------------------------------------------------------------


def test_cli_issue_writes_a_pkcs12_file_openssl_opens(
    runner: CliRunner, env: dict[str, str | None], tmp_path: Path
) -> None:
    out = tmp_path / "joana.p12"

    result = runner.invoke(
        app,
        ["cert", "issue", "--profile", "employee", "--name", "Joana Puig", "--national-id", "47111222K"]
        + ["--out", str(out), "--json"],
        env=env,
    )

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["file"] == str(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    opened = openssl("pkcs12", "-in", out, "-passin", f"pass:{printed['passphrase']}", "-nodes")
    assert opened.returncode == 0, opened.stderr
    assert "BEGIN PRIVATE KEY" in opened.stdout
    assert "pkcs12" not in printed["certificate"]


def test_cli_issue_from_csr_writes_the_certificate(
    runner: CliRunner, env: dict[str, str | None], tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = tmp_path / "seal.csr"
    csr.write_bytes(
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seal")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    out = tmp_path / "seal.pem"

    result = runner.invoke(app, ["cert", "issue", "--profile", "seal", "--csr", str(csr), "--out", str(out)], env=env)

    assert result.exit_code == 0, result.output
    certificate = x509.load_pem_x509_certificate(out.read_bytes())
    assert certificate.public_key() == key.public_key()
    assert "passphrase" not in result.stdout


def test_cli_show_revoke_and_public_status(
    runner: CliRunner, env: dict[str, str | None], segell: Client, tmp_path: Path
) -> None:
    serial = segell.certificates.issue("seal").serial

    shown = runner.invoke(app, ["cert", "show", serial], env=env)
    pem = runner.invoke(app, ["cert", "show", serial, "--pem"], env=env)
    listed = runner.invoke(app, ["cert", "list", "--json"], env=env)
    revoked = runner.invoke(app, ["cert", "revoke", serial, "--reason", "keyCompromise", "--json"], env=env)
    public = runner.invoke(app, ["cert", "show", serial, "--json"], env={**env, "SEGELL_API_KEY": None})

    assert shown.exit_code == 0, shown.output
    assert serial in shown.stdout and "valid" in shown.stdout
    assert x509.load_pem_x509_certificate(pem.stdout.encode()).serial_number == int(serial, 16)
    assert serial in {item["serial"] for item in json.loads(listed.stdout)}
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)["revocation"]["reason"] == "keyCompromise"
    assert public.exit_code == 0, public.output
    assert json.loads(public.stdout)["status"] == "revoked"


def test_cli_errors_go_to_stderr(runner: CliRunner, env: dict[str, str | None]) -> None:
    missing = runner.invoke(app, ["cert", "show", "ab" * 20], env=env)
    invalid = runner.invoke(app, ["cert", "issue", "--profile", "employee", "--name", "Joana"], env=env)
    twice = runner.invoke(app, ["cert", "revoke", "ab" * 20], env=env)
    no_key = runner.invoke(app, ["cert", "issue", "--profile", "seal"], env={**env, "SEGELL_API_KEY": None})

    assert missing.exit_code == 1 and "HTTP 404" in missing.stderr
    assert invalid.exit_code == 1 and "national_id" in invalid.stderr
    assert twice.exit_code == 1 and "HTTP 404" in twice.stderr
    assert no_key.exit_code == 1 and "SEGELL_API_KEY" in no_key.stderr


def test_cli_issue_citizen_certificate_needs_the_citizen_token(
    runner: CliRunner, env: dict[str, str | None], segell: Client, tmp_path: Path
) -> None:
    token = _citizen_token(segell)
    citizen = ["cert", "issue", "--profile", "citizen", "--name", "Pere Soler", "--national-id", "52000111Q"]

    refused = runner.invoke(app, citizen, env=env)
    issued = runner.invoke(
        app, [*citizen, "--out", str(tmp_path / "pere.p12")], env={**env, "SEGELL_CITIZEN_TOKEN": token}
    )

    assert refused.exit_code == 1
    assert "--citizen-token" in refused.stderr and "segell otp verify" in refused.stderr
    assert issued.exit_code == 0, issued.output
    assert "registered by" in issued.stdout and "Consell Comarcal del Gironès" in issued.stdout
    assert _sub(token) in issued.stdout


# --- SDK ------------------------------------------------------------------------------------------------------------


def test_sdk_issue_revoke_status_and_log(segell: Client, anyone: Client, segell_server: RunningServer) -> None:
    issued = segell.certificates.issue(
        "employee", name="Marta Vila", national_id="39000111L", email="mvila@girones.cat", passphrase="prou llarga"
    )
    key, certificate, chain = pkcs12.load_key_and_certificates(issued.pkcs12 or b"", b"prou llarga")
    revoked = segell.certificates.revoke(issued.serial, "superseded")
    status = anyone.certificates.status(int(issued.serial, 16))
    deadline = time.monotonic() + 30
    while (entry := anyone.certificates.log(issued.certificate_pem.encode())).revocation is None or (
        entry.revocation.status == "pending" or entry.issuance is None or entry.issuance.status == "pending"
    ):
        assert time.monotonic() < deadline, entry
        time.sleep(0.1)
    bundle = anyone.certificates.log_bundle(issued.serial)
    authority = anyone.certificates.authority()

    assert issued.passphrase is None and key is not None and certificate is not None and len(chain) == 2
    assert issued.key_held and issued.status == "valid" and issued.log_verification_code is not None
    assert revoked.status == "revoked" and revoked.revocation is not None
    assert status.status == "revoked" and status.revocation is not None
    assert status.revocation.reason == "superseded"
    assert entry.serial == issued.serial and entry.issuance is not None
    assert entry.issuance.verification_code == issued.log_verification_code
    assert entry.revocation_record is not None and entry.revocation_record["reason"] == "superseded"
    der = certificate.public_bytes(serialization.Encoding.DER)
    trusted = [anyone.deployment().trusted_notary]
    assert verify_bundle(bundle, der, f"{segell_server.url}/rpc", trusted_notaries=trusted).status == "authentic"
    assert anyone.certificates.log(issued.serial) == entry
    assert x509.load_pem_x509_certificate(authority.issuing_pem.encode()).subject == certificate.issuer
    assert authority.issuing_crl_url == f"{segell_server.url}/v1/ca/issuing.crl"
    assert [c.serial for c in segell.certificates.list(status="revoked")].count(issued.serial) == 1


def _citizen_token(segell: Client) -> str:
    """A citizen's login through the SDK: a code to a new number, read from the sandbox outbox, verified."""
    phone = f"+3461{secrets.randbelow(10**7):07d}"
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    segell.auth.request_otp(phone, client_address=address)
    (message,) = segell.auth.otp_outbox(phone=phone, limit=1)
    code = re.search(r"\b([0-9]{6})\b", message.message)
    assert code is not None
    return segell.auth.verify_otp(phone, code.group(1), client_address=address).access_token


def _sub(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def test_sdk_issue_citizen_certificate_with_the_citizens_token(segell: Client, anyone: Client) -> None:
    token, national_id = _citizen_token(segell), f"{secrets.randbelow(10**8):08d}Z"

    with pytest.raises(AuthenticationError) as without_token:
        segell.certificates.issue("citizen", name="Laia Soler", national_id=national_id)
    issued = segell.certificates.issue("citizen", name="Laia Soler", national_id=national_id, citizen_token=token)
    with pytest.raises(PermissionDeniedError) as another_citizen:
        segell.certificates.issue(
            "citizen", name="Laia Soler", national_id=national_id, citizen_token=_citizen_token(segell)
        )
    entry = anyone.certificates.log(issued.serial)

    assert without_token.value.code == "citizen_token_required"
    assert another_citizen.value.code == "citizen_mismatch"
    authority = RegistrationAuthority(code=entry.administration_code, name="Consell Comarcal del Gironès")
    assert issued.registration_authority == authority and issued.citizen_id == _sub(token)
    assert entry.registration_authority == authority and entry.citizen_id == _sub(token)
    assert segell.certificates.get(issued.serial).registration_authority == authority


def test_sdk_errors(segell: Client, anyone: Client) -> None:
    serial = segell.certificates.issue("seal").serial
    segell.certificates.revoke(serial)

    with pytest.raises(ConflictError) as conflict:
        segell.certificates.revoke(serial)
    with pytest.raises(NotFoundError):
        segell.certificates.get("cd" * 20)
    with pytest.raises(ValidationError):
        segell.certificates.issue("citizen", name="Pere")
    with pytest.raises(BadRequestError):
        anyone.certificates.log(b"-----BEGIN CERTIFICATE-----\n")

    assert conflict.value.code == "already_revoked"
