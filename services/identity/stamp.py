"""The visible stamp of a signed PDF: what it says, where it goes, and how it is drawn.

The stamp says who signed and when, the verification code and the verification page's URL, with a QR code of that
URL, in the document's language (Catalan, Spanish or English), in DejaVu Sans embedded in the PDF (so accents show
in every reader). It never covers the document's content:

    placement "auto"         the last page is rendered and the stamp goes where that page is blank (as low as
                             possible, rightmost first); a page without such room gets a page added after it
    placement "new-page"     a page added after the last one, of the last page's size
    placement "PAGE:CORNER"  that corner of that page (`last:bottom-right`, `1:top-left`), or `StampPlacementRefused`
                             when the corner has content

Corners and sizes are those of the page as a reader sees it: a page with /Rotate shows the stamp upright, and any
page size (its crop box) works. The stamp is opaque, so that its QR code reads whatever lies beneath.
"""

import functools
import io
import logging
import operator
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, Final, cast

import pypdfium2
import qrcode
import qrcode.constants
from fontTools import subset, ttLib
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import QRStamp, QRStampStyle

from segell.services.identity.stamp_choices import Corner, Placement, StampPlacementRefused
from segell.services.languages import Language

# --- language -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StampWording:
    heading: str
    signed_by: str
    date: str
    code: str
    verify_at: str


WORDING: Final[dict[Language, StampWording]] = {
    "ca": StampWording(
        heading="Document signat electrònicament",
        signed_by="Signat per",
        date="Data",
        code="Codi segur de verificació",
        verify_at="Verifiqueu-lo a",
    ),
    "es": StampWording(
        heading="Documento firmado electrónicamente",
        signed_by="Firmado por",
        date="Fecha",
        code="Código Seguro de Verificación",
        verify_at="Verifíquelo en",
    ),
    "en": StampWording(
        heading="Document signed electronically",
        signed_by="Signed by",
        date="Date",
        code="Verification code",
        verify_at="Verify at",
    ),
}


# --- font -----------------------------------------------------------------------------------------------------------

# Subsetting says which tables it drops, at every signing.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

FONT_PATH: Final = Path(__file__).parent / "fonts" / "DejaVuSans.ttf"
# What a stamp can show: Latin with its extensions, Greek, Cyrillic, punctuation, the euro and trade mark signs.
FONT_COVERAGE: Final = (
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),
    *range(0x370, 0x530),
    *range(0x1E00, 0x1F00),
    *range(0x2000, 0x2070),
    0x20AC,
    0x2122,
)


@functools.cache
def _font_bytes() -> bytes:
    """DejaVu Sans cut down, once per process, to `FONT_COVERAGE` and without the layout tables pyHanko drops anyway:
    subsetting it into a signed PDF then takes milliseconds, where the whole font takes half a second."""
    options = subset.Options(layout_closure=False, name_IDs=["*"], name_languages=["*"], notdef_outline=True)
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM"]
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=FONT_COVERAGE)
    with ttLib.TTFont(FONT_PATH) as font:
        subsetter.subset(font)
        output = io.BytesIO()
        font.save(output)
    return output.getvalue()


@functools.cache
def _font_metrics() -> tuple[dict[int, int], float]:
    """Each character's advance width in the font, and the font's units per em."""
    with ttLib.TTFont(io.BytesIO(_font_bytes()), lazy=True) as font:
        widths = font["hmtx"].metrics
        advances = {code: widths[glyph][0] for code, glyph in font.getBestCmap().items()}
        return advances, float(font["head"].unitsPerEm)


def shown_in_font(text: str) -> str:
    """`text` in the characters the stamp's font has: others lose their accents, or become '?'."""
    advances, _ = _font_metrics()
    shown = []
    for character in text:
        if unicodedata.category(character)[0] == "C":
            continue  # control and format characters draw nothing
        if ord(character) not in advances:
            base = unicodedata.normalize("NFKD", character)[:1]
            character = base if base and ord(base) in advances else "?"
        shown.append(character)
    return "".join(shown)


def text_width(text: str, font_size: float) -> float:
    """The width of one line of `text` in the stamp's font, in points (no kerning: never less than drawn)."""
    advances, units_per_em = _font_metrics()
    return sum(advances.get(ord(character), 0) for character in text) * font_size / units_per_em


