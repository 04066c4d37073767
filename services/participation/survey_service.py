"""The after-transaction survey's rules: a single-use link per completed procedure, one answer through it, and the
ratings per procedure, read by anyone and published in the open-data catalogue."""

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration, get_by_code
from segell.services.deps import AuthenticatedCitizen
from segell.services.errors import Conflict, Gone, NotFound, SegellError
from segell.services.opendata import api as opendata
from segell.services.participation import service as participation
from segell.services.participation import survey_repository as repository
from segell.services.participation.schemas import ProposalRequest
from segell.services.participation.survey_models import ServiceRating, SurveyInvitation
from segell.services.participation.survey_schemas import (
    InvitationOut,
    InvitationRequest,
    ProcedureRatings,
    RatingsOut,
    RatingsPublication,
    SurveyAnswer,
    SurveyAnswerOut,
    SurveyView,
)
from segell.services.settings import Settings

#: Where the survey page is, under the server's public URL.
SURVEY_PATH = "/participation/survey"
RATINGS_TABLE = opendata.TableText(
    title={
        "ca": "Valoració dels tràmits",
        "es": "Valoración de los trámites",
        "en": "Ratings of the procedures",
    },
    description={
        "ca": "Com valoren els ciutadans cada tràmit en acabar-lo (d'1 a 5): respostes, mitjana i respostes de cada "
        "valor. Cada resposta ve d'un enllaç d'un sol ús que el servei dona en acabar el tràmit.",
        "es": "Cómo valoran los ciudadanos cada trámite al terminarlo (de 1 a 5): respuestas, media y respuestas de "
        "cada valor. Cada respuesta viene de un enlace de un solo uso que el servicio da al terminar el trámite.",
        "en": "How citizens rate each procedure when they complete it (1 to 5): answers, average and answers of each "
        "value. Each answer comes through a single-use link the service gives when the procedure is completed.",
    },
    themes=("GOVE",),
    keywords=("participació", "valoració", "tràmits"),
)
RATINGS_HEADER = (
    "procedure",
    "procedure_name",
    "answers",
    "average",
    "rated_1",
    "rated_2",
    "rated_3",
    "rated_4",
    "rated_5",
)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create_invitation(
    session: Session, settings: Settings, administration: Administration, request: InvitationRequest
) -> InvitationOut:
    """A single-use link for the citizen who just completed `request.procedure`."""
    token = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    invitation = SurveyInvitation(
        id=uuid.uuid4().hex,
        administration_id=administration.id,
        procedure=request.procedure,
        procedure_name=request.procedure_name,
        language=request.language,
        token_hash=_token_hash(token),
        created_at=now,
        expires_at=now + timedelta(days=request.expires_in_days),
    )
    repository.add_invitation(session, invitation)
    language = f"?lang={request.language}" if request.language else ""
    return InvitationOut(
        id=invitation.id,
        procedure=invitation.procedure,
        url=f"{settings.api_url}{SURVEY_PATH}/{token}{language}",
        token=token,
        expires_at=invitation.expires_at,
    )


def _status(invitation: SurveyInvitation, now: datetime) -> str:
    if invitation.answered_at is not None:
        return "answered"
    return "open" if invitation.expires_at > now else "expired"


def _invitation(session: Session, token: str) -> SurveyInvitation:
    invitation = repository.invitation_by_token_hash(session, token_hash=_token_hash(token))
    if invitation is None:
        raise NotFound("No survey has this link: check that it was copied whole.", code="survey_not_found")
    return invitation


def survey_view(session: Session, token: str) -> SurveyView:
    """What the survey page shows; 404 `survey_not_found` for a link that never was."""
    invitation = _invitation(session, token)
    administration = session.get(Administration, invitation.administration_id)
    assert administration is not None
    return SurveyView(
        administration=administration.name,
        administration_code=administration.code,
        procedure=invitation.procedure,
        procedure_name=invitation.procedure_name,
        language=invitation.language,
        status=_status(invitation, datetime.now(UTC)),
        expires_at=invitation.expires_at,
    )


def answer_survey(session: Session, master_key: bytes, token: str, answer: SurveyAnswer) -> SurveyAnswerOut:
    """Record the one answer a link takes: 409 `survey_answered` once it has one, 410 `survey_expired` after it
    expired, 404 `survey_not_found` for a link that never was."""
    now = datetime.now(UTC)
    if not repository.spend_invitation(session, token_hash=_token_hash(token), now=now):
        invitation = _invitation(session, token)
        if invitation.answered_at is not None:
            raise Conflict("This survey has already been answered: each link takes one answer.", code="survey_answered")
        raise Gone("This survey's link has expired.", code="survey_expired")
    invitation = _invitation(session, token)
    idea = answer.idea or None
    rating = ServiceRating(
        id=uuid.uuid4().hex,
        invitation_id=invitation.id,
        administration_id=invitation.administration_id,
        procedure=invitation.procedure,
        rating=answer.rating,
        idea=idea,
        created_at=now,
    )
    repository.add_rating(session, rating)
    if idea is not None:
        rating.proposal_id = _idea_as_proposal(session, master_key, invitation, rating, now)
    return SurveyAnswerOut(
        procedure=invitation.procedure,
        rating=rating.rating,
        idea_recorded=idea is not None,
        proposal_id=rating.proposal_id,
    )


