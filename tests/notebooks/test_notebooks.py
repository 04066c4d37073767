"""Every notebook in notebooks/ runs from top to bottom against a real Segell server, in a real Jupyter kernel."""

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

from tests.helpers import RunningServer

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A `python3` kernelspec for this interpreter, and no other.

    A fresh clone has no kernelspec installed, and one installed for the user may start another Python.
    """
    kernels = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(kernels / "python3")  # argv: [sys.executable, "-m", "ipykernel_launcher", ...]
    return KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)


def kernel_environment(**segell: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SEGELL_")}
    env.update(segell)
    # The kernel runs in notebooks/: put this checkout's sdk first, whatever else is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def run_notebook(path: Path, kernel_specs: KernelSpecManager, env: dict[str, str]) -> NotebookNode:
    """Execute a notebook in its own directory, as Jupyter would; a failing cell raises CellExecutionError."""
    notebook = nbformat.read(path, as_version=4)
    kernel_name = notebook.metadata.kernelspec.name
    manager = AsyncKernelManager(kernel_name=kernel_name, kernel_spec_manager=kernel_specs)
    assert Path(manager.kernel_spec.argv[0]) == Path(sys.executable)
    client = NotebookClient(
        notebook,
        km=manager,
        kernel_name=kernel_name,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # The client shuts down a kernel manager it was given only when asked to.
    client.execute(env=env, cleanup_kc=True)
    return notebook


@pytest.fixture(scope="module")
def font_cache() -> None:
    """Matplotlib's font cache, built here if it is not yet: a kernel that builds it says so on stderr."""
    import matplotlib.font_manager  # noqa: F401  (builds the cache on import)


