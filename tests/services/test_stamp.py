"""The signature stamp as a reader sees it: pdftoppm renders the signed page, zxing-cpp decodes its QR code,
pdftotext reads its words and pdfsig checks that the signature still covers the whole document.

Each fixture PDF (a full last page, a half-empty one, a rotated one; A4 and Letter) is signed once for the module.
"""

import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fontTools import ttLib
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from segell.services.administrations.models import Administration
from segell.services.identity.signing import SigningIdentity, sign_pdf
from segell.services.identity.stamp_choices import (
    PLACEMENT_PATTERN,
    Placement,
    StampPlacementRefused,
    parse_placement,
    stamp_language,
)

A4 = (595, 842)
LETTER = (612, 792)
SIGNER = "Núria Castellà i Peñalver"
ORGANISATION = "Ajuntament de l'Hospitalet"
# What the stamp says in each language, as a reader extracts it.
WORDS = {
    "ca": ["Document signat electrònicament", f"Signat per: {SIGNER}", "Codi segur de verificació: "],
    "es": ["Documento firmado electrónicamente", f"Firmado por: {SIGNER}", "Código Seguro de Verificación: "],
    "en": ["Document signed electronically", f"Signed by: {SIGNER}", "Verification code: "],
}
LINE = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. " * 4
# The user space of a page turned by /Rotate, from the page as it is shown (x right, y up, from its bottom left).
SHOWN_TO_USER = {
    0: lambda width, height: (1, 0, 0, 1, 0, 0),
    90: lambda width, height: (0, 1, -1, 0, width, 0),
    180: lambda width, height: (-1, 0, 0, -1, width, height),
    270: lambda width, height: (0, -1, 1, 0, 0, height),
}


def text_pdf(size: tuple[int, int], *, rotate: int = 0, filled: float, origin: tuple[int, int] = (0, 0)) -> bytes:
    """A one-page PDF whose page, as shown, is lines of Helvetica from its top margin down `filled` of its height.

    `rotate` is the page's /Rotate (the lines read upright all the same), `origin` its media box's lower left.
    """
    width, height = size
    shown_width, shown_height = (height, width) if rotate in (90, 270) else (width, height)
    top, bottom = shown_height - 50, shown_height - 50 - filled * (shown_height - 80)
    characters = int((shown_width - 100) / 4.6)  # Helvetica 9 pt: about 4.6 pt a character
    matrix = " ".join(str(n) for n in SHOWN_TO_USER[rotate](width, height))
    rows = [f"({LINE[:characters]}) Tj T*" for _ in range(int((top - bottom) / 11) + 1)]
    stream = f"q 1 0 0 1 {origin[0]} {origin[1]} cm {matrix} cm BT /F1 9 Tf 11 TL 50 {top} Td {' '.join(rows)} ET Q"
    writer = PdfFileWriter()
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    box = (origin[0], origin[1], origin[0] + width, origin[1] + height)
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in box]),
            generic.NameObject("/Rotate"): generic.NumberObject(rotate),
            generic.NameObject("/Contents"): writer.add_object(generic.StreamObject(stream_data=stream.encode())),
            generic.NameObject("/Resources"): generic.DictionaryObject(
                {
                    generic.NameObject("/Font"): generic.DictionaryObject(
                        {generic.NameObject("/F1"): writer.add_object(font)}
                    )
                }
            ),
        }
    )
    writer.insert_page(page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def self_signed_identity() -> SigningIdentity:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, SIGNER),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(key, certificate, [certificate])


# 0xFF for a pixel with something on it (anything darker than paper), 0x00 for paper.
_INK_MASK = bytes(0xFF if grey < 250 else 0 for grey in range(256))


@dataclass(frozen=True)
class Grey:
    """A page rendered by pdftoppm in 8-bit grey, one byte a pixel, rows top to bottom."""

    width: int
    height: int
    pixels: bytes

    def ink(self) -> int:
        return self.pixels.translate(_INK_MASK).count(0xFF)

    def keeps_the_ink_of(self, before: "Grey") -> bool:
        """Whether every pixel with something on it in `before` is the same here: nothing was drawn over it."""
        changed = int.from_bytes(self.pixels) ^ int.from_bytes(before.pixels)
        return changed & int.from_bytes(before.pixels.translate(_INK_MASK)) == 0

    def qr_codes(self) -> list[zxingcpp.Barcode]:
        return zxingcpp.read_barcodes(memoryview(self.pixels).cast("B", (self.height, self.width)))


