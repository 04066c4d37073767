"""The `segell` command line against a real Segell server (tests/conftest.py) and as a real process."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from segell.sdk import AuthenticationError, Client, SegellError
from segell.services.administrations.models import ApiKey
from segell.services.administrations.service import issue_key
from segell.services.cli import app
from segell.services.cli.common import command_line_message
from tests.helpers import RunningServer, closed_port, make_settings, runtime_of, serve

KEY_PATTERN = re.compile(r"sgl_\S+")


@pytest.fixture
def env(segell_server) -> dict[str, str | None]:
    """What an operator's shell holds after `segell up`: the URL and the server's SEGELL_HOME, no API key."""
    return {"SEGELL_URL": segell_server.url, "SEGELL_HOME": str(segell_server.home), "SEGELL_API_KEY": None}


def test_status_prints_chain_contracts_and_database(segell_server, runner: CliRunner, env) -> None:
    with Client(segell_server.url) as client:
        health = client.health()

    result = runner.invoke(app, ["status"], env=env)

    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout
    assert "embedded" in result.stdout
    assert re.search(rf"chain id\s+{health.chain.chain_id}\n", result.stdout)
    assert health.contracts.registry in result.stdout
    assert health.contracts.notary in result.stdout
    assert "sqlite" in result.stdout
    assert health.urls.docs in result.stdout


def test_status_json_is_the_health_report(segell_server, runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["status", "--json"], env=env)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "ok"
    assert report["chain"]["backend"] == "embedded"
    assert report["urls"]["api"] == segell_server.url


def test_status_exits_1_when_server_unreachable(runner: CliRunner) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = runner.invoke(app, ["--url", url, "status"])

    assert result.exit_code == 1
    assert f"Cannot reach the Segell server at {url}" in result.stderr
    assert "segell up" in result.stderr
    assert result.stdout == ""
    assert isinstance(result.exception, SystemExit)


def test_admin_add_prints_a_key_that_works(segell_server, runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["admin", "add", "Ajuntament de Reus", "--code", "L01431233"], env=env)

    assert result.exit_code == 0, result.output
    assert "Admitted L01431233" in result.stdout
    assert "cannot be shown again" in result.stdout
    keys = KEY_PATTERN.findall(result.stdout)
    assert len(keys) == 1
    with Client(segell_server.url, keys[0]) as client:
        identity = client.me()
    assert identity.role == "administration"
    assert identity.administration is not None and identity.administration.code == "L01431233"


def test_admin_add_json_includes_the_key(segell_server, runner: CliRunner, env) -> None:
    command = ["admin", "add", "Ajuntament de Vic", "--code", "L01082981", "--json"]
    result = runner.invoke(app, command, env=env)

    assert result.exit_code == 0, result.output
    admitted = json.loads(result.stdout)
    assert admitted["administration"]["code"] == "L01082981"
    with Client(segell_server.url, admitted["api_key"]["key"]) as client:
        assert client.me().key_id == admitted["api_key"]["id"]


def test_json_output_keeps_accented_names_readable(runner: CliRunner, env) -> None:
    command = ["admin", "add", "Ajuntament de Sant Cugat del Vallès", "--code", "L01251208", "--json"]
    result = runner.invoke(app, command, env=env)

    assert result.exit_code == 0, result.output
    assert '"name": "Ajuntament de Sant Cugat del Vallès"' in result.stdout


def test_admin_list_shows_admitted_administrations(runner: CliRunner, env) -> None:
    runner.invoke(app, ["admin", "add", "Ajuntament de Manresa", "--code", "L01081136"], env=env)

    table = runner.invoke(app, ["admin", "list"], env=env)
    listed = runner.invoke(app, ["admin", "list", "--json"], env=env)

    assert table.exit_code == 0, table.output
    assert "L01081136" in table.stdout
    assert "Ajuntament de Manresa" in table.stdout
    assert listed.exit_code == 0, listed.output
    by_code = {item["code"]: item for item in json.loads(listed.stdout)}
    assert by_code["L01081136"]["status"] == "active"


def test_admin_show_prints_registry_id_and_accounts(segell_server, runner: CliRunner, env) -> None:
    runner.invoke(app, ["admin", "add", "Ajuntament de Figueres", "--code", "L01170669"], env=env)
    with Client(segell_server.url, segell_server.governance_key) as client:
        administration = client.administrations.get("L01170669")

    shown = runner.invoke(app, ["admin", "show", "L01170669"], env=env)
    shown_json = runner.invoke(app, ["admin", "show", "L01170669", "--json"], env=env)

    assert shown.exit_code == 0, shown.output
    assert administration.registry_id in shown.stdout
    assert administration.accounts[0] in shown.stdout
    assert json.loads(shown_json.stdout)["registry_id"] == administration.registry_id


def test_admin_suspend_and_reinstate(segell_server, runner: CliRunner, env) -> None:
    runner.invoke(app, ["admin", "add", "Ajuntament de Blanes", "--code", "L01170235"], env=env)

    suspended = runner.invoke(app, ["admin", "suspend", "L01170235"], env=env)
    with Client(segell_server.url, segell_server.governance_key) as client:
        status_after_suspend = client.administrations.get("L01170235").status
    reinstated = runner.invoke(app, ["admin", "reinstate", "L01170235"], env=env)

    assert suspended.exit_code == 0, suspended.output
    assert "L01170235 is now suspended" in suspended.stdout
    assert status_after_suspend == "suspended"
    assert reinstated.exit_code == 0, reinstated.output
    assert "L01170235 is now active" in reinstated.stdout


def test_admin_key_issue_list_revoke(segell_server, runner: CliRunner, env) -> None:
    runner.invoke(app, ["admin", "add", "Ajuntament d'Olot", "--code", "L01171143"], env=env)

    issued = runner.invoke(app, ["admin", "key", "issue", "L01171143", "--json"], env=env)
    key = json.loads(issued.stdout)
    listed = runner.invoke(app, ["admin", "key", "list", "L01171143"], env=env)
    revoked = runner.invoke(app, ["admin", "key", "revoke", "L01171143", key["id"]], env=env)
    listed_after = runner.invoke(app, ["admin", "key", "list", "L01171143", "--json"], env=env)

    assert issued.exit_code == 0, issued.output
    assert listed.exit_code == 0, listed.output
    assert key["id"] in listed.stdout
    assert key["key"] not in listed.stdout
    assert revoked.exit_code == 0, revoked.output
    assert f"Revoked key {key['id']}" in revoked.stdout
    revoked_at = {item["id"]: item["revoked_at"] for item in json.loads(listed_after.stdout)}
    assert revoked_at[key["id"]] is not None
    with Client(segell_server.url, key["key"]) as client, pytest.raises(SegellError):
        client.me()


@pytest.fixture(scope="module")
def module_own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own, for commands that change the governance key the module's other tests use."""
    yield from serve(make_settings(tmp_path_factory.mktemp("own-home")))