def images(notebook: NotebookNode) -> int:
    """How many PNG images (charts) the code cells displayed."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type in ("display_data", "execute_result")
    )


def stream(notebook: NotebookNode, name: str = "stdout") -> str:
    """Everything the code cells wrote to stdout (or stderr), in order."""
    return "".join(
        output.text
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == name
    )


def assert_first_steps_tour(text: str, server: RunningServer) -> str:
    """Check what 00-first-steps printed against the server it ran on; return the code it admitted."""
    with server.client() as anonymous:
        health = anonymous.get("/health").json()
    assert f"Segell {health['version']}: ok" in text
    assert "chain     embedded" in text
    assert f"registry  {health['contracts']['registry']}" in text
    assert "This key acts as: administration DEMO-" in text
    assert re.search(r"Listed later: key [0-9a-f]{12}, prefix sgl_[0-9a-f]{12}_, no secret", text)
    assert "suspended     False" in text
    assert "Refused with error -32601: eth_sendRawTransaction is refused: /rpc is read-only" in text
    assert "registry says suspended = True" in text
    assert "Its API key now gets HTTP 403" in text
    match = re.search(r"(DEMO-[0-9A-F]{8}) isActiveMember: True before suspension, False after", text)
    assert match, text
    code = match.group(1)
    with server.client(server.governance_key) as governance:
        assert governance.get(f"/v1/administrations/{code}").json()["status"] == "suspended"
    return code


def assert_notarise_and_verify_tour(text: str, server: RunningServer) -> None:
    """Check what 01-notarise-and-verify printed: anchored, authentic, then the two failures with their reasons."""
    assert re.search(r"Admitted DEMO-[0-9A-F]{8}: Ajuntament de Demostració", text)
    assert re.search(r"minutes +id [0-9a-f]{32}  code [0-9A-Z]{4}(-[0-9A-Z]{4}){3}-\S  status (pending|anchored)", text)
    assert "The certificate was sent as its hash only: True" in text
    assert re.search(r"minutes +anchored in block \d+, tx 0x[0-9a-f]{64}", text)
    assert "format         segell-proof-bundle" in text
    with server.client() as anonymous:
        deployment = anonymous.get("/.well-known/segell.json").json()
    assert f"Trusting Segell sandbox: notary {deployment['notary']} on chain {deployment['chain_id']}" in text
    assert "Without a trust anchor: untrusted_contract" in text
    assert "Offline: proof_valid" in text
    assert re.search(r"authentic: Authentic: notarised by Ajuntament de Demostració \(DEMO-\w{8}\), anchored", text)
    assert "valid      True" in text
    assert re.search(r"issuer     Ajuntament de Demostració \(DEMO-[0-9A-F]{8}\), active, account 0x[0-9a-f]{40}", text)
    assert "Tampered copy: wrong_document, valid False" in text
    assert "This is not the document of the bundle" in text
    assert re.search(r"Segell says authentic for code \S+: Ajuntament de Demostració", text)
    assert "Receipt status: revoked" in text
    assert "After revocation: revoked, valid False" in text
    assert "reason   Substituïda per l'acta corregida" in text
    gas = [int(g.replace(",", "")) for g in re.findall(r"documents: 1 anchoring transaction, +([\d,]+) gas", text)]
    assert len(gas) == 4 and gas == sorted(gas, reverse=True), text
    assert re.search(r"One root for 1000 documents: [\d,]+ times less gas each", text)
    assert re.search(r"Newest anchored certificates: \S+-\S+", text)
    listed = re.search(r"Certificates notarised by this administration: (\d+)", text)
    assert listed and int(listed[1]) == 1 + sum([1, 10, 100, 1000])  # the salted certificate, then the batches
    code = re.search(r"Admitted (DEMO-[0-9A-F]{8})", text)
    assert code is not None
    with server.client(server.governance_key) as governance:
        assert governance.get(f"/v1/administrations/{code.group(1)}").json()["status"] == "active"


def assert_open_data_tour(text: str, server: RunningServer) -> None:
    """Check what 04-open-data-and-transparency printed: the catalogue through ckanapi, the datastore, a version's
    difference and verification, DCAT-AP, search, and a budget submitted once found everywhere it is published."""
    match = re.search(r"Admitted (DEMO-[0-9A-F]{8}); the catalogue says: Segell open data", text)
    assert match, text
    code = match.group(1)
    assert "The checksum is the file's SHA-256: True" in text
    assert "loaded 23 rows, refused 1\n  line 6, column habitants: 'dos mil' is not an integer" in text
    assert "types    {'seccio': 'text', 'districte': 'text', 'habitants': 'int'}" in text
    assert "versions [(3, 'changed package'), (2, 'changed package'), (1, 'new package')]" in text
    assert "rows matched by primaryKey ['seccio']\nadded    ['025']\nremoved  ['024']" in text
    assert re.search(r"changed  001: habitants (\d+) → (\d+)\nchanged  005: habitants dos mil → 2011\n", text)
    assert re.search(r"verdict authentic: Dataset version by Ajuntament de Demostració", text)
    assert "The export carries the current file's notarised hash: True" in text
    assert f"found 1: ['padro-{code.lower()}']" in text
    assert "res_format [('CSV', 1)]" in text
    assert "submitted  budget 2026, version 1, current" in text
    assert f"published  {code.lower()}-budget" in text
    assert "verified   authentic: Mandatory transparency publication by Ajuntament de Demostració" in text
    assert re.search(
        r"consolidated-budget: \d+ rows from \d+ administrations, 10 of them ours\n  as submitted: True", text
    )
    assert f"portal     /transparency/{code}: HTTP 200, names the administration: True" in text
    with server.client() as anonymous:
        submissions = anonymous.get("/v1/transparency/submissions", params={"administration": code}).json()
    assert [(item["block"], item["period"], item["status"]) for item in submissions["items"]] == [
        ("budget", 2026, "current")
    ]


def assert_interoperability_tour(text: str, server: RunningServer) -> None:
    """Check what 06-interoperability printed: a residence exchange sealed and verified offline (a tampered copy
    failing), the citizen's log without the hidden access and its anchor, and a once-only delivery refused, then
    consented to."""
    match = re.search(r"provider (DEMO-[0-9A-F]{8}), consumer (DEMO-[0-9A-F]{8}), school (DEMO-[0-9A-F]{8})", text)
    assert match, text
    town, council, school = match.groups()
    assert f"service RESIDENCE of {town}" in text
    assert "records stored: 1" in text
    assert "authorisation for AJUTS-MENJADOR: pending → granted" in text
    assert "answer    {'municipality': 'Girona', 'since': '2019-03-01'}" in text
    assert "names the request's hash: True" in text
    assert re.search(r"evidence  valid True, sealed by .*Ajuntament de Demostració", text)
    assert "tampered  valid False: the answer's seal" in text
    assert "Consell Comarcal de Demostració asked Ajuntament de Demostració for RESIDENCE" in text
    assert "procedure AJUTS-MENJADOR, case 2026-000417, https://www.boe.es/eli/es/l/1985/04/02/7" in text
    assert "the hidden access is shown: False" in text
    assert "CSV export: 1 row(s), columns at, consumer_code" in text
    # Today's log is closed and notarised a few minutes after midnight (UTC): until then the anchor is refused.
    assert re.search(r"anchor    (not yet: (day_not_closed|not_anchored)|valid True: in the log of )", text), text
    assert "request consent_pending; fetched now: HTTP 403 consent_missing" in text
    assert "the citizen sees: Consell Comarcal de Demostració asks for 'Títol de batxillerat' (consent_pending)" in text
    assert "preview is the kept file: True" in text
    assert "decision: authorised" in text
    assert "SHA-256 as sealed by the school: True" in text
    assert re.search(r"once-only evidence valid True, sealed by .*Institut de Demostració", text)
    assert "obtained DIPLOMA from Institut de Demostració, basis http://data.europa.eu/eli/reg/2016/679/oj" in text
    with server.client(server.governance_key) as governance:
        for code in (town, council, school):
            assert governance.get(f"/v1/administrations/{code}").json()["status"] == "active"


def assert_participation_tour(text: str) -> None:
    """Check what 05-participation printed: the refused ballot, the receipts, the tally, the recount and the checks."""
    assert "refused: HTTP 422, The ballot breaks the process's rules: choose at least 2 projects in Gràcia" in text
    assert len(re.findall(r"receipt [A-Z2-7]{5}-[A-Z2-7]{5}  commitment [0-9a-f]{16}", text)) == 3
    assert "second ballot: HTTP 409 already_voted" in text
    assert "  P4: 2 votes, funded\n  P1: 2 votes, funded\n  P3: 2 votes, funded\n  P2: 2 votes\n" in text
    assert "recount valid True: 3 ballots recounted" in text
    assert "my ballot counted True" in text
    assert "leads to the root: True" in text
    assert "root recomputed here: True" in text
    assert "a ballot altered: ballot " in text and "its commitment is not the hash of its record" in text


def test_notebooks_are_stored_without_outputs() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOKS_DIR}"
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        # Written as nbformat writes it, so that saving it again changes nothing.
        assert path.read_text() == nbformat.writes(notebook) + "\n", path.name
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(cell.outputs == [] and cell.execution_count is None for cell in code_cells), path.name


# 00-first-steps runs in the test that reruns it; the other notebooks run here.
OTHER_NOTEBOOKS = [path for path in NOTEBOOKS if path.name != "00-first-steps.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("path", OTHER_NOTEBOOKS, ids=[path.stem for path in OTHER_NOTEBOOKS])
def test_notebook_runs_against_segell_with_api_key(
    path: Path, segell_server: RunningServer, kernel_specs: KernelSpecManager, font_cache: None
) -> None:
    env = kernel_environment(SEGELL_URL=segell_server.url, SEGELL_API_KEY=segell_server.governance_key)
    notebook = run_notebook(path, kernel_specs, env)

    assert stream(notebook, "stderr") == ""
    if path.name == "01-notarise-and-verify.ipynb":
        assert_notarise_and_verify_tour(stream(notebook), segell_server)
        assert images(notebook) == 1  # gas per document and throughput, side by side
    if path.name == "04-open-data-and-transparency.ipynb":
        assert_open_data_tour(stream(notebook), segell_server)
        assert images(notebook) == 1  # the budget by chapter
    if path.name == "06-interoperability.ipynb":
        assert_interoperability_tour(stream(notebook), segell_server)
    if path.name == "05-participation.ipynb":
        assert_participation_tour(stream(notebook))
    if path.name == "02-sandbox-poc.ipynb":
        text = stream(notebook)
        counts = {label: int(count) for label, count in re.findall(r"^(\w[\w ]+?) +(\d+) transactions, ", text, re.M)}
        # The permits contract deployed, 1 + 6 permits issued in it, the document anchored in the sandbox's notary.
        assert counts["contract deployed"] >= 1 and counts["permits register"] == 7, text
        assert counts["Segell registry or notary"] >= 2, text  # the administration admitted, the anchoring
        assert images(notebook) == 1


@pytest.mark.slow
def test_first_steps_runs_with_an_api_key_then_reruns_reading_the_governance_key_from_segell_home(
    segell_server: RunningServer, kernel_specs: KernelSpecManager, font_cache: None
) -> None:
    path = NOTEBOOKS_DIR / "00-first-steps.ipynb"
    with_key = kernel_environment(SEGELL_URL=segell_server.url, SEGELL_API_KEY=segell_server.governance_key)
    from_home = kernel_environment(SEGELL_URL=segell_server.url, SEGELL_HOME=str(segell_server.home))

    first = run_notebook(path, kernel_specs, with_key)
    second = run_notebook(path, kernel_specs, from_home)

    assert stream(first, "stderr") == stream(second, "stderr") == ""
    first_code = assert_first_steps_tour(stream(first), segell_server)
    second_code = assert_first_steps_tour(stream(second), segell_server)
    assert first_code != second_code  # a rerun on the same server admits an administration of its own
