"""The SDK installs on its own: its wheel in a fresh virtualenv brings httpx and a keccak, not the server's stack,
and notarises and verifies against a real Segell server from there."""

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.distributions import build_wheels, fresh_venv
from tests.helpers import RunningServer, make_settings, serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="wheels")]

SERVER_ONLY_MODULES = ("fastapi", "web3", "eth_tester", "eth", "pyhanko", "segell.chain", "segell.services")

NOTARISE_AND_VERIFY = """
import json, sys
from segell.sdk import Client, verify_bundle

url, api_key = sys.argv[1], sys.argv[2]
document = b"Acta del Ple de 3 de desembre: aprovada per unanimitat."
with Client(url, api_key, timeout=30) as client:
    receipt = client.documents.notarise(document, kind="minutes", title="Acta del Ple")
    anchored = client.documents.wait_until_anchored(receipt.id, timeout=60)
    bundle = client.documents.bundle(receipt.id)
    deployment = client.deployment()
result = verify_bundle(bundle, document, deployment.rpc_url, trusted_notaries=[deployment.trusted_notary])
print(json.dumps({
    "receipt": anchored.status,
    "status": result.status,
    "reason": result.reason,
    "contract": result.contract,
    "notary": deployment.notary,
    "rpc_url": deployment.rpc_url,
}))
"""


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = build_wheels(tmp_path_factory)
    return fresh_venv(tmp_path_factory, "sdk-only", wheels.sdk)


@contextmanager
def running_server(home: Path) -> Iterator[RunningServer]:
    yield from serve(make_settings(home))


def run_python(python: Path, code: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", code, *arguments], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def test_sdk_wheel_installs_without_the_server_dependencies(sdk_python: Path, tmp_path: Path) -> None:
    code = (
        "import importlib.util, json, sys\n"
        "print(json.dumps({name: importlib.util.find_spec(name) is not None for name in sys.argv[1:]}))"
    )
    result = run_python(sdk_python, code, "segell.sdk", "httpx", *SERVER_ONLY_MODULES, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    importable = json.loads(result.stdout)
    assert importable == {"segell.sdk": True, "httpx": True} | dict.fromkeys(SERVER_ONLY_MODULES, False)


def test_sdk_wheel_sandbox_web3_asks_for_the_web3_extra(sdk_python: Path, tmp_path: Path) -> None:
    code = (
        "from segell.sdk import Client\n"
        "try:\n"
        "    Client('http://127.0.0.1:9').sandboxes.web3('sbx')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = run_python(sdk_python, code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pip install 'segell-sdk[web3]'" in result.stdout


def test_sdk_wheel_notarises_and_verifies_a_bundle_against_a_real_server(
    sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("sdk-client")
    with running_server(tmp_path_factory.mktemp("segell-home")) as server:
        api_key = server.admit(name="Ajuntament de Girona")
        result = run_python(sdk_python, NOTARISE_AND_VERIFY, server.url, api_key, cwd=workdir)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["receipt"] == "anchored"
    assert outcome["status"] == "authentic", outcome["reason"]
    assert outcome["contract"].lower() == outcome["notary"].lower()
    assert outcome["rpc_url"] == f"{server.url}/rpc"
