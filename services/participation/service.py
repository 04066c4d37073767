"""The participation domain's rules: processes, census, proposals and supports, ballots, close and tally.

Who is who in a process. A citizen logs in with the process's administration (citizen_auth): the token's subject
is the citizen id, a keyed hash of the phone number that is the same for every login of that number with that
administration. The census is a list of such ids, which the administration computes from its residents' numbers
(`POST /v1/participation/census/citizen-ids`, nothing kept) or collects from logins; it never holds names.
Within a process, a citizen is known by a **pseudonym**, ``HMAC-SHA256(process key, citizen id)``, the process key
being derived from the deployment's master key and the process id: stable within a process (one ballot, one
support per proposal), unlinkable across processes for whoever lacks the master key. The operator holds it.
"""

import hashlib
import hmac
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from segell.chain.merkle import MerkleTree
from segell.services.citizen_auth.api import InvalidToken, TokenClaims, citizen_id_of, verify_token_with_held_keys
from segell.services.deps import AuthenticatedCitizen
from segell.services.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from segell.services.group_writes import GroupWriter, group_writer
from segell.services.notary import api as notary
from segell.services.opendata import api as opendata
from segell.services.participation import repository, tally
from segell.services.participation.models import Process, Project, Proposal, ProposalVersion
from segell.services.participation.schemas import (
    PHASE_ORDER,
    BallotReceipt,
    BallotRulesIn,
    BudgetProcessRequest,
    CensusOut,
    CitizenIdsOut,
    IdeasProcessRequest,
    InclusionOut,
    LongTexts,
    OptionLabel,
    Phase,
    PhaseName,
    ProcessOut,
    ProcessRequest,
    ProjectOut,
    ProposalEdit,
    ProposalOut,
    ProposalPage,
    ProposalRequest,
    ProposalVersionOut,
    SupportOut,
    TallyEntry,
    TallyOut,
    Texts,
)
from segell.services.participation.settings import ParticipationSettings
from segell.services.runtime import Runtime

BALLOTS_KIND = "participation-ballots"
RESULT_KIND = "participation-result"
PROPOSAL_KIND = "participation-proposal"
MODERATION_KIND = "participation-moderation"
PUBLISHED_DESCRIPTION = {
    "ca": "Totes les paperetes del procés, ordenades pel compromís, sense hores, i el resultat calculat a partir "
    "d'elles.",
    "es": "Todas las papeletas del proceso, ordenadas por compromiso, sin horas, y el resultado calculado a partir "
    "de ellas.",
    "en": "Every ballot of the process, sorted by commitment, with no times, and the result computed from them.",
}


# -- pseudonyms ---------------------------------------------------------------------------------------------------


def process_key(master_key: bytes, process_id: str) -> bytes:
    """The process's pseudonym key, derived from the deployment's master key: the operator can compute it."""
    return hmac.new(master_key, b"segell.participation.pseudonym\x00" + process_id.encode(), hashlib.sha256).digest()


def pseudonym(master_key: bytes, process_id: str, citizen_id: str) -> str:
    """A citizen's pseudonym in a process: ``HMAC-SHA256(process key, citizen id)``, 64 hex digits."""
    return hmac.new(process_key(master_key, process_id), citizen_id.encode(), hashlib.sha256).hexdigest()


# -- processes ----------------------------------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def current_phase(process: Process, now: datetime) -> PhaseName | None:
    """The phase under way at `now`, or None."""
    for phase in process.phases:
        if datetime.fromisoformat(phase["starts_at"]) <= now < datetime.fromisoformat(phase["ends_at"]):
            name: PhaseName = phase["phase"]  # type: ignore[assignment]
            return name
    return None


def _phase(process: Process, name: str) -> dict[str, str] | None:
    return next((phase for phase in process.phases if phase["phase"] == name), None)


def _in_phase(process: Process, name: str, now: datetime) -> None:
    """Refuse with 409 `outside_phase` when the process has the phase `name` and `now` is outside it."""
    phase = _phase(process, name)
    if phase is None:
        return
    starts, ends = datetime.fromisoformat(phase["starts_at"]), datetime.fromisoformat(phase["ends_at"])
    if not starts <= now < ends:
        raise Conflict(
            f"The process's {name} phase runs from {starts.isoformat()} to {ends.isoformat()}: not now.",
            code="outside_phase",
            details={"phase": name, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()},
        )


def _inconsistent(problem: str) -> Conflict:
    return Conflict(f"The process does not hold together: {problem}.", code="inconsistent_process")


def _checked_phases(phases: BaseModel) -> list[dict[str, str]]:
    """The phases given, in order, each ending after it starts and before the next starts: 409 otherwise."""
    dated = [(name, getattr(phases, name, None)) for name in PHASE_ORDER]
    given = [(name, period) for name, period in dated if period is not None]
    for name, period in given:
        if period.ends_at <= period.starts_at:
            raise _inconsistent(f"the {name} phase must end after it starts")
    for (before, first), (after, second) in zip(given, given[1:], strict=False):
        if second.starts_at < first.ends_at:
            raise _inconsistent(f"the {after} phase starts before the {before} phase ends")
    return [
        {"phase": name, "starts_at": period.starts_at.isoformat(), "ends_at": period.ends_at.isoformat()}
        for name, period in given
    ]


