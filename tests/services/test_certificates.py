"""The certificate authority over HTTP against a real server: profiles, openssl, CRLs, the log, tenancy."""

import base64
import json
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from sqlalchemy import select

from segell.sdk import verify_bundle
from segell.services.administrations.models import Administration
from segell.services.citizen_auth.deps import get_clock
from segell.services.errors import Conflict, NotFound
from segell.services.identity import ca
from segell.services.identity.certificates import (
    IssueRequest,
    certificate_authorities,
    current_crl,
    issue_certificate,
    revocation_status,
    signing_identity,
)
from segell.services.identity.models import CertificateAuthorityRecord, IssuedCertificate
from segell.services.identity.registration import REGISTRATION_OID, Registration, registration_of
from segell.services.runtime import Runtime
from tests.helpers import RunningServer, log_in_citizen, make_settings, openssl, serve

MS_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
NATIONAL_ID = "47111222K"


@dataclass
class Tenant:
    key: str
    http: httpx.Client


@pytest.fixture(scope="module")
def tenant(segell_server: RunningServer) -> Iterator[Tenant]:
    key = segell_server.admit(name="Ajuntament de Girona")
    with segell_server.client(key) as http:
        yield Tenant(key, http)


@pytest.fixture(scope="module")
def other(segell_server: RunningServer) -> Iterator[Tenant]:
    key = segell_server.admit(name="Ajuntament de Lleida")
    with segell_server.client(key) as http:
        yield Tenant(key, http)


@pytest.fixture(scope="module")
def runtime(segell_server: RunningServer) -> Runtime:
    runtime: Runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    return runtime


