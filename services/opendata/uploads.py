"""A resource's file, as a multipart form brings it: streamed to disk under ``$SEGELL_HOME/opendata`` and hashed as
it arrives, refused past the size limit, and its content checked against its format."""

import codecs
import csv
import hashlib
import io
import json
import os
import secrets
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from segell.chain.gateway import MAX_JSON_DEPTH, json_depth
from segell.services.opendata.errors import BadRequest, UploadTooLarge, ValidationError
from segell.services.opendata.vocabularies import FORMATS

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 50
UPLOAD_PART = "upload"
_GEOJSON_TYPES = {
    "FeatureCollection", "Feature", "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
    "MultiPolygon", "GeometryCollection",
}  # fmt: skip
_EXTENSIONS = {".csv": "CSV", ".json": "JSON", ".xlsx": "XLSX", ".geojson": "GEOJSON"}


@dataclass
class Upload:
    """A file received whole: where it waits, its name as sent, its size and SHA-256."""

    path: Path
    filename: str
    size: int
    sha256: str


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    upload: Upload | None = None

    def discard(self) -> None:
        if self.upload is not None:
            self.upload.path.unlink(missing_ok=True)


async def read_form(
    content_type: str, body: AsyncIterator[bytes], incoming: Path, max_bytes: int, file_part: str = UPLOAD_PART
) -> Form:
    """The fields of a multipart form and its one file, in the part `file_part`, written to `incoming` as it
    arrives."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise BadRequest("A multipart body needs a boundary in its Content-Type.")
    form = Form()
    state: dict[str, object] = {}
    headers: dict[bytes, bytes] = {}
    header_name = bytearray()
    header_value = bytearray()
    parts = 0
    value = bytearray()
    writer: BinaryIO | None = None
    digest = hashlib.sha256()
    size = 0

    def on_part_begin() -> None:
        nonlocal parts
        parts += 1
        if parts > MAX_PARTS:
            raise BadRequest(f"A form may have {MAX_PARTS} parts at most.")
        headers.clear()
        value.clear()
        state.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal writer
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if b"filename" in disposition:
            if name != file_part or form.upload is not None or writer is not None:
                raise BadRequest(f"Send one file, in the part named {file_part!r}.")
            incoming.mkdir(parents=True, exist_ok=True)
            path = incoming / secrets.token_hex(16)
            state["path"] = path
            state["filename"] = os.path.basename(disposition[b"filename"].decode("utf-8", "replace"))
            writer = path.open("wb")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal size
        chunk = data[start:end]
        if writer is not None:
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(fields={file_part: [f"The file is larger than {max_bytes} bytes."]})
            digest.update(chunk)
            writer.write(chunk)
        else:
            value.extend(chunk)
            if len(value) > MAX_FIELD_BYTES:
                raise BadRequest(f"The form field {state.get('name')!r} is longer than {MAX_FIELD_BYTES} bytes.")

    def on_part_end() -> None:
        nonlocal writer
        if writer is not None:
            writer.close()
            writer = None
            path = state["path"]
            assert isinstance(path, Path)
            form.upload = Upload(path, str(state["filename"]), size, digest.hexdigest())
        else:
            try:
                form.fields[str(state.get("name"))] = value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"The form field {state.get('name')!r} is not UTF-8 text.") from None

    callbacks: MultipartCallbacks = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except (MultipartParseError, ValueError) as exc:
        form.discard()
        raise BadRequest(f"The multipart body could not be read: {exc}") from None
    except BaseException:
        form.discard()
        path = state.get("path")
        if isinstance(path, Path):
            path.unlink(missing_ok=True)
        raise
    finally:
        if writer is not None:
            writer.close()
    return form


def resource_format(declared: str | None, filename: str) -> str:
    """The format a resource is stored as: the one declared, else its file name's extension's."""
    if declared:
        wanted = declared.strip().upper().removeprefix(".")
        if wanted not in FORMATS:
            raise ValidationError(
                fields={"format": [f"{declared!r} is not taken; use one of CSV, JSON, XLSX, GeoJSON."]}
            )
        return wanted
    extension = Path(filename).suffix.lower()
    if extension not in _EXTENSIONS:
        raise ValidationError(fields={"format": ["Say the format (CSV, JSON, XLSX, GeoJSON): the file name does not."]})
    return _EXTENSIONS[extension]


def check_content(path: Path, file_format: str) -> None:
    """`ValidationError` on `upload` unless the file is what its format says."""
    problem = _content_problem(path, file_format)
    if problem is not None:
        raise ValidationError(fields={"upload": [f"The file is not {file_format}: {problem}."]})


def _content_problem(path: Path, file_format: str) -> str | None:
    if file_format == "XLSX":
        if not zipfile.is_zipfile(path):
            return "it is not an Office Open XML package"
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
        return None if {"[Content_Types].xml", "xl/workbook.xml"} <= names else "it holds no workbook"
    if file_format == "CSV":
        with path.open("rb") as file:
            head = file.read(64 * 1024)
        if not head.strip():
            return "it is empty"
        if b"\x00" in head:
            return "it holds binary data"
        try:
            text = _utf8_prefix(head)
        except UnicodeDecodeError:
            return "it is not UTF-8 text"
        rows = list(csv.reader(io.StringIO(text)))
        return None if rows else "it has no rows"
    body = path.read_bytes()
    if json_depth(body) > MAX_JSON_DEPTH:
        return f"it is nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "it is not valid JSON"
    if file_format == "GEOJSON" and not (isinstance(document, dict) and document.get("type") in _GEOJSON_TYPES):
        return "its top level is not a GeoJSON object (FeatureCollection, Feature or a geometry)"
    return None


def _utf8_prefix(head: bytes) -> str:
    """The bytes read decoded as UTF-8; a character the read cut in two at the end is left out."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    text: str = decoder.decode(head, final=False)
    return text