def _checked_rules(rules: BallotRulesIn) -> dict[str, Any]:
    if rules.max_projects is not None and rules.max_projects < rules.min_projects:
        raise _inconsistent("max_projects is below min_projects")
    low, high = rules.min_projects_per_district, rules.max_projects_per_district
    if low is not None and high is not None and high < low:
        raise _inconsistent("max_projects_per_district is below min_projects_per_district")
    return rules.model_dump()


def open_process(
    session: Session, administration: Any, request: ProcessRequest, settings: ParticipationSettings
) -> ProcessOut:
    """Open a process of `administration`: 409 `inconsistent_process` when its phases or rules contradict."""
    phases = _checked_phases(request.phases)
    projects = request.projects if isinstance(request, BudgetProcessRequest) else []
    if len(projects) > settings.max_projects:
        raise _inconsistent(f"a budget holds at most {settings.max_projects} projects")
    ids = [project.id for project in projects]
    if len(set(ids)) != len(ids):
        raise _inconsistent("two projects have the same id")
    voting = not isinstance(request, IdeasProcessRequest)
    process = Process(
        id=_new_id("prc_"),
        administration_id=administration.id,
        process_type=request.type,
        title=request.title.model_dump(),
        description=request.description.model_dump(),
        phases=phases,
        rules=_checked_rules(request.rules) if voting else BallotRulesIn().model_dump(),  # type: ignore[union-attr]
        available_budget=request.available_budget if isinstance(request, BudgetProcessRequest) else None,
        services=list(request.services) if isinstance(request, IdeasProcessRequest) else [],
        required_factor=request.required_factor,
        eligibility=request.eligibility,
        ballot_replacement=request.ballot_replacement if voting else False,  # type: ignore[union-attr]
        status="open",
    )
    session.add(process)
    session.flush()
    repository.add_projects(
        session,
        rows=[
            {
                "process_id": process.id,
                "id": project.id,
                "position": position,
                "title": project.title.model_dump(),
                "description": project.description.model_dump() if project.description else None,
                "cost": project.cost,
                "district": project.district,
            }
            for position, project in enumerate(projects)
        ],
    )
    return process_view(session, process, administration.code)


def _process(session: Session, process_id: str) -> Process:
    process = repository.process_by_id(session, process_id=process_id)
    if process is None:
        raise NotFound(f"No participation process {process_id!r}.", code="process_not_found")
    return process


def _own_process(session: Session, administration: Any, process_id: str) -> Process:
    process = _process(session, process_id)
    if process.administration_id != administration.id:
        raise NotFound(f"No participation process {process_id!r} of yours.", code="process_not_found")
    return process


def _project_view(project: Project) -> ProjectOut:
    return ProjectOut(
        id=project.id,
        title=Texts.model_validate(project.title),
        description=LongTexts.model_validate(project.description) if project.description else None,
        cost=project.cost,
        district=project.district,
    )


def process_view(
    session: Session, process: Process, administration_code: str, now: datetime | None = None
) -> ProcessOut:
    """A process as the API shows it."""
    tally_out = None
    if process.status == "closed" and process.result is not None:
        assert process.ballots_receipt_id and process.result_receipt_id and process.dataset_name
        tally_out = TallyOut(
            ballots_count=process.ballots_count or 0,
            ballots_root=process.ballots_root or "",
            ballots_sha256=process.ballots_sha256 or "",
            ballots_receipt=notary.receipt(session, process.administration_id, process.ballots_receipt_id),
            result_sha256=process.result_sha256 or "",
            result_receipt=notary.receipt(session, process.administration_id, process.result_receipt_id),
            dataset=process.dataset_name,
            ballots_url=process.ballots_url or "",
            result_url=process.result_url or "",
            tally=[TallyEntry.model_validate(entry) for entry in process.result["tally"]],
        )
    return ProcessOut(
        id=process.id,
        administration=administration_code,
        type=process.process_type,  # type: ignore[arg-type]
        title=Texts.model_validate(process.title),
        description=LongTexts.model_validate(process.description),
        phases=[Phase.model_validate(phase) for phase in process.phases],
        current_phase=current_phase(process, now) if now is not None else None,
        services=process.services,
        projects=[_project_view(p) for p in repository.projects_of(session, process_id=process.id)],
        rules=BallotRulesIn.model_validate(process.rules),
        available_budget=process.available_budget,
        required_factor=process.required_factor,
        eligibility=process.eligibility,
        ballot_replacement=process.ballot_replacement,
        status="closed" if process.status == "closed" else "open",
        created_at=process.created_at,
        closed_at=process.closed_at,
        tally=tally_out,
    )


def get_process_row(session: Session, process_id: str) -> Process:
    """A process's row; `NotFound` `process_not_found`."""
    return _process(session, process_id)


# -- the census ---------------------------------------------------------------------------------------------------


