"""`segell notarise`, `segell verify` and `segell revoke` against a real Segell server (tests/conftest.py)."""

import json
import os
import re
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segell.sdk import Client, Receipt, verify_bundle
from segell.services.cli import app
from segell.services.cli.documents import bundle_file_name, unique_name
from tests.helpers import RunningServer, closed_port

RECEIPT_LINE = re.compile(
    r"(?P<file>\S+)  id (?P<id>[0-9a-f]{32})  code (?P<code>[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}-\S)  (?P<status>\w+)"
)


@pytest.fixture(scope="module")
def administration_key(segell_server: RunningServer) -> str:
    with Client(segell_server.url, segell_server.governance_key) as governance:
        admitted = governance.administrations.admit(f"C{secrets.token_hex(4).upper()}", "Consell Comarcal de Prova")
    return admitted.api_key.key


@pytest.fixture
def trust_store(tmp_path: Path) -> Path:
    """Each test's own trust store: `segell trust` never writes to the user's configuration."""
    return tmp_path / "config" / "trust.json"


@pytest.fixture
def env(segell_server: RunningServer, administration_key: str, trust_store: Path) -> dict[str, str | None]:
    return {
        "SEGELL_URL": segell_server.url,
        "SEGELL_API_KEY": administration_key,
        "SEGELL_RPC_URL": None,
        "SEGELL_TRUST_STORE": str(trust_store),
        "SEGELL_TRUSTED_NOTARIES": None,
    }


@pytest.fixture
def pinned(segell_server: RunningServer, runner: CliRunner, env: dict[str, str | None]) -> dict[str, str | None]:
    """The environment of a user who pinned the server's deployment with `segell trust add URL`."""
    result = runner.invoke(app, ["trust", "add", segell_server.url], env=env)
    assert result.exit_code == 0, result.output
    return env


def write_documents(directory: Path, count: int) -> list[Path]:
    paths = []
    for number in range(count):
        path = directory / f"certificat-{number}.txt"
        path.write_text(f"Certificat {number} {secrets.token_hex(8)}\n")
        paths.append(path)
    return paths


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
        with Client(segell_server.url) as anonymous:
            trusted = [anonymous.deployment().trusted_notary]
        assert verify_bundle(bundle, path, f"{segell_server.url}/rpc", trusted_notaries=trusted).status == "authentic"


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
        matches = [citizen.documents.verify(path=path).matches[0] for path in paths]
    assert [(m.status, m.kind) for m in matches] == [("authentic", "certificat")] * count


def test_notarise_with_public_copy_then_anyone_downloads_it_by_code(runner: CliRunner, env, tmp_path: Path) -> None:
    # A name no file should carry: the bundle written next to it is named safely.
    path = tmp_path / "acta$1.txt"
    path.write_text(f"Acta {secrets.token_hex(8)}\n")
    notarised = runner.invoke(app, ["notarise", str(path), "--public-copy", "--wait", "--json"], env=env)
    assert notarised.exit_code == 0, notarised.output
    (result,) = json.loads(notarised.stdout)
    assert result["public_copy"] is True
    assert result["bundle"] == str(tmp_path / "acta-1.txt.segell.json") and Path(result["bundle"]).is_file()

    target = tmp_path / "downloads"
    target.mkdir()
    fetched = runner.invoke(
        app, ["download", result["verification_code"].lower(), "-o", str(target)], env={**env, "SEGELL_API_KEY": None}
    )
    assert fetched.exit_code == 0, fetched.output
    (saved,) = target.iterdir()
    assert saved.name == "acta-1.txt" and saved.read_bytes() == path.read_bytes()
    assert f"Saved {saved}" in fetched.stdout.replace("\n", "")