@pytest.fixture(scope="module")
def ca_files(segell_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("ca")
    with segell_server.client() as anyone:
        files = {}
        for role in ("root", "issuing"):
            response = anyone.get(f"/v1/ca/{role}.pem")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-pem-file")
            files[role] = directory / f"{role}.pem"
            files[role].write_text(response.text)
    return files


def new_national_id() -> str:
    return f"{secrets.randbelow(10**8):08d}Z"


def issue(tenant: Tenant, **body: Any) -> dict[str, Any]:
    body.setdefault("profile", "employee")
    if body["profile"] in ("employee", "citizen"):
        body.setdefault("name", "Joana Puig i Ferrer")
    if body["profile"] == "employee":
        body.setdefault("national_id", NATIONAL_ID)
    if body["profile"] == "citizen" and "citizen_token" not in body:
        # A citizen of their own, with a national id of their own: a citizen is bound to one national id.
        body.setdefault("national_id", new_national_id())
        body["citizen_token"] = log_in_citizen(tenant.http)
    response = tenant.http.post("/v1/certificates", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def write_crl(http: httpx.Client, directory: Path) -> Path:
    response = http.get("/v1/ca/issuing.crl")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pkix-crl"
    der = directory / "issuing.crl"
    der.write_bytes(response.content)
    pem = directory / "issuing.crl.pem"
    converted = openssl("crl", "-inform", "DER", "-in", der, "-out", pem)
    assert converted.returncode == 0, converted.stderr
    return pem


def wait_for_log(http: httpx.Client, serial: str, part: str = "issuance", timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        entry: dict[str, Any] = http.get(f"/v1/certificates/log/{serial}").json()
        if entry[part] is not None and entry[part]["status"] != "pending":
            return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"the {part} log entry of {serial} was not anchored: {entry}")
        time.sleep(0.1)


# --- openssl ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["employee", "seal", "citizen"])
def test_issued_chain_verifies_with_openssl(
    profile: str, tenant: Tenant, ca_files: dict[str, Path], tmp_path: Path
) -> None:
    issued = issue(tenant, profile=profile)
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(issued["certificate_pem"])

    result = openssl("verify", "-CAfile", ca_files["root"], "-untrusted", ca_files["issuing"], leaf)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{leaf}: OK"
    # Without the issuing CA, the chain does not reach the root.
    assert openssl("verify", "-CAfile", ca_files["root"], leaf).returncode != 0


def test_chain_verifies_with_crl_check_until_revoked(tenant: Tenant, ca_files: dict[str, Path], tmp_path: Path) -> None:
    issued = issue(tenant)
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(issued["certificate_pem"])
    verify = ("verify", "-crl_check", "-CAfile", ca_files["root"], "-untrusted", ca_files["issuing"])

    before = openssl(*verify, "-CRLfile", write_crl(tenant.http, tmp_path), leaf)
    assert before.returncode == 0, before.stderr

    revoked = tenant.http.post(f"/v1/certificates/{issued['serial']}/revoke", json={"reason": "keyCompromise"})
    assert revoked.status_code == 200, revoked.text
    after = openssl(*verify, "-CRLfile", write_crl(tenant.http, tmp_path), leaf)

    assert after.returncode != 0
    assert "certificate revoked" in after.stderr


def test_crl_lists_revocation_with_reason_and_is_signed_by_issuing_ca(tenant: Tenant, runtime: Runtime) -> None:
    issued = issue(tenant, profile="seal")
    tenant.http.post(f"/v1/certificates/{issued['serial']}/revoke", json={"reason": "superseded"})

    crl = x509.load_der_x509_crl(tenant.http.get("/v1/ca/issuing.crl").content)

    issuing = certificate_authorities(runtime).issuing.certificate
    assert crl.is_signature_valid(issuing.public_key())
    assert crl.issuer == issuing.subject
    entry = crl.get_revoked_certificate_by_serial_number(int(issued["serial"], 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.superseded
    assert crl.next_update_utc is not None and crl.next_update_utc > datetime.now(UTC)


def test_pkcs12_opens_with_openssl_and_the_passphrase(tenant: Tenant, tmp_path: Path) -> None:
    issued = issue(tenant)
    bundle = tmp_path / "holder.p12"
    bundle.write_bytes(base64.b64decode(issued["pkcs12"]))

    opened = openssl("pkcs12", "-in", bundle, "-passin", f"pass:{issued['passphrase']}", "-nodes")
    wrong = openssl("pkcs12", "-in", bundle, "-passin", "pass:not-the-passphrase", "-nodes")

    assert opened.returncode == 0, opened.stderr
    assert "BEGIN PRIVATE KEY" in opened.stdout
    assert opened.stdout.count("BEGIN CERTIFICATE") == 3  # the holder's, the issuing CA's, the root's
    assert wrong.returncode != 0


def test_pkcs12_takes_the_callers_passphrase_and_does_not_return_it(tenant: Tenant) -> None:
    issued = issue(tenant, passphrase="una frase ben llarga")

    assert issued["passphrase"] is None
    key, certificate, chain = pkcs12.load_key_and_certificates(
        base64.b64decode(issued["pkcs12"]), b"una frase ben llarga"
    )
    assert certificate is not None and key is not None
    assert certificate.public_bytes(serialization.Encoding.PEM).decode() == issued["certificate_pem"]
    assert len(chain) == 2


# --- profiles -----------------------------------------------------------------------------------------------------


def test_issue_certificate_with_a_name_over_64_bytes_of_utf8_cuts_it_between_characters(tenant: Tenant) -> None:
    # 28 characters, 84 bytes of UTF-8: an X.509 name attribute holds 64 bytes (this was a 500).
    name = "Núria " + "\U0001d4d0" * 22
    issued = issue(tenant, name=name, position="Tècnica " + "\u00e0" * 56)
    subject = x509.load_pem_x509_certificate(issued["certificate_pem"].encode()).subject

    common_name = str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert common_name == "Núria " + "\U0001d4d0" * 14
    assert len(common_name.encode()) <= 64 and name.startswith(common_name)
    title = str(subject.get_attributes_for_oid(NameOID.TITLE)[0].value)
    assert title == "Tècnica " + "\u00e0" * 27


def test_employee_certificate_profile(tenant: Tenant, segell_server: RunningServer) -> None:
    issued = issue(tenant, email="jpuig@girona.cat", position="Secretària")
    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())
    extensions = certificate.extensions

    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Joana Puig i Ferrer"
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Ajuntament de Girona"
    assert certificate.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Secretària"
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    key_usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical and key_usage.value.digital_signature and key_usage.value.content_commitment
    assert not key_usage.value.key_cert_sign
    constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usages = set(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.EMAIL_PROTECTION, MS_DOCUMENT_SIGNING, DOCUMENT_SIGNING} <= usages
    assert extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.RFC822Name
    ) == ["jpuig@girona.cat"]
    points = extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name is not None
    assert points[0].full_name[0].value == f"{segell_server.url}/v1/ca/issuing.crl"
    issuing = x509.load_pem_x509_certificate(tenant.http.get("/v1/ca/issuing.pem").content)
    assert (
        extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        == issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value == x509.SubjectKeyIdentifier.from_public_key(certificate.public_key())
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc > timedelta(days=700)
    assert issued["key_held"] is True and issued["status"] == "valid"


def test_seal_names_the_administration(tenant: Tenant) -> None:
    issued = issue(tenant, profile="seal")
    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())

    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Ajuntament de Girona"
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Ajuntament de Girona"
    usages = set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.CLIENT_AUTH not in usages and DOCUMENT_SIGNING in usages
    assert issued["key_held"] is True


def test_citizen_key_is_not_kept(tenant: Tenant, runtime: Runtime) -> None:
    issued = issue(tenant, profile="citizen", name="Pere Soler")
    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())

    assert not certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert issued["key_held"] is False and issued["pkcs12"] is not None
    with runtime.transaction() as session:
        assert session.get(IssuedCertificate, issued["serial"]).sealed_key is None  # type: ignore[union-attr]


def test_ca_certificates_have_ca_profiles(runtime: Runtime) -> None:
    authorities = certificate_authorities(runtime)
    root, issuing = authorities.root.certificate, authorities.issuing.certificate

    assert root.issuer == root.subject and issuing.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    for certificate in (root, issuing):
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.key_cert_sign and usage.crl_sign
    issuing.verify_directly_issued_by(root)


def test_national_id_is_stored_only_as_salted_hash(tenant: Tenant, runtime: Runtime) -> None:
    first, second = issue(tenant), issue(tenant)

    with runtime.transaction() as session:
        rows = [session.get(IssuedCertificate, issued["serial"]) for issued in (first, second)]
    for row in rows:
        assert row is not None and row.national_id_hash is not None
        stored = json.dumps({column: str(getattr(row, column)) for column in row.__table__.columns.keys()})
        assert NATIONAL_ID not in stored
        assert NATIONAL_ID.encode() not in row.certificate_der
    # Salted: the same national id does not give the same hash twice.
    assert rows[0].national_id_hash != rows[1].national_id_hash  # type: ignore[union-attr]


# --- citizens: the certificate needs the citizen, and names the registration authority ----------------------------


def _citizen_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def _certificate_count(tenant: Tenant) -> int:
    return len(tenant.http.get("/v1/certificates", params={"limit": 1000}).json()["items"])


def _issue_citizen(tenant: Tenant, **body: Any) -> httpx.Response:
    return tenant.http.post("/v1/certificates", json={"profile": "citizen", "name": "Pere Soler", **body})


def test_issue_citizen_certificate_refused_without_citizen_token(tenant: Tenant) -> None:
    before = _certificate_count(tenant)

    response = _issue_citizen(tenant, national_id=new_national_id())

    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "citizen_token_required"
    assert "citizen_token" in error["message"] and "/v1/auth/otp/verify" in error["message"]
    assert _certificate_count(tenant) == before


def test_issue_citizen_certificate_refused_with_another_citizens_token(tenant: Tenant) -> None:
    national_id = new_national_id()
    holder, stranger = log_in_citizen(tenant.http), log_in_citizen(tenant.http)
    first = _issue_citizen(tenant, national_id=national_id, citizen_token=holder)
    assert first.status_code == 201, first.text
    before = _certificate_count(tenant)

    stranger_for_holder = _issue_citizen(tenant, national_id=national_id, citizen_token=stranger)
    # Spacing and case are the same national id.
    spaced = _issue_citizen(tenant, national_id=f" {national_id[:4]} {national_id[4:].lower()}", citizen_token=stranger)
    holder_for_another_id = _issue_citizen(tenant, national_id=new_national_id(), citizen_token=holder)

    for refused in (stranger_for_holder, spaced, holder_for_another_id):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "citizen_mismatch"
        assert "log in" in refused.json()["error"]["message"]
    assert _certificate_count(tenant) == before


def test_issue_citizen_certificate_refused_for_an_invalid_csr_binds_no_one(tenant: Tenant) -> None:
    national_id = new_national_id()
    bad_csr = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"

    refused = _issue_citizen(tenant, national_id=national_id, csr=bad_csr, citizen_token=log_in_citizen(tenant.http))
    issued = _issue_citizen(tenant, national_id=national_id, citizen_token=log_in_citizen(tenant.http))

    assert refused.status_code == 422, refused.text
    assert "csr" in refused.json()["error"]["message"]
    assert issued.status_code == 201, issued.text


def test_issue_citizen_certificate_refused_with_token_of_another_administration(tenant: Tenant, other: Tenant) -> None:
    before = _certificate_count(tenant)

    response = _issue_citizen(tenant, national_id=new_national_id(), citizen_token=log_in_citizen(other.http))

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "citizen_of_another_administration"
    assert _certificate_count(tenant) == before


def test_issue_citizen_certificate_refused_with_expired_or_forged_token(
    tenant: Tenant, segell_server: RunningServer
) -> None:
    token = log_in_citizen(tenant.http)
    header, claims, signature = token.split(".")
    forged_claims = base64.urlsafe_b64encode(
        json.dumps({**jwt.decode(token, options={"verify_signature": False}), "sub": "cit_" + "0" * 40}).encode()
    )
    forged = f"{header}.{forged_claims.rstrip(b'=').decode()}.{signature}"
    before = _certificate_count(tenant)

    forged_response = _issue_citizen(tenant, national_id=new_national_id(), citizen_token=forged)
    app: Any = segell_server.app
    two_hours_later = datetime.now(UTC) + timedelta(hours=2)
    app.dependency_overrides[get_clock] = lambda: lambda: two_hours_later
    try:
        expired_response = _issue_citizen(tenant, national_id=new_national_id(), citizen_token=token)
    finally:
        app.dependency_overrides.pop(get_clock, None)

    assert forged_response.status_code == 401, forged_response.text
    assert forged_response.json()["error"]["code"] == "invalid_token"
    assert expired_response.status_code == 401, expired_response.text
    assert expired_response.json()["error"]["code"] == "token_expired"
    assert "log in again" in expired_response.json()["error"]["message"]
    assert _certificate_count(tenant) == before


def test_issue_citizen_certificate_with_the_citizens_token_names_citizen_and_registration_authority(
    tenant: Tenant, segell_server: RunningServer
) -> None:
    token, national_id = log_in_citizen(tenant.http), new_national_id()
    citizen_id = _citizen_of(token)
    code = tenant.http.get("/v1/me").json()["administration"]["code"]

    response = _issue_citizen(tenant, national_id=national_id, citizen_token=token)
    again = _issue_citizen(tenant, national_id=national_id.lower(), citizen_token=log_in_citizen(tenant.http, None))
    renewed = _issue_citizen(tenant, national_id=national_id, citizen_token=token)

    assert response.status_code == 201, response.text
    issued = response.json()
    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())
    extension = certificate.extensions.get_extension_for_oid(REGISTRATION_OID)
    assert extension.critical is False
    assert registration_of(certificate) == Registration(code, "Ajuntament de Girona", citizen_id)
    assert issued["registration_authority"] == {"code": code, "name": "Ajuntament de Girona"}
    assert issued["citizen_id"] == citizen_id
    read = tenant.http.get(f"/v1/certificates/{issued['serial']}").json()
    assert (read["registration_authority"], read["citizen_id"]) == (issued["registration_authority"], citizen_id)
    with segell_server.client() as anyone:
        entry = anyone.get(f"/v1/certificates/log/{issued['serial']}").json()
    assert entry["registration_authority"] == {"code": code, "name": "Ajuntament de Girona"}
    assert entry["citizen_id"] == citizen_id
    # Another citizen cannot take the national id; the same citizen gets a second certificate.
    assert again.status_code == 403 and again.json()["error"]["code"] == "citizen_mismatch"
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["citizen_id"] == citizen_id