def upload_census(
    session: Session, administration: Any, process_id: str, citizen_ids: Sequence[str], settings: ParticipationSettings
) -> CensusOut:
    """Add eligible citizens, by citizen id, to a process's census (until it closes)."""
    process = _own_process(session, administration, process_id)
    if process.status != "open":
        raise Conflict("The process is closed: its census can no longer change.", code="process_closed")
    if len(citizen_ids) > settings.max_census_upload:
        raise ValidationFailed.in_body(
            f"one upload adds at most {settings.max_census_upload} citizen ids: send the rest in further uploads"
        )
    added = repository.add_to_census(session, process_id=process.id, citizen_ids=citizen_ids)
    return CensusOut(added=added, census_size=repository.census_size(session, process_id=process.id))


def citizen_ids(master_key: bytes, administration: Any, phones: Sequence[str]) -> CitizenIdsOut:
    """The citizen ids the logins of `phones` with `administration` give, for its census; the numbers are not kept."""
    return CitizenIdsOut(citizen_ids=[citizen_id_of(master_key, administration.id, phone) for phone in phones])


def _check_login(process: Process, citizen: AuthenticatedCitizen) -> None:
    """403 unless the citizen's login is of the process's administration, with the factor the process asks for."""
    if getattr(citizen.administration, "id", None) != process.administration_id:
        raise Forbidden(
            "This login is for another administration: log in with the administration that runs the process.",
            code="other_administration",
        )
    _check_factor(process, citizen.amr)


def _check_factor(process: Process, amr: Sequence[str]) -> None:
    if process.required_factor is not None and process.required_factor not in amr:
        raise Forbidden(
            f"This process needs a login with {process.required_factor}; the token says {', '.join(amr)}.",
            code="factor_required",
        )


def _not_in_census() -> Forbidden:
    return Forbidden("You are not in this process's census.", code="not_in_census")


def _admit(session: Session, master_key: bytes, process: Process, citizen: AuthenticatedCitizen) -> str:
    """The citizen's pseudonym in the process, once their login is of the process's administration, with the
    factor the process asks for, and they are in its census (when it has one): 403 otherwise."""
    _check_login(process, citizen)
    if process.eligibility == "census" and not repository.in_census(
        session, process_id=process.id, citizen_id=citizen.citizen_id
    ):
        raise _not_in_census()
    return pseudonym(master_key, process.id, citizen.citizen_id)


def _open(process: Process) -> None:
    if process.status != "open":
        raise Conflict("The process is closed.", code="process_closed")


# -- proposals ----------------------------------------------------------------------------------------------------


