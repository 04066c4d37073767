"""HTTP API of participation: administrations open processes, upload their census, moderate and close; citizens
propose, support and vote with their login; anyone reads processes, proposals, results and ballot proofs."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from segell.services.administrations.api import AdministrationCode
from segell.services.citizen_auth.api import TokenClaims
from segell.services.deps import (
    AdministrationDep,
    CitizenDep,
    CitizenTokenSentDep,
    ClockDep,
    RuntimeDep,
    SessionDep,
    clock_of,
    get_authenticators,
    get_citizen,
    get_runtime,
)
from segell.services.errors import NotFound, error_responses
from segell.services.participation import repository, service
from segell.services.participation.schemas import (
    BallotReceipt,
    BallotRequest,
    CensusOut,
    CensusRequest,
    CitizenIdsOut,
    CitizenIdsRequest,
    HideRequest,
    InclusionOut,
    ProcessList,
    ProcessOut,
    ProcessRequest,
    ProcessType,
    ProposalEdit,
    ProposalOut,
    ProposalPage,
    ProposalRequest,
    ProposalVersionOut,
    SupportOut,
    SupportRequest,
)
from segell.services.participation.settings import ParticipationSettings

router = APIRouter(prefix="/v1/participation", tags=["participation"])

ProcessId = Annotated[str, PathParam(description="The process's id.", pattern=r"^prc_[0-9a-f]{24}$")]
ProposalId = Annotated[str, PathParam(description="The proposal's id.", pattern=r"^prp_[0-9a-f]{24}$")]
Commitment = Annotated[str, PathParam(description="A ballot's commitment (the receipt).", pattern=r"^[0-9a-f]{64}$")]
CITIZEN_ERRORS = (401, 403, 404, 409, 422)


@router.post(
    "/processes",
    response_model=ProcessOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def open_process(
    body: ProcessRequest, session: SessionDep, runtime: RuntimeDep, administration: AdministrationDep
) -> ProcessOut:
    """Open a participation process: ideas, a challenge or a participatory budget."""
    return service.open_process(session, administration, body, runtime.settings.section(ParticipationSettings))


@router.get("/processes", response_model=ProcessList, responses=error_responses(404, 422))
def list_processes(
    session: SessionDep,
    clock: ClockDep,
    administration: Annotated[AdministrationCode | None, Query(description="An administration's code.")] = None,
    type: Annotated[ProcessType | None, Query()] = None,  # noqa: A002 - the API's field name
    status_: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProcessList:
    """Participation processes, newest first."""
    administration_id = None
    if administration is not None:
        administration_id = repository.administration_id_of(session, code=administration)
        if administration_id is None:
            raise NotFound(f"No administration {administration!r}.", code="administration_not_found")
    rows = repository.processes(
        session, administration_id=administration_id, process_type=type, status=status_, limit=limit
    )
    codes = repository.administration_codes(session, administration_ids=[p.administration_id for p in rows])
    return ProcessList(items=[service.process_view(session, p, codes[p.administration_id], clock()) for p in rows])


@router.get("/processes/{process_id}", response_model=ProcessOut, responses=error_responses(404, 422))
def get_process(process_id: ProcessId, session: SessionDep, clock: ClockDep) -> ProcessOut:
    """A process: its projects, rules, phases, and after close its tally and where its ballots are published."""
    process = service.get_process_row(session, process_id)
    codes = repository.administration_codes(session, administration_ids=[process.administration_id])
    return service.process_view(session, process, codes[process.administration_id], clock())


@router.post(
    "/processes/{process_id}/census", response_model=CensusOut, responses=error_responses(401, 403, 404, 409, 422)
)
def upload_census(
    process_id: ProcessId,
    body: CensusRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    administration: AdministrationDep,
) -> CensusOut:
    """Add eligible citizens to a process's census, by the citizen id their login gives: never names."""
    settings = runtime.settings.section(ParticipationSettings)
    return service.upload_census(session, administration, process_id, body.citizen_ids, settings)


@router.post("/census/citizen-ids", response_model=CitizenIdsOut, responses=error_responses(401, 403, 422))
def citizen_ids(body: CitizenIdsRequest, runtime: RuntimeDep, administration: AdministrationDep) -> CitizenIdsOut:
    """The citizen id a login of each phone number with your administration gives, for a census; nothing is kept."""
    return service.citizen_ids(runtime.master_key, administration, body.phones)


@router.post(
    "/processes/{process_id}/proposals",
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*CITIZEN_ERRORS),
)
def create_proposal(
    process_id: ProcessId,
    body: ProposalRequest,
    runtime: RuntimeDep,
    citizen: CitizenDep,
    clock: ClockDep,
) -> ProposalOut:
    """Make a proposal (an idea) in a process; its first version is notarised."""
    with runtime.transaction() as session:  # commits in this thread: no lock waits for a free worker to commit
        return service.create_proposal(session, runtime.master_key, citizen, process_id, body, clock())


