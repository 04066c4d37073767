"""What the participation routes take and answer."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from segell.services.citizen_auth.api import Phone
from segell.services.display_text import DisplayText
from segell.services.json_types import JSON_NUMBER
from segell.services.notary.api import Receipt

ProcessType = Literal["ideas", "challenge", "budget"]
PhaseName = Literal["proposals", "evaluation", "voting", "results"]
Language = Literal["ca", "es", "en"]
Title = Annotated[str, DisplayText(max_length=300)]
Description = Annotated[str, DisplayText(max_length=5000)]
ProposalBody = Annotated[str, DisplayText(max_length=10_000)]
Reason = Annotated[str, DisplayText(max_length=2000)]
District = Annotated[str, DisplayText(max_length=100)]
ServiceCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", examples=["ENT-0042"])]
OptionId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", examples=["P-017"])]
CitizenId = Annotated[str, Field(pattern=r"^cit_[0-9a-f]{40}$", examples=["cit_" + "0" * 40])]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def _date_time_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a date-time as text with its offset, e.g. 2026-03-01T00:00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
Euros = Annotated[int, Field(ge=0, le=10**15), JSON_NUMBER]
Count = Annotated[int, Field(ge=1, le=1000), JSON_NUMBER]
PHASE_ORDER: tuple[PhaseName, ...] = ("proposals", "evaluation", "voting", "results")


class Texts(BaseModel):
    """A title in Catalan, Spanish and English."""

    model_config = ConfigDict(extra="forbid")

    ca: Title
    es: Title
    en: Title


class LongTexts(BaseModel):
    """A description in Catalan, Spanish and English."""

    model_config = ConfigDict(extra="forbid")

    ca: Description
    es: Description
    en: Description


class Phase(BaseModel):
    """A phase as a process shows it."""

    phase: PhaseName
    starts_at: datetime
    ends_at: datetime


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: Moment
    ends_at: Moment = Field(description="After starts_at, and no later than the next phase starts.")


class Phases(BaseModel):
    """A process's dated phases, each optional; in this order, none overlapping the next."""

    model_config = ConfigDict(extra="forbid")

    proposals: Period | None = None
    evaluation: Period | None = None
    voting: Period | None = None
    results: Period | None = None


class IdeasPhases(BaseModel):
    """An ideas process has no vote: only proposals, evaluation and results may be dated."""

    model_config = ConfigDict(extra="forbid")

    proposals: Period | None = None
    evaluation: Period | None = None
    results: Period | None = None


class ChallengePhases(BaseModel):
    """A challenge's four phases, each dated."""

    model_config = ConfigDict(extra="forbid")

    proposals: Period
    evaluation: Period
    voting: Period
    results: Period


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: OptionId
    title: Texts
    description: LongTexts | None = None
    cost: Euros = Field(description="What the project costs, in whole euros.")
    district: District | None = Field(default=None, description="Where; none for a city-wide project.")


class BallotRulesIn(BaseModel):
    """The rules every ballot must meet; leave out a rule the process has not."""

    model_config = ConfigDict(extra="forbid")

    budget_cap: Euros | None = Field(default=None, description="The most a ballot's projects may cost.")
    min_projects: Count = 1
    max_projects: Count | None = None
    min_projects_per_district: Count | None = Field(
        default=None, description="In each district a ballot chooses, at least this many projects."
    )
    max_projects_per_district: Count | None = None
    max_districts: Count | None = Field(default=None, description="The most districts a ballot spans.")


class ProcessFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Texts
    description: LongTexts
    required_factor: Literal["totp"] | None = Field(
        default=None, description="Proposals, supports and ballots need a citizen login with this factor."
    )
    eligibility: Literal["census", "citizens"] = Field(
        default="census", description="`census`: only the census uploaded; `citizens`: any of the administration's."
    )


class IdeasProcessRequest(ProcessFields):
    """Ideas: continuous (or dated), optionally tied to the administration's services (procedure codes)."""

    type: Literal["ideas"]
    phases: IdeasPhases = IdeasPhases()
    services: list[ServiceCode] = Field(default=[], max_length=100, description="The procedures it is about.")


class VoteFields(ProcessFields):
    ballot_replacement: StrictBool = Field(
        default=False, description="A later ballot replaces the voter's earlier one until close (else it is refused)."
    )


class ChallengeProcessRequest(VoteFields):
    """A challenge: proposals, evaluation, a vote on the proposals' versions, results; each phase dated."""

    type: Literal["challenge"]
    phases: ChallengePhases
    rules: BallotRulesIn = BallotRulesIn()


class BudgetProcessRequest(VoteFields):
    """A participatory budget: projects with costs and districts, the ballot's rules, the money available."""

    type: Literal["budget"]
    phases: Phases = Phases()
    projects: list[ProjectIn] = Field(min_length=1, max_length=1000)
    rules: BallotRulesIn = BallotRulesIn()
    available_budget: Euros = Field(description="The money to fund projects, whole euros.")


ProcessRequest = Annotated[
    IdeasProcessRequest | ChallengeProcessRequest | BudgetProcessRequest, Field(discriminator="type")
]