def test_issue_employee_and_seal_certificates_name_the_registration_authority_without_a_citizen(
    tenant: Tenant,
) -> None:
    code = tenant.http.get("/v1/me").json()["administration"]["code"]
    employee, seal = issue(tenant, profile="employee"), issue(tenant, profile="seal")
    with_token = tenant.http.post(
        "/v1/certificates", json={"profile": "seal", "citizen_token": log_in_citizen(tenant.http)}
    )

    for issued in (employee, seal):
        certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())
        assert registration_of(certificate) == Registration(code, "Ajuntament de Girona", None)
        assert issued["registration_authority"] == {"code": code, "name": "Ajuntament de Girona"}
        assert issued["citizen_id"] is None
    assert with_token.status_code == 422, with_token.text
    assert "citizen_token" in with_token.json()["error"]["message"]


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"\x30\x00",
        # Lengths that run past the end.
        bytes.fromhex("30480c024c310c14416a756e74616d656e74206465204769726f6e61882c6369745f61326161"),
        # A citizen field whose tag and length do not match its contents (asn1crypto: AttributeError).
        bytes.fromhex(
            "30480c024c310c14416a756e74616d656e74206465204769726f6e61882c6369745f6132616161616161616161616161"
            "616161616161616161610e6161616161616161616161616161616161"
        ),
    ],
)
def test_registration_of_malformed_extension_is_none(runtime: Runtime, value: bytes) -> None:
    issuing = certificate_authorities(runtime).issuing
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Malformat")]))
        .issuer_name(issuing.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.UnrecognizedExtension(REGISTRATION_OID, value), critical=False)
        .sign(issuing.private_key, hashes.SHA256())
    )

    assert registration_of(certificate) is None