def test_download_of_a_document_without_a_copy_says_so(runner: CliRunner, env, tmp_path: Path) -> None:
    (path,) = write_documents(tmp_path, 1)
    notarised = runner.invoke(app, ["notarise", str(path), "--json"], env=env)
    code = json.loads(notarised.stdout)[0]["verification_code"]
    result = runner.invoke(
        app, ["download", code, "-o", str(tmp_path / "copy.txt")], env={**env, "SEGELL_API_KEY": None}
    )
    assert result.exit_code == 1
    assert "kept no copy" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "copy.txt").exists()


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
    segell_server: RunningServer, runner: CliRunner, pinned, tmp_path: Path
) -> None:
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=pinned).exit_code == 0
    bundle = path.with_name(path.name + ".segell.json")
    tampered = tmp_path / "tampered.txt"
    tampered.write_text(path.read_text() + "afegit\n")
    # Nothing but the node and the pinned deployment: no Segell URL, no key.
    offline = {**pinned, "SEGELL_URL": f"http://127.0.0.1:{closed_port()}", "SEGELL_API_KEY": None}
    rpc = ["--rpc", f"{segell_server.url}/rpc"]

    authentic = runner.invoke(app, ["verify", str(path), "--bundle", str(bundle), *rpc], env=offline)
    wrong = runner.invoke(app, ["verify", str(tampered), "--bundle", str(bundle), *rpc], env=offline)

    assert authentic.exit_code == 0, authentic.output
    assert authentic.stdout.startswith("authentic: Authentic: notarised by Consell Comarcal de Prova")
    assert "(trusted: Segell sandbox)" in authentic.stdout
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


def test_verify_with_unreachable_rpc_fails_without_traceback(runner: CliRunner, pinned, tmp_path: Path) -> None:
    env = pinned
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=env).exit_code == 0
    rpc = f"http://127.0.0.1:{closed_port()}"

    result = runner.invoke(app, ["verify", str(path), "--bundle", str(path) + ".segell.json", "--rpc", rpc], env=env)

    assert result.exit_code == 1
    assert f"Cannot reach the JSON-RPC endpoint {rpc}" in result.stderr
    assert "Traceback" not in result.output


def test_revoke_then_offline_verify_says_revoked_with_reason(
    segell_server: RunningServer, runner: CliRunner, pinned, tmp_path: Path
) -> None:
    env = pinned
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


@pytest.mark.parametrize("document_id", ["nonexistent", "0123"])
def test_revoke_of_a_malformed_id_says_no_such_document(runner: CliRunner, env, document_id: str) -> None:
    result = runner.invoke(app, ["revoke", document_id, "--reason", "no"], env=env)

    assert result.exit_code == 1
    assert f"No document {document_id!r} was found" in result.stderr
    assert "`segell notarise`" in result.stderr
    assert "No route" not in result.stderr and "/docs" not in result.stderr


def test_trust_add_pins_the_deployment_then_list_and_remove(
    segell_server: RunningServer, runner: CliRunner, env, trust_store: Path
) -> None:
    with Client(segell_server.url) as anonymous:
        health = anonymous.health()

    added = runner.invoke(app, ["trust", "add", segell_server.url + "/"], env=env)
    again = runner.invoke(app, ["trust", "add", segell_server.url, "--json"], env=env)
    listed = runner.invoke(app, ["trust", "list", "--json"], env=env)
    shown = runner.invoke(app, ["trust", "list"], env=env)
    removed = runner.invoke(app, ["trust", "remove", f"{health.chain.chain_id}:{health.contracts.notary}"], env=env)
    gone = runner.invoke(app, ["trust", "remove", health.contracts.notary], env=env)
    empty = runner.invoke(app, ["trust", "list"], env=env)

    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("Pinned Segell sandbox.")
    assert f"notary    {health.contracts.notary.lower()}" in added.stdout
    assert f"Stored in {trust_store}." in added.stdout
    assert again.exit_code == 0 and json.loads(again.stdout)["url"] == segell_server.url
    (entry,) = json.loads(listed.stdout)
    assert entry["chain_id"] == health.chain.chain_id
    assert entry["notary"] == health.contracts.notary.lower()
    assert entry["registry"] == health.contracts.registry.lower()
    assert entry["deployment_block"] == health.contracts.deployed_at_block
    assert entry["name"] == "Segell sandbox"
    assert "Segell sandbox" in shown.stdout and segell_server.url in shown.stdout
    assert json.loads(trust_store.read_text())["format"] == "segell-trust-store"
    assert removed.exit_code == 0 and removed.stdout.startswith("Removed Segell sandbox: notary")
    assert gone.exit_code == 1 and "No pinned deployment has the Notary" in gone.stderr
    assert empty.stdout.startswith("No deployment is pinned in") and "segell trust add URL" in empty.stdout


