"""The documentation's snippets run as written: the shell blocks of README.md and docs/*.md marked with
`<!-- runs in tests/test_docs.py -->` (each file's in order, in one bash, from a folder laid out as the checkout), and
the JavaScript check of docs/proof-bundle.md, with Node, against real proof bundles of a real server.

What a reader would put in themselves is put in by the test: the files the snippets name (report.pdf, acta.pdf and
its bundle), the server's address in place of http://127.0.0.1:8000 and https://segell.example (the server listens
on a free port), and the API key an earlier snippet printed in place of `sgl_...`. A line commented
`# must be equal` prints two values that must be equal (case aside).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segell.services.cli import app
from tests.helpers import RunningServer

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- runs in tests/test_docs.py -->"
FENCE = re.compile(r"^(?P<indent> *)```(?P<language>\w*)\s*$")
MUST_BE_EQUAL = "# must be equal"
BLOCK_SEPARATOR = "--- snippet"
LAST_PRINTED_KEY = '"$(grep -o "sgl_[A-Za-z0-9_-]*" "$DOCS_OUTPUT" | tail -n 1)"'
RUN_TIMEOUT_S = 300
# An anchored document's bundle to check by hand, with two more in its batch so that its proof is not empty.
BATCH = ("acta.pdf", "annex-1.pdf", "annex-2.pdf")


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    language: str
    text: str


def marked_snippets(path: Path) -> list[Snippet]:
    lines = path.read_text(encoding="utf-8").splitlines()
    snippets = []
    index = 0
    while index < len(lines):
        if lines[index].strip() == MARK:
            fence = FENCE.match(lines[index + 1]) if index + 1 < len(lines) else None
            assert fence, f"{path.name}:{index + 1}: {MARK} must stand right above a fenced block"
            indent, body = len(fence["indent"]), []
            index += 2
            while lines[index].strip() != "```":
                body.append(lines[index][indent:])
                index += 1
            snippets.append(Snippet(path, index - len(body), fence["language"], "\n".join(body) + "\n"))
        index += 1
    return snippets


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_DOCUMENTS = [path for path in DOCUMENTS if any(s.language == "sh" for s in marked_snippets(path))]


def test_marked_snippets_are_shell_or_javascript_and_cover_the_readme_and_the_bundle_checks() -> None:
    snippets = [snippet for path in DOCUMENTS for snippet in marked_snippets(path)]
    assert {snippet.language for snippet in snippets} == {"sh", "js"}
    marked = {(snippet.path.relative_to(ROOT).as_posix(), snippet.language) for snippet in snippets}
    assert {("README.md", "sh"), ("docs/proof-bundle.md", "sh"), ("docs/proof-bundle.md", "js")} <= marked


@pytest.fixture(scope="module")
def administration_key(segell_server: RunningServer) -> str:
    return segell_server.admit(name="Ajuntament de Lleida")


@pytest.fixture(scope="module")
def anchored_batch(
    segell_server: RunningServer, administration_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A folder with the documents of BATCH, notarised in one batch, and each one's proof bundle beside it."""
    folder = tmp_path_factory.mktemp("batch")
    for number, name in enumerate(BATCH):
        (folder / name).write_bytes(f"%PDF-1.4\n% {name}, document {number} of the batch\n".encode())
    env = {"SEGELL_URL": segell_server.url, "SEGELL_API_KEY": administration_key, "SEGELL_HOME": None}
    notarised = CliRunner().invoke(app, ["notarise", *(str(folder / name) for name in BATCH), "--wait"], env=env)
    assert notarised.exit_code == 0, notarised.output
    bundle = json.loads((folder / "acta.pdf.segell.json").read_text())
    assert bundle["tree_size"] == len(BATCH) and bundle["proof"], bundle
    return folder