# --- CSR ----------------------------------------------------------------------------------------------------------


def _csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


def test_issue_from_csr_certifies_the_callers_key(
    tenant: Tenant, runtime: Runtime, ca_files: dict[str, Path], tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    issued = issue(tenant, csr=_csr(key))

    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Joana Puig i Ferrer"
    assert issued["pkcs12"] is None and issued["passphrase"] is None
    assert issued["key_origin"] == "csr" and issued["key_algorithm"] == "rsa-2048" and issued["key_held"] is False
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(issued["certificate_pem"])
    assert openssl("verify", "-CAfile", ca_files["root"], "-untrusted", ca_files["issuing"], leaf).returncode == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"profile": "employee", "name": "Joana"}, "national_id"),
        ({"profile": "citizen", "national_id": NATIONAL_ID}, "name"),
        ({"profile": "seal", "national_id": NATIONAL_ID}, "national_id"),
        ({"profile": "seal", "passphrase": "short"}, "passphrase"),
        ({"profile": "seal", "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"}, "csr"),
        ({"profile": "seal", "position": "Alcaldessa"}, "position"),
        ({"profile": "notary"}, "profile"),
        ({"profile": "seal", "validity_days": 0}, "validity_days"),
        ({"profile": "seal", "validity_days": "30"}, "validity_days"),
        ({"profile": "seal", "email": ";@girona.cat"}, "email"),
        ({"profile": "seal", "email": "Joana <jpuig@girona.cat>"}, "email"),
    ],
)
def test_issue_refuses_invalid_request(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    before = tenant.http.get("/v1/certificates", params={"limit": 1000}).json()["items"]

    response = tenant.http.post("/v1/certificates", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["message"]
    assert len(tenant.http.get("/v1/certificates", params={"limit": 1000}).json()["items"]) == len(before)


def test_issue_refuses_csr_with_small_key(tenant: Tenant) -> None:
    response = tenant.http.post(
        "/v1/certificates", json={"profile": "seal", "csr": _csr(ec.generate_private_key(ec.SECP192R1()))}
    )

    assert response.status_code == 422, response.text
    assert "P-256" in response.json()["error"]["message"]


# --- revocation, status and the log -------------------------------------------------------------------------------


def test_status_is_public_and_follows_revocation(tenant: Tenant, segell_server: RunningServer) -> None:
    issued = issue(tenant)
    serial = issued["serial"]

    with segell_server.client() as anyone:
        assert anyone.get(f"/v1/certificates/status/{serial}").json()["status"] == "valid"
        revoked = tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "affiliationChanged"})
        status = anyone.get(f"/v1/certificates/status/{serial.upper()}").json()

    assert revoked.json()["status"] == "revoked"
    assert status["status"] == "revoked"
    assert status["revocation"]["reason"] == "affiliationChanged"
    assert status["crl_url"] == f"{segell_server.url}/v1/ca/issuing.crl"