def version_hash(
    *, process_id: str, proposal_id: str, version: int, title: str, body: str, previous_hash: str | None
) -> str:
    """A proposal version's hash: SHA-256 of the canonical JSON of its text, its place and the previous hash."""
    content = {
        "body": body,
        "previous": previous_hash,
        "process": process_id,
        "proposal": proposal_id,
        "title": title,
        "version": version,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _proposal_view(proposal: Proposal, counts: tuple[int, dict[str, int]] | None) -> ProposalOut:
    total, per_version = counts or (0, {})
    hidden = proposal.hidden_at is not None
    return ProposalOut(
        id=proposal.id,
        process=proposal.process_id,
        title=None if hidden else proposal.title,
        body=None if hidden else proposal.body,
        language=proposal.language,
        service=proposal.service,
        version=proposal.version,
        version_hash=proposal.version_hash,
        verification_code=proposal.verification_code,
        supports=total,
        supports_of_version=per_version.get(proposal.version_hash, 0),
        hidden=hidden,
        hidden_reason=proposal.hidden_reason,
        hidden_verification_code=proposal.hidden_verification_code,
        created_at=proposal.created_at,
        updated_at=proposal.updated_at,
    )


def _notarise_version(
    session: Session,
    process: Process,
    proposal_id: str,
    version: int,
    title: str,
    body: str,
    previous: ProposalVersion | None,
) -> tuple[str, Any]:
    digest = version_hash(
        process_id=process.id,
        proposal_id=proposal_id,
        version=version,
        title=title,
        body=body,
        previous_hash=previous.version_hash if previous else None,
    )
    receipt = notary.notarise(
        session,
        process.administration_id,
        digest,
        kind=PROPOSAL_KIND,
        title=title[:200],
        metadata={"process": process.id, "proposal": proposal_id, "version": version},
        public=True,
        derived_from=[previous.receipt_id] if previous else [],
    )
    return digest, receipt


def create_proposal(
    session: Session,
    master_key: bytes,
    citizen: AuthenticatedCitizen,
    process_id: str,
    request: ProposalRequest,
    now: datetime,
) -> ProposalOut:
    """A citizen's new proposal: version 1, notarised."""
    process = _process(session, process_id)
    _open(process)
    author = _admit(session, master_key, process, citizen)
    _in_phase(process, "proposals", now)
    if request.service is not None and process.services and request.service not in process.services:
        raise ValidationFailed.in_body(f"service must be one of the process's: {', '.join(process.services)}")
    proposal_id = _new_id("prp_")
    digest, receipt = _notarise_version(session, process, proposal_id, 1, request.title, request.body, None)
    proposal = Proposal(
        id=proposal_id,
        process_id=process.id,
        author=author,
        version=1,
        version_hash=digest,
        verification_code=receipt.verification_code,
        title=request.title,
        body=request.body,
        language=request.language,
        service=request.service,
        created_at=now,
        updated_at=now,
    )
    session.add(proposal)
    session.flush()
    session.add(
        ProposalVersion(
            proposal_id=proposal_id,
            version=1,
            version_hash=digest,
            previous_hash=None,
            title=request.title,
            body=request.body,
            receipt_id=receipt.id,
            verification_code=receipt.verification_code,
            created_at=now,
        )
    )
    session.flush()
    return _proposal_view(proposal, None)


def _proposal(session: Session, proposal_id: str, *, for_update: bool = False) -> Proposal:
    proposal = repository.proposal_by_id(session, proposal_id=proposal_id, for_update=for_update)
    if proposal is None:
        raise NotFound(f"No proposal {proposal_id!r}.", code="proposal_not_found")
    return proposal


def _changed(proposal: Proposal, given: str) -> Conflict:
    return Conflict(
        f"The proposal changed: its current version is {proposal.version} ({proposal.version_hash}). "
        "Read it again and act on that version.",
        code="proposal_changed",
        details={"version": proposal.version, "version_hash": proposal.version_hash, "given": given},
    )


def edit_proposal(
    session: Session,
    master_key: bytes,
    citizen: AuthenticatedCitizen,
    proposal_id: str,
    request: ProposalEdit,
    now: datetime,
) -> ProposalOut:
    """The author's edit: a new version, its hash naming the previous one, notarised and derived from it.
    Supports stay with the version they were given to."""
    proposal = _proposal(session, proposal_id, for_update=True)
    process = _process(session, proposal.process_id)
    _open(process)
    author = _admit(session, master_key, process, citizen)
    if author != proposal.author:
        raise Forbidden("Only the proposal's author may edit it.", code="not_author")
    if proposal.hidden_at is not None:
        raise Conflict("The proposal is hidden by moderation: it can no longer change.", code="proposal_hidden")
    _in_phase(process, "proposals", now)
    if request.version_hash != proposal.version_hash:
        raise _changed(proposal, request.version_hash)
    versions = repository.versions_of(session, proposal_id=proposal.id)
    previous = versions[-1]
    version = previous.version + 1
    digest, receipt = _notarise_version(session, process, proposal.id, version, request.title, request.body, previous)
    session.add(
        ProposalVersion(
            proposal_id=proposal.id,
            version=version,
            version_hash=digest,
            previous_hash=previous.version_hash,
            title=request.title,
            body=request.body,
            receipt_id=receipt.id,
            verification_code=receipt.verification_code,
            created_at=now,
        )
    )
    proposal.version, proposal.version_hash, proposal.verification_code = version, digest, receipt.verification_code
    proposal.title, proposal.body, proposal.updated_at = request.title, request.body, now
    session.flush()
    counts = repository.support_counts(session, proposal_ids=[proposal.id])
    return _proposal_view(proposal, counts.get(proposal.id))


def get_proposal(session: Session, proposal_id: str) -> ProposalOut:
    proposal = _proposal(session, proposal_id)
    return _proposal_view(proposal, repository.support_counts(session, proposal_ids=[proposal.id]).get(proposal.id))


def proposal_versions(session: Session, proposal_id: str) -> list[ProposalVersionOut]:
    """Every version of a proposal, oldest first; the text of none once the proposal is hidden."""
    proposal = _proposal(session, proposal_id)
    hidden = proposal.hidden_at is not None
    return [
        ProposalVersionOut(
            version=v.version,
            version_hash=v.version_hash,
            previous_hash=v.previous_hash,
            title=None if hidden else v.title,
            body=None if hidden else v.body,
            verification_code=v.verification_code,
            created_at=v.created_at,
        )
        for v in repository.versions_of(session, proposal_id=proposal.id)
    ]


def option_labels(session: Session, process_id: str) -> list[OptionLabel]:
    """Every version of a process's proposals, named (no title once hidden), in the order they were made."""
    process = _process(session, process_id)
    return [
        OptionLabel(
            version_hash=digest,
            proposal=proposal_id,
            version=version,
            title=None if hidden else title,
            current=current,
            hidden=hidden,
        )
        for digest, proposal_id, version, title, current, hidden in repository.version_labels(
            session, process_id=process.id
        )
    ]


def search_proposals(
    session: Session,
    process_id: str,
    *,
    text: str | None,
    service: str | None,
    sort: str,
    seed: str | None,
    limit: int,
    offset: int,
) -> ProposalPage:
    """A page of a process's visible proposals: `sort` ``supports`` (most first), ``newest``, or ``random`` in an
    order fixed by `seed` (the same seed, the same order, page after page)."""
    process = _process(session, process_id)
    if sort == "random":
        if not seed:
            raise ValidationFailed(
                "Sorting at random needs a seed: pass the same `seed` for every page.",
                details=[{"location": "query.seed", "message": "required when sort=random"}],
            )
        ids = repository.matching_proposal_ids(session, process_id=process.id, text=text, service=service)
        ids.sort(key=lambda pid: hmac.new(seed.encode(), pid.encode(), hashlib.sha256).digest())
        page_ids = ids[offset : offset + limit]
        found = repository.proposals_by_ids(session, proposal_ids=page_ids)
        proposals, total = [found[pid] for pid in page_ids], len(ids)
    else:
        proposals, total = repository.search_proposals(
            session, process_id=process.id, text=text, service=service, sort=sort, limit=limit, offset=offset
        )
    counts = repository.support_counts(session, proposal_ids=[p.id for p in proposals])
    return ProposalPage(items=[_proposal_view(p, counts.get(p.id)) for p in proposals], total=total)


def support(
    session: Session, master_key: bytes, citizen: AuthenticatedCitizen, proposal_id: str, given_hash: str, now: datetime
) -> SupportOut:
    """A citizen's support of the proposal's current version: 409 `proposal_changed` for another version,
    409 `already_supported` for a second support of the same proposal."""
    proposal = _proposal(session, proposal_id)
    process = _process(session, proposal.process_id)
    _open(process)
    supporter = _admit(session, master_key, process, citizen)
    if proposal.hidden_at is not None:
        raise Conflict("The proposal is hidden by moderation.", code="proposal_hidden")
    _in_phase(process, "proposals", now)
    if given_hash != proposal.version_hash:
        raise _changed(proposal, given_hash)
    added = repository.add_support(
        session,
        proposal_id=proposal.id,
        supporter=supporter,
        version=proposal.version,
        version_hash=proposal.version_hash,
        created_at=now,
    )
    if not added:
        raise Conflict("You already support this proposal.", code="already_supported")
    # Read after the insert: on SQLite the insert took the write lock, so a concurrent edit has committed or waits.
    current = _proposal(session, proposal_id)
    if current.version_hash != given_hash:
        raise _changed(current, given_hash)
    total = repository.support_counts(session, proposal_ids=[proposal.id]).get(proposal.id, (0, {}))[0]
    return SupportOut(
        proposal=proposal.id, version=proposal.version, version_hash=proposal.version_hash, supports=total
    )


def hide_proposal(session: Session, administration: Any, proposal_id: str, reason: str, now: datetime) -> ProposalOut:
    """Moderation: the process's administration hides a proposal with a reason; both are notarised."""
    proposal = _proposal(session, proposal_id, for_update=True)
    process = _own_process(session, administration, proposal.process_id)
    if proposal.hidden_at is not None:
        raise Conflict("The proposal is hidden already.", code="proposal_hidden")
    versions = repository.versions_of(session, proposal_id=proposal.id)
    record = {"hidden_at": now.isoformat(), "proposal": proposal.id, "reason": reason, "version": proposal.version_hash}
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    receipt = notary.notarise(
        session,
        process.administration_id,
        digest,
        kind=MODERATION_KIND,
        title=reason[:200],
        metadata={"process": process.id, "proposal": proposal.id, "version": proposal.version, "reason": reason},
        public=True,
        derived_from=[versions[-1].receipt_id],
    )
    proposal.hidden_at, proposal.hidden_reason = now, reason
    proposal.hidden_receipt_id, proposal.hidden_verification_code = receipt.id, receipt.verification_code
    session.flush()
    counts = repository.support_counts(session, proposal_ids=[proposal.id])
    return _proposal_view(proposal, counts.get(proposal.id))


# -- ballots ------------------------------------------------------------------------------------------------------


def rules_of(process: Process) -> tally.BallotRules:
    """The rules every ballot of `process` is checked against."""
    rules = BallotRulesIn.model_validate(process.rules)
    return tally.BallotRules(
        min_choices=rules.min_projects,
        max_choices=rules.max_projects,
        budget_cap=rules.budget_cap,
        min_per_district=rules.min_projects_per_district,
        max_per_district=rules.max_projects_per_district,
        max_districts=rules.max_districts,
    )


class _BudgetOptions:
    """Budgets' projects, kept per API process: a process's projects are fixed when it opens."""

    def __init__(self, size: int = 64) -> None:
        self._options: OrderedDict[str, dict[str, tally.Option]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, process_id: str) -> dict[str, tally.Option] | None:
        with self._lock:
            return self._options.get(process_id)

    def put(self, process_id: str, options: dict[str, tally.Option]) -> None:
        with self._lock:
            self._options[process_id] = options
            while len(self._options) > self._size:
                self._options.popitem(last=False)


_budget_options = _BudgetOptions()


def ballot_options(session: Session, process: Process) -> dict[str, tally.Option]:
    """What a ballot of the process may choose now: a budget's projects, a challenge's visible proposals' current
    versions (by hash)."""
    if process.process_type == "budget":
        cached = _budget_options.get(process.id)
        if cached is None:
            projects = repository.projects_of(session, process_id=process.id)
            cached = {p.id: tally.Option(p.id, p.cost, p.district) for p in projects}
            _budget_options.put(process.id, cached)
        return cached
    return {digest: tally.Option(digest) for _, digest in repository.current_versions(session, process_id=process.id)}


@dataclass(frozen=True)
class _Voting:
    """A process as its ballots are checked, kept per API process: type, administration, factor, eligibility,
    phases and rules are fixed when a process opens. Only the status changes, and only from open to closed: a
    ballot's write reads it again, in the transaction that stores the ballot."""

    process: Process
    administration_code: str
    rules: tally.BallotRules
    pseudonyms: "hmac.HMAC"  # keyed with the process key: a voter's pseudonym is a copy of it fed their citizen id

    def pseudonym(self, citizen_id: str) -> str:
        keyed = self.pseudonyms.copy()
        keyed.update(citizen_id.encode())
        return keyed.hexdigest()


class _VotingProcesses:
    """The `_Voting` of processes read for their ballots, the most recently read ones."""

    def __init__(self, size: int = 256) -> None:
        self._processes: OrderedDict[str, _Voting] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, process_id: str) -> _Voting | None:
        with self._lock:
            return self._processes.get(process_id)

    def put(self, voting: _Voting) -> None:
        with self._lock:
            self._processes[voting.process.id] = voting
            while len(self._processes) > self._size:
                self._processes.popitem(last=False)

    def forget(self, process_id: str) -> None:
        with self._lock:
            self._processes.pop(process_id, None)


