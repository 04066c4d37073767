"""`segell notarise`, `segell verify` and `segell revoke` against a real Segell server (tests/conftest.py)."""

import json
import re
import secrets
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sdk import Client, verify_bundle
from services.cli import app
from tests.conftest import RunningServer

RECEIPT_LINE = re.compile(
    r"(?P<file>\S+)  id (?P<id>[0-9a-f]{32})  code (?P<code>[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}-\S)  (?P<status>\w+)"
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def administration_key(segell_server: RunningServer) -> str:
    with Client(segell_server.url, segell_server.governance_key) as governance:
        admitted = governance.admit_administration(f"C{secrets.token_hex(4).upper()}", "Consell Comarcal de Prova")
    return admitted.api_key.key


@pytest.fixture
def env(segell_server: RunningServer, administration_key: str) -> dict[str, str | None]:
    return {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": administration_key, "SEGELL_RPC_URL": None}


def write_documents(directory: Path, count: int) -> list[Path]:
    paths = []
    for number in range(count):
        path = directory / f"certificat-{number}.txt"
        path.write_text(f"Certificat {number} {secrets.token_hex(8)}\n")
        paths.append(path)
    return paths


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_notarise_files_with_wait_writes_a_bundle_next_to_each(
    segell_server: RunningServer, runner: CliRunner, env, tmp_path: Path
) -> None:
    paths = write_documents(tmp_path, 3)

    result = runner.invoke(app, ["notarise", *map(str, paths), "--kind", "certificate", "--wait"], env=env)

    assert result.exit_code == 0, result.output
    lines = [RECEIPT_LINE.match(line) for line in result.stdout.splitlines()]
    assert all(lines) and len(lines) == 3, result.stdout
    assert [match["file"] for match in lines if match] == [str(path) for path in paths]
    assert {match["status"] for match in lines if match} == {"anchored"}
    for path in paths:
        bundle_path = path.with_name(path.name + ".segell.json")
        assert f"bundle {bundle_path}" in result.stdout
        bundle = json.loads(bundle_path.read_text())
        assert verify_bundle(bundle, path, f"{segell_server.url}/rpc").status == "authentic"


def test_notarise_one_file_with_out_dir_and_json(runner: CliRunner, env, tmp_path: Path) -> None:
    (path,) = write_documents(tmp_path, 1)
    out = tmp_path / "bundles"

    result = runner.invoke(
        app, ["notarise", str(path), "--title", "Certificat", "--wait", "--out", str(out), "--json"], env=env
    )

    assert result.exit_code == 0, result.output
    (notarised,) = json.loads(result.stdout)
    assert notarised["status"] == "anchored"
    assert notarised["bundle"] == str(out / f"{path.name}.segell.json")
    bundle = json.loads((out / f"{path.name}.segell.json").read_text())
    assert bundle["receipt"]["id"] == notarised["id"]
    assert bundle["receipt"]["title"] == "Certificat"
    assert not path.with_name(path.name + ".segell.json").exists()


@pytest.mark.parametrize("count", [1, 2])
def test_notarise_public_salted_files_show_their_kind_to_verification_by_hash(
    runner: CliRunner, env, tmp_path: Path, segell_server: RunningServer, count: int
) -> None:
    paths = write_documents(tmp_path, count)

    result = runner.invoke(
        app, ["notarise", *map(str, paths), "--kind", "certificat", "--salted", "--public", "--wait", "--json"], env=env
    )

    assert result.exit_code == 0, result.output
    with Client(segell_server.url) as citizen:
        matches = [citizen.verify(path=path).matches[0] for path in paths]
    assert [(m.status, m.kind) for m in matches] == [("authentic", "certificat")] * count


def test_notarise_without_wait_prints_pending_receipts(runner: CliRunner, env, tmp_path: Path) -> None:
    paths = write_documents(tmp_path, 2)

    result = runner.invoke(app, ["notarise", *map(str, paths)], env=env)

    assert result.exit_code == 0, result.output
    statuses = [match["status"] for line in result.stdout.splitlines() if (match := RECEIPT_LINE.match(line))]
    assert len(statuses) == 2 and set(statuses) <= {"pending", "anchored"}
    assert not list(tmp_path.glob("*.segell.json"))


def test_notarise_without_api_key_says_which_key_it_needs(runner: CliRunner, env, tmp_path: Path) -> None:
    (path,) = write_documents(tmp_path, 1)

    result = runner.invoke(app, ["notarise", str(path)], env={**env, "SEGELL_API_KEY": None})

    assert result.exit_code == 1
    assert "acts for an administration" in result.stderr
    assert "Traceback" not in result.output


def test_verify_offline_with_bundle_and_rpc_exits_0_when_authentic_1_when_tampered(
    segell_server: RunningServer, runner: CliRunner, env, tmp_path: Path
) -> None:
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=env).exit_code == 0
    bundle = path.with_name(path.name + ".segell.json")
    tampered = tmp_path / "tampered.txt"
    tampered.write_text(path.read_text() + "afegit\n")
    # Nothing but the node: no Segell URL, no key.
    offline = {"SEGELL_URL": f"http://127.0.0.1:{closed_port()}", "SEGELL_API_KEY": None, "SEGELL_RPC_URL": None}
    rpc = ["--rpc", f"{segell_server.url}/rpc"]

    authentic = runner.invoke(app, ["verify", str(path), "--bundle", str(bundle), *rpc], env=offline)
    wrong = runner.invoke(app, ["verify", str(tampered), "--bundle", str(bundle), *rpc], env=offline)

    assert authentic.exit_code == 0, authentic.output
    assert authentic.stdout.startswith("authentic: Authentic: notarised by Consell Comarcal de Prova")
    assert wrong.exit_code == 1, wrong.output
    assert wrong.stdout.startswith("wrong_document: This is not the document of the bundle")


def test_verify_with_server_when_no_bundle(runner: CliRunner, env, tmp_path: Path) -> None:
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=env).exit_code == 0
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("never notarised\n")
    public = {**env, "SEGELL_API_KEY": None}

    known = runner.invoke(app, ["verify", str(path)], env=public)
    missing = runner.invoke(app, ["verify", str(unknown)], env=public)

    assert known.exit_code == 0, known.output
    assert ": authentic" in known.stdout and "Consell Comarcal de Prova" in known.stdout
    assert missing.exit_code == 1
    assert ": unknown" in missing.stdout and "No administration has notarised this document." in missing.stdout


