"""Build Segell's two wheels (segell-sdk from sdk/, segell from the root) and install them into fresh virtualenvs.

uv builds and installs (from its cache, else from PyPI): what pip does in minutes, it does in seconds.

The wheels are built once per test run, from a copy of the sources (so no build/ or egg-info left in the checkout can
slip into them), and shared with the virtualenvs by every test and xdist worker of the run, through locks in
pytest's shared temp root.
"""

import fcntl
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
# The dev dependencies install uv beside this interpreter.
UV = Path(sys.executable).parent / "uv"
# What the two pyproject.toml files build from; contracts/artifacts is behind the chain/compiled link.
SOURCES = ("pyproject.toml", "README.md", "segell", "chain", "services", "sdk", "contracts/artifacts")
BUILD_TIMEOUT_S = 300
INSTALL_TIMEOUT_S = 600
START_TIMEOUT_S = 90


@dataclass(frozen=True)
class Wheels:
    sdk: Path
    server: Path


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist every worker's basetemp is a child of one folder of the run.
    return base.parent if base.name.startswith("popen-gw") else base


def build_wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """The segell-sdk and segell wheels of this checkout, built with `pip wheel --no-deps` once per run."""
    root = _shared_root(tmp_path_factory) / "segell-wheels"
    root.mkdir(exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = root / "dist"
        if not out.is_dir():
            source = root / "source"
            shutil.rmtree(source, ignore_errors=True)
            for name in SOURCES:
                origin, copy = ROOT / name, source / name
                copy.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(origin, copy)
            building = root / "dist.partial"
            shutil.rmtree(building, ignore_errors=True)
            for project in (source / "sdk", source):
                uv("build", "--wheel", "--out-dir", str(building), str(project))
            building.rename(out)
        (sdk,) = out.glob("segell_sdk-*.whl")
        (server,) = out.glob("segell-*.whl")
        return Wheels(sdk=sdk, server=server)


def uv(*arguments: str) -> None:
    result = subprocess.run(
        [str(UV), "--quiet", *arguments],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert result.returncode == 0, f"uv {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"


def fresh_venv(tmp_path_factory: pytest.TempPathFactory, name: str, *wheels: Path) -> Path:
    """A new virtualenv with `wheels` and their dependencies installed (from pip's cache or PyPI); returns its python.

    Made once per test run and name, like the wheels: xdist may tear a module's fixtures down between its tests.
    """
    root = _shared_root(tmp_path_factory) / "segell-venvs"
    root.mkdir(exist_ok=True)
    path = root / name
    python = path / "bin" / "python"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / f"{name}.installed"
        if not done.is_file():
            shutil.rmtree(path, ignore_errors=True)
            uv("venv", "--python", sys.executable, str(path))
            # No byte-compiling of the dependencies: the venv lives for one test run.
            uv("pip", "install", "--python", str(python), "--no-compile", *map(str, wheels))
            done.touch()
    return python


def site_packages(python: Path) -> Path:
    result = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(result.stdout.strip())


def clean_environment(home: Path) -> dict[str, str]:
    """This process's environment without Segell's settings, Python's and the virtualenv's, and with `home`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SEGELL_", "PYTHON", "VIRTUAL_ENV")) and name != "PYTEST_CURRENT_TEST"
    }
    return environment | {"SEGELL_HOME": str(home)}


def wait_until_healthy(url: str, process: subprocess.Popen[str]) -> dict[str, object]:
    """The first /health of `url` that says ok; fails the test if `process` exits or START_TIMEOUT_S passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"segell up exited with {process.returncode} before it was healthy")
        try:
            answer = httpx.get(f"{url}/health", timeout=5)
            health: dict[str, object] = answer.json()
            if health.get("status") == "ok":
                return health
            last = answer.text
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.2)
    pytest.fail(f"segell up was not healthy within {START_TIMEOUT_S} s: {last}")