def test_trust_add_of_a_server_that_is_not_segell_fails_with_a_message(
    runner: CliRunner, env, trust_store: Path
) -> None:
    result = runner.invoke(app, ["trust", "add", f"http://127.0.0.1:{closed_port()}"], env=env)

    assert result.exit_code == 1
    assert "Cannot reach the Segell server" in result.stderr
    assert not trust_store.exists()


def test_damaged_trust_store_fails_with_what_to_do(runner: CliRunner, env, trust_store: Path, tmp_path: Path) -> None:
    trust_store.parent.mkdir(parents=True)
    trust_store.write_text('{"format": "segell-trust-store", "version": 1, "deployments": [{"name": 1}]}')
    (path,) = write_documents(tmp_path, 1)
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{}")

    listed = runner.invoke(app, ["trust", "list"], env=env)
    verified = runner.invoke(app, ["verify", str(path), "--bundle", str(bundle)], env=env)

    for result in (listed, verified):
        assert result.exit_code == 1
        assert f"The trust store {trust_store} is damaged" in result.stderr
        assert "segell trust add URL" in result.stderr


def test_verify_bundle_without_trust_anchor_is_untrusted_contract_until_one_is_given(
    segell_server: RunningServer, runner: CliRunner, env, tmp_path: Path
) -> None:
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=env).exit_code == 0
    bundle_path = path.with_name(path.name + ".segell.json")
    chain = json.loads(bundle_path.read_text())["chain"]
    command = ["verify", str(path), "--bundle", str(bundle_path)]
    pin = f"{chain['chain_id']}:{chain['contract']}"

    untrusted = runner.invoke(app, command, env=env)
    by_option = runner.invoke(app, [*command, "--notary", "0x" + "1" * 40, "--notary", pin], env=env)
    by_variable = runner.invoke(
        app, [*command, "--json"], env={**env, "SEGELL_TRUSTED_NOTARIES": f"0x{'2' * 40}, {pin}"}
    )
    other_only = runner.invoke(app, [*command, "--notary", "0x" + "1" * 40], env=env)
    not_a_notary = runner.invoke(app, [*command, "--notary", "segell.example"], env=env)

    assert untrusted.exit_code == 1
    assert untrusted.stdout.startswith(f"untrusted_contract: The bundle names the contract {chain['contract']}")
    assert "segell trust add URL-OF-ITS-SEGELL" in untrusted.stdout and "(not trusted)" in untrusted.stdout
    assert by_option.exit_code == 0, by_option.output
    assert by_option.stdout.startswith("authentic: Authentic: notarised by Consell Comarcal de Prova")
    assert "(trusted: --notary)" in by_option.stdout
    assert by_variable.exit_code == 0, by_variable.output
    answer = json.loads(by_variable.stdout)
    assert answer["status"] == "authentic" and answer["issuer"]["status"] == "active"
    assert answer["trusted_notary"] == {
        "address": chain["contract"].lower(),
        "chain_id": chain["chain_id"],
        "registry": None,
        "name": None,
    }
    assert (
        other_only.exit_code == 1 and "you trust only 0x1111111111111111111111111111111111111111" in other_only.stdout
    )
    assert not_a_notary.exit_code == 2 and "CHAIN_ID:ADDRESS" in not_a_notary.output


def test_verify_bundle_with_another_issuer_written_in_is_issuer_mismatch(
    segell_server: RunningServer, runner: CliRunner, pinned, tmp_path: Path
) -> None:
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=pinned).exit_code == 0
    bundle_path = path.with_name(path.name + ".segell.json")
    bundle = json.loads(bundle_path.read_text())
    other = f"L{secrets.randbelow(10**8):08d}"
    segell_server.admit(other, "Ajuntament de Figueres")
    bundle["issuer"].update(code=other, name="Ajuntament de Figueres")
    bundle_path.write_text(json.dumps(bundle))

    result = runner.invoke(app, ["verify", str(path), "--bundle", str(bundle_path)], env=pinned)

    assert result.exit_code == 1
    assert result.stdout.startswith(f"issuer_mismatch: The bundle's issuer.code is '{other}'")
    assert "notarised by" not in result.stdout
    assert "Ajuntament de Figueres (" in result.stdout and "(as the bundle says, unchecked)" in result.stdout


