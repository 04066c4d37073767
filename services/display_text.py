"""Text that Segell shows people: names of administrations, sandboxes and certificate holders, document titles.

Every such field is ``Annotated[str, DisplayText(max_length=...)]``: one rule, with the length each field allows.
Control characters are refused (PostgreSQL refuses NUL; a newline or an escape sequence forges lines in terminals and
logs), and so are the bidirectional formatting characters: U+202E RIGHT-TO-LEFT OVERRIDE makes
"Ajuntament de Girona\\u202eFDP.exe" read differently from what it is, on the verification page a citizen trusts, in
a certificate's subject, or in a signature report.
"""

import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# Unicode's Bidi_Control characters: ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI.
BIDI_CONTROLS: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# The same rule for clients, in the OpenAPI schema: no C0 or C1 control, DEL or bidirectional control, and at least
# one character that is not white space (what `str.strip` removes), since the text is trimmed before it is measured.
_HIDDEN: Final = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Every character `str.strip` removes, as a regular expression class.
WHITE_SPACE: Final = r"\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
DISPLAY_TEXT_PATTERN: Final = rf"^[^{_HIDDEN}]*[^{_HIDDEN}{WHITE_SPACE}][^{_HIDDEN}]*$"
# The same for one word: no space character in it either.
ONE_WORD_PATTERN: Final = rf"^[^{_HIDDEN}\x20]*[^{_HIDDEN}{WHITE_SPACE}][^{_HIDDEN}\x20]*$"


def refuse_spaces(text: str) -> str:
    """`text` unchanged, or ValueError when it holds a space."""
    if " " in text:
        raise ValueError("must be one word, without spaces")
    return text


def refuse_hidden_characters(text: str) -> str:
    """`text` unchanged, or ValueError naming the first control or bidirectional formatting character in it."""
    for position, character in enumerate(text):
        if character in BIDI_CONTROLS or unicodedata.category(character) == "Cc":
            name = unicodedata.name(character, "a control character")
            raise ValueError(
                f"must not contain control or bidirectional formatting characters: U+{ord(character):04X} ({name}) "
                f"at position {position}"
            )
    return text


@dataclass(frozen=True)
class DisplayText:
    """``Annotated[str, DisplayText(max_length=200)]``: 1 to `max_length` characters once trimmed, none hidden."""

    max_length: int
    one_word: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        text = core_schema.str_schema(strip_whitespace=True, min_length=1, max_length=self.max_length)
        shown = core_schema.no_info_after_validator_function(refuse_hidden_characters, text)
        return core_schema.no_info_after_validator_function(refuse_spaces, shown) if self.one_word else shown

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = ONE_WORD_PATTERN if self.one_word else DISPLAY_TEXT_PATTERN
        return json_schema