_voting = _VotingProcesses()


def _voting_process(runtime: Runtime, process_id: str) -> _Voting:
    voting = _voting.get(process_id)
    if voting is None:
        with runtime.transaction() as session:
            process = _process(session, process_id)
            codes = repository.administration_codes(session, administration_ids=[process.administration_id])
            if process.process_type == "budget":
                ballot_options(session, process)  # its projects, read once as well
        key = process_key(runtime.master_key, process.id)
        # The process is detached with every column loaded (sessions keep them after commit).
        voting = _Voting(process, codes[process.administration_id], rules_of(process), hmac.new(key, b"", "sha256"))
        _voting.put(voting)
    return voting


@dataclass(frozen=True)
class _Ballot:
    """A ballot checked against its process's rules, for the ballots' group writer."""

    voting: _Voting
    citizen_id: str
    voter: str  # the citizen's pseudonym in the process
    commitment: str
    record: str
    cast_at: datetime


def _write_ballots(session: Session, ballots: list[_Ballot]) -> list[Any]:
    """Store a group of ballots in the transaction `session`: for each, "new" or "replaced", or the error it is
    refused with (not in the census, already voted), having written nothing of it, so that the rest of the group is
    committed all the same. The census is read once per process of the group, its new ballots inserted in one
    statement. A process no longer open, or its administration suspended, fails the group (written again one by
    one, each ballot is then refused with that error)."""
    outcomes: list[Any] = [None] * len(ballots)
    wanted: dict[str, set[str]] = {}
    for ballot in ballots:
        if ballot.voting.process.eligibility == "census":
            wanted.setdefault(ballot.voting.process.id, set()).add(ballot.citizen_id)
    census = {
        process_id: repository.in_census_of(session, process_id=process_id, citizen_ids=citizen_ids)
        for process_id, citizen_ids in wanted.items()
    }
    firsts: dict[tuple[str, str], int] = {}  # a voter's first ballot in the group: the one that may be new
    for index, ballot in enumerate(ballots):
        process = ballot.voting.process
        if process.eligibility == "census" and ballot.citizen_id not in census[process.id]:
            outcomes[index] = _not_in_census()
        else:
            firsts.setdefault((process.id, ballot.voter), index)
    inserted = repository.insert_ballots(
        session,
        [
            {
                "process_id": ballots[index].voting.process.id,
                "pseudonym": ballots[index].voter,
                "commitment": ballots[index].commitment,
                "record": ballots[index].record,
                "cast_at": ballots[index].cast_at,
            }
            for index in firsts.values()
        ],
    )
    for index, ballot in enumerate(ballots):
        if outcomes[index] is not None:
            continue
        process = ballot.voting.process
        if firsts[(process.id, ballot.voter)] == index and (process.id, ballot.voter) in inserted:
            outcomes[index] = "new"
        elif process.ballot_replacement:  # in the group's order: the last one cast stays
            repository.replace_ballot(
                session,
                process_id=process.id,
                pseudonym=ballot.voter,
                commitment=ballot.commitment,
                record=ballot.record,
                cast_at=ballot.cast_at,
            )
            outcomes[index] = "replaced"
        else:
            outcomes[index] = Conflict(
                "You have voted in this process already: one ballot per voter.", code="already_voted"
            )
    # Read after the ballots' writes (the processes FOR SHARE on PostgreSQL): on SQLite the insert took the write
    # lock, and on PostgreSQL the row lock holds a close back until the commit; a close in progress is waited for,
    # and then refuses the ballots. The administration's status is the one its citizens' tokens act with.
    votings = {ballot.voting.process.id: ballot.voting for ballot in ballots}
    statuses = repository.statuses_for_ballots(session, process_ids=sorted(votings))
    for process_id, voting in votings.items():
        process_status, administration_status = statuses[process_id]
        if administration_status != "active":
            raise Forbidden(
                f"Administration {voting.administration_code} is suspended; its citizens' tokens act again once it "
                "is reinstated.",
                code="administration_suspended",
            )
        if process_status != "open":
            _voting.forget(process_id)
            raise Conflict("The process closed before the ballot was recorded.", code="process_closed")
    return outcomes


