"""Mandatory publications for the portal's tests, written in ONE place: `publish`.

`publish` does what the submission API does for a block (a dataset of the administration's for the block, the file
as its resource through the catalogue's Action API, a `Submission` row, the file's hash notarised through the
notary's public API, the version before marked superseded) so that the portal has something to show. When the
submission API exists, `publish` calls it instead, and nothing else in the tests changes.
"""

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from segell.services.administrations import api as administrations
from segell.services.notary import api as notary
from segell.services.opendata.models import Submission
from tests.helpers import RunningServer, dataset, runtime_of
from tests.helpers import wait_anchored as until_anchored

BUDGET_FIELDS = ("direction", "chapter", "description", "initial_credit", "final_credit", "executed")
#: Shares of a municipal budget by economic chapter, as Catalan town councils' budgets roughly split.
EXPENSE_SHARES = {"1": 0.34, "2": 0.36, "3": 0.01, "4": 0.11, "5": 0.01, "6": 0.13, "7": 0.01, "8": 0.005, "9": 0.025}
INCOME_SHARES = {"1": 0.38, "2": 0.02, "3": 0.17, "4": 0.33, "5": 0.02, "6": 0.01, "7": 0.04, "8": 0.005, "9": 0.025}
EXPENSE_NAMES = {
    "1": "Despeses de personal",
    "2": "Despeses en béns corrents i serveis",
    "3": "Despeses financeres",
    "4": "Transferències corrents",
    "5": "Fons de contingència",
    "6": "Inversions reals",
    "7": "Transferències de capital",
    "8": "Actius financers",
    "9": "Passius financers",
}
INCOME_NAMES = {
    "1": "Impostos directes",
    "2": "Impostos indirectes",
    "3": "Taxes, preus públics i altres ingressos",
    "4": "Transferències corrents",
    "5": "Ingressos patrimonials",
    "6": "Alienació d'inversions reals",
    "7": "Transferències de capital",
    "8": "Actius financers",
    "9": "Passius financers",
}


@dataclass(frozen=True)
class Published:
    id: str
    code: str
    block: str
    period: int
    version: int
    content: bytes
    rows: list[dict[str, str]]
    figures: dict[str, Any]
    inhabitants: int | None
    receipt: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def verification_code(self) -> str:
        return str(self.receipt["verification_code"])


def budget_rows(total: float, *, final_ratio: float = 1.04, executed_ratio: float = 0.93) -> list[dict[str, str]]:
    """A municipal budget of `total` euros, expense and income by chapter, with cents where they fall."""
    rows = []
    directions = (("expense", EXPENSE_SHARES, EXPENSE_NAMES), ("income", INCOME_SHARES, INCOME_NAMES))
    for direction, shares, names in directions:
        for chapter, share in shares.items():
            initial = round(total * share, 2)
            final = round(initial * final_ratio, 2)
            executed = round(final * executed_ratio, 2)
            rows.append(
                {
                    "direction": direction,
                    "chapter": chapter,
                    "description": names[chapter],
                    "initial_credit": f"{initial:.2f}",
                    "final_credit": f"{final:.2f}",
                    "executed": f"{executed:.2f}",
                }
            )
    return rows


def budget_figures(rows: list[dict[str, str]]) -> dict[str, Any]:
    """What the submission API computes for a budget: totals per direction and chapter."""
    figures: dict[str, dict[str, dict[str, float]]] = {"expense": {}, "income": {}}
    for row in rows:
        sums = figures[row["direction"]].setdefault(row["chapter"], {"initial": 0.0, "final": 0.0, "executed": 0.0})
        sums["initial"] = round(sums["initial"] + float(row["initial_credit"]), 2)
        sums["final"] = round(sums["final"] + float(row["final_credit"]), 2)
        sums["executed"] = round(sums["executed"] + float(row["executed"]), 2)
    return figures


def as_csv(rows: list[dict[str, str]], fields: tuple[str, ...] | None = None) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(fields or rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def publish(
    server: RunningServer,
    api_key: str,
    code: str,
    block: str,
    period: int,
    rows: list[dict[str, str]],
    *,
    inhabitants: int | None = None,
    wait_anchored: bool = True,
) -> Published:
    """Publish `rows` as `code`'s `block` for `period` (the next version when there is one already) and, unless
    told not to, wait until it is anchored."""
    content = as_csv(rows, BUDGET_FIELDS if block == "budget" else None)
    sha256 = hashlib.sha256(content).hexdigest()
    figures = budget_figures(rows) if block == "budget" else {}
    name = f"{code.lower()}-{block}"
    filename = f"{block}-{period}.csv"
    with server.client(api_key) as client:
        if client.get("/api/3/action/package_show", params={"id": name}).status_code == 404:
            created = client.post("/api/3/action/package_create", json=dataset(name, theme=["GOVE", "ECON"]))
            assert created.status_code == 200, created.text
        uploaded = client.post(
            "/api/3/action/resource_create",
            data={"package_id": name, "name": f"{block} {period}", "format": "CSV"},
            files={"upload": (filename, content, "text/csv")},
        )
        assert uploaded.status_code == 200, uploaded.text
        resource = uploaded.json()["result"]
        assert resource["hash"] == sha256
        with runtime_of(server).transaction() as session:
            administration = administrations.get_by_code(session, code)
            assert administration is not None
            before = session.scalars(
                select(Submission).where(
                    Submission.administration_id == administration.id,
                    Submission.block == block,
                    Submission.period == period,
                    Submission.status == "current",
                )
            ).first()
            receipt = notary.notarise(
                session,
                administration.id,
                sha256,
                kind="document",
                title=f"{block} {period}",
                metadata={"block": block, "period": period},
                public=True,
                derived_from=[before.receipt_id] if before is not None else [],
            )
            submission = Submission(
                id=str(uuid.uuid4()),
                administration_id=administration.id,
                block=block,
                period=period,
                version=before.version + 1 if before is not None else 1,
                status="current",
                inhabitants=inhabitants,
                row_count=len(rows),
                filename=filename,
                size=len(content),
                sha256=sha256,
                figures=figures,
                dataset_id=resource["package_id"],
                resource_id=resource["id"],
                receipt_id=receipt.id,
            )
            if before is not None:
                before.status = "superseded"
                before.superseded_by = submission.id
            session.add(submission)
            submission_id, version = submission.id, submission.version
        if wait_anchored:
            notarised = until_anchored(client, receipt.id)
        else:
            notarised = client.get(f"/v1/documents/{receipt.id}").json()
    return Published(submission_id, code, block, period, version, content, rows, figures, inhabitants, notarised)