class _PerMilleGlyphAccumulator(GlyphAccumulator):
    """pyHanko's glyph accumulator, measuring in thousandths of an em as PDF does.

    pyHanko writes glyph widths and kerning in the font's own units, which are thousandths of an em only in fonts
    whose em is 1000 units; DejaVu Sans has 2048, and its lines came out twice as wide as their glyphs.
    """

    def __init__(self, writer: BasePdfFileWriter, font_bytes: bytes, font_size: int) -> None:
        super().__init__(writer=writer, font_handle=io.BytesIO(font_bytes), font_size=font_size)
        self.tt.recalcBBoxes = False  # the subset keeps every glyph's place: bounds recomputed would be the same
        self._per_mille = 1000 / self.units_per_em
        self.units_per_em = 1000
        self.hb_font.scale = (1000, 1000)
        descriptor = self.cidfont_obj._font_descriptor
        for key in ("/Ascent", "/Descent", "/CapHeight"):
            descriptor[key] = generic.NumberObject(round(descriptor[key] * self._per_mille))
        descriptor["/FontBBox"] = generic.ArrayObject(
            [generic.NumberObject(round(value * self._per_mille)) for value in descriptor["/FontBBox"]]
        )

    def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
        cached: tuple[int, int] | None = self._glyphs.get(glyph_id)
        if cached is None:
            cid, width = super()._get_cid_and_width(glyph_id)
            self._glyphs[glyph_id] = cached = cid, round(width * self._per_mille)
        return cached


@dataclass(frozen=True)
class _EmbeddedFont(GlyphAccumulatorFactory):
    """DejaVu Sans from memory, subset into each signed PDF (pyHanko's own factory leaves the font file open)."""

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> GlyphAccumulator:
        return _PerMilleGlyphAccumulator(writer, _font_bytes(), self.font_size)


# --- layout ---------------------------------------------------------------------------------------------------------

# Whole points: pyHanko's layout computes with exact fractions, which take integers only.
FONT_SIZE: Final = 7
MIN_FONT_SIZE: Final = 5
LEADING: Final = 9
# A QR module of 2.4 pt is 2.7 pixels at 80 dpi: enough for a phone, or any decoder, to read it from a print.
QR_MODULE: Final = 2.4
INNER_SEPARATION: Final = 4
# Around the text: a little after the QR code's quiet zone, more before the stamp's right edge.
TEXT_MARGINS: Final = layout.Margins(left=2, right=8, top=4, bottom=4)
BORDER_WIDTH: Final = 1
# The stamp keeps this far from the page's edges, and from anything already on the page.
PAGE_MARGIN: Final = 24
CLEARANCE: Final = 6


@dataclass(frozen=True)
class StampText:
    """The text of one stamp: a %-template for pyHanko and the values it is filled with."""

    template: str
    params: dict[str, str]
    lines: tuple[str, ...]


def stamp_text(language: Language, *, signer: str, organisation: str, code: str, url: str, timestamp: str) -> StampText:
    """The stamp's lines in `language`; `timestamp` stands for how the signing time will be shown."""
    wording = WORDING[language]
    signer, organisation = shown_in_font(signer), shown_in_font(organisation)
    template = [wording.heading, f"{wording.signed_by}: %(signer)s"]
    lines = [wording.heading, f"{wording.signed_by}: {signer}"]
    if organisation:
        template.append("%(organisation)s")
        lines.append(organisation)
    template += [f"{wording.date}: %(ts)s", f"{wording.code}: %(code)s", f"{wording.verify_at}:", "%(url)s"]
    lines += [f"{wording.date}: {timestamp}", f"{wording.code}: {code}", f"{wording.verify_at}:", url]
    params = {"signer": signer, "organisation": organisation, "code": code, "url": url}
    return StampText("\n".join(template), params, tuple(lines))


@dataclass(frozen=True)
class StampLayout:
    """The stamp's size as a reader sees it, in points, and the font size its text fits in."""

    width: int
    height: int
    font_size: int


