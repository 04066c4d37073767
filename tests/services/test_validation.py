"""The signature validation matrix over HTTP against a real server, with real certificates from the deployment's CA
(or made with its keys), its real CRLs, and proof of existence from the notary's anchors on chain."""

import base64
import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from segell.services.administrations.models import Administration
from segell.services.identity.ca import CertificateAuthority
from segell.services.identity.certificates import (
    IssueRequest,
    certificate_authorities,
    issue_certificate,
    signing_identity,
)
from segell.services.identity.models import IssuedCertificate
from segell.services.identity.registration import Registration, registration_extension, registration_of
from segell.services.identity.signing import SigningIdentity, sign_detached, sign_pdf
from segell.services.runtime import Runtime
from tests.helpers import RunningServer, Tenant, admit, free_port, make_pdf

Report = dict[str, Any]


@pytest.fixture(scope="module")
def runtime(segell_server: RunningServer) -> Runtime:
    runtime: Runtime = segell_server.app.state.runtime  # type: ignore[attr-defined]
    return runtime


@pytest.fixture(scope="module")
def tenant(segell_server: RunningServer) -> Iterator[Tenant]:
    with admit(segell_server, "Ajuntament de Sabadell") as admitted:
        yield admitted


@pytest.fixture(scope="module")
def anyone(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client() as client:
        yield client


def validate(client: httpx.Client, data: bytes, signature: bytes | None = None) -> Report:
    files = {"file": ("document", data)}
    if signature is not None:
        files["signature"] = ("document.p7s", signature)
    response = client.post("/v1/signatures/validate", files=files)
    assert response.status_code == 200, response.text
    report: Report = response.json()
    return report


def only_signature(report: Report) -> Report:
    assert report["signed"] is True
    (signature,) = report["signatures"]
    assert (report["indication"], report["sub_indication"]) == (signature["indication"], signature["sub_indication"])
    return signature


def administration(runtime: Runtime, code: str) -> Administration:
    with runtime.transaction() as session:
        return session.scalars(select(Administration).where(Administration.code == code)).one()


def held_identity(runtime: Runtime, tenant: Tenant, serial: str) -> SigningIdentity:
    held = signing_identity(runtime, administration(runtime, tenant.code).id, serial)
    return SigningIdentity(held.private_key, held.certificate, held.chain)


def wait_for_clock_past(timestamp: int) -> None:
    """Block timestamps are max(parent + 1, now): after a burst of transactions they run ahead of the clock."""
    deadline = time.monotonic() + 120
    while time.time() < timestamp + 1.05:
        assert time.monotonic() < deadline, "the chain's clock is far ahead of this machine's"
        time.sleep(0.05)


def revoke(tenant: Tenant, serial: str, reason: str = "keyCompromise") -> datetime:
    response = tenant.http.post(f"/v1/certificates/{serial}/revoke", json={"reason": reason})
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["revocation"]["revoked_at"])


# --- TOTAL_PASSED -------------------------------------------------------------------------------------------------