def ballot_writer(runtime: Runtime) -> GroupWriter:
    """The group writer of the runtime's ballots in this process."""
    return group_writer(runtime, "ballots", _write_ballots)


def _checked_ballot(
    voting: _Voting, citizen_id: str, options: dict[str, tally.Option], choices: Sequence[str], now: datetime
) -> _Ballot:
    """The ballot of `choices`, checked against the process's rules (422 `ballot_rules`), with its commitment."""
    problems = tally.check_choices(options, voting.rules, choices)
    if problems:
        raise ValidationFailed(
            "The ballot breaks the process's rules: " + "; ".join(problems) + ".",
            code="ballot_rules",
            details=[{"location": "body.choices", "message": problem} for problem in problems],
        )
    voter = voting.pseudonym(citizen_id)
    record = tally.canonical_record(voter, choices, tally.new_nonce())
    return _Ballot(voting, citizen_id, voter, tally.commitment_of(record), record.decode(), now)


def _votes(process: Process) -> None:
    if process.process_type == "ideas":
        raise Conflict("An ideas process has no vote: support proposals instead.", code="no_vote")
    _open(process)


def _receipt(ballot: _Ballot, outcome: str) -> BallotReceipt:
    return BallotReceipt(
        process=ballot.voting.process.id,
        commitment=ballot.commitment,
        code=tally.short_code(ballot.commitment),
        replaced=outcome == "replaced",
    )


