"""What the other domains may use of participation (`tests/services/test_domain_boundaries.py` holds them to it):
the pages read processes, proposals and ballot proofs, and act for a citizen, through these functions only.

Reading (any caller; `now` is the time the rules use, `ClockDep` in a route):

- `process(session, process_id, now)` → `ProcessOut`: a process with its projects, rules, phases, current phase and,
  once closed, its `tally` (ballots root, receipts, dataset, ranked tally); `NotFound` `process_not_found`;
- `processes(session, now, administration_code=None, process_type=None, status=None, limit=50)` → `ProcessList`;
- `proposals(session, process_id, text=None, service=None, sort="newest"|"supports"|"random", seed=None,
  limit=20, offset=0)` → `ProposalPage`; `proposal(session, proposal_id)` → `ProposalOut`;
  `proposal_versions(session, proposal_id)` → `list[ProposalVersionOut]`;
- `option_labels(session, process_id)` → `list[OptionLabel]`: every version of the proposals (a challenge's
  options), named, with which is current and which hidden;
- `inclusion(session, process_id, commitment)` → `InclusionOut`: a ballot's Merkle proof after close
  (`Conflict` `not_closed` before, `NotFound` `ballot_not_found`);
- `short_code(commitment)`: the receipt's short code; `check_choices(options, rules, choices)` with
  `ballot_options(session, process_id)` and `ballot_rules(session, process_id)`: what is wrong with a ballot.

Acting for a citizen (an `AuthenticatedCitizen` from `CitizenDep`; `master_key` is `runtime.master_key`):
`create_proposal`, `edit_proposal`, `support`, `cast_ballot(runtime, citizen, process_id, choices, now)`, which
commits the ballot itself (the same rules and errors as the JSON API:
`Forbidden` `other_administration` / `factor_required` / `not_in_census`, `Conflict` `already_voted` /
`already_supported` / `proposal_changed` / `process_closed` / `outside_phase`, `ValidationFailed` `ballot_rules`).
`pseudonym(master_key, process_id, citizen_id)` is a citizen's pseudonym in a process.

The survey page: `survey_view(session, token)` → `SurveyView`, `answer_survey(session, token, SurveyAnswer)`.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from segell.services.participation import repository
from segell.services.participation.schemas import (
    BallotReceipt,
    InclusionOut,
    OptionLabel,
    Phase,
    ProcessList,
    ProcessOut,
    ProposalOut,
    ProposalPage,
    ProposalVersionOut,
    TallyEntry,
    TallyOut,
)
from segell.services.participation.service import ballot_options as _ballot_options
from segell.services.participation.service import (
    cast_ballot,
    create_proposal,
    current_phase,
    edit_proposal,
    get_process_row,
    get_proposal,
    inclusion,
    option_labels,
    process_view,
    proposal_versions,
    pseudonym,
    rules_of,
    support,
)
from segell.services.participation.service import search_proposals as _search_proposals
from segell.services.participation.survey_schemas import SurveyAnswer, SurveyAnswerOut, SurveyView
from segell.services.participation.survey_service import answer_survey, survey_view
from segell.services.participation.tally import BallotRules, Option, check_choices, short_code

__all__ = [
    "SurveyAnswer",
    "SurveyAnswerOut",
    "SurveyView",
    "answer_survey",
    "survey_view",
    "BallotReceipt",
    "BallotRules",
    "InclusionOut",
    "Option",
    "OptionLabel",
    "Phase",
    "ProcessList",
    "ProcessOut",
    "ProposalOut",
    "ProposalPage",
    "ProposalVersionOut",
    "TallyEntry",
    "TallyOut",
    "ballot_options",
    "ballot_rules",
    "cast_ballot",
    "check_choices",
    "create_proposal",
    "current_phase",
    "edit_proposal",
    "inclusion",
    "option_labels",
    "process",
    "processes",
    "proposal",
    "proposal_versions",
    "proposals",
    "pseudonym",
    "short_code",
    "support",
]

proposal = get_proposal


def process(session: Session, process_id: str, now: datetime) -> ProcessOut:
    """A process as the API shows it; `NotFound` `process_not_found`."""
    row = get_process_row(session, process_id)
    codes = repository.administration_codes(session, administration_ids=[row.administration_id])
    return process_view(session, row, codes[row.administration_id], now)


def processes(
    session: Session,
    now: datetime,
    *,
    administration_code: str | None = None,
    process_type: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> ProcessList:
    """Processes, newest first; an unknown administration code gives none."""
    administration_id = None
    if administration_code is not None:
        administration_id = repository.administration_id_of(session, code=administration_code)
        if administration_id is None:
            return ProcessList(items=[])
    rows = repository.processes(
        session, administration_id=administration_id, process_type=process_type, status=status, limit=limit
    )
    codes = repository.administration_codes(session, administration_ids=[p.administration_id for p in rows])
    return ProcessList(items=[process_view(session, p, codes[p.administration_id], now) for p in rows])


def proposals(
    session: Session,
    process_id: str,
    *,
    text: str | None = None,
    service: str | None = None,
    sort: str = "newest",
    seed: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> ProposalPage:
    """A page of a process's visible proposals (see `GET /v1/participation/processes/{id}/proposals`)."""
    return _search_proposals(
        session, process_id, text=text, service=service, sort=sort, seed=seed, limit=limit, offset=offset
    )


def ballot_options(session: Session, process_id: str) -> dict[str, Option]:
    """What a ballot may choose now: a budget's projects by id, a challenge's current proposal versions by hash."""
    return _ballot_options(session, get_process_row(session, process_id))


def ballot_rules(session: Session, process_id: str) -> BallotRules:
    """The rules a ballot of the process must meet."""
    return rules_of(get_process_row(session, process_id))
