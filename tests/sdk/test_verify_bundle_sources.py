"""`sdk.verify_bundle` on a bundle that names the receipts its document was made from (`derived_from`): a PDF
signed by a real Segell server, whose original the administration notarised first, checked against its chain."""

import base64
import copy
import hashlib
import io
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PdfFileWriter

from segell.sdk import BundleSource, Client, TrustedNotary, VerificationSource, verify_bundle, verify_bundle_proof
from tests.helpers import RunningServer

ANCHOR_TIMEOUT_S = 60


def make_pdf(text: str) -> bytes:
    writer = PdfFileWriter()
    content = generic.StreamObject(stream_data=f"BT 72 720 Td ({text}) Tj ET".encode("ascii"))
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
            generic.NameObject("/Contents"): writer.add_object(content),
        }
    )
    writer.insert_page(page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


@dataclass
class SignedWithOriginal:
    code: str
    issuer_code: str
    original: bytes
    original_bundle: dict[str, Any]
    signed: bytes
    signed_bundle: dict[str, Any]
    other_bundle: dict[str, Any]


def wait_for_bundle(anyone: httpx.Client, code: str) -> dict[str, Any]:
    deadline = time.monotonic() + ANCHOR_TIMEOUT_S
    while True:
        response = anyone.get(f"/v1/verify/{code}/bundle")
        if response.status_code == 200:
            bundle: dict[str, Any] = response.json()
            return bundle
        assert response.status_code == 409 and time.monotonic() < deadline, response.text
        time.sleep(0.1)


@pytest.fixture(scope="module")
def rpc_url(segell_server: RunningServer) -> str:
    return f"{segell_server.url}/rpc"


@pytest.fixture(scope="module")
def trusted(segell_server: RunningServer) -> list[TrustedNotary]:
    with Client(segell_server.url) as anonymous:
        return [anonymous.deployment().trusted_notary]


@pytest.fixture(scope="module")
def signed(segell_server: RunningServer) -> Iterator[SignedWithOriginal]:
    key = segell_server.admit(name="Ajuntament de Manresa")
    original = make_pdf(f"Decret {secrets.token_hex(4)}")
    other = make_pdf(f"Un altre decret {secrets.token_hex(4)}")
    with segell_server.client(key) as http, segell_server.client() as anyone:
        issued = http.post(
            "/v1/certificates", json={"profile": "employee", "name": "Pere Vila", "national_id": "47111222K"}
        )
        assert issued.status_code == 201, issued.text
        codes = []
        for document in (original, other):
            receipt = http.post("/v1/documents", json={"hash": hashlib.sha256(document).hexdigest()})
            assert receipt.status_code == 202, receipt.text
            codes.append(receipt.json()["verification_code"])
        answer = http.post("/v1/signatures", files={"file": ("decret.pdf", original)}, data={"as": "employee"})
        assert answer.status_code == 201, answer.text
        yield SignedWithOriginal(
            code=answer.json()["verification_code"],
            issuer_code=http.get("/v1/me").json()["administration"]["code"],
            original=original,
            original_bundle=wait_for_bundle(anyone, codes[0]),
            signed=base64.b64decode(answer.json()["content"]),
            signed_bundle=wait_for_bundle(anyone, answer.json()["verification_code"]),
            other_bundle=wait_for_bundle(anyone, codes[1]),
        )


def test_verify_bundle_checks_the_given_bundle_of_each_source(
    signed: SignedWithOriginal, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    result = verify_bundle(
        signed.signed_bundle,
        signed.signed,
        rpc_url,
        trusted_notaries=trusted,
        sources=[signed.other_bundle, signed.original_bundle],
    )

    assert result.status == "authentic", result.reason
    (source,) = result.derived_from
    assert source.document_hash == "0x" + hashlib.sha256(signed.original).hexdigest()
    assert source.verification_code == signed.original_bundle["receipt"]["verification_code"]
    assert (source.leaf, source.root) == (signed.original_bundle["leaf"], signed.original_bundle["root"])
    assert source.bundle_url == f"/v1/verify/{source.verification_code}/bundle"
    assert source.verification is not None
    assert source.verification.status == "authentic", source.verification.reason
    assert source.verification.document_hash == source.document_hash


def test_verify_bundle_reports_sources_left_unchecked_without_their_bundles(
    signed: SignedWithOriginal, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    offline = verify_bundle_proof(signed.signed_bundle, signed.signed)
    online = verify_bundle(
        signed.signed_bundle, signed.signed, rpc_url, trusted_notaries=trusted, sources=[signed.other_bundle]
    )

    for result in (offline, online):
        (source,) = result.derived_from
        assert isinstance(source, BundleSource)
        assert source.document_hash == "0x" + hashlib.sha256(signed.original).hexdigest()
        assert source.verification is None
    assert (offline.status, online.status) == ("proof_valid", "authentic")


def test_verify_bundle_with_a_tampered_source_bundle_reports_that_source_tampered(
    signed: SignedWithOriginal, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    tampered = copy.deepcopy(signed.original_bundle)
    tampered["salt"] = "0x" + "11" * 32

    result = verify_bundle(signed.signed_bundle, signed.signed, rpc_url, trusted_notaries=trusted, sources=[tampered])

    assert result.status == "authentic"
    (source,) = result.derived_from
    assert source.verification is not None
    assert source.verification.status == "tampered_proof"


def test_verify_bundle_reads_a_malformed_derived_from_as_no_sources(
    signed: SignedWithOriginal, rpc_url: str, trusted: list[TrustedNotary]
) -> None:
    broken = copy.deepcopy(signed.signed_bundle)
    broken["derived_from"] = [{"document_hash": "nope"}, 7, "x"]

    result = verify_bundle(broken, signed.signed, rpc_url, trusted_notaries=trusted, sources=[signed.original_bundle])

    assert (result.status, result.derived_from) == ("authentic", ())


def test_client_verify_lists_what_the_document_was_made_from(
    signed: SignedWithOriginal, segell_server: RunningServer
) -> None:
    with Client(segell_server.url) as anonymous:
        verification = anonymous.documents.verify(code=signed.code)

    (match,) = verification.matches
    assert match.derived_from == (
        VerificationSource(
            verification_code=signed.original_bundle["receipt"]["verification_code"],
            administration=match.administration,
            kind=None,
            title=None,
        ),
    )
    assert match.administration.code == signed.issuer_code