@pytest.fixture
def own_server(module_own_server: RunningServer) -> RunningServer:
    """That server with a single governance key, issued for this test and written to its home as at a first start:
    the keys earlier tests rotated or revoked are gone from the database."""
    with runtime_of(module_own_server).transaction() as session:
        session.execute(delete(ApiKey).where(ApiKey.role == "governance"))
        key = issue_key(session, None).secret
    module_own_server.settings.governance_key_path.write_text(key + "\n")
    return replace(module_own_server, governance_key=key)


def test_admin_keys_rotate_writes_the_new_key_to_the_home(own_server, runner: CliRunner) -> None:
    env = {"SEGELL_URL": own_server.url, "SEGELL_HOME": str(own_server.home), "SEGELL_API_KEY": None}
    old = own_server.governance_key

    rotated = runner.invoke(app, ["admin", "keys", "rotate"], env=env)
    listed = runner.invoke(app, ["admin", "keys", "list", "--json"], env=env)

    assert rotated.exit_code == 0, rotated.output
    printed = KEY_PATTERN.findall(rotated.stdout)
    assert len(printed) == 1 and printed[0] != old
    assert (own_server.home / "governance.key").read_text() == printed[0] + "\n"
    assert f"Key {old.split('_')[1]} is revoked" in rotated.stdout
    revoked = {item["id"]: item["revoked_at"] is not None for item in json.loads(listed.stdout)}
    assert revoked == {old.split("_")[1]: True, printed[0].split("_")[1]: False}
    with Client(own_server.url, old) as client, pytest.raises(AuthenticationError):
        client.me()


