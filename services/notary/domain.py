"""The notary domain: documents accepted, batched, anchored and verified; the group committer and the worker."""

from fastapi import FastAPI

from segell.services.domains import Domain
from segell.services.notary.anchoring import AnchoringWorker
from segell.services.notary.router import new_committer, public, router
from segell.services.notary.service import AnchoredRoots
from segell.services.notary.settings import NotarySettings
from segell.services.notary.verifier import GroupVerifier
from segell.services.runtime import Runtime


def _start_committer_and_worker(app: FastAPI, runtime: Runtime) -> None:
    app.state.anchored_roots = AnchoredRoots()
    app.state.notary_verifier = GroupVerifier(runtime, app.state.anchored_roots)
    app.state.notary_committer = new_committer(runtime)
    # The embedded chain lives in this process, so its worker must too; `segell worker` runs one apart.
    worker = AnchoringWorker(runtime) if runtime.settings.section(NotarySettings).anchoring_worker else None
    app.state.anchoring_worker = worker
    if worker is not None:
        worker.start()


def _stop_worker(app: FastAPI) -> None:
    worker: AnchoringWorker | None = app.state.anchoring_worker
    if worker is not None:
        worker.stop()
    verifier: GroupVerifier = app.state.notary_verifier
    verifier.close()


domain = Domain(
    name="notary",
    routers=(router, public),
    start=(_start_committer_and_worker,),
    stop=(_stop_worker,),
    # Routes that hash an octet-stream body as it arrives; the generic body limits leave those bodies to them.
    streamed_uploads=frozenset({("POST", "/v1/documents"), ("POST", "/v1/verify")}),
    models=("segell.services.notary.models",),
    settings=NotarySettings,
)