@pytest.fixture
def checkout(tmp_path: Path, anchored_batch: Path) -> Path:
    """A folder laid out as the checkout the snippets are run from: its .venv and node_modules, and the files."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / ".venv").symlink_to(Path(sys.prefix))
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\n% the report the README notarises\n")
    for path in anchored_batch.iterdir():
        shutil.copy2(path, folder / path.name)
    return folder


def shell_environment(server: RunningServer, home: Path, output: Path) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SEGELL_")}
    environment.pop("XDG_CONFIG_HOME", None)
    return environment | {
        "HOME": str(home),  # ~/.config/segell/trust.json of `segell trust add` is the test's own
        "SEGELL_HOME": str(server.home),  # the server's: `segell admin` reads its governance key there
        "SEGELL_PORT": server.url.rsplit(":", 1)[1],  # where `segell up` would listen: the commands' default URL
        "DOCS_OUTPUT": str(output),
        "NO_COLOR": "1",
    }


def as_run_here(text: str, server: RunningServer) -> str:
    return (
        text.replace("http://127.0.0.1:8000", server.url)
        .replace("https://segell.example", server.url)
        .replace("sgl_...", LAST_PRINTED_KEY)
    )


def equal_pairs(lines: list[str]) -> int:
    pairs, index = 0, 0
    while index + 1 < len(lines):
        if lines[index].strip() and lines[index].strip().lower() == lines[index + 1].strip().lower():
            pairs, index = pairs + 1, index + 2
        else:
            index += 1
    return pairs


# What the snippets of a document print besides what they check themselves (exit statuses, `# must be equal`).
PRINTS = {
    "README.md": (
        r"Segell \S+ at http://127\.0\.0\.1:\d+: ok",  # `segell status` found the server through SEGELL_PORT
        r"Admitted L01170792: Ajuntament de Girona",
        r"(?m)^\d+$",  # cast's block number
        r"(?m)^authentic: ",
    ),
    # The proof of the first leaf of three: floor(log2(2*3 - 1 - 0)) = 2 siblings.
    "docs/proof-bundle.md": (r"(?m)^2$",),
}


def run_snippets(snippets: list[Snippet], server: RunningServer, checkout: Path, scratch: Path) -> list[str]:
    """Run `snippets` in one bash, in order, from `checkout`; return what each printed."""
    script = ["set -euo pipefail"]
    for number, snippet in enumerate(snippets):
        script += [f"echo '{BLOCK_SEPARATOR} {number}'", as_run_here(snippet.text, server)]
    output = scratch / "output.txt"
    with output.open("w") as printed:
        finished = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=checkout,
            env=shell_environment(server, scratch / "home", output),
            stdout=printed,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    text = output.read_text()
    where = ", ".join(f"{s.path.name}:{s.line}" for s in snippets)
    assert finished.returncode == 0, f"the snippets at {where} failed (exit status {finished.returncode}):\n{text}"
    return text.split(f"{BLOCK_SEPARATOR} ")[1:]


@pytest.mark.parametrize("document", SHELL_DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_shell_snippets_run_as_written(
    document: Path, segell_server: RunningServer, checkout: Path, tmp_path: Path
) -> None:
    if not (ROOT / "node_modules" / ".bin" / "cast").exists():
        pytest.fail("node_modules/.bin/cast is missing: the snippets use it; run `make setup` (npm ci)")
    snippets = [snippet for snippet in marked_snippets(document) if snippet.language == "sh"]

    outputs = run_snippets(snippets, segell_server, checkout, tmp_path)

    assert len(outputs) == len(snippets)
    for snippet, output in zip(snippets, outputs, strict=True):
        printed = output.splitlines()[1:]
        expected = snippet.text.count(MUST_BE_EQUAL)
        assert equal_pairs(printed) >= expected, f"{snippet.path.name}:{snippet.line} printed unequal values:\n{output}"
    for pattern in PRINTS.get(document.relative_to(ROOT).as_posix(), ()):
        assert re.search(pattern, "".join(outputs)), f"nothing matches {pattern!r} in:\n{''.join(outputs)}"


def javascript_snippet() -> str:
    (snippet,) = [s for s in marked_snippets(ROOT / "docs" / "proof-bundle.md") if s.language == "js"]
    return snippet.text


def run_node(checkout: Path, script: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the JavaScript of docs/proof-bundle.md")
    (checkout / "check.mjs").write_text(script)
    finished = subprocess.run(
        [node, "check.mjs"], cwd=checkout, capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.split()


def test_javascript_snippet_checks_a_real_bundle(checkout: Path) -> None:
    assert run_node(checkout, javascript_snippet()) == ["true", "true"]


def test_javascript_snippet_refuses_a_tampered_bundle(checkout: Path) -> None:
    path = checkout / "acta.pdf.segell.json"
    bundle = json.loads(path.read_text())
    bundle["salt"] = "0x" + "11" * 32
    path.write_text(json.dumps(bundle))

    assert run_node(checkout, javascript_snippet()) == ["false", "false"]