def qr_side(url: str) -> float:
    """The side of the QR code of `url` with its quiet zone, at `QR_MODULE` points a module."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)  # as pyHanko draws it
    code.add_data(url)
    code.make()
    modules: int = code.modules_count + 2 * code.border
    return modules * QR_MODULE


def stamp_layout(text: StampText, *, max_width: float) -> StampLayout:
    """The smallest stamp showing `text` beside the QR code of its URL; text too wide for `max_width` gets smaller."""
    side = qr_side(text.params["url"])
    height = side + 2 * INNER_SEPARATION
    margins = TEXT_MARGINS.left + TEXT_MARGINS.right + 2 * BORDER_WIDTH
    room_for_text = max_width - height - margins
    # 3% over the measured width, so that no rounding makes pyHanko shrink the stamp's content to fit.
    natural = max(text_width(line, FONT_SIZE) for line in text.lines) * 1.03
    font_size = FONT_SIZE
    while font_size > MIN_FONT_SIZE and natural * font_size / FONT_SIZE > room_for_text:
        font_size -= 1
    width = height + natural * font_size / FONT_SIZE + margins
    lines_height = len(text.lines) * LEADING * font_size / FONT_SIZE + TEXT_MARGINS.top + TEXT_MARGINS.bottom
    return StampLayout(int(width + 0.999), int(max(height, lines_height + 2 * BORDER_WIDTH) + 0.999), font_size)


# --- where it goes --------------------------------------------------------------------------------------------------

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class StampSpot:
    """Where the stamp is drawn: a box (user space) on a page, turned by the page's /Rotate to stand upright.

    `new_page` is the size of a page to add after the last one first, which `page_index` then names.
    """

    page_index: int
    box: Box
    size: StampLayout
    rotation: int = 0
    new_page: tuple[int, int] | None = None


# pdfium renders one page at a time for the whole process: it is not thread-safe.
_PDFIUM = threading.Lock()
# 36 dpi: a 6 pt clearance is 3 pixels, and the faintest hairline still greys a pixel. A page larger than A0 is
# rendered coarser, to at most `MAX_PIXELS`, and searched in coarser steps (a 200th of its longer side).
RENDER_SCALE: Final = 0.5
MAX_PIXELS: Final = 2_000_000
# A pixel lighter than this is paper; anything darker (text, rules, a tint, a scanned background) is content.
PAPER: Final = 250
SEARCH_STEP: Final = 6
SEARCH_STEPS_ACROSS: Final = 200
_INK_OF_GREY: Final = bytes(1 if grey < PAPER else 0 for grey in range(256))


class UnrenderablePdf(ValueError):
    """The page where the stamp goes cannot be rendered to look for room."""


@dataclass(frozen=True)
class _RenderedPage:
    """A page as a reader sees it (rotated, cropped), in points from its bottom-left corner, with its ink counted."""

    width: float
    height: float
    rotation: int
    scale: float  # pixels a point
    to_user: Callable[[float, float], tuple[float, float]]
    _ink: list[list[int]]  # summed-area table of ink pixels, one row and one column more than the bitmap

    @property
    def search_step(self) -> float:
        return max(SEARCH_STEP, max(self.width, self.height) / SEARCH_STEPS_ACROSS)

    def is_blank(self, left: float, bottom: float, right: float, top: float) -> bool:
        scale, rows = self.scale, len(self._ink) - 1
        columns = len(self._ink[0]) - 1
        x0, x1 = max(0, int(left * scale)), min(columns, int(right * scale + 0.999))
        y0, y1 = max(0, int((self.height - top) * scale)), min(rows, int((self.height - bottom) * scale + 0.999))
        ink = self._ink
        return ink[y1][x1] - ink[y0][x1] - ink[y1][x0] + ink[y0][x0] == 0

    def user_box(self, left: float, bottom: float, right: float, top: float) -> Box:
        corners = [self.to_user(left, bottom), self.to_user(right, top)]
        xs, ys = sorted(x for x, _ in corners), sorted(y for _, y in corners)
        return round(xs[0]), round(ys[0]), round(xs[0]) + round(xs[1] - xs[0]), round(ys[0]) + round(ys[1] - ys[0])


def _render(document: pypdfium2.PdfDocument, index: int) -> _RenderedPage:
    page = document[index]
    try:
        width, height = page.get_width(), page.get_height()  # as shown: rotated and cropped
        if width < 1 or height < 1:
            raise UnrenderablePdf(f"page {index + 1} has no area ({width} x {height} pt)")
        scale = min(RENDER_SCALE, (MAX_PIXELS / (width * height)) ** 0.5)
        bitmap = page.render(scale=scale, grayscale=True, draw_annots=True, may_draw_forms=True)
        rotation = page.get_rotation() % 360
        try:
            # pdfium's own mapping of the shown page (y down, in pixels) to user space, read off three points
            converter = bitmap.get_posconv(page)
            origin, x_unit, y_unit = (converter.to_page(x, y) for x, y in ((0, 0), (1, 0), (0, 1)))
            pixels = bytes(bitmap.buffer)
            stride, columns, rows = bitmap.stride, bitmap.width, bitmap.height
        finally:
            bitmap.close()
    finally:
        page.close()
    ink = [[0] * (columns + 1)]
    for row in range(rows):
        counts = pixels[row * stride : row * stride + columns].translate(_INK_OF_GREY)
        ink.append(list(map(operator.add, ink[-1], accumulate(counts, initial=0))))

    def to_user(x: float, y: float) -> tuple[float, float]:
        column, row = x * scale, (height - y) * scale
        return (
            origin[0] + column * (x_unit[0] - origin[0]) + row * (y_unit[0] - origin[0]),
            origin[1] + column * (x_unit[1] - origin[1]) + row * (y_unit[1] - origin[1]),
        )

    return _RenderedPage(width, height, rotation, scale, to_user, ink)


def _corner_position(page: _RenderedPage, corner: Corner, size: StampLayout) -> tuple[float, float]:
    vertical, horizontal = corner.split("-")
    left = PAGE_MARGIN if horizontal == "left" else page.width - PAGE_MARGIN - size.width
    bottom = PAGE_MARGIN if vertical == "bottom" else page.height - PAGE_MARGIN - size.height
    return left, bottom


def _fits(page: _RenderedPage, size: StampLayout) -> bool:
    return page.width >= size.width + 2 * PAGE_MARGIN and page.height >= size.height + 2 * PAGE_MARGIN


def _blank_at(page: _RenderedPage, left: float, bottom: float, size: StampLayout) -> bool:
    return page.is_blank(
        left - CLEARANCE, bottom - CLEARANCE, left + size.width + CLEARANCE, bottom + size.height + CLEARANCE
    )


def _steps(start: float, stop: float, step: float) -> list[float]:
    """From `start` to `stop` (either way) every `step` points, `stop` included."""
    positions = [start + (step if stop >= start else -step) * n for n in range(int(abs(stop - start) // step) + 1)]
    return positions if positions[-1] == stop else [*positions, stop]


def _blank_spot(page: _RenderedPage, size: StampLayout) -> tuple[float, float] | None:
    """The lowest blank place for the stamp on `page`, the rightmost of that row."""
    if not _fits(page, size):
        return None
    rightmost, top = page.width - PAGE_MARGIN - size.width, page.height - PAGE_MARGIN - size.height
    for bottom in _steps(PAGE_MARGIN, top, page.search_step):
        for left in _steps(rightmost, PAGE_MARGIN, page.search_step):
            if _blank_at(page, left, bottom, size):
                return left, bottom
    return None


def _spot_on(page: _RenderedPage, index: int, left: float, bottom: float, size: StampLayout) -> StampSpot:
    return StampSpot(index, page.user_box(left, bottom, left + size.width, bottom + size.height), size, page.rotation)


# A page added to a PDF that has none to take its size from: A4.
DEFAULT_PAGE_SIZE: Final = (595, 842)


def _new_page(page_count: int, last: _RenderedPage | None, size_for: Callable[[float], StampLayout]) -> StampSpot:
    """A page after the last, as large as the last one looks (larger if the stamp needs it), stamp at its top left."""
    shown = (round(last.width), round(last.height)) if last is not None else DEFAULT_PAGE_SIZE
    size = size_for(max(shown[0], DEFAULT_PAGE_SIZE[0]))
    width, height = max(shown[0], size.width + 2 * PAGE_MARGIN), max(shown[1], size.height + 2 * PAGE_MARGIN)
    top = height - PAGE_MARGIN
    box = (PAGE_MARGIN, top - size.height, PAGE_MARGIN + size.width, top)
    return StampSpot(page_count, box, size, 0, (width, height))


def find_spot(pdf: bytes, placement: Placement, text: StampText) -> StampSpot:
    """Where the stamp showing `text` goes in `pdf` under `placement`, found by rendering the page it would go on.

    Raises `StampPlacementRefused` for a page the PDF does not have or a corner with content, and
    `UnrenderablePdf` when the page cannot be rendered.
    """

    def size_for(page_width: float) -> StampLayout:
        return stamp_layout(text, max_width=page_width - 2 * PAGE_MARGIN)

    with _PDFIUM:
        try:
            document = pypdfium2.PdfDocument(pdf)
        except pypdfium2.PdfiumError as exc:
            raise UnrenderablePdf(f"the PDF cannot be rendered ({exc})") from exc
        try:
            document.init_forms()  # form fields, earlier signatures' stamps among them, are drawn only then
            page_count = len(document)
            last = _render(document, page_count - 1) if page_count and placement.kind != "corner" else None
            if placement.kind == "new-page" or last is None and placement.kind == "auto":
                return _new_page(page_count, last, size_for)
            if placement.kind == "auto":
                assert last is not None
                size = size_for(last.width)
                spot = _blank_spot(last, size)
                if spot is None:
                    return _new_page(page_count, last, size_for)
                return _spot_on(last, page_count - 1, *spot, size)
            index = page_count - 1 if placement.page == -1 else placement.page - 1
            if not 0 <= index < page_count:
                raise StampPlacementRefused(
                    f"The PDF has {page_count} page{'s' if page_count != 1 else ''}: there is no page "
                    f"{placement.page} to stamp. Name a page from 1 to {page_count}, first or last.",
                    code="no_such_page",
                )
            assert placement.corner is not None
            page = _render(document, index)
            size = size_for(page.width)
            left, bottom = _corner_position(page, placement.corner, size)
            if not _fits(page, size) or not _blank_at(page, left, bottom, size):
                problem = (
                    f"is too small for the signature stamp ({size.width} x {size.height} pt)"
                    if not _fits(page, size)
                    else f"has content in its {placement.corner} corner, which the signature stamp "
                    f"({size.width} x {size.height} pt) would cover"
                )
                raise StampPlacementRefused(
                    f"Page {index + 1} {problem}. Choose another corner, auto (finds room, or adds a page) or "
                    "new-page.",
                    code="no_room_for_stamp",
                )
            return _spot_on(page, index, left, bottom, size)
        except pypdfium2.PdfiumError as exc:
            raise UnrenderablePdf(f"the PDF cannot be rendered ({exc})") from exc
        finally:
            document.close()


def add_blank_page(writer: BasePdfFileWriter, size: tuple[int, int]) -> None:
    """A blank page of `size` after the last, with every inheritable entry of its own: no parent turns it."""
    box = generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, *size)])
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): box,
            generic.NameObject("/CropBox"): generic.ArrayObject(list(box)),
            generic.NameObject("/Rotate"): generic.NumberObject(0),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
            generic.NameObject("/Contents"): writer.add_object(generic.StreamObject(stream_data=b"")),
        }
    )
    writer.insert_page(page)


# --- drawing --------------------------------------------------------------------------------------------------------

# The appearance's /Matrix for each /Rotate: drawn upright, turned back by the page's rotation (ISO 32000-1, 12.5.5).
_ROTATION_MATRIX: Final[dict[int, Callable[[float, float], Sequence[float]]]] = {
    90: lambda width, height: (0, 1, -1, 0, height, 0),
    180: lambda width, height: (-1, 0, 0, -1, width, height),
    270: lambda width, height: (0, -1, 1, 0, 0, width),
}


@dataclass(frozen=True)
class SignatureStampStyle(QRStampStyle):
    """pyHanko's QR stamp on an opaque white background, in the embedded font, upright on a page with /Rotate."""

    rotation: int = 0

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> "SignatureStamp":
        url = text_params.pop("url")
        if self.rotation in (90, 270):  # the widget's box is the page's: the stamp is drawn across it
            box = layout.BoxConstraints(width=box.height, height=box.width)
        return SignatureStamp(writer, url=url, style=self, text_params=text_params, box=box)