def test_status_of_unknown_serial_is_not_found(segell_server: RunningServer) -> None:
    with segell_server.client() as anyone:
        assert anyone.get(f"/v1/certificates/status/{'1' * 40}").status_code == 404
        # Well formed, but not a serial this CA draws (positive, at most 160 bits): no certificate has it.
        assert anyone.get("/v1/certificates/status/0x00").status_code == 404
        assert anyone.get(f"/v1/certificates/status/{'f' * 64}").status_code == 404
        assert anyone.get("/v1/certificates/status/not-hex").status_code == 422
        assert anyone.get(f"/v1/certificates/status/{'1' * 65}").status_code == 422


def test_revoke_twice_conflicts(tenant: Tenant) -> None:
    serial = issue(tenant)["serial"]
    assert tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "superseded"}).status_code == 200

    again = tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_revoked"
    assert tenant.http.get(f"/v1/certificates/{serial}").json()["revocation"]["reason"] == "superseded"


def test_revoke_refuses_unknown_reason(tenant: Tenant) -> None:
    serial = issue(tenant)["serial"]

    response = tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "certificateHold"})

    assert response.status_code == 422
    assert tenant.http.get(f"/v1/certificates/{serial}").json()["status"] == "valid"


def test_issued_and_revoked_certificates_are_logged_and_anchored(tenant: Tenant, segell_server: RunningServer) -> None:
    issued = issue(tenant)
    serial = issued["serial"]
    der = x509.load_pem_x509_certificate(issued["certificate_pem"].encode()).public_bytes(serialization.Encoding.DER)
    tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "cessationOfOperation"})

    with segell_server.client() as anyone:
        entry = wait_for_log(anyone, serial, "revocation")
        entry = wait_for_log(anyone, serial, "issuance")
        by_pem = anyone.post(
            "/v1/certificates/log",
            content=issued["certificate_pem"],
            headers={"Content-Type": "application/x-pem-file"},
        )
        by_der = anyone.post("/v1/certificates/log", content=der, headers={"Content-Type": "application/pkix-cert"})
        issuance_bundle = anyone.get(f"/v1/certificates/log/{serial}/bundle").json()
        revocation_bundle = anyone.get(f"/v1/certificates/log/{serial}/revocation/bundle").json()
        by_code = anyone.get("/v1/verify", params={"code": entry["issuance"]["verification_code"]}).json()
        deployment = anyone.get("/.well-known/segell.json").json()

    assert by_pem.json() == entry and by_der.json() == entry
    assert entry["issuance"]["document_hash"] == issued["fingerprint_sha256"]
    assert entry["issuance"]["verification_code"] == issued["log"]["verification_code"]
    assert entry["issuance"]["anchor"]["transaction_hash"].startswith("0x")
    assert by_code["status"] == "authentic"
    # Anyone can rebuild what the revocation entry notarised, and check both bundles against the chain alone.
    record = json.dumps(entry["revocation_record"], sort_keys=True, separators=(",", ":")).encode()
    assert entry["revocation_record"]["reason"] == "cessationOfOperation"
    rpc, trusted = f"{segell_server.url}/rpc", [f"{deployment['chain_id']}:{deployment['notary']}"]
    assert verify_bundle(issuance_bundle, der, rpc, trusted_notaries=trusted).status == "authentic"
    assert verify_bundle(revocation_bundle, record, rpc, trusted_notaries=trusted).status == "authentic"
    assert verify_bundle(issuance_bundle, record, rpc, trusted_notaries=trusted).status == "wrong_document"


def test_revocation_log_entry_links_the_certificates_log_entry(tenant: Tenant, segell_server: RunningServer) -> None:
    serial = issue(tenant)["serial"]
    revoked = tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
    assert revoked.status_code == 200, revoked.text

    with segell_server.client() as anyone:
        entry = wait_for_log(anyone, serial, "revocation")
        entry = wait_for_log(anyone, serial, "issuance")
        revocation_bundle = anyone.get(f"/v1/certificates/log/{serial}/revocation/bundle").json()
        issuance_bundle = anyone.get(f"/v1/certificates/log/{serial}/bundle").json()

    (source,) = revocation_bundle["derived_from"]
    assert source["verification_code"] == entry["issuance"]["verification_code"]
    assert source["kind"] == "certificate"
    assert (source["leaf"], source["root"]) == (issuance_bundle["leaf"], issuance_bundle["root"])
    assert source["document_hash"] == issuance_bundle["document_hash"]
    assert issuance_bundle["derived_from"] == []


