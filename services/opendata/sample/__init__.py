"""Sample mandatory publications of five Catalan municipalities of different sizes (three years of budgets, one year
of every other block; plausible figures, made-up names, codes in DIR3's form), and `load_sample`, which submits them
to a Segell server through its API, as the municipalities would. `tools/transparency_sample.py` writes the files.

Tests, the transparency portal and notebooks load it the same way::

    from segell.services.opendata.sample import load_sample

    loaded = load_sample("http://127.0.0.1:8000", governance_key)
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segell.sdk import Client, ConflictError, NotFoundError

SAMPLE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class SampleMunicipality:
    code: str
    name: str
    #: Inhabitants by year.
    inhabitants: dict[int, int]
    #: (block, year, file) of each of its sample submissions.
    files: list[tuple[str, int, Path]] = field(default_factory=list)


@dataclass
class LoadedSample:
    """What `load_sample` did: the API keys it issued to the municipalities it admitted, and the submissions made
    (those already submitted are counted in `unchanged`)."""

    api_keys: dict[str, str] = field(default_factory=dict)
    submitted: list[Any] = field(default_factory=list)
    unchanged: int = 0


def municipalities(codes: list[str] | None = None) -> list[SampleMunicipality]:
    """The sample municipalities (those of `codes` only, when given), largest first."""
    manifest = json.loads((SAMPLE_DIR / "municipalities.json").read_text(encoding="utf-8"))
    found = []
    for entry in manifest:
        if codes is not None and entry["code"] not in codes:
            continue
        files = []
        for path in sorted((SAMPLE_DIR / entry["code"]).glob("*.csv")):
            block, _, year = path.stem.rpartition("-")
            files.append((block, int(year), path))
        inhabitants = {int(year): int(count) for year, count in entry["inhabitants"].items()}
        found.append(SampleMunicipality(entry["code"], entry["name"], inhabitants, files))
    unknown = sorted(set(codes or []) - {municipality.code for municipality in found})
    if unknown:
        raise ValueError(f"no sample municipality {', '.join(unknown)}; the sample has {sample_codes()}")
    return found


def sample_codes() -> list[str]:
    manifest = json.loads((SAMPLE_DIR / "municipalities.json").read_text(encoding="utf-8"))
    return [str(entry["code"]) for entry in manifest]


def load_sample(
    base_url: str, governance_key: str, codes: list[str] | None = None, *, timeout: float = 60.0
) -> LoadedSample:
    """Admit the sample municipalities that are not members yet (with the governance key), then submit each one's
    sample files through the API with an API key issued to it. Submitting again what is already current is
    skipped, so loading twice changes nothing."""
    loaded = LoadedSample()
    with Client(base_url, governance_key, timeout=timeout) as governance:
        for municipality in municipalities(codes):
            try:
                governance.administrations.get(municipality.code)
                key = governance.administrations.issue_api_key(municipality.code).key
            except NotFoundError:
                key = governance.administrations.admit(municipality.code, municipality.name).api_key.key
            loaded.api_keys[municipality.code] = key
            with Client(base_url, key, timeout=timeout) as council:
                for block, year, path in municipality.files:
                    try:
                        submission = council.transparency.submit(
                            block,  # type: ignore[arg-type]
                            path,
                            year=year,
                            inhabitants=municipality.inhabitants.get(year),
                        )
                    except ConflictError:
                        loaded.unchanged += 1
                        continue
                    loaded.submitted.append(submission)
    return loaded
