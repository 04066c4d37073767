"""The Foundry suite (unit, fuzz and invariant tests in contracts/test/) passes."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
FORGE = REPO_ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"
INVARIANTS = (
    "invariant_OnlyGovernanceChangesRegistry",
    "invariant_OnlyActiveMembersAnchor",
    "invariant_SuspendedAdministrationNeverAnchors",
    "invariant_AnchoredRootNeverChanges",
    "invariant_OnlyIssuerRevokesProvenLeaves",
)


# `make forge` runs foundry.toml's full campaign (1,000 runs of each); the suite runs a quarter of it.
SUITE_FUZZ_RUNS = 256
SUITE_INVARIANT_RUNS = 250


def _forge() -> str | None:
    return str(FORGE) if FORGE.is_file() else shutil.which("forge")


@pytest.mark.slow
def test_forge_suite_passes_including_invariants(tmp_path: Path) -> None:
    forge = _forge()
    if forge is None:
        pytest.skip("forge is not installed: run `npm ci` (it installs @foundry-rs/forge-linux-amd64)")
    env = {
        **os.environ,
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # A private build directory, so that a concurrent forge or slither run cannot clean it away.
        "FOUNDRY_OUT": str(tmp_path / "out"),
        "FOUNDRY_CACHE_PATH": str(tmp_path / "cache"),
        "NO_COLOR": "1",
        # The suite's campaign: every fuzz and invariant test, with fewer runs than `make forge`'s full one.
        "FOUNDRY_FUZZ_RUNS": str(SUITE_FUZZ_RUNS),
        "FOUNDRY_INVARIANT_RUNS": str(SUITE_INVARIANT_RUNS),
    }

    result = subprocess.run(
        [forge, "test"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in INVARIANTS:
        passed = re.search(rf"\[PASS\] {name}\(\) \(runs: (\d+), calls: \d+", output)
        assert passed, f"{name} did not pass:\n{output}"
        assert int(passed[1]) == SUITE_INVARIANT_RUNS, passed[0]
    summary = re.search(r"(\d+) tests passed, (\d+) failed, (\d+) skipped", output)
    assert summary is not None, output
    assert (int(summary[2]), int(summary[3])) == (0, 0), output
    assert int(summary[1]) >= 60, output