def test_log_lookup_of_unknown_certificate(tenant: Tenant, segell_server: RunningServer) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Segell Sandbox Issuing CA")])
    now = datetime.now(UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(issue(tenant)["serial"], 16))  # a logged serial, on a certificate never issued here
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )

    with segell_server.client() as anyone:
        response = anyone.post(
            "/v1/certificates/log",
            content=forged.public_bytes(serialization.Encoding.PEM),
            headers={"Content-Type": "application/x-pem-file"},
        )
        garbage = anyone.post(
            "/v1/certificates/log", content=b"hello", headers={"Content-Type": "application/pkix-cert"}
        )
        wrong_type = anyone.post("/v1/certificates/log", content=b"{}", headers={"Content-Type": "application/json"})

    assert response.status_code == 404
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "invalid_certificate"
    assert wrong_type.status_code == 415


def test_list_filters_by_profile_and_status(tenant: Tenant) -> None:
    seal = issue(tenant, profile="seal")["serial"]
    revoked = issue(tenant, profile="seal")["serial"]
    tenant.http.post(f"/v1/certificates/{revoked}/revoke", json={"reason": "superseded"})

    valid_seals = {
        item["serial"] for item in tenant.http.get("/v1/certificates?profile=seal&status=valid").json()["items"]
    }
    revoked_any = {item["serial"] for item in tenant.http.get("/v1/certificates?status=revoked").json()["items"]}

    assert seal in valid_seals and revoked not in valid_seals
    assert revoked in revoked_any and seal not in revoked_any


# --- tenancy: one test per endpoint -------------------------------------------------------------------------------


def test_read_certificate_of_another_administration_is_not_found(tenant: Tenant, other: Tenant) -> None:
    serial = issue(tenant)["serial"]

    response = other.http.get(f"/v1/certificates/{serial}")
    unknown = other.http.get(f"/v1/certificates/{'1' * 40}")

    # The same answer as for a serial never issued: nothing tells that the certificate exists.
    assert response.status_code == unknown.status_code == 404
    assert response.json()["error"]["message"].replace(serial, "1" * 40) == unknown.json()["error"]["message"]


def test_revoke_certificate_of_another_administration_changes_nothing(
    tenant: Tenant, other: Tenant, tmp_path: Path
) -> None:
    serial = issue(tenant)["serial"]
    crl_before = tenant.http.get("/v1/ca/issuing.crl").content

    response = other.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})

    assert response.status_code == 404
    assert tenant.http.get(f"/v1/certificates/{serial}").json()["status"] == "valid"
    assert tenant.http.get("/v1/ca/issuing.crl").content == crl_before


def test_list_certificates_shows_only_the_callers(tenant: Tenant, other: Tenant) -> None:
    mine = issue(tenant)["serial"]
    theirs = issue(other, profile="seal")["serial"]

    listed_by_other = {
        item["serial"] for item in other.http.get("/v1/certificates", params={"limit": 1000}).json()["items"]
    }

    assert theirs in listed_by_other and mine not in listed_by_other


def test_issue_names_the_callers_administration_only(tenant: Tenant, other: Tenant) -> None:
    issued = issue(other, profile="seal")
    certificate = x509.load_pem_x509_certificate(issued["certificate_pem"].encode())

    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Ajuntament de Lleida"
    assert tenant.http.get(f"/v1/certificates/{issued['serial']}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/certificates"), ("POST", "/v1/certificates"), ("GET", f"/v1/certificates/{'a' * 40}")],
)
def test_governance_key_cannot_hold_certificates(governance: httpx.Client, method: str, path: str) -> None:
    response = governance.request(method, path, json={"profile": "seal"} if method == "POST" else None)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/certificates"),
        ("POST", "/v1/certificates"),
        ("GET", f"/v1/certificates/{'a' * 40}"),
        ("POST", f"/v1/certificates/{'a' * 40}/revoke"),
    ],
)
def test_certificate_endpoints_need_an_api_key(segell_server: RunningServer, method: str, path: str) -> None:
    with segell_server.client() as anyone:
        response = anyone.request(method, path, json={"profile": "seal", "reason": "superseded"})

    assert response.status_code == 401


def test_signing_identity_refuses_another_administration(tenant: Tenant, other: Tenant, runtime: Runtime) -> None:
    serial = issue(tenant)["serial"]
    with runtime.transaction() as session:
        owner = session.scalars(select(IssuedCertificate.administration_id).where(IssuedCertificate.id == serial)).one()
        other_id = session.scalars(select(Administration.id).where(Administration.name == "Ajuntament de Lleida")).one()

    identity = signing_identity(runtime, owner, serial)
    with pytest.raises(NotFound):
        signing_identity(runtime, other_id, serial)

    assert identity.certificate.serial_number == int(serial, 16)
    assert identity.private_key.public_key().public_numbers() == identity.certificate.public_key().public_numbers()
    assert [c.subject for c in identity.chain] == [
        certificate_authorities(runtime).issuing.certificate.subject,
        certificate_authorities(runtime).root.certificate.subject,
    ]