def _one_line(text: str, limit: int) -> str:
    # Proposals' titles and texts are display text: one line, no control characters.
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _idea_as_proposal(
    session: Session, master_key: bytes, invitation: SurveyInvitation, rating: ServiceRating, now: datetime
) -> str | None:
    """The idea as a proposal of the administration's open ideas process for the procedure (one listing the
    procedure among its services, else one for every service), in its author's name: the survey link, a respondent
    of its own in no census. None while the administration has no such process: the idea waits, kept with the
    rating, until `link_waiting_ideas`."""
    assert rating.idea is not None
    processes = repository.open_ideas_processes(session, administration_id=invitation.administration_id)
    chosen = next((p for p in processes if invitation.procedure in p.services), None)
    chosen = chosen or next((p for p in processes if not p.services), None)
    if chosen is None:
        return None
    administration = session.get(Administration, invitation.administration_id)
    respondent = AuthenticatedCitizen(
        citizen_id=f"survey_{invitation.id}",
        administration=administration,
        amr=["survey-link"],
        issued_at=invitation.created_at,
        expires_at=invitation.expires_at,
        token_id=invitation.id,
    )
    request = ProposalRequest.model_validate(
        {
            "title": _one_line(rating.idea, 120),
            "body": _one_line(rating.idea, 10_000),
            "language": invitation.language or "ca",
            "service": invitation.procedure if invitation.procedure in chosen.services else None,
        }
    )
    try:
        with session.begin_nested():
            return participation.create_proposal(session, master_key, respondent, chosen.id, request, now).id
    except SegellError:
        # Outside the process's proposals phase, say: the idea waits with the rating.
        return None


def link_waiting_ideas(session: Session, master_key: bytes, administration: Administration) -> int:
    """Turn the survey ideas still waiting for an ideas process into its proposals: how many were."""
    now = datetime.now(UTC)
    linked = 0
    for rating in repository.ideas_without_proposal(session, administration_id=administration.id, limit=1000):
        invitation = session.get(SurveyInvitation, rating.invitation_id)
        assert invitation is not None
        rating.proposal_id = _idea_as_proposal(session, master_key, invitation, rating, now)
        linked += rating.proposal_id is not None
    session.flush()
    return linked


def _procedure_ratings(session: Session, administration: Administration) -> list[ProcedureRatings]:
    names = repository.procedure_names(session, administration_id=administration.id)
    counts: dict[str, list[int]] = {}
    for procedure, value, count in repository.rating_counts(session, administration_id=administration.id):
        counts.setdefault(procedure, [0] * 5)[value - 1] = count
    ratings = []
    for procedure in sorted(counts):
        per_value = counts[procedure]
        total = sum(per_value)
        average = sum((value + 1) * count for value, count in enumerate(per_value)) / total
        ratings.append(
            ProcedureRatings(
                procedure=procedure,
                procedure_name=names.get(procedure),
                count=total,
                average=round(average, 2),
                counts=per_value,
            )
        )
    return ratings


def ratings_of(session: Session, administration_code: str) -> RatingsOut:
    """Every procedure of the administration's that was rated: answers, average and answers of each value."""
    administration = get_by_code(session, administration_code.strip().upper())
    if administration is None:
        raise NotFound(f"No administration has the code {administration_code}.", code="administration_not_found")
    return RatingsOut(
        administration=administration.code,
        administration_name=administration.name,
        procedures=_procedure_ratings(session, administration),
    )


def publish_ratings(session: Session, settings: Settings, administration: Administration) -> RatingsPublication:
    """The ratings per procedure as the next version of the administration's open dataset of them."""
    ratings = _procedure_ratings(session, administration)
    rows = [(r.procedure, r.procedure_name or "", r.count, f"{r.average:.2f}", *r.counts) for r in ratings]
    name = re.sub(r"[^a-z0-9_-]", "-", administration.code.lower()) + "-valoracio-tramits"
    published = opendata.publish_table(
        session,
        settings,
        administration,
        name=name,
        text=RATINGS_TABLE,
        file_name="valoracio-tramits.csv",
        header=RATINGS_HEADER,
        rows=rows,
    )
    return RatingsPublication(
        dataset=published.dataset_name,
        version=published.version,
        verification_code=published.verification_code,
        download_url=published.download_url,
        procedures=len(ratings),
        answers=sum(r.count for r in ratings),
    )