def cast_ballot(
    runtime: Runtime,
    citizen: AuthenticatedCitizen,
    process_id: str,
    choices: Sequence[str],
    now: datetime,
) -> BallotReceipt:
    """Cast a citizen's ballot: checked against the rules, committed, one per voter (a later one replaces it when
    the process says so, else 409 `already_voted`). The receipt is the commitment and its short code, answered once
    the ballot is committed; the ballots cast meanwhile share a commit (`group_writes`)."""
    voting = _voting_process(runtime, process_id)
    process = voting.process
    _votes(process)
    _check_login(process, citizen)
    _in_phase(process, "voting", now)
    options = _budget_options.get(process.id) if process.process_type == "budget" else None
    if options is None:
        with runtime.transaction() as session:  # a challenge's options change with its proposals' versions
            options = ballot_options(session, process)
            for choice in choices if process.process_type == "challenge" else ():
                if choice not in options and (old := repository.version_by_hash(session, version_hash=choice)):
                    raise _changed(_proposal(session, old.proposal_id), choice)
    ballot = _checked_ballot(voting, citizen.citizen_id, options, choices, now)
    return _receipt(ballot, ballot_writer(runtime).write(ballot))


def token_claims_from_held_keys(runtime: Runtime, token: str, now: datetime) -> TokenClaims | None:
    """A citizen token's claims, checked without a query when this process holds its key (401 as `CitizenDep`
    answers when it does not check out); None when its key must be read from the database first."""
    try:
        return verify_token_with_held_keys(runtime.engine, token, issuer=runtime.settings.api_url, now=now)
    except InvalidToken as invalid:
        raise Unauthenticated(invalid.message, code=invalid.code) from None


async def cast_ballot_from_loop(
    runtime: Runtime, claims: TokenClaims | None, process_id: str, choices: Sequence[str], now: datetime
) -> BallotReceipt | None:
    """`cast_ballot` from an event loop, with no query before the ballot's group: for a budget this process has
    read and a citizen token whose key it holds (`claims`), of the process's administration. The phase and the
    rules are checked here; the administration's status, the census and one ballot per voter in the transaction
    that writes the ballot. None for any other (`cast_ballot` in a worker thread answers it then)."""
    voting = _voting.get(process_id)
    options = _budget_options.get(process_id)
    if voting is None or options is None or voting.process.process_type != "budget":
        return None
    if claims is None or claims.audience != voting.administration_code:
        return None  # a key not read yet, or another administration's token (403) or no tenant's (401)
    _votes(voting.process)
    _check_factor(voting.process, claims.amr)
    _in_phase(voting.process, "voting", now)
    ballot = _checked_ballot(voting, claims.citizen_id, options, choices, now)
    return _receipt(ballot, await ballot_writer(runtime).submit(ballot))


# -- close: publish, anchor, tally ---------------------------------------------------------------------------------


def _options_of_result(session: Session, process: Process) -> list[tally.Option]:
    if process.process_type == "budget":
        return [tally.Option(p.id, p.cost, p.district) for p in repository.projects_of(session, process_id=process.id)]
    return [tally.Option(digest) for digest in repository.all_version_hashes(session, process_id=process.id)]


