"""Names and titles shown to people refuse control and bidirectional formatting characters, field by field, over HTTP
against a real server."""

import re
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from segell.services.display_text import DISPLAY_TEXT_PATTERN, DisplayText
from tests.helpers import RunningServer

HIDDEN = {
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "LRM": "\u200e",
    "RLM": "\u200f",
    "NUL": "\x00",
    "BEL": "\x07",
    "LF": "\n",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI": "\x9b",
}


@pytest.fixture(scope="module")
def issuer(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client(segell_server.admit(name="Ajuntament de Figueres")) as client:
        yield client


def send(field: str, text: str, governance: httpx.Client, issuer: httpx.Client) -> httpx.Response:
    """Send `text` in `field` of a request otherwise valid; answer the response and where the field is."""
    if field == "administration name":
        return governance.post("/v1/administrations", json={"code": "L09990001", "name": text})
    if field == "document title":
        return issuer.post("/v1/documents", json={"hash": "a" * 64, "title": text})
    if field == "document kind":
        return issuer.post("/v1/documents", json={"hash": "a" * 64, "kind": text})
    if field == "uploaded document title":
        return issuer.post(
            "/v1/documents",
            content=b"%PDF-1.7\n",
            params={"title": text},
            headers={"Content-Type": "application/octet-stream"},
        )
    if field == "uploaded document kind":
        return issuer.post(
            "/v1/documents",
            content=b"%PDF-1.7\n",
            params={"kind": text},
            headers={"Content-Type": "application/octet-stream"},
        )
    if field == "batch kind":
        return issuer.post("/v1/documents/batch", json={"hashes": ["b" * 64], "kind": text})
    if field == "certificate holder name":
        return issuer.post("/v1/certificates", json={"profile": "employee", "name": text, "national_id": "47111222K"})
    if field == "certificate holder position":
        return issuer.post(
            "/v1/certificates",
            json={"profile": "employee", "name": "Marta Puig", "national_id": "47111222K", "position": text},
        )
    if field == "sandbox name":
        return issuer.post("/v1/sandboxes", json={"name": text})
    if field == "snapshot name":
        return issuer.post("/v1/sandboxes/sbx_0000000000000000/snapshots", json={"name": text})
    raise AssertionError(field)


FIELDS = {
    "administration name": "body.name",
    "document title": "body.title",
    "document kind": "body.kind",
    "uploaded document title": "query.title",
    "uploaded document kind": "query.kind",
    "batch kind": "body.kind",
    "certificate holder name": "body.name",
    "certificate holder position": "body.position",
    "sandbox name": "body.name",
    "snapshot name": "body.name",
}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("character", HIDDEN.values(), ids=HIDDEN.keys())
def test_display_text_with_control_or_bidi_character_answers_422_naming_the_field(
    field: str, character: str, governance: httpx.Client, issuer: httpx.Client
) -> None:
    text = f"Ajuntament{character}gpj.exe"  # "Ajuntamentexe.jpg" on screen, with U+202E
    response = send(field, text, governance, issuer)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    (problem,) = error["details"]
    assert problem["location"] == FIELDS[field]
    assert f"U+{ord(character):04X}" in problem["message"]
    assert f"at position {len('Ajuntament')}" in problem["message"]


class Named(BaseModel):
    name: Annotated[str, DisplayText(max_length=40)]


@pytest.mark.parametrize(
    "name",
    ["Ajuntament de l'Hospitalet", "Diputació de Girona", "بلدية برشلونة", "עיריית ברצלונה", "Åsa Øberg-Ñúñez"],
)
def test_display_text_keeps_any_script_written_right_to_left_or_not(name: str) -> None:
    assert Named(name=f"  {name} ").name == name


@pytest.mark.parametrize(("name", "problem"), [("", "at least 1"), ("   ", "at least 1"), ("x" * 41, "at most 40")])
def test_display_text_outside_its_length_is_refused(name: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Named(name=name)
    assert problem in refused.value.errors()[0]["msg"]


def test_display_text_schema_tells_clients_which_characters_are_refused() -> None:
    schema: dict[str, Any] = Named.model_json_schema()["properties"]["name"]
    assert schema["maxLength"] == 40
    assert "\\u202e" in schema["pattern"] and "\\x00-\\x1f" in schema["pattern"]


def test_display_text_schema_pattern_refuses_the_characters_the_server_refuses() -> None:
    pattern = re.compile(DISPLAY_TEXT_PATTERN)
    refused_by_pattern, refused_by_server = set(), set()
    for code_point in range(0x3001):  # every control, bidirectional and space character is up to U+3000
        text = f"a{chr(code_point)}b"
        if not pattern.fullmatch(text):
            refused_by_pattern.add(code_point)
        try:
            Named(name=text)
        except ValidationError:
            refused_by_server.add(code_point)
    assert refused_by_pattern == refused_by_server
    assert len(refused_by_server) == 65 + 12  # C0, DEL and C1; Unicode's Bidi_Control characters


@pytest.mark.parametrize("blank", [" ", "\u00a0", "\u2003\u3000", "\u202f \u205f"])
def test_display_text_of_white_space_alone_is_refused_by_schema_and_server(blank: str) -> None:
    # The server trims before it measures: white space alone is empty, and the schema's pattern says so too.
    assert re.fullmatch(DISPLAY_TEXT_PATTERN, blank) is None
    with pytest.raises(ValidationError):
        Named(name=blank)
    assert re.fullmatch(DISPLAY_TEXT_PATTERN, f"{blank}x{blank}") is not None
    assert Named(name=f"{blank}x{blank}").name == "x"
