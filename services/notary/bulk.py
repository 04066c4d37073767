"""The new documents of a bulk request, held as arrays rather than as one dictionary per document.

A request of 10,000 hashes is stored as full batches (`service._place_in_new_batches`): every document of it has the
same administration, kind, time and visibility, and its id, code, hash, leaf and receipt are each of one fixed
width. Building them column by column with numpy, then its receipts as one fixed-width text per document and its
rows as one fixed-width record per document (`repository.copy_new_documents`), costs a few milliseconds, where one
dictionary, one f-string and one `write_row` per document took most of the API's time of a bulk request.
"""

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from segell.chain.merkle import leaf_hashes_packed
from segell.services.notary.codes import new_code_array

Bytes2D = npt.NDArray[np.uint8]

_HEX_WIDTH = 64
_ID_WIDTH = 32


def _ascii(text: str) -> Bytes2D:
    return np.frombuffer(text.encode("ascii"), np.uint8)


def _new_id_array(count: int) -> Bytes2D:
    """`service._new_ids` as a (count, 32) array of ASCII: the time in milliseconds (12 hex digits), then 80 random
    bits (20 hex digits)."""
    ids = np.empty((count, _ID_WIDTH), np.uint8)
    ids[:, :12] = _ascii(f"{time.time_ns() // 1_000_000:012x}")
    ids[:, 12:] = _ascii(secrets.token_bytes(10 * count).hex()).reshape(count, 20)
    return ids


@dataclass
class NewDocuments:
    """New documents of one administration, all of one kind, visibility and time: row `i` holds `hashes[i]`.

    `batch_ids` and `leaves` are set by `place` once their batches are stored.
    """

    administration_id: int
    hashes: list[str]  # 64 lower-case hex digits each, as the request normalised them
    kind: str | None
    public: bool
    created_at: datetime
    salted: bool
    ids: Bytes2D = field(init=False)  # (n, 32) ASCII
    codes: Bytes2D = field(init=False)  # (n, 17) ASCII, stored form
    hash_bytes: Bytes2D = field(init=False)  # (n, 32)
    salts: Bytes2D | None = field(init=False)  # (n, 32) random bytes, or None when not salted
    batch_ids: npt.NDArray[np.int32] = field(init=False)
    leaf_indexes: npt.NDArray[np.int32] = field(init=False)
    leaves: Bytes2D = field(init=False)  # (n, 32)

    def __post_init__(self) -> None:
        count = len(self.hashes)
        self.ids = _new_id_array(count)
        self.codes = new_code_array(count)
        self.hash_bytes = np.frombuffer(bytes.fromhex("".join(self.hashes)), np.uint8).reshape(count, 32)
        self.salts = (
            np.frombuffer(secrets.token_bytes(32 * count), np.uint8).reshape(count, 32) if self.salted else None
        )
        self.batch_ids = np.zeros(count, np.int32)
        self.leaf_indexes = np.zeros(count, np.int32)
        self.leaves = np.zeros((count, 32), np.uint8)

    def __len__(self) -> int:
        return len(self.hashes)

    def leaves_of(self, start: int, stop: int, administration: bytes) -> list[bytes]:
        """The Merkle leaves of rows `start` to `stop` as one batch (leaf index 0 for row `start`)."""
        salts = self.salts[start:stop].tobytes() if self.salts is not None else None
        return leaf_hashes_packed(self.hash_bytes[start:stop].tobytes(), administration, salts)

    def place(self, start: int, stop: int, batch_id: int, leaves: Sequence[bytes]) -> None:
        """Rows `start` to `stop` go in batch `batch_id`, with `leaves` (leaf `k` for row `start + k`)."""
        self.batch_ids[start:stop] = batch_id
        self.leaf_indexes[start:stop] = np.arange(stop - start, dtype=np.int32)
        self.leaves[start:stop] = np.frombuffer(b"".join(leaves), np.uint8).reshape(stop - start, 32)

    def id_list(self) -> list[str]:
        return _strings(self.ids)

    def salt_hex(self) -> Bytes2D | None:
        """The salts as stored: 64 lower-case hex digits each."""
        if self.salts is None:
            return None
        return _ascii(self.salts.tobytes().hex()).reshape(len(self), _HEX_WIDTH)

    def rows(self) -> list[dict[str, Any]]:
        """One dictionary per document, the columns of `documents` as `service._new_rows` writes them (for the
        databases without a binary COPY)."""
        salts = _strings(salt) if (salt := self.salt_hex()) is not None else [None] * len(self)
        leaves = self.leaves.tobytes()
        return [
            {
                "id": document_id,
                "administration_id": self.administration_id,
                "document_hash": document_hash,
                "salt": salts[i],
                "public": self.public,
                "kind": self.kind,
                "title": None,
                "metadata_json": None,
                "verification_code": code,
                "idempotency_key": None,
                "request_fingerprint": None,
                "status": "pending",
                "batch_id": int(batch_id),
                "leaf_index": int(leaf_index),
                "leaf": leaves[32 * i : 32 * (i + 1)],
                "created_at": self.created_at,
            }
            for i, (document_id, document_hash, code, batch_id, leaf_index) in enumerate(
                zip(
                    self.id_list(),
                    self.hashes,
                    _strings(self.codes),
                    self.batch_ids.tolist(),
                    self.leaf_indexes.tolist(),
                    strict=True,
                )
            )
        ]

    def receipts_json(self, created_at: str) -> "FixedWidthTexts":
        """The receipts of these documents, byte for byte as `service._new_receipts_json` writes them: every part
        but the id, hash and code is the same for all of them, so each one is a copy of one template with those
        three written in at fixed offsets."""
        kind_json = "null" if self.kind is None else _json_string(self.kind)
        salted = "true" if self.salted else "false"
        public = "true" if self.public else "false"
        # The receipt of one document, split where its varying parts go.
        parts: list[str | tuple[str, int]] = [
            '{"id":"',
            ("id", 0),
            '","status":"pending","document_hash":"',
            ("hash", 0),
            '","verification_code":"',
            ("code", 0),
            f'","kind":{kind_json},"title":null,"metadata":null,"salted":{salted},"public":{public},'
            f'"public_copy":false,"created_at":"{created_at}","anchor":null,"revocation":null,'
            '"links":{"self":"/v1/documents/',
            ("id", 1),
            '","bundle":"/v1/documents/',
            ("id", 2),
            '/bundle","verify":"/v1/verify?code=',
            ("code", 1),
            '"}},',
        ]
        columns = {"id": self.ids, "hash": self.hex_hashes(), "code": formatted_codes(self.codes)}
        return FixedWidthTexts.fill(parts, columns, len(self))

    def hex_hashes(self) -> Bytes2D:
        return _ascii("".join(self.hashes)).reshape(len(self), _HEX_WIDTH)


