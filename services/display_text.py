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
# The same rule for clients, in the OpenAPI schema: C0 and C1 controls, DEL and the bidirectional controls.
DISPLAY_TEXT_PATTERN: Final = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"


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

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        text = core_schema.str_schema(strip_whitespace=True, min_length=1, max_length=self.max_length)
        return core_schema.no_info_after_validator_function(refuse_hidden_characters, text)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = DISPLAY_TEXT_PATTERN
        return json_schema
