"""A regular (non-editable) install of the two wheels runs Segell away from the checkout: the contract artifacts,
pages and migrations travel as package data, and site-packages gets `segell` and nothing else of ours."""

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.distributions import build_wheels, clean_environment, fresh_venv, site_packages, wait_until_healthy
from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="wheels")]

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def server_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = build_wheels(tmp_path_factory)
    return fresh_venv(tmp_path_factory, "server", wheels.server, wheels.sdk)


def test_wheel_installs_only_the_segell_namespace(server_python: Path) -> None:
    packages = site_packages(server_python)
    ours = packages / "segell"
    assert not (packages / "chain").exists()
    assert not (packages / "services").exists()
    assert not (packages / "sdk").exists()
    assert sorted(entry.name for entry in ours.iterdir() if entry.name != "__pycache__") == [
        "chain",
        "sdk",
        "services",
    ]
    assert not (ours / "__init__.py").exists()
    assert sorted(path.name for path in (ours / "chain" / "compiled").glob("*.json")) == [
        "AdministrationRegistry.json",
        "Notary.json",
    ]
    # The signature stamp's font, so that the server never depends on the system's fonts.
    assert sorted(path.name for path in (ours / "services" / "identity" / "fonts").iterdir()) == [
        "DejaVuSans.ttf",
        "LICENSE",
    ]
    top_level = {
        dist: (packages / f"{dist}-0.1.0.dist-info" / "top_level.txt").read_text().split()
        for dist in ("segell", "segell_sdk")
    }
    assert top_level == {"segell": ["segell"], "segell_sdk": ["segell"]}


def test_wheel_runs_segell_up_on_the_embedded_chain_outside_the_checkout(
    server_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("elsewhere")
    home = tmp_path_factory.mktemp("segell-home")
    assert not workdir.is_relative_to(ROOT)
    where = subprocess.run(
        [str(server_python), "-c", "import segell.chain, segell.services, segell.sdk; print(segell.__path__[0])"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=clean_environment(home),
        check=True,
    )
    assert Path(where.stdout.strip()) == site_packages(server_python) / "segell"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "segell-up.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(server_python.parent / "segell"), "up", "--chain", "embedded", "--port", str(port)],
            cwd=workdir,
            env=clean_environment(home),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            health = wait_until_healthy(url, process)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                returncode = process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
    printed = log.read_text()
    assert returncode == 0, printed
    chain = health["chain"]
    contracts = health["contracts"]
    assert isinstance(chain, dict) and isinstance(contracts, dict), json.dumps(health)
    assert chain["backend"] == "embedded"
    assert chain["reachable"] is True
    assert contracts["deployed"] is True
    assert contracts["notary"] != contracts["registry"]
    assert f"notary {contracts['notary']}" in printed
    # The migrations came with the wheel: the database is at the newest one.
    assert health["database"] == {"dialect": "sqlite", "revision": newest_migration(), "ok": True}
    assert (home / "segell.db").is_file()


def newest_migration() -> str:
    return max(path.name.split("_", 1)[0] for path in (ROOT / "services" / "migrations" / "versions").glob("0*.py"))
