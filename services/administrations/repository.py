"""SQL for administrations, chain accounts and API keys."""

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Table, bindparam, false, func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from segell.services.administrations.models import Administration, ApiKey, ChainAccount


def get_by_code(session: Session, code: str, *, with_accounts: bool = True) -> Administration | None:
    """The administration with `code`; without `with_accounts` its chain accounts are not loaded (one query less)."""
    query = select(Administration).where(Administration.code == code)
    if with_accounts:
        query = query.options(selectinload(Administration.accounts))
    return session.scalar(query)


def list_all(session: Session) -> list[Administration]:
    query = select(Administration).options(selectinload(Administration.accounts)).order_by(Administration.code)
    return list(session.scalars(query))


def add_administration(
    session: Session, *, code: str, registry_id: str, name: str, admission_tx: str | None, language: str = "ca"
) -> Administration:
    administration = Administration(
        code=code, registry_id=registry_id, name=name, status="active", admission_tx=admission_tx, language=language
    )
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


def get_api_key(session: Session, key_id: str, *, reload: bool = False) -> ApiKey | None:
    """The key with its administration, in one query; `reload`: read from the database even if this session holds
    them. (Every API key is checked with it: a second query for the administration was a round trip more each time.)"""
    return session.get(ApiKey, key_id, options=[joinedload(ApiKey.administration)], populate_existing=reload)


def list_api_keys(session: Session, administration_id: int | None) -> list[ApiKey]:
    """An administration's API keys, or the governance keys (`administration_id` None), oldest first."""
    owner = (
        ApiKey.administration_id.is_(None)
        if administration_id is None
        else ApiKey.administration_id == administration_id
    )
    query = select(ApiKey).where(owner).order_by(ApiKey.created_at, ApiKey.id)
    return list(session.scalars(query))


def lock_governance_keys(session: Session) -> None:
    """Keep other transactions from changing the governance keys until this one ends, so that what it reads of
    them next stays true until it commits: their rows locked on PostgreSQL, the database's write lock on SQLite."""
    if not _take_sqlite_write_lock(session):
        session.execute(select(ApiKey.id).where(ApiKey.role == "governance").with_for_update())


def count_active_governance_keys(session: Session) -> int:
    query = select(func.count()).select_from(ApiKey).where(ApiKey.role == "governance", ApiKey.revoked_at.is_(None))
    return int(session.scalar(query) or 0)


def hold_api_key(session: Session, key_id: str) -> None:
    """Keep an administration's API key and the administration from being revoked or suspended until this
    transaction ends, so that what it reads of them next stays true until it commits: their rows share-locked on
    PostgreSQL (a suspension waits for this transaction, or this one for the suspension and then reads it), the
    database's write lock on SQLite."""
    if not _take_sqlite_write_lock(session):
        query = (
            select(ApiKey.id)
            .join(Administration, Administration.id == ApiKey.administration_id)
            .where(ApiKey.id == key_id)
            .with_for_update(read=True)
        )
        session.execute(query)


_API_KEYS, _ADMINISTRATIONS = ApiKey.__table__, Administration.__table__
# An administration's key, its administration's id and status, share-locked on PostgreSQL as `hold_api_key` does.
_HELD_KEY = (
    select(_API_KEYS.c.secret_hash, _API_KEYS.c.revoked_at, _ADMINISTRATIONS.c.id, _ADMINISTRATIONS.c.status)
    .select_from(_API_KEYS.join(_ADMINISTRATIONS, _ADMINISTRATIONS.c.id == _API_KEYS.c.administration_id))
    .where(_API_KEYS.c.id == bindparam("key_id"))
)


class HeldKey(NamedTuple):
    secret_hash: str
    revoked_at: datetime | None
    administration_id: int
    administration_status: str


def held_administration_key(session: Session, key_id: str) -> HeldKey | None:
    """An administration's API key (its secret's hash, when it was revoked) and its administration (id, status),
    held as `hold_api_key` holds them, in one statement without the ORM: a group of single submissions reads its
    key with it. None for a governance key or an unknown one."""
    if _take_sqlite_write_lock(session):
        statement = _HELD_KEY
    else:
        statement = _HELD_KEY.with_for_update(read=True)
    row = session.connection().execute(statement, {"key_id": key_id}).first()
    return None if row is None else HeldKey(*row)


def _take_sqlite_write_lock(session: Session) -> bool:
    """On SQLite, take the database's write lock now, with a write that changes nothing, and say so.

    SQLite has no row locks, and a transaction reads outside of any lock until its first write: once it holds the
    write lock, it reads the last committed state, and no other writer commits before it ends.
    """
    if session.get_bind().dialect.name != "sqlite":
        return False
    session.connection().execute(_WRITE_NOTHING)
    return True


_api_keys: Table = ApiKey.__table__  # type: ignore[assignment]
# Built once, and run on the connection: the ORM's handling of an update costs more than the update itself.
_WRITE_NOTHING = update(_api_keys).where(false()).values(role=_api_keys.c.role)