class ProjectOut(BaseModel):
    id: str
    title: Texts
    description: LongTexts | None
    cost: int
    district: str | None


class TallyEntry(BaseModel):
    option: str = Field(description="A project's id, or a proposal version's hash in a challenge.")
    votes: int
    funded: bool | None = Field(description="Whether a budget funds it; null in a challenge.")


class TallyOut(BaseModel):
    """What close published: the ballots, their root anchored, the result computed from them, both notarised."""

    ballots_count: int
    ballots_root: str = Field(description="Merkle root of the ballots' commitments (StandardMerkleTree, bytes32).")
    ballots_sha256: str = Field(description="SHA-256 of the published ballots file.")
    ballots_receipt: Receipt = Field(description="The notarised root (kind participation-ballots).")
    result_sha256: str
    result_receipt: Receipt = Field(description="The notarised result (kind participation-result), from the root.")
    dataset: str = Field(description="The open-data dataset holding ballots.json and result.json.")
    ballots_url: str
    result_url: str
    tally: list[TallyEntry]


class ProcessOut(BaseModel):
    id: str
    administration: str = Field(description="The code of the administration that opened it.")
    type: ProcessType
    title: Texts
    description: LongTexts
    phases: list[Phase]
    current_phase: PhaseName | None = Field(description="The phase now under way; null between phases or without.")
    services: list[str]
    projects: list[ProjectOut]
    rules: BallotRulesIn
    available_budget: int | None
    required_factor: str | None
    eligibility: str
    ballot_replacement: bool
    status: Literal["open", "closed"]
    created_at: datetime
    closed_at: datetime | None
    tally: TallyOut | None


class ProcessList(BaseModel):
    items: list[ProcessOut]


class CensusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    citizen_ids: list[CitizenId] = Field(
        min_length=1, description="Eligible citizens by the id their login gives (a token's `sub`); never names."
    )


class CensusOut(BaseModel):
    added: int = Field(description="Ids new to the census (an id already in it is not counted twice).")
    census_size: int


class CitizenIdsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phones: list[Phone] = Field(min_length=1, max_length=10_000)


class CitizenIdsOut(BaseModel):
    citizen_ids: list[str] = Field(description="The citizen id each number's login gives, in the order sent.")


class ProposalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: ProposalBody
    language: Language = "ca"
    service: ServiceCode | None = Field(default=None, description="The procedure the idea is about, if any.")


class ProposalEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: ProposalBody
    version_hash: Hash = Field(description="The hash of the version being edited: the current one.")


class ProposalOut(BaseModel):
    id: str
    process: str
    title: str | None = Field(description="Null once hidden by moderation.")
    body: str | None
    language: str
    service: str | None
    version: int
    version_hash: str = Field(description="SHA-256 of the version (its text and the previous version's hash).")
    verification_code: str = Field(description="The current version's notarised receipt.")
    supports: int = Field(description="Supports of any version, counted from the supports themselves.")
    supports_of_version: int = Field(description="Supports given to the current version.")
    hidden: bool
    hidden_reason: str | None
    hidden_verification_code: str | None
    created_at: datetime
    updated_at: datetime


class OptionLabel(BaseModel):
    """What a challenge's option (a proposal's version, by its hash) is, to name it on a ballot or in a result."""

    version_hash: str
    proposal: str
    version: int
    title: str | None = Field(description="Null once the proposal is hidden by moderation.")
    current: bool = Field(description="The proposal's current version: the one a ballot may choose.")
    hidden: bool


class ProposalPage(BaseModel):
    items: list[ProposalOut]
    total: int


class ProposalVersionOut(BaseModel):
    version: int
    version_hash: str
    previous_hash: str | None
    title: str | None
    body: str | None
    verification_code: str
    created_at: datetime


class SupportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_hash: Hash = Field(description="The version supported: the proposal's current one.")


class SupportOut(BaseModel):
    proposal: str
    version: int
    version_hash: str
    supports: int


class HideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class BallotRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choices: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]] = Field(
        min_length=1,
        max_length=1000,
        description="Projects' ids (a budget) or proposal versions' hashes (a challenge).",
    )


class BallotReceipt(BaseModel):
    """What the voter keeps: with the commitment, anyone checks the ballot is among the published ones."""

    process: str
    commitment: str = Field(description="SHA-256 of the ballot's canonical record.")
    code: str = Field(description="A short code of the commitment, ABCDE-FGHIJ.")
    replaced: bool = Field(description="True when it replaced the voter's earlier ballot.")


class InclusionOut(BaseModel):
    """The proof that a ballot is among a closed process's published ones; check it offline and the root on chain."""

    process: str
    commitment: str
    code: str
    leaf: str = Field(description="keccak256(keccak256(commitment)).")
    proof: list[str] = Field(description="Siblings from the leaf up (OpenZeppelin MerkleProof).")
    ballots_root: str
    ballots_count: int
    ballots_verification_code: str = Field(description="The notarised root's code: its bundle anchors it on chain.")
    ballot: dict[str, Any] = Field(description="The published ballot: commitment, pseudonym, choices, nonce.")
