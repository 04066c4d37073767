"""SQL of the certificate authority's citizen holders: which citizen (token pseudonym) has which national id."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from segell.services.identity.models import CitizenHolder


def holder_by_citizen(session: Session, administration_id: int, citizen_id: str) -> CitizenHolder | None:
    return session.get(CitizenHolder, (administration_id, citizen_id))


def holder_by_national_id(session: Session, administration_id: int, national_id_key: str) -> CitizenHolder | None:
    return session.scalars(
        select(CitizenHolder).where(
            CitizenHolder.administration_id == administration_id, CitizenHolder.national_id_key == national_id_key
        )
    ).first()


def add_holder(
    session: Session, *, administration_id: int, citizen_id: str, national_id_key: str, now: datetime
) -> CitizenHolder:
    holder = CitizenHolder(
        administration_id=administration_id, citizen_id=citizen_id, national_id_key=national_id_key, bound_at=now
    )
    session.add(holder)
    session.flush()
    return holder