def poppler(tool: str, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} not found: install Debian's poppler-utils (make setup-dev does)", pytrace=False)
    return subprocess.run([tool, *map(str, args)], capture_output=True, check=True, timeout=60)


def render(pdf: Path, page: int, dpi: int) -> Grey:
    """Page `page` (1-based) of `pdf` as pdftoppm renders it at `dpi`."""
    image = poppler("pdftoppm", "-gray", "-r", str(dpi), "-f", str(page), "-l", str(page), pdf).stdout
    magic, width, height, depth, pixels = image.split(maxsplit=4)
    assert (magic, depth) == (b"P5", b"255")
    return Grey(int(width), int(height), pixels[: int(width) * int(height)])


def page_count(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


@dataclass(frozen=True)
class Signed:
    original: Path
    path: Path
    content: bytes
    code: str
    url: str
    language: str
    stamped_page: int  # 1-based: the last, for these placements


@pytest.fixture(scope="module")
def identity() -> SigningIdentity:
    return self_signed_identity()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stamp")


_serial = iter(range(10, 100))


def sign_file(
    workdir: Path, identity: SigningIdentity, name: str, pdf: bytes, language: str, placement: str = "auto"
) -> Signed:
    code = f"{next(_serial)}AB-CDEF-GHJK-MNPQ-R"
    url = f"https://seu.example.cat/verify/{code}"
    content = sign_pdf(
        pdf,
        identity,
        verification_code=code,
        verification_url=url,
        language=language,  # type: ignore[arg-type]
        placement=parse_placement(placement),
    ).content
    original, path = workdir / f"{name}.pdf", workdir / f"{name}-signed.pdf"
    original.write_bytes(pdf)
    path.write_bytes(content)
    return Signed(original, path, content, code, url, language, page_count(content))


# name: (page size, /Rotate, how much of the page the text fills, media box origin, stamp language)
CASES = {
    "full-a4": (A4, 0, 1.0, (0, 0), "ca"),
    "full-letter": (LETTER, 0, 1.0, (0, 0), "en"),
    "half-a4": (A4, 0, 0.5, (0, 0), "es"),
    "half-letter-offset": (LETTER, 0, 0.5, (-300, 120), "ca"),
    "rotated-a4": (A4, 90, 0.5, (0, 0), "en"),
    "rotated-letter": (LETTER, 270, 0.4, (0, 0), "es"),
}


@pytest.fixture(scope="module")
def signed(workdir: Path, identity: SigningIdentity) -> dict[str, Signed]:
    return {
        name: sign_file(workdir, identity, name, text_pdf(size, rotate=rotate, filled=filled, origin=origin), lang)
        for name, (size, rotate, filled, origin, lang) in CASES.items()
    }


@pytest.mark.parametrize("dpi", [80, 200])
@pytest.mark.parametrize("case", list(CASES))
def test_stamp_qr_code_decodes_to_the_verification_url_upright(signed: dict[str, Signed], case: str, dpi: int) -> None:
    document = signed[case]

    (qr_code,) = render(document.path, document.stamped_page, dpi).qr_codes()

    assert qr_code.format == zxingcpp.BarcodeFormat.QRCode
    assert qr_code.text == document.url
    assert qr_code.orientation == 0  # upright as the page is shown, /Rotate or not


@pytest.mark.parametrize("case", ["full-a4", "full-letter"])
def test_stamp_on_a_full_last_page_goes_on_a_page_added_after_it(signed: dict[str, Signed], case: str) -> None:
    document = signed[case]

    assert page_count(document.content) == 2 and document.stamped_page == 2
    assert render(document.path, 1, 80) == render(document.original, 1, 80)  # the full page is left as it was
    reader = PdfFileReader(io.BytesIO(document.content))
    added = reader.find_page_for_modification(1)[0].get_object()
    assert [float(n) for n in added["/MediaBox"]] == [0, 0, *CASES[case][0]]  # the last page's size


@pytest.mark.parametrize("case", ["half-a4", "half-letter-offset", "rotated-a4", "rotated-letter"])
def test_stamp_goes_where_the_last_page_is_blank_and_covers_nothing(signed: dict[str, Signed], case: str) -> None:
    document = signed[case]
    before, after = render(document.original, 1, 80), render(document.path, 1, 80)

    assert page_count(document.content) == 1
    assert (after.width, after.height) == (before.width, before.height)
    assert before.ink() > 10_000, "the fixture has content"
    assert after.keeps_the_ink_of(before), "the stamp covers the page's content"
    assert after.pixels != before.pixels
    # On a page whose top half holds the text, the stamp sits in the bottom half, as the page is shown.
    (qr_code,) = after.qr_codes()
    assert qr_code.position.top_left.y > after.height / 2


@pytest.mark.parametrize("case", list(CASES))
def test_signature_still_covers_the_whole_document(signed: dict[str, Signed], case: str) -> None:
    report = poppler("pdfsig", signed[case].path).stdout.decode()

    assert report.count("Signature #") == 1
    assert "Total document signed" in report
    assert "Signature Validation: Signature is Valid." in report


@pytest.mark.parametrize("case", list(CASES))
def test_stamp_speaks_the_documents_language_with_its_accents(signed: dict[str, Signed], case: str) -> None:
    document = signed[case]
    page = str(document.stamped_page)

    text = poppler("pdftotext", "-f", page, "-l", page, document.path, "-").stdout.decode()

    words = WORDS[document.language]
    for line in words[:2]:
        assert line in text
    assert f"{words[2]}{document.code}" in text
    assert document.url in text
    assert ORGANISATION in text
    assert not any(
        other in text for language, lines in WORDS.items() if language != document.language for other in lines[:1]
    )


def test_stamp_font_is_embedded_with_the_widths_of_its_glyphs(signed: dict[str, Signed]) -> None:
    (signature,) = PdfFileReader(io.BytesIO(signed["half-a4"].content)).embedded_signatures
    appearance = signature.sig_field["/AP"]["/N"].get_object()
    (font,) = appearance["/Resources"]["/Font"].values()
    (cid_font,) = font.get_object()["/DescendantFonts"]
    cid_font = cid_font.get_object()
    embedded = ttLib.TTFont(io.BytesIO(cid_font["/FontDescriptor"]["/FontFile2"].get_object().data))
    units_per_em, glyph_order, advances = embedded["head"].unitsPerEm, embedded.getGlyphOrder(), embedded["hmtx"]

    widths, entries = {}, list(cid_font["/W"])
    for first, run in zip(entries[::2], entries[1::2], strict=True):
        widths.update({first + offset: width for offset, width in enumerate(run)})

    assert font.get_object()["/Encoding"] == "/Identity-H" and "/ToUnicode" in font.get_object()
    assert len(widths) > 20
    for cid, width in widths.items():  # CIDs are glyph ids; PDF measures widths in thousandths of an em
        assert width == round(advances[glyph_order[cid]][0] * 1000 / units_per_em), glyph_order[cid]
    assert "DejaVuSans" in cid_font["/BaseFont"]


def test_stamp_in_a_named_corner_goes_there(workdir: Path, identity: SigningIdentity) -> None:
    document = sign_file(workdir, identity, "corner", text_pdf(A4, filled=0.5), "ca", placement="LAST:Bottom-Left")

    page = render(document.path, 1, 80)
    (qr_code,) = page.qr_codes()
    assert qr_code.text == document.url
    assert qr_code.position.bottom_right.x < page.width / 4
    assert qr_code.position.bottom_left.y > page.height * 3 / 4


def test_stamp_on_a_new_page_even_where_the_last_has_room(workdir: Path, identity: SigningIdentity) -> None:
    document = sign_file(workdir, identity, "new-page", text_pdf(LETTER, filled=0.2), "en", placement="new-page")

    assert page_count(document.content) == 2
    assert render(document.path, 1, 80) == render(document.original, 1, 80)
    (qr_code,) = render(document.path, 2, 80).qr_codes()
    assert qr_code.text == document.url


def test_stamp_of_a_second_signature_avoids_the_first(workdir: Path, identity: SigningIdentity) -> None:
    first = sign_file(workdir, identity, "first", text_pdf(A4, filled=0.3), "ca")
    second = sign_file(workdir, identity, "second", first.content, "es")

    before, after = render(first.path, 1, 80), render(second.path, 1, 80)
    assert page_count(second.content) == 1
    assert after.keeps_the_ink_of(before), "the second stamp covers the first"
    assert sorted(qr_code.text for qr_code in after.qr_codes()) == sorted([first.url, second.url])
    report = poppler("pdfsig", second.path).stdout.decode()
    assert report.count("Signature #") == 2 and report.count("Signature is Valid.") == 2


def test_stamp_on_a_page_too_small_for_it_goes_on_a_page_added_large_enough(
    workdir: Path, identity: SigningIdentity
) -> None:
    a7 = (210, 298)
    document = sign_file(workdir, identity, "a7", text_pdf(a7, filled=0.1), "ca")

    assert page_count(document.content) == 2
    reader = PdfFileReader(io.BytesIO(document.content))
    _, _, width, height = (float(n) for n in reader.find_page_for_modification(1)[0].get_object()["/MediaBox"])
    assert width > a7[0] and height == a7[1]
    (qr_code,) = render(document.path, 2, 80).qr_codes()
    assert qr_code.text == document.url


def test_stamp_on_a_poster_goes_in_its_blank_bottom_right(workdir: Path, identity: SigningIdentity) -> None:
    a0_landscape = (3370, 2384)
    document = sign_file(workdir, identity, "a0", text_pdf(a0_landscape, filled=0.5), "en")

    assert page_count(document.content) == 1
    (signature,) = PdfFileReader(io.BytesIO(document.content)).embedded_signatures
    left, bottom, right, top = (float(n) for n in signature.sig_field["/Rect"])
    assert a0_landscape[0] - 24 - 20 <= right <= a0_landscape[0] - 24  # within a search step of the margin
    assert 24 <= bottom <= 24 + 20
    assert right - left < 400 and top - bottom < 120  # the stamp's own size, whatever the page's


def test_stamp_in_a_corner_with_content_is_refused(identity: SigningIdentity) -> None:
    with pytest.raises(StampPlacementRefused) as refused:
        sign_pdf(
            text_pdf(A4, filled=0.5),
            identity,
            verification_code="0ABC-DEFG-HJKM-NPQR-S",
            verification_url="https://seu.example.cat/verify/0ABC-DEFG-HJKM-NPQR-S",
            placement=parse_placement("first:top-left"),
        )

    assert refused.value.code == "no_room_for_stamp"
    assert "top-left corner" in str(refused.value) and "new-page" in str(refused.value)


def test_stamp_on_a_page_the_document_lacks_is_refused(identity: SigningIdentity) -> None:
    with pytest.raises(StampPlacementRefused) as refused:
        sign_pdf(
            text_pdf(A4, filled=0.5),
            identity,
            verification_code="0ABC-DEFG-HJKM-NPQR-S",
            verification_url="https://seu.example.cat/verify/0ABC-DEFG-HJKM-NPQR-S",
            placement=parse_placement("3:bottom-right"),
        )

    assert refused.value.code == "no_such_page"
    assert "no page 3" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "placement"),
    [
        ("auto", Placement("auto")),
        ("NEW-PAGE", Placement("new-page")),
        ("last:bottom-right", Placement("corner", -1, "bottom-right")),
        ("First:TOP-left", Placement("corner", 1, "top-left")),
        ("12:top-right", Placement("corner", 12, "top-right")),
    ],
)
def test_placement_is_read_in_any_case(text: str, placement: Placement) -> None:
    assert parse_placement(text) == placement


