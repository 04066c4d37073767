"""The JSON nesting limit against a real server: it refuses JSON text nested too deep, never a file that is not JSON."""

import random
from collections.abc import Iterator

import httpx
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PdfFileWriter

from segell.chain.gateway import json_depth
from segell.services.limits import MAX_JSON_DEPTH
from tests.helpers import RunningServer, one_page_pdf

TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


@pytest.fixture(scope="module")
def anyone(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client() as client:
        yield client


def random_files() -> list[bytes]:
    """25 files of random bytes from 300 kB to 1.5 MB: in a third of them brackets nest deeper than the limit."""
    generator = random.Random(20_200)
    return [generator.randbytes(generator.randrange(300_000, 1_500_000)) for _ in range(25)]


def pdf_with_binary_image(size: int) -> bytes:
    """A one-page PDF drawing a `size`-byte greyscale image of random pixels, written by pyHanko's writer."""
    writer = PdfFileWriter()
    side = int(size**0.5)
    # Brackets opening more than they close, as a compressed image's bytes may well do.
    pixels = (b"[{" * MAX_JSON_DEPTH + random.Random(7).randbytes(side * side))[: side * side]
    image = generic.StreamObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/XObject"),
            generic.NameObject("/Subtype"): generic.NameObject("/Image"),
            generic.NameObject("/Width"): generic.NumberObject(side),
            generic.NameObject("/Height"): generic.NumberObject(side),
            generic.NameObject("/ColorSpace"): generic.NameObject("/DeviceGray"),
            generic.NameObject("/BitsPerComponent"): generic.NumberObject(8),
        },
        stream_data=pixels,
    )
    images = generic.DictionaryObject({generic.NameObject("/Im1"): writer.add_object(image)})
    resources = generic.DictionaryObject({generic.NameObject("/XObject"): images})
    content = generic.StreamObject(stream_data=b"q 500 0 0 500 50 300 cm /Im1 Do Q")
    return one_page_pdf(writer, content, resources)


def test_validate_random_binary_files_answers_a_report_not_a_nesting_error(anyone: httpx.Client) -> None:
    files = random_files()
    assert sum(json_depth(data) > MAX_JSON_DEPTH for data in files) >= 5  # the files the limit used to refuse
    for data in files:
        response = anyone.post("/v1/signatures/validate", files={"file": ("scan.bin", data)})
        assert TOO_DEEP not in response.text
        assert response.status_code == 200, response.text
        assert response.json()["signed"] is False


def test_validate_pdf_with_binary_image_answers_a_report_not_a_nesting_error(anyone: httpx.Client) -> None:
    pdf = pdf_with_binary_image(1_500_000)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1_400_000
    assert json_depth(pdf) > MAX_JSON_DEPTH
    response = anyone.post("/v1/signatures/validate", files={"file": ("informe.pdf", pdf, "application/pdf")})
    assert response.status_code == 200, response.text
    assert response.json()["signed"] is False


def test_json_nesting_limit_applies_to_json_text_whatever_its_content_type(anyone: httpx.Client) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    binary = random_files()[0]
    assert json_depth(binary) > MAX_JSON_DEPTH
    for content_type in ("application/json", "application/octet-stream", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": content_type} if content_type else {}
        refused = anyone.post("/rpc", content=nested, headers=headers)
        assert refused.status_code == 422, content_type
        assert refused.json()["error"]["details"] == [{"location": "body", "message": TOO_DEEP}]
        # A binary body is not JSON: it reaches the JSON-RPC endpoint, which answers a parse error.
        passed = anyone.post("/rpc", content=binary, headers=headers)
        assert passed.status_code == 200, content_type
        assert passed.json()["error"]["code"] == -32700
