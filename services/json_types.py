"""Types for JSON request bodies that take exactly what their JSON Schema says.

Pydantic's lax mode reads `"5"` and `true` as the integers 5 and 1; a JSON Schema `integer` takes neither (it does
take `5.0`, which is whole).
"""

from typing import Annotated

from pydantic import BeforeValidator


def _refuse_text_and_booleans(value: object) -> object:
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number, not text or a boolean")
    return value


# Bounds go before it, `Annotated[int, Field(ge=1), JSON_NUMBER] | None`: after it, pydantic cannot carry them into a
# union's JSON Schema and writes them as `ge` and `le`, which JSON Schema does not know.
JSON_NUMBER = BeforeValidator(_refuse_text_and_booleans)
JsonInteger = Annotated[int, JSON_NUMBER]