def test_valid_signed_pdf_passes_and_gains_proof_of_existence_once_anchored(
    tenant: Tenant, anyone: httpx.Client
) -> None:
    serial = tenant.issue("employee", name="Jordi Casals")
    signed = tenant.signed(make_pdf("Llicencia d'obres 3/2026"), "llicencia.pdf", certificate=serial)
    content = base64.b64decode(signed["content"])

    report = validate(anyone, content)
    signature = only_signature(report)
    assert report["document_hash"] == signed["signed_hash"]
    assert (signature["indication"], signature["sub_indication"]) == ("TOTAL_PASSED", None)
    assert signature["reason"] == "valid"
    assert signature["reason_details"]["certificate"] == "Jordi Casals"
    assert signature["format"] == "PAdES"
    assert signature["signer"] == signed["signer"]
    assert signature["signer"]["kind"] == "employee"
    assert datetime.fromisoformat(signature["signing_time"]) == datetime.fromisoformat(signed["signing_time"])

    receipt = tenant.wait_until_anchored(signed["receipt"]["id"])
    proof = only_signature(validate(anyone, content))["proof_of_existence"]
    assert proof == {
        "verification_code": signed["verification_code"],
        "anchored_at": datetime.fromtimestamp(receipt["anchor"]["block_timestamp"], UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "block_number": receipt["anchor"]["block_number"],
        "transaction_hash": receipt["anchor"]["transaction_hash"],
    }


def test_valid_cms_signature_passes_in_der_and_pem(tenant: Tenant, anyone: httpx.Client) -> None:
    tenant.issue("seal")
    data = b"Pressupost 2026: 1.234.567,89 EUR\n"
    signed = tenant.signed(data, "pressupost.txt", **{"as": "seal"})
    der = base64.b64decode(signed["content"])
    pem = b"-----BEGIN CMS-----\n" + base64.encodebytes(der) + b"-----END CMS-----\n"

    for signature in (der, pem):
        report = validate(anyone, data, signature)
        result = only_signature(report)
        assert (result["indication"], result["format"]) == ("TOTAL_PASSED", "CAdES")
        assert result["signer"]["kind"] == "seal"
        assert report["document_hash"] == signed["document_hash"]


def test_citizen_signature_report_names_the_registration_authority(tenant: Tenant, anyone: httpx.Client) -> None:
    # The citizen signs with their own key, from the PKCS#12 file; Segell never holds it.
    issued = tenant.issued("citizen", name="Pere Soler", passphrase="la meva clau")
    key, certificate, chain = pkcs12.load_key_and_certificates(base64.b64decode(issued["pkcs12"]), b"la meva clau")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and certificate is not None
    data = b"Sol.licitud d'ajut al lloguer\n"
    signature = sign_detached(data, SigningIdentity(key, certificate, chain)).content

    result = only_signature(validate(anyone, data, signature))

    assert (result["indication"], result["sub_indication"]) == ("TOTAL_PASSED", None)
    assert (result["signer"]["name"], result["signer"]["kind"]) == ("Pere Soler", "citizen")
    assert result["signer"]["registration_authority"] == {"code": tenant.code, "name": "Ajuntament de Sabadell"}


def test_signed_document_and_its_report_name_the_registration_authority(tenant: Tenant, anyone: httpx.Client) -> None:
    serial = tenant.issue("employee", name="Anna Ferrer")
    signed = tenant.signed(make_pdf("Decret 12/2026"), "decret.pdf", certificate=serial)

    signature = only_signature(validate(anyone, base64.b64decode(signed["content"])))

    expected = {"code": tenant.code, "name": "Ajuntament de Sabadell"}
    assert signed["signer"]["registration_authority"] == expected
    assert signature["signer"]["registration_authority"] == expected


def test_pdf_signed_twice_reports_both_signatures(tenant: Tenant, anyone: httpx.Client) -> None:
    first_signer = tenant.issue("employee", name="Anna Soler")
    second_signer = tenant.issue("employee", name="Marc Pujol")
    once = tenant.signed(make_pdf("Conveni 4/2026"), "conveni.pdf", certificate=first_signer)
    twice = tenant.signed(base64.b64decode(once["content"]), "conveni.pdf", certificate=second_signer)

    report = validate(anyone, base64.b64decode(twice["content"]))

    assert report["indication"] == "TOTAL_PASSED"
    assert [s["signer"]["name"] for s in report["signatures"]] == ["Anna Soler", "Marc Pujol"]
    assert {s["indication"] for s in report["signatures"]} == {"TOTAL_PASSED"}


# --- TOTAL_FAILED / HASH_FAILURE ----------------------------------------------------------------------------------


def test_altered_pdf_fails_with_hash_failure(tenant: Tenant, anyone: httpx.Client) -> None:
    serial = tenant.issue("employee", name="Rosa Ferrer")
    signed = tenant.signed(make_pdf("Multa de 100 EUR"), "multa.pdf", certificate=serial)
    altered = base64.b64decode(signed["content"]).replace(b"Multa de 100 EUR", b"Multa de 900 EUR")

    report = validate(anyone, altered)

    signature = only_signature(report)
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert "changed after it was signed" in signature["message"]
    assert signature["reason"] in {"changed_after_signing", "pdf_changed_after_signing"}
    assert signature["proof_of_existence"] is None


def test_altered_file_fails_its_cms_signature_with_hash_failure(tenant: Tenant, anyone: httpx.Client) -> None:
    serial = tenant.issue("employee", name="Rosa Ferrer")
    signed = tenant.signed(b"Subvencio: 5.000 EUR", "subvencio.txt", certificate=serial)

    report = validate(anyone, b"Subvencio: 50.000 EUR", base64.b64decode(signed["content"]))

    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert only_signature(report)["reason"] == "changed_after_signing"


def test_forged_signature_value_fails_with_sig_crypto_failure(tenant: Tenant, anyone: httpx.Client) -> None:
    serial = tenant.issue("employee", name="Rosa Ferrer")
    signed = tenant.signed(b"Decret de nomenament", "decret.txt", certificate=serial)
    content_info = cms.ContentInfo.load(base64.b64decode(signed["content"]))
    signer_info = content_info["content"]["signer_infos"][0]
    # Another valid ECDSA signature, by another key, over the same signed attributes.
    other_key = ec.generate_private_key(ec.SECP256R1())
    signer_info["signature"] = other_key.sign(signer_info["signed_attrs"].untag().dump(), ec.ECDSA(hashes.SHA256()))

    report = validate(anyone, b"Decret de nomenament", content_info.dump(force=True))

    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")
    assert only_signature(report)["signer"]["name"] == "Rosa Ferrer"
    assert only_signature(report)["reason"] == "signature_value_wrong"


# --- INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND -------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    crl_url: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(minutes=5))
        .not_valid_after(not_after or now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if crl_url is not None:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def test_untrusted_chain_is_indeterminate_no_certificate_chain_found(anyone: httpx.Client) -> None:
    # A CA of its own, with the same names as the deployment's: names are not trust.
    root_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Segell Sandbox Root CA", root_key, None, root_key, ca=True)
    signer = _certificate("Impostor", signer_key, root, root_key, ca=False)
    identity = SigningIdentity(signer_key, signer, [root])
    pdf = sign_pdf(
        make_pdf("Fals"), identity, verification_code="X", verification_url="http://example.invalid/"
    ).content

    for report in (validate(anyone, pdf), validate(anyone, b"fals", sign_detached(b"fals", identity).content)):
        signature = only_signature(report)
        assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
        assert signature["reason"] == "untrusted_certificate"
        assert signature["reason_details"]["certificate"] == "Impostor"
        assert signature["signer"]["name"] == "Impostor"
        assert signature["signer"]["kind"] is None
        assert signature["signer"]["registration_authority"] is None


def test_report_of_certificate_issued_before_registration_was_named_names_its_administration(
    tenant: Tenant, runtime: Runtime, anyone: httpx.Client
) -> None:
    # A certificate of the deployment's issuing CA without the registration extension, as issued before it existed.
    issuing = certificate_authorities(runtime).issuing
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate(
        "Marc Gil",
        key,
        issuing.certificate,
        issuing.private_key,
        ca=False,
        crl_url=f"{runtime.settings.api_url}/v1/ca/issuing.crl",
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    with runtime.transaction() as session:
        session.add(
            IssuedCertificate(
                id=f"{certificate.serial_number:040x}",
                administration_id=administration(runtime, tenant.code).id,
                profile="employee",
                subject=certificate.subject.rfc4514_string(),
                common_name="Marc Gil",
                key_origin="csr",
                key_algorithm="ecdsa-secp256r1",
                certificate_der=der,
                fingerprint=hashlib.sha256(der).hexdigest(),
                not_before=certificate.not_valid_before_utc,
                not_after=certificate.not_valid_after_utc,
            )
        )
    data = b"Acta de la sessio plenaria\n"
    signature = sign_detached(data, SigningIdentity(key, certificate, [issuing.certificate])).content

    result = only_signature(validate(anyone, data, signature))
    read = tenant.http.get(f"/v1/certificates/{certificate.serial_number:040x}").json()

    assert registration_of(certificate) is None
    assert result["signer"]["kind"] == "employee"
    assert result["signer"]["registration_authority"] == {"code": tenant.code, "name": "Ajuntament de Sabadell"}
    assert read["registration_authority"] == {"code": tenant.code, "name": "Ajuntament de Sabadell"}


def test_registration_authority_named_by_a_certificate_of_another_ca_is_not_reported(
    tenant: Tenant, anyone: httpx.Client
) -> None:
    # Another CA's certificate naming this tenant in a registration extension: the report does not repeat it.
    root_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Segell Sandbox Issuing CA", root_key, None, root_key, ca=True)
    now = datetime.now(UTC)
    signer = (
        x509.CertificateBuilder()
        .subject_name(_name("Impostor"))
        .issuer_name(root.subject)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(registration_extension(Registration(tenant.code, "Ajuntament de Sabadell")), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    signature = sign_detached(b"fals", SigningIdentity(signer_key, signer, [root])).content

    result = only_signature(validate(anyone, b"fals", signature))

    assert registration_of(signer) == Registration(tenant.code, "Ajuntament de Sabadell")
    assert result["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert result["signer"]["registration_authority"] is None


# --- revocation ---------------------------------------------------------------------------------------------------


def test_revoked_before_signing_fails_revoked(tenant: Tenant, runtime: Runtime, anyone: httpx.Client) -> None:
    serial = tenant.issue("employee", name="Oriol Mas")
    identity = held_identity(runtime, tenant, serial)  # the key, taken before the revocation
    revoked_at = revoke(tenant, serial)

    # The server refuses to sign with it now; whoever kept the key signs anyway.
    assert tenant.sign(b"x", "x.txt", certificate=serial).status_code == 409
    forged = sign_pdf(make_pdf("Despres"), identity, verification_code="X", verification_url="http://x.invalid/")

    report = validate(anyone, forged.content)
    signature = only_signature(report)
    assert forged.signing_time >= revoked_at
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "REVOKED")
    assert "after the signing certificate was revoked" in signature["message"]
    assert signature["reason"] == "signed_after_revocation"
    details = signature["reason_details"]
    assert details["certificate"] == "Oriol Mas"
    assert datetime.fromisoformat(details["revoked_at"]) == revoked_at
    assert datetime.fromisoformat(details["signed_at"]) == forged.signing_time


@pytest.mark.slow
def test_revoked_after_signing_passes_with_the_notarised_proof(tenant: Tenant, anyone: httpx.Client) -> None:
    serial = tenant.issue("employee", name="Carla Bosch")
    signed = tenant.signed(make_pdf("Contracte menor 55/2026"), "contracte.pdf", certificate=serial)
    receipt = tenant.wait_until_anchored(signed["receipt"]["id"])
    wait_for_clock_past(receipt["anchor"]["block_timestamp"])
    revoked_at = revoke(tenant, serial)

    report = validate(anyone, base64.b64decode(signed["content"]))

    signature = only_signature(report)
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_PASSED", None)
    proof = signature["proof_of_existence"]
    assert proof["verification_code"] == signed["verification_code"]
    assert datetime.fromisoformat(proof["anchored_at"]) < revoked_at
    assert "revoked on" in signature["message"] and "existed before" in signature["message"]
    assert signature["reason"] == "valid_revoked_later"
    assert signature["reason_details"]["proven_at"] == proof["anchored_at"]


def test_revoked_after_signing_without_proof_is_indeterminate_revoked_no_poe(
    tenant: Tenant, runtime: Runtime, anyone: httpx.Client
) -> None:
    serial = tenant.issue("employee", name="Pau Riera")
    identity = held_identity(runtime, tenant, serial)
    # Signed while valid, but never notarised: nothing proves when.
    unproven = sign_detached(b"informe", identity, signing_time=datetime.now(UTC) - timedelta(minutes=1))
    revoke(tenant, serial, "affiliationChanged")

    report = validate(anyone, b"informe", unproven.content)

    signature = only_signature(report)
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert "(affiliationChanged)" in signature["message"]
    assert signature["reason"] == "revoked_without_proof"
    assert signature["reason_details"]["revocation_reason"] == "affiliationChanged"


# --- INDETERMINATE / OUT_OF_BOUNDS_NO_POE -------------------------------------------------------------------------


def test_expired_without_proof_is_indeterminate_out_of_bounds_no_poe(
    tenant: Tenant, runtime: Runtime, anyone: httpx.Client
) -> None:
    # Valid for a while after the deployment's CAs were made, and expired a second ago.
    issuing_since = certificate_authorities(runtime).issuing.certificate.not_valid_before_utc
    now = datetime.now(UTC)
    request = IssueRequest(
        profile="employee",
        name="Berta Coll",
        national_id="12345678Z",
        valid_from=issuing_since + timedelta(seconds=1),
        valid_until=now - timedelta(seconds=1),
    )
    issued = issue_certificate(runtime, administration(runtime, tenant.code), request)
    assert issued.pkcs12 is not None and issued.passphrase is not None
    key, certificate, chain = pkcs12.load_key_and_certificates(issued.pkcs12, issued.passphrase.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey) and certificate is not None
    # Signed (by its own account) while the certificate was valid; nothing proves it.
    identity = SigningIdentity(key, certificate, chain)
    signature = sign_detached(b"acta antiga", identity, signing_time=issuing_since + timedelta(seconds=2))

    report = validate(anyone, b"acta antiga", signature.content)

    result = only_signature(report)
    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")
    assert result["signer"]["certificate_serial"] == f"{certificate.serial_number:040x}"
    assert result["proof_of_existence"] is None
    assert result["reason"] == "expired_without_proof"
    assert datetime.fromisoformat(result["reason_details"]["expired_at"]) == certificate.not_valid_after_utc


@pytest.mark.slow
def test_expired_after_a_notarised_signature_passes(tenant: Tenant, runtime: Runtime, anyone: httpx.Client) -> None:
    # A certificate that expires seconds from now by the chain's clock (block timestamps may run ahead of ours).
    chain_now = datetime.fromtimestamp(int(runtime.node.w3.eth.get_block("latest")["timestamp"]), UTC)
    valid_until = max(chain_now, datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=12)
    request = IssueRequest(profile="employee", name="Eva Pons", national_id="87654321X", valid_until=valid_until)
    issued = issue_certificate(runtime, administration(runtime, tenant.code), request)
    signed = tenant.signed(b"acord de pagament", "acord.txt", certificate=issued.record.id)
    receipt = tenant.wait_until_anchored(signed["receipt"]["id"])
    assert receipt["anchor"]["block_timestamp"] < valid_until.timestamp(), "anchored after the expiry: no proof"
    wait_for_clock_past(int(valid_until.timestamp()))

    report = validate(anyone, b"acord de pagament", base64.b64decode(signed["content"]))

    signature = only_signature(report)
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_PASSED", None)
    assert "expired on" in signature["message"] and "existed before" in signature["message"]
    assert signature["reason"] == "valid_expired_later"
    assert signature["proof_of_existence"]["verification_code"] == signed["verification_code"]


# --- INDETERMINATE / TRY_LATER ------------------------------------------------------------------------------------


class CrlServer:
    """A real HTTP server on 127.0.0.1 serving one CRL at /sub.crl (404 until one is set)."""

    def __init__(self) -> None:
        self.crl: bytes | None = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path != "/sub.crl" or owner.crl is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(owner.crl)))
                self.end_headers()
                self.wfile.write(owner.crl)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sub.crl"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "CrlServer":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _sub_ca_identity(
    root: CertificateAuthority, crl_url: str | None
) -> tuple[SigningIdentity, ec.EllipticCurvePrivateKey]:
    """A second issuing CA under the deployment's root (made with the root's key), and a signer under it."""
    sub_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    sub = _certificate("Segell Sandbox Issuing CA 2", sub_key, root.certificate, root.private_key, ca=True)
    signer = _certificate("Agusti Prat", signer_key, sub, sub_key, ca=False, crl_url=crl_url)
    return SigningIdentity(signer_key, signer, [sub, root.certificate]), sub_key


def _crl(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey, next_update: datetime) -> bytes:
    now = datetime.now(UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(min(now, next_update) - timedelta(hours=1))
        .next_update(next_update)
        .sign(key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


def test_revocation_information_unavailable_is_try_later(runtime: Runtime, anyone: httpx.Client) -> None:
    root = certificate_authorities(runtime).root
    with CrlServer() as crl_server:
        identity, sub_key = _sub_ca_identity(root, crl_server.url)
        signature = sign_detached(b"dictamen", identity).content
        sub = identity.chain[0]

        unreachable = validate(anyone, b"dictamen", signature)  # the CRL server answers 404
        crl_server.crl = _crl(sub, sub_key, datetime.now(UTC) - timedelta(minutes=1))
        stale = validate(anyone, b"dictamen", signature)
        crl_server.crl = _crl(sub, ec.generate_private_key(ec.SECP256R1()), datetime.now(UTC) + timedelta(days=1))
        forged = validate(anyone, b"dictamen", signature)
        crl_server.crl = _crl(sub, sub_key, datetime.now(UTC) + timedelta(days=1))
        fresh = validate(anyone, b"dictamen", signature)

    for report, problem in ((unreachable, "no CRL could be fetched"), (stale, "out of date"), (forged, "not signed")):
        signature_report = only_signature(report)
        assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "TRY_LATER")
        assert problem in signature_report["message"]
        assert signature_report["reason"] == "revocation_unknown"
        assert problem in signature_report["reason_details"]["problem"]
    # Once the CRL is served, fresh and signed by its issuer, the same signature passes.
    assert (fresh["indication"], fresh["sub_indication"]) == ("TOTAL_PASSED", None)


@pytest.mark.parametrize("crl_url", [None, "dead-port"], ids=["no-distribution-point", "nothing-listening"])
def test_certificate_whose_crl_cannot_be_had_is_try_later(
    runtime: Runtime, anyone: httpx.Client, crl_url: str | None
) -> None:
    url = f"http://127.0.0.1:{free_port()}/sub.crl" if crl_url == "dead-port" else None
    identity, _ = _sub_ca_identity(certificate_authorities(runtime).root, url)
    signature = sign_detached(b"nota", identity).content

    report = validate(anyone, b"nota", signature)

    assert (report["indication"], report["sub_indication"]) == ("INDETERMINATE", "TRY_LATER")
    assert "Validate again later" in report["signatures"][0]["message"]


# --- unsigned files and bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"just a text file\n", make_pdf("Sense signar")], ids=["text", "pdf"])
def test_unsigned_file_is_reported_as_not_signed(anyone: httpx.Client, data: bytes) -> None:
    report = validate(anyone, data)
    assert report == {
        "document_hash": report["document_hash"],
        "signed": False,
        "indication": None,
        "sub_indication": None,
        "signatures": [],
    }
    assert len(report["document_hash"]) == 64


@pytest.mark.parametrize("empty", [b"", b" \r\n"], ids=["empty", "blank"])
def test_an_empty_signature_part_is_no_signature(anyone: httpx.Client, empty: bytes) -> None:
    response = anyone.post("/v1/signatures/validate", files={"file": ("a", b"text"), "signature": ("s", empty)})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["signed"], report["signatures"]) == (False, [])
    assert report["document_hash"] == hashlib.sha256(b"text").hexdigest()


@pytest.mark.parametrize(
    ("files", "status", "code"),
    [
        ({"file": ("a", b"")}, 400, "empty_file"),
        ({"file": ("a", b"text"), "signature": ("s", b"not a signature")}, 400, "invalid_signature"),
        ({"file": ("a", b"text"), "signature": ("s", b"-----BEGIN CMS-----\n!!\n-----END CMS-----\n")}, 400, None),
        ({"file": ("a", b"%PDF-1.7\ngarbage")}, 400, "unreadable_pdf"),
        ({"signature": ("s", b"x")}, 422, "validation_error"),
    ],
    ids=["empty", "garbage-signature", "broken-pem", "broken-pdf", "no-file"],
)
def test_bad_input_answers_4xx_in_the_error_format(
    anyone: httpx.Client, files: dict[str, tuple[str, bytes]], status: int, code: str | None
) -> None:
    response = anyone.post("/v1/signatures/validate", files=files)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == (code or "invalid_signature")


def test_file_over_the_request_limit_answers_413(anyone: httpx.Client) -> None:
    response = anyone.post("/v1/signatures/validate", files={"file": ("big", b"x" * (5 * 2**20 + 1))})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.fixture(scope="module")
def signed_pdf(tenant: Tenant) -> bytes:
    serial = tenant.issue("employee", name="Nil Ribas")
    return base64.b64decode(tenant.signed(make_pdf("Original"), "original.pdf", certificate=serial)["content"])


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(damage=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6))
def test_damaged_signed_pdf_answers_a_report_or_400(
    anyone: httpx.Client, signed_pdf: bytes, damage: list[tuple[float, int]]
) -> None:
    damaged = bytearray(signed_pdf)
    for where, value in damage:
        damaged[int(where * len(damaged))] = value

    response = anyone.post("/v1/signatures/validate", files={"file": ("damaged.pdf", bytes(damaged))})

    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "unreadable_pdf"
    elif response.json()["signed"]:
        assert response.json()["indication"] in ("TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE")