class SignatureStamp(QRStamp):
    style: SignatureStampStyle

    def render(self) -> bytes:
        background = b"q 1 g 0 0 %g %g re f Q " % (self.box.width, self.box.height)
        return background + cast(bytes, super().render())  # type: ignore[no-untyped-call]

    def as_form_xobject(self) -> generic.StreamObject:
        xobject = super().as_form_xobject()
        turn = _ROTATION_MATRIX.get(self.style.rotation)
        if turn is not None:
            matrix = turn(self.box.width, self.box.height)
            xobject[generic.NameObject("/Matrix")] = generic.ArrayObject([generic.FloatObject(n) for n in matrix])
        return xobject


STAMP_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S %Z"


def stamp_style(text: StampText, spot: StampSpot) -> SignatureStampStyle:
    """How pyHanko draws the stamp showing `text` at `spot`."""
    size = spot.size
    return SignatureStampStyle(
        stamp_text=text.template,
        timestamp_format=STAMP_TIME_FORMAT,
        border_width=BORDER_WIDTH,
        border_color=(0.35, 0.35, 0.35),
        innsep=INNER_SEPARATION,
        text_box_style=TextBoxStyle(
            font=_EmbeddedFont(font_file=str(FONT_PATH)),
            font_size=size.font_size,
            leading=LEADING * size.font_size // FONT_SIZE,
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MID,
                margins=TEXT_MARGINS,
            ),
        ),
        rotation=spot.rotation,
    )
