"""SQL for administrations, chain accounts and API keys."""

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from services.models import Administration, ApiKey, ChainAccount


def get_by_code(session: Session, code: str) -> Administration | None:
    return session.scalar(
        select(Administration).where(Administration.code == code).options(selectinload(Administration.accounts))
    )


def list_all(session: Session) -> list[Administration]:
    query = select(Administration).options(selectinload(Administration.accounts)).order_by(Administration.code)
    return list(session.scalars(query))


def add_administration(
    session: Session, *, code: str, chain_id: str, name: str, admission_tx: str | None
) -> Administration:
    administration = Administration(code=code, chain_id=chain_id, name=name, status="active", admission_tx=admission_tx)
    session.add(administration)
    session.flush()
    return administration


def add_account(session: Session, *, administration: Administration, address: str, sealed_key: str) -> ChainAccount:
    account = ChainAccount(address=address, administration=administration, sealed_key=sealed_key)
    session.add(account)
    session.flush()
    return account


def first_account(session: Session, administration_id: int) -> ChainAccount | None:
    query = select(ChainAccount).where(ChainAccount.administration_id == administration_id)
    return session.scalar(query.order_by(ChainAccount.created_at).limit(1))


def add_api_key(
    session: Session, *, key_id: str, secret_hash: str, role: str, administration: Administration | None
) -> ApiKey:
    key = ApiKey(id=key_id, secret_hash=secret_hash, role=role, administration=administration)
    session.add(key)
    session.flush()
    return key


def get_api_key(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id, options=[selectinload(ApiKey.administration)])


def list_api_keys(session: Session, administration_id: int) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.administration_id == administration_id).order_by(ApiKey.created_at)
    return list(session.scalars(query))


def governance_key_exists(session: Session) -> bool:
    query = select(ApiKey.id).where(ApiKey.role == "governance", ApiKey.revoked_at.is_(None)).limit(1)
    return session.scalar(query) is not None
