"""Reading the API's JSON into the SDK's dataclasses: the conversions every result type shares.

Each result type has a ``_from_json`` classmethod built from these; a value of the wrong shape raises
``TypeError``, ``KeyError`` or ``ValueError``, which the client turns into :class:`sdk.UnexpectedResponseError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = [
    "Json",
    "items",
    "json_object",
    "moment",
    "optional",
    "optional_datetime",
    "optional_int",
    "optional_str",
    "parse_datetime",
    "strings",
]

Json = Mapping[str, Any]
"""A JSON object as the API sends it."""

_T = TypeVar("_T")


def parse_datetime(value: Any) -> datetime:
    """A timezone-aware datetime from an ISO 8601 string; one without an offset is taken as UTC."""
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 datetime string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    # Segell records UTC; a timestamp read back from SQLite arrives without its offset.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def moment(value: Any) -> datetime:
    """A datetime from an ISO 8601 string or a Unix timestamp (block timestamps are integers)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return parse_datetime(value)


def optional(parse: Callable[[Any], _T], value: Any) -> _T | None:
    """``parse(value)``, or ``None`` for a JSON ``null`` (or a member that is absent)."""
    return None if value is None else parse(value)


def optional_datetime(value: Any) -> datetime | None:
    return optional(parse_datetime, value)


def optional_int(value: Any) -> int | None:
    return optional(int, value)


def optional_str(value: Any) -> str | None:
    return optional(str, value)


def strings(value: Any) -> tuple[str, ...]:
    """A JSON array of strings as a tuple."""
    if not isinstance(value, list):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(str(item) for item in value)


def json_object(data: Any) -> dict[str, Any]:
    """A JSON object kept as it is (proof bundles, JSON-RPC answers), after checking that it is one."""
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def items(parse: Callable[[Any], _T]) -> Callable[[Any], list[_T]]:
    """The parser of a list response, ``{"items": [...]}``, each item read with ``parse``."""

    def parse_items(data: Any) -> list[_T]:
        return [parse(item) for item in data["items"]]

    return parse_items