def test_admin_keys_rotate_with_api_key_leaves_the_home_alone(own_server, runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    home.mkdir()
    (home / "governance.key").write_text("sgl_0123456789ab_another\n")
    env = {"SEGELL_URL": own_server.url, "SEGELL_HOME": str(home), "SEGELL_API_KEY": own_server.governance_key}

    rotated = runner.invoke(app, ["admin", "keys", "rotate", "--json"], env=env)

    assert rotated.exit_code == 0, rotated.output
    issued = json.loads(rotated.stdout)
    assert (home / "governance.key").read_text() == "sgl_0123456789ab_another\n"
    assert (own_server.home / "governance.key").read_text().strip() == own_server.governance_key
    with Client(own_server.url, issued["key"]) as client:
        assert client.me().role == "governance"


def test_admin_keys_revoke_last_key_exits_1_and_says_why(own_server, runner: CliRunner) -> None:
    env = {"SEGELL_URL": own_server.url, "SEGELL_HOME": str(own_server.home), "SEGELL_API_KEY": None}
    key_id = own_server.governance_key.split("_")[1]

    result = runner.invoke(app, ["admin", "keys", "revoke", key_id], env=env)

    assert result.exit_code == 1
    assert "last active governance key" in result.stderr
    assert "HTTP 409, last_governance_key" in result.stderr
    with Client(own_server.url, own_server.governance_key) as client:
        assert client.me().role == "governance"


def test_admin_without_governance_key_says_where_to_get_one(runner: CliRunner, env, tmp_path: Path) -> None:
    result = runner.invoke(app, ["admin", "list"], env={**env, "SEGELL_HOME": str(tmp_path)})

    assert result.exit_code == 1
    assert str(tmp_path / "governance.key") in result.stderr
    assert "--api-key" in result.stderr and "SEGELL_API_KEY" in result.stderr
    assert result.stdout == ""


def test_admin_with_unknown_api_key_names_where_the_key_came_from(runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["--api-key", "sgl_unknown_notasecret", "admin", "list"], env=env)

    assert result.exit_code == 1
    assert "HTTP 401" in result.stderr
    assert "--api-key / SEGELL_API_KEY" in result.stderr


def test_admin_add_duplicate_code_prints_the_server_message(runner: CliRunner, env) -> None:
    first = runner.invoke(app, ["admin", "add", "Ajuntament de Berga", "--code", "L01080223"], env=env)
    second = runner.invoke(app, ["admin", "add", "Ajuntament de Berga", "--code", "L01080223"], env=env)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 1
    assert "HTTP 409" in second.stderr
    assert "Traceback" not in second.output


def test_admin_add_invalid_code_prints_the_validation_details(runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["admin", "add", "Ajuntament", "--code", "not a code!"], env=env)

    assert result.exit_code == 1
    assert "HTTP 422" in result.stderr
    assert "code" in result.stderr


def test_admin_show_unknown_code_exits_1_and_names_the_command_that_lists_them(runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["admin", "show", "L09999999"], env=env)

    assert result.exit_code == 1
    assert "L09999999" in result.stderr
    assert "HTTP 404" in result.stderr
    assert "`segell admin list` lists them" in result.stderr
    assert "/v1/" not in result.stderr


def test_piped_tables_keep_every_value_whole(runner: CliRunner, env) -> None:
    # A name far wider than any terminal, listed with a narrow terminal width: piped output is never wrapped or cut.
    name = "Consorci " + " ".join(["Administració Oberta de Catalunya i dels seus Ens Locals Associats"] * 2)
    added = runner.invoke(app, ["admin", "add", name, "--code", "L01171234", "--json"], env=env)
    assert added.exit_code == 0, added.output
    key_id = json.loads(added.stdout)["api_key"]["id"]

    listed = runner.invoke(app, ["admin", "list"], env={**env, "COLUMNS": "40"})
    keys = runner.invoke(app, ["admin", "key", "list", "L01171234"], env={**env, "COLUMNS": "40"})

    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "L01171234" in line)
    assert name in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00", row)
    assert "…" not in listed.stdout
    assert keys.exit_code == 0, keys.output
    assert any(key_id in line and f"sgl_{key_id}_" in line for line in keys.stdout.splitlines())