def test_verify_malformed_bundles_exits_1_with_the_reason_and_no_traceback(
    runner: CliRunner, pinned, tmp_path: Path
) -> None:
    (path,) = write_documents(tmp_path, 1)
    assert runner.invoke(app, ["notarise", str(path), "--wait"], env=pinned).exit_code == 0
    text = (path.parent / (path.name + ".segell.json")).read_text()
    bundle = json.loads(text)
    hostile = {
        "nested too deeply": text.replace('"version": 1', '"version": ' + "[" * 200_000 + "]" * 200_000).encode(),
        "chain.timestamp is an integer of": json.dumps({**bundle, "chain": {**bundle["chain"], "timestamp": 10**300}}),
        "leaf_encoding is 4, not": json.dumps({**bundle, "leaf_encoding": 4}),
        "tree_size is 18446744073709551616": json.dumps({**bundle, "tree_size": 2**64}),
        "not UTF-8 text": text.encode("utf-16"),
    }

    for number, (words, content) in enumerate(hostile.items()):
        bundle_path = tmp_path / f"hostile-{number}.segell.json"
        bundle_path.write_bytes(content if isinstance(content, bytes) else content.encode())
        result = runner.invoke(app, ["verify", str(path), "--bundle", str(bundle_path)], env=pinned)

        assert result.exit_code == 1, (words, result.output)
        assert isinstance(result.exception, SystemExit), (words, result.exception)
        assert result.stdout.startswith("malformed_bundle: The bundle is malformed: "), result.stdout
        assert words in result.stdout
        assert "Traceback" not in result.output


# -- segell documents list, segell documents bundles ------------------------------------------------

TABLE_ROW = re.compile(r"(?P<id>[0-9a-f]{32})\s+(?P<code>[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}-\S)\s+(?P<status>\w+)")
SAFE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*--[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}(?:-\d+)?\.segell\.json")


def notarised(segell_server: RunningServer, key: str, count: int, kind: str, **fields) -> list[Receipt]:  # type: ignore[no-untyped-def]
    with Client(segell_server.url, key) as client:
        return [client.documents.notarise(secrets.token_hex(32), kind=kind, **fields) for _ in range(count)]


def test_documents_list_prints_a_page_then_every_page_with_all(
    segell_server: RunningServer, administration_key: str, runner: CliRunner, env
) -> None:
    env = {**env, "COLUMNS": "200"}  # a terminal wide enough for every column
    kind = f"k{secrets.token_hex(6)}"
    receipts = notarised(segell_server, administration_key, 3, kind, title="Decret d'alcaldia")
    newest_first = [r.id for r in sorted(receipts, key=lambda r: (r.created_at, r.id), reverse=True)]

    first = runner.invoke(app, ["documents", "list", "--kind", kind, "--limit", "2"], env=env)
    cursor = re.search(r"--cursor (\S+)", first.stderr)
    assert cursor, first.output
    second = runner.invoke(app, ["documents", "list", "--kind", kind, "--limit", "2", "--cursor", cursor[1]], env=env)
    every = runner.invoke(app, ["documents", "list", "--kind", kind, "--limit", "1", "--all", "--json"], env=env)

    assert first.exit_code == second.exit_code == every.exit_code == 0, first.output + second.output + every.output
    rows = [match["id"] for match in TABLE_ROW.finditer(first.stdout + second.stdout)]
    assert rows == newest_first
    assert "Decret d'alcaldia" in first.stdout and kind in first.stdout
    assert "--cursor" not in second.stderr
    listed = json.loads(every.stdout)
    assert [item["id"] for item in listed["items"]] == newest_first and listed["next_cursor"] is None
    assert (
        listed["items"][0]["verification_code"]
        == next(r for r in receipts if r.id == newest_first[0]).verification_code
    )