@dataclass(frozen=True)
class FixedWidthTexts:
    """Texts of one width each, one per document, each followed by a comma, in one buffer."""

    buffer: bytes
    width: int  # of each text with its comma

    @staticmethod
    def fill(parts: Sequence[str | tuple[str, int]], columns: dict[str, Bytes2D], count: int) -> "FixedWidthTexts":
        template = bytearray()
        spans: list[tuple[int, Bytes2D]] = []
        for part in parts:
            if isinstance(part, str):
                template += part.encode()
            else:
                column = columns[part[0]]
                spans.append((len(template), column))
                template += bytes(column.shape[1])
        return FixedWidthTexts(stamped(template, spans, count).tobytes(), len(template))

    def joined(self) -> memoryview:
        """All the texts separated by commas (the last one's comma left out)."""
        return memoryview(self.buffer)[:-1]

    def texts(self) -> list[str]:
        buffer, width = self.buffer, self.width
        return [buffer[start : start + width - 1].decode() for start in range(0, len(buffer), width)]


def formatted_codes(codes: Bytes2D) -> Bytes2D:
    """``XXXX-XXXX-XXXX-XXXX-C`` of codes in stored form, as `codes.format_code` writes each."""
    count = len(codes)
    shown = np.full((count, 21), ord("-"), np.uint8)
    for group in range(4):
        shown[:, 5 * group : 5 * group + 4] = codes[:, 4 * group : 4 * group + 4]
    shown[:, 20] = codes[:, 16]
    return shown


def _strings(values: Bytes2D) -> list[str]:
    width = values.shape[1]
    text = values.tobytes().decode("ascii")
    return [text[start : start + width] for start in range(0, len(text), width)]


def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def stamped(template: bytes | bytearray, spans: Sequence[tuple[int, Bytes2D]], count: int) -> Bytes2D:
    """`count` copies of `template`, row k holding row k of each column at its offset: fixed-width records built
    without a Python step per record."""
    records = np.empty((count, len(template)), np.uint8)
    records[:] = np.frombuffer(bytes(template), np.uint8)
    for offset, column in spans:
        records[:, offset : offset + column.shape[1]] = column
    return records