def test_default_url_follows_segell_port(segell_server, runner: CliRunner, env) -> None:
    port = segell_server.url.rsplit(":", 1)[1]

    followed = runner.invoke(app, ["status"], env={**env, "SEGELL_URL": None, "SEGELL_PORT": port})
    refused = runner.invoke(app, ["status"], env={**env, "SEGELL_URL": None, "SEGELL_PORT": "eighty"})

    assert followed.exit_code == 0, followed.output
    assert f"at http://127.0.0.1:{port}: ok" in followed.stdout
    assert refused.exit_code == 2
    assert "'eighty' is not a port number" in refused.stderr


def test_up_help_documents_the_port_and_where_the_commands_look(runner: CliRunner) -> None:
    up = runner.invoke(app, ["up", "--help"], env={"COLUMNS": "200"})
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})

    assert "--port" in up.stdout and "env var: SEGELL_PORT" in up.stdout
    assert "http://127.0.0.1:$SEGELL_PORT unless --url or SEGELL_URL says otherwise" in up.stdout
    assert "by default http://127.0.0.1:$SEGELL_PORT" in top.stdout


def test_usage_error_exits_2(runner: CliRunner) -> None:
    missing_code = runner.invoke(app, ["admin", "add", "Ajuntament de Sort"])
    bad_chain = runner.invoke(app, ["up", "--chain", "ganache"])

    assert missing_code.exit_code == 2
    assert "--code" in missing_code.stderr
    assert bad_chain.exit_code == 2
    assert "ganache" in bad_chain.stderr


def test_malformed_url_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--url", "http://[::1", "status"])

    assert result.exit_code == 2
    assert "Invalid Segell base URL" in result.stderr


def test_empty_code_is_a_usage_error(runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["admin", "show", ""], env=env)

    assert result.exit_code == 2
    assert "must not be empty" in result.stderr


def test_cli_process_reports_unreachable_server_without_traceback() -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    completed = subprocess.run(
        [sys.executable, "-m", "segell.services.cli", "--url", url, "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SEGELL_URL": ""},
    )

    assert completed.returncode == 1
    assert "Cannot reach the Segell server" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.slow
