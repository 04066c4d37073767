"""Mandatory publications (``client.transparency``): submitting a block once, reading submissions, and the
reads of the deployment's recipients. Timestamps are timezone-aware :class:`datetime.datetime` objects in UTC.

Blocks (Llei 19/2014): ``budget``, ``salaries``, ``personnel``, ``contracts``, ``agreements``, ``subsidies``,
``debt``; each has a Table Schema the file must hold (docs/transparency.md).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from ._convert import Json, optional_int, optional_str, parse_datetime
from ._transport import Transport, segment

__all__ = [
    "PublicationBlock",
    "PublishedDataset",
    "Submission",
    "SubmissionAccess",
    "SubmissionStatus",
    "Transparency",
]

PublicationBlock = Literal["budget", "salaries", "personnel", "contracts", "agreements", "subsidies", "debt"]
SubmissionStatus = Literal["current", "superseded"]


@dataclass(frozen=True, slots=True)
class PublishedDataset:
    """The catalogue dataset a submission was published in.

    Attributes:
        id: the dataset's id.
        name: its name in the catalogue (``/api/3/action/package_show?id=NAME``).
        version: its version made by the submission.
        verification_code: that version's verification code.
    """

    id: str
    name: str
    version: int | None
    verification_code: str | None

    @classmethod
    def _from_json(cls, data: Json) -> PublishedDataset:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            version=optional_int(data.get("version")),
            verification_code=optional_str(data.get("verification_code")),
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """One submission of a block for a year.

    Attributes:
        id: its id.
        administration_code, administration_name: who submitted it.
        block: which publication.
        period: the year it covers.
        version: 1, then one more for each correction.
        status: ``"current"`` or ``"superseded"`` (by :attr:`superseded_by`).
        inhabitants: inhabitants the administration gave for the year, if any.
        row_count, filename, size: the file as submitted.
        sha256: the file's SHA-256, which was notarised (kind ``transparency-publication``).
        figures: the block's totals (for a budget: per direction and chapter, ``initial``, ``final``, ``executed``).
        dataset: the administration's dataset it was published in.
        download_url: the file in the catalogue, while current.
        receipt_id, verification_code, notarisation_status: the notary's receipt of the file.
        submitted_at: when.
    """

    id: str
    administration_code: str
    administration_name: str
    block: PublicationBlock
    period: int
    version: int
    status: SubmissionStatus
    superseded_by: str | None
    inhabitants: int | None
    row_count: int
    filename: str
    size: int
    sha256: str
    figures: Mapping[str, Any]
    dataset: PublishedDataset
    download_url: str | None
    receipt_id: str
    verification_code: str
    notarisation_status: str
    submitted_at: datetime

    @classmethod
    def _from_json(cls, data: Json) -> Submission:
        receipt = data["receipt"]
        return cls(
            id=str(data["id"]),
            administration_code=str(data["administration"]["code"]),
            administration_name=str(data["administration"]["name"]),
            block=cast(PublicationBlock, str(data["block"])),
            period=int(data["period"]),
            version=int(data["version"]),
            status=cast(SubmissionStatus, str(data["status"])),
            superseded_by=optional_str(data.get("superseded_by")),
            inhabitants=optional_int(data.get("inhabitants")),
            row_count=int(data["row_count"]),
            filename=str(data["filename"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            figures=dict(data["figures"]),
            dataset=PublishedDataset._from_json(data["dataset"]),
            download_url=optional_str(data.get("download_url")),
            receipt_id=str(receipt["id"]),
            verification_code=str(receipt["verification_code"]),
            notarisation_status=str(receipt["status"]),
            submitted_at=parse_datetime(data["submitted_at"]),
        )


@dataclass(frozen=True, slots=True)
class SubmissionAccess:
    """A recipient read a submission: ``what`` is ``"metadata"``, ``"file"`` or ``"rows"``."""

    recipient: str
    what: str
    accessed_at: datetime

    @classmethod
    def _from_json(cls, data: Json) -> SubmissionAccess:
        return cls(
            recipient=str(data["recipient"]), what=str(data["what"]), accessed_at=parse_datetime(data["accessed_at"])
        )


def _filters(**values: Any) -> dict[str, str]:
    return {name: str(value) for name, value in values.items() if value is not None}


class Transparency:
    """``client.transparency``: submitting mandatory publications (an administration's key), reading them
    (public), and, with a recipient's token as the client's key, the recipients' reads."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def submit(
        self,
        block: PublicationBlock,
        file: str | os.PathLike[str] | bytes,
        *,
        year: int,
        inhabitants: int | None = None,
        filename: str | None = None,
    ) -> Submission:
        """Submit a block for a year: checked against its Table Schema, notarised and published. Submitting the
        same block and year again is a correction; the earlier submission stays, superseded.

        Arguments:
            block: ``"budget"``, ``"salaries"``, ``"personnel"``, ``"contracts"``, ``"agreements"``,
                ``"subsidies"`` or ``"debt"``.
            file: a CSV, XLSX or JSON file's path, or its bytes.
            year: the year it covers.
            inhabitants: inhabitants the administration serves that year.
            filename: the name recorded (defaults to the path's name).

        Raises:
            ValidationError: the file does not hold the block; ``details`` lists every problem with its line.
            ConflictError: the file is already the current submission for the block and year.

        Example::

            submission = segell.transparency.submit("budget", Path("pressupost-2026.csv"), year=2026)
            print(submission.dataset.name, submission.verification_code)
        """
        if isinstance(file, bytes | bytearray | memoryview):
            name, data = filename or f"{block}.csv", bytes(file)
        else:
            name, data = filename or Path(file).name, Path(file).read_bytes()
        form = _filters(block=block, period=year, inhabitants=inhabitants)
        return self._transport.call(
            "POST", "/v1/transparency/submissions", Submission._from_json, files={"file": (name, data)}, data=form
        )

    def list(
        self,
        *,
        administration: str | None = None,
        block: PublicationBlock | None = None,
        year: int | None = None,
        status: SubmissionStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Submission]:
        """Submissions, newest first, current and superseded (``status`` for one of them). Needs no API key.

        Example::

            for submission in segell.transparency.list(block="budget", year=2026):
                print(submission.administration_code, submission.figures["expense"]["1"]["executed"])
        """
        params = _filters(
            administration=administration, block=block, period=year, status=status, limit=limit, offset=offset
        )
        return self._transport.call(
            "GET",
            "/v1/transparency/submissions",
            lambda data: [Submission._from_json(item) for item in data["items"]],
            params=params,
        )

    def get(self, submission_id: str) -> Submission:
        """One submission by its id. Needs no API key."""
        return self._transport.call(
            "GET", f"/v1/transparency/submissions/{segment(submission_id)}", Submission._from_json
        )

    def accesses(self, submission_id: str) -> builtins.list[SubmissionAccess]:
        """Which of the deployment's recipients read one of the administration's submissions, what and when."""
        return self._transport.call(
            "GET",
            f"/v1/transparency/submissions/{segment(submission_id)}/accesses",
            lambda data: [SubmissionAccess._from_json(item) for item in data["items"]],
        )

    def received(
        self,
        *,
        administration: str | None = None,
        block: PublicationBlock | None = None,
        year: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Submission]:
        """As a recipient (the client's key is its token): the submissions, each read recorded."""
        params = _filters(administration=administration, block=block, period=year, limit=limit, offset=offset)
        return self._transport.call(
            "GET",
            "/v1/transparency/recipient/submissions",
            lambda data: [Submission._from_json(item) for item in data["items"]],
            params=params,
        )

    def received_file(self, submission_id: str) -> bytes:
        """As a recipient: the submitted file's bytes, the read recorded. Its SHA-256 is the submission's."""
        return self._transport.download(
            f"/v1/transparency/recipient/submissions/{segment(submission_id)}/file", lambda response: response.content
        )
