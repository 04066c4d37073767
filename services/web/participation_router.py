"""The participation pages for people (left out of the API schema, like the other pages): the processes, a process,
its proposals, the budget ballot, "check my ballot" and the results.

Reading goes through the participation domain's API; acting as a citizen is the page script's, through the JSON
API with the citizen's token.
"""

import re
import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from segell.services.deps import ClockDep, SessionDep
from segell.services.errors import NotFound
from segell.services.participation import api as participation
from segell.services.web import pages
from segell.services.web import participation_pages as render

site = APIRouter(include_in_schema=False)

LanguageQuery = Annotated[str | None, Query(alias="lang", max_length=8)]
ProcessPath = Annotated[str, Path(max_length=64)]
_COMMITMENT = re.compile(r"^[0-9a-f]{64}$")


@site.get("/participation", response_class=HTMLResponse)
def processes_page(request: Request, session: SessionDep, clock: ClockDep, lang: LanguageQuery = None) -> HTMLResponse:
    """Every participation process, newest first."""
    language = pages.request_language(request, lang)
    return pages.html_page(
        request, lang, language, render.processes_page(language, participation.processes(session, clock()))
    )


def _process(session: Session, process_id: str, now: datetime) -> participation.ProcessOut | None:
    try:
        return participation.process(session, process_id, now)
    except NotFound:
        return None


@site.get("/participation/processes/{process_id}", response_class=HTMLResponse)
def process_page(
    request: Request, process_id: ProcessPath, session: SessionDep, clock: ClockDep, lang: LanguageQuery = None
) -> HTMLResponse:
    """A process: what it is, its phases and rules, and where to take part."""
    language = pages.request_language(request, lang)
    now = clock()
    process = _process(session, process_id, now)
    if process is None:
        return pages.html_page(request, lang, language, render.not_found_page(language), status_code=404)
    return pages.html_page(request, lang, language, render.process_page(language, process, now))


@site.get("/participation/processes/{process_id}/proposals", response_class=HTMLResponse)
def proposals_page(
    request: Request,
    process_id: ProcessPath,
    session: SessionDep,
    clock: ClockDep,
    lang: LanguageQuery = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    service: Annotated[str | None, Query(max_length=100)] = None,
    sort: Annotated[str, Query(max_length=16)] = "supports",
    seed: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """A process's proposals: search, filter by service, sort by supports, newest or at random (a stable seed)."""
    language = pages.request_language(request, lang)
    process = _process(session, process_id, clock())
    if process is None:
        return pages.html_page(request, lang, language, render.not_found_page(language), status_code=404)
    chosen_sort = sort if sort in render.SORTS else "supports"
    # The seed travels in the page's links and form, so that paging a random order keeps it.
    chosen_seed = seed if seed and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", seed) else secrets.token_hex(4)
    words = q.strip() if q and q.strip() else None
    chosen_service = service if service in process.services else None
    limit = 20
    page = participation.proposals(
        session,
        process.id,
        text=words,
        service=chosen_service,
        sort=chosen_sort,
        seed=chosen_seed,
        limit=limit,
        offset=offset,
    )
    versions = {
        proposal.id: participation.proposal_versions(session, proposal.id)
        for proposal in page.items
        if proposal.version > 1 and not proposal.hidden
    }
    body = render.proposals_page(
        language,
        process,
        page,
        text=words,
        service=chosen_service,
        sort=chosen_sort,
        seed=chosen_seed,
        offset=offset,
        limit=limit,
        versions=versions,
    )
    return pages.html_page(request, lang, language, body)


@site.get("/participation/processes/{process_id}/ballot", response_class=HTMLResponse)
def ballot_page(
    request: Request, process_id: ProcessPath, session: SessionDep, clock: ClockDep, lang: LanguageQuery = None
) -> HTMLResponse:
    """The ballot of a budget (projects) or a challenge (proposals) within the rules; the page casts it with the
    citizen's token."""
    language = pages.request_language(request, lang)
    now = clock()
    process = _process(session, process_id, now)
    if process is None:
        return pages.html_page(request, lang, language, render.not_found_page(language), status_code=404)
    options = _options(session, process)
    return pages.html_page(request, lang, language, render.ballot_page(language, process, now, options))


def _options(session: Session, process: participation.ProcessOut) -> list[participation.OptionLabel] | None:
    """A challenge's options (its proposals' versions), named; None for a budget, whose projects the process has."""
    return participation.option_labels(session, process.id) if process.type == "challenge" else None


@site.get("/participation/processes/{process_id}/check", response_class=HTMLResponse)
def check_page(
    request: Request,
    process_id: ProcessPath,
    session: SessionDep,
    clock: ClockDep,
    lang: LanguageQuery = None,
    receipt: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Check my ballot: the form, and for a receipt of a closed vote the place where the browser checks it."""
    language = pages.request_language(request, lang)
    process = _process(session, process_id, clock())
    if process is None:
        return pages.html_page(request, lang, language, render.not_found_page(language), status_code=404)
    given = receipt.strip().lower() if receipt and receipt.strip() else None
    problem = None
    if given is not None:
        if not _COMMITMENT.fullmatch(given):
            problem = "check_malformed"
        elif process.status != "closed" or process.tally is None:
            problem = "check_not_closed"
    # The rest is checked by the browser itself, from the published ballot, its proof, the root's bundle and the
    # chain: this page states nothing it has not checked.
    names = render.option_names(language, process, _options(session, process))
    return pages.html_page(request, lang, language, render.check_page(language, process, given, problem, names))


@site.get("/participation/processes/{process_id}/results", response_class=HTMLResponse)
def results_page(
    request: Request, process_id: ProcessPath, session: SessionDep, clock: ClockDep, lang: LanguageQuery = None
) -> HTMLResponse:
    """The result, computed from the published ballots: a chart and its table, and how to recount it."""
    language = pages.request_language(request, lang)
    process = _process(session, process_id, clock())
    if process is None:
        return pages.html_page(request, lang, language, render.not_found_page(language), status_code=404)
    return pages.html_page(request, lang, language, render.results_page(language, process, _options(session, process)))


router = APIRouter()
router.include_router(site)