def close_process(
    session: Session, runtime: Runtime, administration: Any, process_id: str, now: datetime
) -> ProcessOut:
    """Close a vote: publish every ballot (sorted by commitment, no times) as open data, notarise the Merkle root of
    the commitments, compute the result from the published ballots only and notarise it derived from the root."""
    process = _own_process(session, administration, process_id)
    if process.process_type == "ideas":
        raise Conflict("An ideas process has no vote to close.", code="no_vote")
    if not repository.start_closing(session, process_id=process.id):
        raise Conflict("The process is closed already.", code="process_closed")
    _voting.forget(process.id)
    records = repository.ballot_records(session, process_id=process.id)
    if not records:
        raise Conflict("No ballot was cast: there is nothing to tally.", code="no_ballots")
    parsed = [json.loads(record) for record in records]
    ballots_file = tally.ballots_document(
        (tally.commitment_of(record.encode()), b["pseudonym"], b["choices"], b["nonce"])
        for record, b in zip(records, parsed, strict=True)
    )
    published = tally.read_ballots(ballots_file)  # the result is computed from these bytes, and only from them
    tree = tally.ballots_tree(b["commitment"] for b in published)
    root = tree.root.hex()
    ballots_sha256 = hashlib.sha256(ballots_file).hexdigest()
    title = process.title["ca"]
    ballots_receipt = notary.notarise(
        session,
        process.administration_id,
        root,
        kind=BALLOTS_KIND,
        title=title[:200],
        metadata={"process": process.id, "ballots": len(published), "ballots_sha256": ballots_sha256},
        public=True,
    )
    options = _options_of_result(session, process)
    result = {
        "process": process.id,
        "administration": administration.code,
        "type": process.process_type,
        "title": process.title,
        "options": [{"id": o.id, "cost": o.cost, "district": o.district} for o in options],
        "available_budget": process.available_budget,
        "ballots": {
            "count": len(published),
            "root": root,
            "sha256": ballots_sha256,
            "verification_code": ballots_receipt.verification_code,
        },
        "tally": tally.count(published, options, process.available_budget),
    }
    result_file = tally.result_document(result)
    result_sha256 = hashlib.sha256(result_file).hexdigest()
    result_receipt = notary.notarise(
        session,
        process.administration_id,
        result_sha256,
        kind=RESULT_KIND,
        title=title[:200],
        metadata={"process": process.id, "ballots_root": root},
        public=True,
        derived_from=[ballots_receipt.id],
    )
    dataset = opendata.publish_dataset(
        session,
        runtime.settings,
        administration,
        name=opendata.dataset_name(administration.code, f"participation-{process.id}"),
        title={language: f"{text} — ballots and result"[:300] for language, text in process.title.items()},
        description=PUBLISHED_DESCRIPTION,
        files=[
            opendata.FileToPublish("ballots", "ballots.json", "JSON", ballots_file),
            opendata.FileToPublish("result", "result.json", "JSON", result_file),
        ],
        keywords=["participation", "ballots"],
        derived_from=[ballots_receipt.id, result_receipt.id],
    )
    process.status, process.closed_at = "closed", now
    process.ballots_count, process.ballots_root, process.ballots_sha256 = len(published), root, ballots_sha256
    process.ballots_receipt_id, process.result_receipt_id = ballots_receipt.id, result_receipt.id
    process.result, process.result_sha256 = result, result_sha256
    process.dataset_name = dataset.name
    process.ballots_url, process.result_url = dataset.files[0].url, dataset.files[1].url
    session.flush()
    _trees.put(process.id, root, tree)
    return process_view(session, process, administration.code, now)


class _TreeCache:
    """Closed processes' ballot trees, kept per API process: they never change once the root is anchored."""

    def __init__(self, size: int = 8) -> None:
        self._trees: OrderedDict[tuple[str, str], MerkleTree] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, process_id: str, root: str) -> MerkleTree | None:
        with self._lock:
            tree = self._trees.get((process_id, root))
            if tree is not None:
                self._trees.move_to_end((process_id, root))
            return tree

    def put(self, process_id: str, root: str, tree: MerkleTree) -> None:
        with self._lock:
            self._trees[(process_id, root)] = tree
            while len(self._trees) > self._size:
                self._trees.popitem(last=False)


_trees = _TreeCache()


def inclusion(session: Session, process_id: str, commitment: str) -> InclusionOut:
    """The proof that the ballot with `commitment` is among a closed process's published ballots."""
    process = _process(session, process_id)
    if process.status != "closed" or process.ballots_root is None or process.ballots_receipt_id is None:
        raise Conflict("The process is not closed: its ballots are published at close.", code="not_closed")
    record = repository.ballot_record(session, process_id=process.id, commitment=commitment)
    if record is None:
        raise NotFound("No published ballot of this process has that commitment.", code="ballot_not_found")
    tree = _trees.get(process.id, process.ballots_root)
    if tree is None:
        tree = tally.ballots_tree(repository.commitments_of(session, process_id=process.id))
        _trees.put(process.id, process.ballots_root, tree)
    proof = tally.inclusion_proof(tree, commitment)
    assert proof is not None and tree.root.hex() == process.ballots_root
    ballot = json.loads(record)
    receipt = notary.receipt(session, process.administration_id, process.ballots_receipt_id)
    return InclusionOut(
        process=process.id,
        commitment=commitment,
        code=tally.short_code(commitment),
        leaf=tally.ballot_leaf(commitment).hex(),
        proof=proof,
        ballots_root=process.ballots_root,
        ballots_count=process.ballots_count or 0,
        ballots_verification_code=receipt.verification_code,
        ballot={"commitment": commitment, **ballot},
    )
