"""What a signing may choose about its stamp: the language it speaks and where it goes.

Apart from `stamp`, which draws it: the routes and the signature service read these on every request, and the PDF
machinery `stamp` loads (pyHanko, fontTools, pdfium, qrcode) is for the signings that draw one."""

import re
from dataclasses import dataclass
from typing import Final, Literal, cast

from segell.services.administrations.api import Administration
from segell.services.languages import DEFAULT_LANGUAGE, LANGUAGES, Language

# --- language -------------------------------------------------------------------------------------------------------


def stamp_language(administration: Administration) -> Language:
    """The language an administration's stamps speak when a signing names none: its own, else Catalan."""
    language = administration.language
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


# --- placement ------------------------------------------------------------------------------------------------------

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
_PLACEMENT_SOURCE: Final = (
    r"^(?:(?P<word>auto|new-page)|(?P<page>first|last|[1-9][0-9]{0,3}):(?P<corner>(?:top|bottom)-(?:left|right)))$"
)
_PLACEMENT: Final = re.compile(_PLACEMENT_SOURCE, re.IGNORECASE)
PLACEMENT_CHOICES: Final = (
    "auto (where the last page has room, else on an added page), new-page, or PAGE:CORNER, where PAGE is first, "
    "last or a page number and CORNER is top-left, top-right, bottom-left or bottom-right (e.g. last:bottom-right)"
)


def _any_case(pattern: str) -> str:
    """`pattern` matching its letters in either case, for regular expression dialects without flags (JSON Schema)."""
    return re.sub(r"[a-z]", lambda letter: f"[{letter[0]}{letter[0].upper()}]", pattern)


# What `parse_placement` accepts, as a JSON Schema pattern: ECMA 262 has neither Python's named groups nor flags.
PLACEMENT_PATTERN: Final = _any_case(re.sub(r"\?P<[a-z]+>", "", _PLACEMENT_SOURCE))


@dataclass(frozen=True)
class Placement:
    """Where the stamp goes. `page` is 1-based, or -1 for the last page; `corner` is None for auto and new-page."""

    kind: Literal["auto", "new-page", "corner"]
    page: int = -1
    corner: Corner | None = None


AUTO: Final = Placement("auto")


def parse_placement(text: str) -> Placement:
    """`auto`, `new-page` or `PAGE:CORNER` in any case; anything else is a `ValueError` that lists what is valid."""
    match = _PLACEMENT.match(text)
    if match is None:
        raise ValueError(f"placement must be {PLACEMENT_CHOICES}")
    word = match["word"]
    if word is not None:
        return Placement(cast(Literal["auto", "new-page"], word.lower()))
    page = match["page"].lower()
    number = {"first": 1, "last": -1}.get(page) or int(page)
    return Placement("corner", number, cast(Corner, match["corner"].lower()))


class StampPlacementRefused(ValueError):
    """The stamp cannot go where the placement says: no such page, or content in that corner."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