@router.get("/processes/{process_id}/proposals", response_model=ProposalPage, responses=error_responses(404, 422))
def search_proposals(
    process_id: ProcessId,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Words in the title or text.")] = None,
    service_code: Annotated[str | None, Query(alias="service", max_length=100)] = None,
    sort: Annotated[Literal["supports", "newest", "random"], Query()] = "newest",
    seed: Annotated[
        str | None, Query(max_length=64, description="With sort=random: the same seed, the same order.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ProposalPage:
    """A process's visible proposals: search, filter by service, sort by supports, newest or at random (seeded)."""
    return service.search_proposals(
        session, process_id, text=q, service=service_code, sort=sort, seed=seed, limit=limit, offset=offset
    )


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, responses=error_responses(404, 422))
def get_proposal(proposal_id: ProposalId, session: SessionDep) -> ProposalOut:
    """A proposal's current version and its supports."""
    return service.get_proposal(session, proposal_id)


@router.put("/proposals/{proposal_id}", response_model=ProposalOut, responses=error_responses(*CITIZEN_ERRORS))
def edit_proposal(
    proposal_id: ProposalId,
    body: ProposalEdit,
    runtime: RuntimeDep,
    citizen: CitizenDep,
    clock: ClockDep,
) -> ProposalOut:
    """Edit your proposal: a new version, linked by hash to the one edited; supports stay with their version."""
    with runtime.transaction() as session:  # commits in this thread: no lock waits for a free worker to commit
        return service.edit_proposal(session, runtime.master_key, citizen, proposal_id, body, clock())


@router.get(
    "/proposals/{proposal_id}/versions", response_model=list[ProposalVersionOut], responses=error_responses(404, 422)
)
def proposal_versions(proposal_id: ProposalId, session: SessionDep) -> list[ProposalVersionOut]:
    """Every version of a proposal, oldest first, each with its hash and the previous one's."""
    return service.proposal_versions(session, proposal_id)


@router.post(
    "/proposals/{proposal_id}/supports",
    response_model=SupportOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*CITIZEN_ERRORS),
)
def support_proposal(
    proposal_id: ProposalId,
    body: SupportRequest,
    runtime: RuntimeDep,
    citizen: CitizenDep,
    clock: ClockDep,
) -> SupportOut:
    """Support a proposal's current version (the hash you read): one support per citizen per proposal."""
    with runtime.transaction() as session:  # commits in this thread: no lock waits for a free worker to commit
        return service.support(session, runtime.master_key, citizen, proposal_id, body.version_hash, clock())


@router.post(
    "/proposals/{proposal_id}/hide", response_model=ProposalOut, responses=error_responses(401, 403, 404, 409, 422)
)
def hide_proposal(
    proposal_id: ProposalId, body: HideRequest, session: SessionDep, administration: AdministrationDep, clock: ClockDep
) -> ProposalOut:
    """Moderation: hide a proposal of one of your processes, with a reason; both are notarised."""
    return service.hide_proposal(session, administration, proposal_id, body.reason, clock())


async def _held_token_claims(request: Request, credentials: CitizenTokenSentDep) -> TokenClaims | None:
    """The claims of the request's citizen token, checked without a query when this process holds its key (401, as
    `CitizenDep`, before the body is read, when it does not check out); None when its key must be read first."""
    runtime = await get_runtime(request)
    return service.token_claims_from_held_keys(runtime, credentials.credentials, clock_of(request)())


@router.post(
    "/processes/{process_id}/ballots",
    response_model=BallotReceipt,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*CITIZEN_ERRORS),
)
async def cast_ballot(
    process_id: ProcessId,
    body: BallotRequest,
    request: Request,
    credentials: CitizenTokenSentDep,
    claims: Annotated[TokenClaims | None, Depends(_held_token_claims)],
) -> Response:
    """Cast your ballot; keep the receipt (the commitment and its code) to check it is counted."""
    # Served from the event loop: the token (before the body is read), the phase and the rules checked without a
    # query, then the ballot handed to the ballots' group writer, its administration and census checked in the
    # transaction that writes it. A process or a token's key this process has not read yet, a challenge, a token of
    # another administration: in a worker thread, with the database.
    runtime, now = await get_runtime(request), clock_of(request)()
    receipt = await service.cast_ballot_from_loop(runtime, claims, process_id, body.choices, now)
    if receipt is None:
        citizen = await run_in_threadpool(get_citizen, runtime, lambda: now, credentials, get_authenticators(request))
        receipt = await run_in_threadpool(service.cast_ballot, runtime, citizen, process_id, body.choices, now)
    return Response(receipt.model_dump_json(), status_code=status.HTTP_201_CREATED, media_type="application/json")


@router.post(
    "/processes/{process_id}/close", response_model=ProcessOut, responses=error_responses(401, 403, 404, 409, 422)
)
def close_process(
    process_id: ProcessId, session: SessionDep, runtime: RuntimeDep, administration: AdministrationDep, clock: ClockDep
) -> ProcessOut:
    """Close the vote: publish the ballots, anchor their Merkle root and publish the result computed from them."""
    return service.close_process(session, runtime, administration, process_id, clock())


@router.get(
    "/processes/{process_id}/ballots/{commitment}",
    response_model=InclusionOut,
    responses=error_responses(404, 409, 422),
)
def ballot_inclusion(process_id: ProcessId, commitment: Commitment, session: SessionDep) -> InclusionOut:
    """The proof that a ballot is among a closed process's published ballots, to check offline and on chain."""
    return service.inclusion(session, process_id, commitment)