@pytest.mark.parametrize("configured_by", ["options", "environment"])
def test_up_serves_the_api_on_the_chosen_port_and_writes_the_governance_key(tmp_path: Path, configured_by: str) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    # The environment is how docker-compose.yml configures `segell up`; options win over it.
    options = ["--chain", "embedded", "--port", str(port)] if configured_by == "options" else []
    environment = {"SEGELL_CHAIN": "embedded", "SEGELL_PORT": str(port)} if configured_by == "environment" else {}
    process = subprocess.Popen(
        [sys.executable, "-m", "segell.services.cli", "up", *options],
        env={**os.environ, "SEGELL_HOME": str(tmp_path / "home"), **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = None
        deadline = time.monotonic() + 120
        while health is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with Client(url, timeout=2) as client:
                    health = client.health()
            except SegellError:
                time.sleep(0.25)
        assert health is not None, "segell up did not start serving"
        assert health.chain.backend == "embedded"
        assert health.urls.api == url

        key_path = tmp_path / "home" / "governance.key"
        assert key_path.stat().st_mode & 0o777 == 0o600
        with Client(url, key_path.read_text().strip()) as client:
            assert client.me().role == "governance"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output
    assert url in output  # the server announces where it listens


def test_help_starts_with_running_segell_and_groups_the_rest(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})

    assert result.exit_code == 0, result.output
    panels = re.findall(r"╭─ (\w+) ", result.stdout)
    assert panels == ["Options", "Commands", "Documents", "Consortium", "Identity", "Sandboxes"]
    commands = result.stdout.split("╭─ Commands ")[1].split("╰")[0]
    assert re.findall(r"│ (\w+) ", commands) == ["up", "worker", "status"]


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("No sandbox 'x'. GET /v1/sandboxes lists yours.", "No sandbox 'x'. `segell sandbox list` lists yours."),
        (
            "Sandbox sbx_1 has no snapshot 'y'. GET /v1/sandboxes/sbx_1/snapshots lists them.",
            "Sandbox sbx_1 has no snapshot 'y'. `segell sandbox show sbx_1` lists them.",
        ),
        (
            "Sandbox sbx_1 has no contract at 0xAB deployed through this API; GET /v1/sandboxes/sbx_1/contracts lists"
            " those there are.",
            "Sandbox sbx_1 has no contract at 0xAB deployed through this API; `segell contract list --sandbox sbx_1`"
            " lists those there are.",
        ),
        (
            "Create another with POST /v1/sandboxes (extend a sandbox's time to live before it ends with"
            " POST /v1/sandboxes/{id}/extend).",
            "Create another with `segell sandbox create NAME` (extend a sandbox's time to live before it ends with"
            " `segell sandbox extend ID SECONDS`).",
        ),
        ("Delete one (DELETE /v1/sandboxes/{id}) or wait.", "Delete one (`segell sandbox delete ID`) or wait."),
        (
            "Register one deployed elsewhere with POST /v1/sandboxes/sbx_1/contracts/0xAB12/register and its sources.",
            "Register one deployed elsewhere with `segell contract register 0xAB12 FILE.sol... --sandbox sbx_1` and its"
            " sources.",
        ),
        # A route that names more than one with no command is left whole, not cut at the one it starts with.
        ("See GET /v1/documents/bundles.", "See GET /v1/documents/bundles."),
        ("`GET /v1/administrations` lists them.", "`segell admin list` lists them."),
        (
            "Issue one with POST /v1/certificates (profile seal), then sign.",
            "Issue one with `segell cert issue --profile seal`, then sign.",
        ),
        ("Ask for a new one with POST /v1/auth/otp.", "Ask for a new one with `segell otp send PHONE`."),
        (
            "Send the token `POST /v1/auth/otp/verify` returned.",
            "Send the token `segell otp verify PHONE CODE` returned.",
        ),
        # No command logs a citizen in with an authenticator: the route stays.
        ("Log in with it (POST /v1/auth/totp/verify).", "Log in with it (POST /v1/auth/totp/verify)."),
        (
            "No route /v1/nothing/here; /docs lists them.",
            "Not found: http://127.0.0.1:8000 has no /v1/nothing/here. Check the values you gave, and that --url /"
            " SEGELL_URL is Segell's API.",
        ),
    ],
)
def test_api_messages_name_commands_instead_of_routes(said: str, meant: str) -> None:
    assert command_line_message(said, "http://127.0.0.1:8000") == meant