def test_verify_with_unreachable_rpc_fails_without_traceback(runner: CliRunner, env, tmp_path: Path) -> None:
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=env).exit_code == 0
    rpc = f"http://127.0.0.1:{closed_port()}"

    result = runner.invoke(app, ["verify", str(path), "--bundle", str(path) + ".segell.json", "--rpc", rpc], env=env)

    assert result.exit_code == 1
    assert f"Cannot reach the JSON-RPC endpoint {rpc}" in result.stderr
    assert "Traceback" not in result.output


def test_revoke_then_offline_verify_says_revoked_with_reason(
    segell_server: RunningServer, runner: CliRunner, env, tmp_path: Path
) -> None:
    (path,) = write_documents(tmp_path, 1)
    notarised = runner.invoke(app, ["notarise", str(path), "--wait", "--json"], env=env)
    document_id = json.loads(notarised.stdout)[0]["id"]

    revoked = runner.invoke(app, ["revoke", document_id, "--reason", "Emès per error"], env=env)
    verified = runner.invoke(
        app,
        ["verify", str(path), "--bundle", str(path) + ".segell.json", "--rpc", f"{segell_server.url}/rpc"],
        env=env,
    )

    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.startswith(f"Revoked {document_id}")
    assert "Emès per error" in revoked.stdout
    assert verified.exit_code == 1
    assert verified.stdout.startswith("revoked: ")
    assert "Emès per error" in verified.stdout


def test_revoke_unknown_document_fails_with_the_server_error(runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["revoke", secrets.token_hex(16), "--reason", "no"], env=env)

    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr
    assert "Traceback" not in result.output