# --- the Python interface other services use ----------------------------------------------------------------------


def _administration(runtime: Runtime, name: str) -> Administration:
    with runtime.transaction() as session:
        return session.scalars(select(Administration).where(Administration.name == name)).one()


def test_signing_identity_refuses_revoked_expired_and_keyless(tenant: Tenant, runtime: Runtime) -> None:
    administration = _administration(runtime, "Ajuntament de Girona")
    revoked = issue(tenant)["serial"]
    tenant.http.post(f"/v1/certificates/{revoked}/revoke", json={"reason": "keyCompromise"})
    keyless = issue(tenant, csr=_csr(ec.generate_private_key(ec.SECP256R1())))["serial"]
    citizen = issue(tenant, profile="citizen")["serial"]
    long_ago = datetime.now(UTC) - timedelta(days=400)
    expired = issue_certificate(
        runtime,
        administration,
        IssueRequest(profile="seal", valid_from=long_ago, valid_until=long_ago + timedelta(days=30)),
    ).record.id

    codes = {}
    for serial in (revoked, keyless, citizen, expired):
        with pytest.raises(Conflict) as raised:
            signing_identity(runtime, administration.id, serial)
        codes[serial] = raised.value.code

    assert codes == {
        revoked: "certificate_revoked",
        keyless: "key_not_held",
        citizen: "key_not_held",
        expired: "certificate_expired",
    }


def test_revocation_status_and_current_crl(tenant: Tenant, runtime: Runtime) -> None:
    serial = issue(tenant)["serial"]
    with runtime.transaction() as session:
        assert revocation_status(session, serial) is None
    tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "privilegeWithdrawn"})

    with runtime.transaction() as session:
        status = revocation_status(session, int(serial, 16))
        assert revocation_status(session, "zz") is None
    crl = x509.load_der_x509_crl(current_crl(runtime))

    assert status is not None
    revoked_at, reason = status
    assert reason == "privilegeWithdrawn"
    entry = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert entry is not None and entry.revocation_date_utc == revoked_at


def test_stale_crl_is_issued_again(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        record = session.get(CertificateAuthorityRecord, ca.ROOT)
        assert record is not None
        record.crl_next_update = datetime.now(UTC) + timedelta(hours=1)
        number = record.crl_number

    crl = x509.load_der_x509_crl(current_crl(runtime, ca.ROOT))

    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number + 1
    assert crl.next_update_utc is not None and crl.next_update_utc > datetime.now(UTC) + timedelta(days=6)
    assert crl.is_signature_valid(certificate_authorities(runtime).root.certificate.public_key())


def test_second_process_creating_the_cas_gets_the_existing_ones(runtime: Runtime) -> None:
    existing = certificate_authorities(runtime)

    # What a second process starting at the same time does: it tries to insert its own and loses.
    raced = ca._create(runtime)

    assert raced.root.certificate == existing.root.certificate
    assert raced.issuing.certificate == existing.issuing.certificate
    with runtime.transaction() as session:
        assert len(session.scalars(select(CertificateAuthorityRecord)).all()) == 2


def test_ca_keys_are_sealed_under_the_master_key(runtime: Runtime) -> None:
    authorities = certificate_authorities(runtime)
    with runtime.transaction() as session:
        records = session.scalars(select(CertificateAuthorityRecord)).all()

    for record in records:
        envelope = json.loads(record.sealed_key)
        assert envelope["alg"] == "AES-256-GCM"
        authority = authorities.root if record.role == ca.ROOT else authorities.issuing
        scalar = authority.private_key.private_numbers().private_value.to_bytes(32, "big")
        assert scalar.hex() not in record.sealed_key
        assert ca.open_key(record.sealed_key, runtime.master_key, label=ca.ca_key_label(record.role)) is not None


def test_concurrent_revocations_all_reach_the_crl(tenant: Tenant) -> None:
    serials = [issue(tenant, profile="seal")["serial"] for _ in range(4)]

    def revoke(serial: str) -> int:
        return tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "superseded"}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(revoke, serials))

    crl = x509.load_der_x509_crl(tenant.http.get("/v1/ca/issuing.crl").content)
    assert statuses == [200] * 4
    assert all(crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None for serial in serials)


def test_concurrent_revocations_of_one_certificate_revoke_it_once(tenant: Tenant) -> None:
    serial = issue(tenant, profile="seal")["serial"]
    reasons = ["superseded", "keyCompromise", "affiliationChanged", "privilegeWithdrawn"]

    def revoke(reason: str) -> int:
        return tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": reason}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(revoke, reasons))

    certificate = tenant.http.get(f"/v1/certificates/{serial}").json()
    entry = tenant.http.get(f"/v1/certificates/log/{serial}").json()
    assert sorted(statuses) == [200, 409, 409, 409]
    assert certificate["revocation"]["reason"] == reasons[statuses.index(200)]
    assert entry["revocation_record"]["reason"] == certificate["revocation"]["reason"]