@pytest.mark.parametrize(
    "text", ["", "bottom-right", "last", "last:middle", "0:top-left", "last: top-left", "new page"]
)
def test_placement_refused_lists_the_valid_ones(text: str) -> None:
    with pytest.raises(
        ValueError, match="auto .*new-page.*PAGE:CORNER.*top-left, top-right, bottom-left or bottom-right"
    ):
        parse_placement(text)


@pytest.mark.parametrize(
    "text", ["auto", "Auto", "new-page", "NEW-PAGE", "last:top-left", "9999:Bottom-Right", "10000:top-left", "x", ""]
)
def test_placement_schema_pattern_accepts_what_the_server_accepts(text: str) -> None:
    # The pattern is matched as JSON Schema validators do (ECMA 262, no flags); [a-z] classes read alike in Python.
    try:
        parse_placement(text)
        accepted = True
    except ValueError:
        accepted = False

    assert (re.search(PLACEMENT_PATTERN, text) is not None) == accepted


def test_stamp_language_is_the_administrations_or_catalan() -> None:
    administration = Administration(code="L01080193", name="Ajuntament de Barcelona")
    assert stamp_language(administration) == "ca"
    administration.language = "es"
    assert stamp_language(administration) == "es"
    administration.language = "fr"  # one the stamp does not speak
    assert stamp_language(administration) == "ca"
