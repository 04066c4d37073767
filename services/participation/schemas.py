"""What the participation routes take and answer."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from segell.services.citizen_auth.api import Phone
from segell.services.display_text import DisplayText
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
    model_config = ConfigDict(extra="forbid")

    phase: PhaseName
    starts_at: datetime
    ends_at: datetime

    @model_validator(mode="after")
    def _ordered(self) -> "Phase":
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("give the phase's dates with their time zone, e.g. 2026-03-01T00:00:00Z")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"the {self.phase} phase must end after it starts")
        return self


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: OptionId
    title: Texts
    description: LongTexts | None = None
    cost: int = Field(ge=0, le=10**15, description="What the project costs, in whole euros.")
    district: District | None = Field(default=None, description="Where; none for a city-wide project.")


class BallotRulesIn(BaseModel):
    """The rules every ballot must meet; leave out a rule the process has not."""

    model_config = ConfigDict(extra="forbid")

    budget_cap: int | None = Field(default=None, ge=0, le=10**15, description="The most a ballot's projects may cost.")
    min_projects: int = Field(default=1, ge=1, le=1000)
    max_projects: int | None = Field(default=None, ge=1, le=1000)
    min_projects_per_district: int | None = Field(
        default=None, ge=1, le=1000, description="In each district a ballot chooses, at least this many projects."
    )
    max_projects_per_district: int | None = Field(default=None, ge=1, le=1000)
    max_districts: int | None = Field(default=None, ge=1, le=1000, description="The most districts a ballot spans.")

    @model_validator(mode="after")
    def _consistent(self) -> "BallotRulesIn":
        if self.max_projects is not None and self.max_projects < self.min_projects:
            raise ValueError("max_projects is below min_projects")
        low, high = self.min_projects_per_district, self.max_projects_per_district
        if low is not None and high is not None and high < low:
            raise ValueError("max_projects_per_district is below min_projects_per_district")
        return self


class ProcessRequest(BaseModel):
    """A process to open: `ideas` (continuous), `challenge` (dated phases: proposals, evaluation, voting, results)
    or `budget` (projects with costs and districts, ballot rules, the budget available)."""

    model_config = ConfigDict(extra="forbid")

    type: ProcessType
    title: Texts
    description: LongTexts
    phases: list[Phase] = Field(default=[], max_length=4)
    services: list[ServiceCode] = Field(
        default=[], max_length=100, description="The procedures an ideas process is for."
    )
    projects: list[ProjectIn] = Field(default=[], max_length=1000)
    rules: BallotRulesIn = BallotRulesIn()
    available_budget: int | None = Field(default=None, ge=0, le=10**15, description="A budget's money, whole euros.")
    required_factor: Literal["totp"] | None = Field(
        default=None, description="Proposals, supports and ballots need a citizen login with this factor."
    )
    eligibility: Literal["census", "citizens"] = Field(
        default="census", description="`census`: only the census uploaded; `citizens`: any of the administration's."
    )
    ballot_replacement: bool = Field(
        default=False, description="A later ballot replaces the voter's earlier one until close (else it is refused)."
    )

    @model_validator(mode="after")
    def _by_type(self) -> "ProcessRequest":
        names = [phase.phase for phase in self.phases]
        if len(set(names)) != len(names):
            raise ValueError("each phase may be given once")
        ordered = sorted(self.phases, key=lambda phase: PHASE_ORDER.index(phase.phase))
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.starts_at < before.ends_at:
                raise ValueError(f"the {after.phase} phase starts before the {before.phase} phase ends")
        if self.type == "challenge" and set(names) != set(PHASE_ORDER):
            raise ValueError("a challenge has the four phases: proposals, evaluation, voting, results")
        if self.type == "budget":
            if not self.projects:
                raise ValueError("a budget needs its projects")
            if self.available_budget is None:
                raise ValueError("a budget needs its available_budget")
        elif self.projects:
            raise ValueError("only a budget has projects")
        if self.type == "ideas" and "voting" in names:
            raise ValueError("an ideas process has no vote: leave out the voting phase")
        ids = [project.id for project in self.projects]
        if len(set(ids)) != len(ids):
            raise ValueError("two projects have the same id")
        return self


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