def test_full_chain_crl_check_with_both_crls(tenant: Tenant, ca_files: dict[str, Path], tmp_path: Path) -> None:
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(issue(tenant)["certificate_pem"])
    root_crl = tmp_path / "root.crl.pem"
    (tmp_path / "root.crl").write_bytes(tenant.http.get("/v1/ca/root.crl").content)
    assert openssl("crl", "-inform", "DER", "-in", tmp_path / "root.crl", "-out", root_crl).returncode == 0
    issuing_crl = write_crl(tenant.http, tmp_path)

    result = openssl(
        "verify",
        "-crl_check_all",
        "-CAfile",
        ca_files["root"],
        "-untrusted",
        ca_files["issuing"],
        "-CRLfile",
        root_crl,
        "-CRLfile",
        issuing_crl,
        leaf,
    )

    assert result.returncode == 0, result.stderr


def test_certificate_authority_survives_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    first = serve(settings)
    server = next(first)
    with server.client() as anyone:
        root_before = anyone.get("/v1/ca/root.pem").text
        issuing_before = anyone.get("/v1/ca").json()["issuing_pem"]
    key = server.admit()
    with server.client(key) as holder:
        serial = holder.post("/v1/certificates", json={"profile": "seal"}).json()["serial"]
        holder.post(f"/v1/certificates/{serial}/revoke", json={"reason": "superseded"})
    first.close()

    second = serve(settings)  # the same home, master key and port
    server = next(second)
    try:
        with server.client() as anyone:
            root_after = anyone.get("/v1/ca/root.pem").text
            issuing_after = anyone.get("/v1/ca").json()["issuing_pem"]
            status = anyone.get(f"/v1/certificates/status/{serial}").json()
            crl = x509.load_der_x509_crl(anyone.get("/v1/ca/issuing.crl").content)
    finally:
        second.close()

    assert (root_after, issuing_after) == (root_before, issuing_before)
    assert status["status"] == "revoked"
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None


@pytest.fixture
def postgres_server(postgres_database: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server on a schema of its own in PostgreSQL, when SEGELL_TEST_POSTGRES_URL names one."""
    yield from serve(make_settings(tmp_path, database_url=postgres_database))


@pytest.mark.postgres
def test_issue_and_concurrent_revocations_on_postgresql(postgres_server: RunningServer, tmp_path: Path) -> None:
    key = postgres_server.admit()
    with postgres_server.client(key) as http, postgres_server.client() as anyone:
        tenant = Tenant(key, http)
        serials = [issue(tenant, profile="seal")["serial"] for _ in range(4)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(
                pool.map(
                    lambda serial: http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "superseded"}),
                    serials,
                )
            )
        crl = x509.load_der_x509_crl(anyone.get("/v1/ca/issuing.crl").content)
        entry = wait_for_log(anyone, serials[0], "revocation")

    assert [response.status_code for response in statuses] == [200] * 4
    assert all(crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None for serial in serials)
    assert entry["revocation"]["status"] == "anchored"


def test_revocation_left_unlogged_is_logged_by_the_next_attempt(tenant: Tenant, runtime: Runtime) -> None:
    serial = issue(tenant, profile="seal")["serial"]
    # What a crash between the revocation's commit and its notarisation leaves behind.
    with runtime.transaction() as session:
        record = session.get(IssuedCertificate, serial)
        assert record is not None
        record.revoked_at = datetime.now(UTC).replace(microsecond=0)
        record.revocation_reason = "keyCompromise"
    assert tenant.http.get(f"/v1/certificates/log/{serial}").json()["revocation"] is None

    again = tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})

    entry = tenant.http.get(f"/v1/certificates/log/{serial}").json()
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_revoked"
    assert entry["revocation"] is not None
    assert entry["revocation_record"]["reason"] == "keyCompromise"


def test_issue_answer_is_not_cached(tenant: Tenant) -> None:
    response = tenant.http.post("/v1/certificates", json={"profile": "seal"})

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"


def test_certificate_not_yet_valid(tenant: Tenant, runtime: Runtime) -> None:
    administration = _administration(runtime, "Ajuntament de Girona")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    request = IssueRequest(profile="seal", valid_from=tomorrow, valid_until=tomorrow + timedelta(days=30))
    serial = issue_certificate(runtime, administration, request).record.id

    status = tenant.http.get(f"/v1/certificates/status/{serial}").json()
    listed = tenant.http.get("/v1/certificates", params={"status": "not_yet_valid"}).json()["items"]
    with pytest.raises(Conflict) as raised:
        signing_identity(runtime, administration.id, serial)

    assert status["status"] == "not_yet_valid"
    assert [item["serial"] for item in listed] == [serial]
    assert raised.value.code == "certificate_not_yet_valid"