def test_documents_list_with_a_bad_date_says_what_a_date_looks_like(runner: CliRunner, env) -> None:
    result = runner.invoke(app, ["documents", "list", "--since", "1/3/2026"], env=env)

    assert result.exit_code == 1
    assert "2026-03-01T09:30:00Z" in result.stderr and "HTTP 422" in result.stderr
    assert "Traceback" not in result.output


def test_documents_bundles_writes_one_safe_file_per_document(
    segell_server: RunningServer, administration_key: str, runner: CliRunner, env, tmp_path: Path
) -> None:
    kind = f"k{secrets.token_hex(6)}"
    titles = ["../../fora", "..", "Acta del Ple núm. 3/2026", "C:\\Windows\\system32", "CON", "   .ocult"]
    receipts = [notarised(segell_server, administration_key, 1, kind, title=title)[0] for title in titles]
    with Client(segell_server.url, administration_key) as client:
        expected = client.documents.wait_for_bundles([r.id for r in receipts], timeout=60)
    out = tmp_path / "export"
    out.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n")
    # A link where a bundle goes is replaced, never followed.
    (out / f"acta-del-ple-num-3-2026--{receipts[2].verification_code[:19]}.segell.json").symlink_to(outside)

    previous = os.umask(0o022)  # a user's usual umask (the server in this process set its own)
    try:
        result = runner.invoke(app, ["documents", "bundles", "--kind", kind, "--out", str(out), "--json"], env=env)
    finally:
        os.umask(previous)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pending"] == 0
    files = sorted(out.iterdir())
    assert len(files) == len(titles) == len(report["written"])
    assert all(SAFE_NAME.fullmatch(path.name) and not path.is_symlink() for path in files), [p.name for p in files]
    assert {path.stat().st_mode & 0o777 for path in files} == {0o644}  # for handing out, as any new file
    by_id = {bundle["receipt"]["id"]: bundle for bundle in expected}
    for written in report["written"]:
        path = Path(written["file"])
        assert path.parent == out
        assert json.loads(path.read_text()) == by_id[written["id"]]
        assert written["verification_code"][:19] in path.name
    assert outside.read_text() == "untouched\n"
    names = {Path(w["file"]).name.split("--")[0] for w in report["written"]}
    # A title with nothing readable in it gives way to the kind.
    assert names == {"fora", kind, "acta-del-ple-num-3-2026", "c-windows-system32", "con", "ocult"}


@pytest.mark.parametrize(
    ("bundle", "name"),
    [
        (
            {"receipt": {"title": "../../../etc/passwd", "verification_code": "7GQK-2M4B-XW9D-1RTC-*"}},
            "etc-passwd--7GQK-2M4B-XW9D-1RTC.segell.json",
        ),
        (
            {"receipt": {"title": "\u202egpj.exe", "kind": None, "verification_code": "../../x", "id": "../ab/CD"}},
            "gpj-exe--abcd.segell.json",
        ),
        (
            {"receipt": {"title": "..", "kind": "../..", "verification_code": None, "id": None}},
            "document--unnamed.segell.json",
        ),
        ({"receipt": "not an object"}, "document--unnamed.segell.json"),
        (
            {"receipt": {"title": "x" * 500, "verification_code": "7gqk 2m4b xw9d 1rtc k"}},
            "x" * 60 + "--7GQK-2M4B-XW9D-1RTC.segell.json",
        ),
    ],
    ids=["traversal", "bidi-and-bad-code", "dots-only", "no-receipt", "long-title"],
)
def test_bundle_file_names_are_safe_whatever_a_bundle_says(bundle: dict, name: str) -> None:
    assert bundle_file_name(bundle) == name


def test_bundle_names_taken_in_one_export_get_a_number() -> None:
    taken: set[str] = set()

    names = [unique_name("acta--7GQK-2M4B-XW9D-1RTC.segell.json", taken) for _ in range(3)]

    assert names == [
        "acta--7GQK-2M4B-XW9D-1RTC.segell.json",
        "acta--7GQK-2M4B-XW9D-1RTC-2.segell.json",
        "acta--7GQK-2M4B-XW9D-1RTC-3.segell.json",
    ]
