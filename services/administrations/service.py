"""Rules for administrations and API keys: admission on chain and in the database, suspension, keys."""

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from web3 import Web3

from segell.chain.durable import replace_atomically
from segell.chain.errors import (
    AdministrationAlreadyAdmitted,
    AdministrationAlreadySuspended,
    AdministrationNotSuspended,
)
from segell.chain.keys import generate_account, seal_private_key
from segell.services.administrations import repository
from segell.services.administrations.models import Administration, ApiKey
from segell.services.deps import Caller
from segell.services.errors import Conflict, Forbidden, NotFound, Unauthenticated
from segell.services.languages import LANGUAGES, Language
from segell.services.runtime import Runtime

KEY_PREFIX = "sgl"

log = logging.getLogger("segell")


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    secret: str


def registry_id_for(code: str) -> str:
    """The administration's bytes32 registry id: its code in ASCII, right-padded with zeros (readable in explorers)."""
    return "0x" + code.encode("ascii").ljust(32, b"\0").hex()


def _hash_secret(secret: str) -> str:
    # Secrets are 256 random bits: a fast hash is enough, nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(session: Session, administration: Administration | None) -> IssuedKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    role = "administration" if administration else "governance"
    record = repository.add_api_key(
        session, key_id=key_id, secret_hash=_hash_secret(secret), role=role, administration=administration
    )
    return IssuedKey(record, f"{KEY_PREFIX}_{key_id}_{secret}")


def authenticate(session: Session, raw_key: str, *, hold: bool = False) -> Caller:
    """The caller an API key stands for; `Unauthenticated` or `Forbidden` when it may not act.

    `hold`: for a transaction that writes in the administration's name, read the key under a lock (`hold_caller`).
    """
    prefix, _, rest = raw_key.partition("_")
    key_id, _, secret = rest.partition("_")
    well_formed = prefix == KEY_PREFIX and bool(secret)
    if well_formed and hold:
        repository.hold_api_key(session, key_id)
    record = repository.get_api_key(session, key_id, reload=hold) if well_formed else None
    if record is None or not hmac.compare_digest(record.secret_hash, _hash_secret(secret)):
        raise Unauthenticated("Invalid API key. Send `Authorization: Bearer sgl_...` with a key issued by governance.")
    return _usable(record)


def hold_administration_key(session: Session, raw_key: str) -> int | None:
    """`authenticate(session, raw_key, hold=True)` for an administration's key that may act, in one statement: the
    id of its administration, its key and it held until this transaction ends. None for anything else (a governance
    key, an unknown, malformed or revoked key, a suspended administration), for `authenticate` to say why."""
    prefix, _, rest = raw_key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not secret:
        return None
    row = repository.held_administration_key(session, key_id)
    if row is None or not hmac.compare_digest(row.secret_hash, _hash_secret(secret)):
        return None
    if row.revoked_at is not None or row.administration_status != "active":
        return None
    return row.administration_id


def hold_caller(session: Session, caller: Caller) -> None:
    """Check the caller's key and administration again, under a lock held until this transaction ends: a revocation
    or a suspension committed before this transaction commits is seen (`Unauthenticated`, `Forbidden`), and none
    commits before it does. For a transaction that writes in the administration's name."""
    repository.hold_api_key(session, caller.key_id)
    record = repository.get_api_key(session, caller.key_id, reload=True)
    if record is None:
        raise Unauthenticated("Invalid API key. Send `Authorization: Bearer sgl_...` with a key issued by governance.")
    _usable(record)


def _usable(record: ApiKey) -> Caller:
    if record.revoked_at is not None:
        raise Unauthenticated(f"API key {record.id} was revoked. Ask the consortium's governance for a new key.")
    if record.administration is not None and record.administration.status != "active":
        raise Forbidden(
            f"Administration {record.administration.code} is suspended; its keys act again once it is reinstated.",
            code="administration_suspended",
        )
    return Caller(record.role, record.id, record.administration)


def get(session: Session, code: str) -> Administration:
    administration = repository.get_by_code(session, code.strip().upper())
    if administration is None:
        raise NotFound(f"No administration with code {code!r}. `GET /v1/administrations` lists them.")
    return administration


def admit(
    runtime: Runtime, session: Session, *, code: str, name: str, language: Language = "ca"
) -> tuple[Administration, IssuedKey]:
    """Admit on chain (registry entry, one funded account), then record it with a first API key."""
    if repository.get_by_code(session, code) is not None:
        raise Conflict(f"Administration {code} is already admitted.", code="already_admitted")
    registry_id = registry_id_for(code)
    account = generate_account()
    registry = runtime.registry
    try:
        admission = registry.admit_administration(runtime.governance, bytes.fromhex(registry_id[2:]), name)
        admission_tx: str | None = admission.transaction_hash
    except AdministrationAlreadyAdmitted:
        # Admitted on chain by an earlier attempt whose database commit did not happen: carry on from there.
        admission_tx = None
    registry.add_account(runtime.governance, bytes.fromhex(registry_id[2:]), account.address)
    runtime.fund(account.address)
    administration = repository.add_administration(
        session, code=code, registry_id=registry_id, name=name, admission_tx=admission_tx, language=language
    )
    sealed = seal_private_key(account.key, runtime.master_key, label=account.address)
    repository.add_account(session, administration=administration, address=account.address, sealed_key=sealed)
    issued = issue_key(session, administration)
    session.refresh(administration)
    return administration, issued


def update(
    administration: Administration,
    *,
    language: Language | None = None,
    sms_templates: Mapping[Language, str | None] | None = None,
) -> Administration:
    """Change what the administration's citizens read: the language of their SMS, and its own SMS texts (a text per
    language in `sms_templates`; None gives that language back to Segell's default text)."""
    if language is not None:
        administration.language = language
    for template_language, template in (sms_templates or {}).items():
        setattr(administration, f"sms_template_{template_language}", template)
    return administration


def sms_templates_of(administration: Administration) -> dict[Language, str | None]:
    """The administration's own SMS text in each language; None where Segell's default text is used."""
    return {language: getattr(administration, f"sms_template_{language}") for language in LANGUAGES}


@dataclass(frozen=True)
class SmsTemplate:
    """What a citizen's SMS is written with: its language, and the administration's own text in it (`text`: with
    `{code}` and `{administration}` to fill in), or None for Segell's default text of that language."""

    language: Language
    text: str | None


def sms_template_for(administration: Administration, requested: Language | None) -> SmsTemplate:
    """The SMS text for one of the administration's citizens: in the language asked for, else the administration's."""
    language: Language = requested or administration.language  # type: ignore[assignment]
    return SmsTemplate(language, sms_templates_of(administration)[language])


def suspend(runtime: Runtime, session: Session, code: str) -> Administration:
    administration = get(session, code)
    try:
        runtime.registry.suspend_administration(runtime.governance, bytes.fromhex(administration.registry_id[2:]))
    except AdministrationAlreadySuspended:
        pass  # the chain already says so; bring the database in line
    administration.status = "suspended"
    return administration


def reinstate(runtime: Runtime, session: Session, code: str) -> Administration:
    administration = get(session, code)
    try:
        runtime.registry.reinstate_administration(runtime.governance, bytes.fromhex(administration.registry_id[2:]))
    except AdministrationNotSuspended:
        pass
    administration.status = "active"
    return administration


def revoke_key(session: Session, administration: Administration | None, key_id: str) -> ApiKey:
    """Revoke one of an administration's API keys, or a governance key (`administration` None); it stops working
    with the next request. The last active governance key is kept: without one, nobody could govern."""
    if administration is None:
        repository.lock_governance_keys(session)
    record = _owned_key(session, administration, key_id)
    if record.revoked_at is None:
        record.revoked_at = datetime.now(UTC)
        if administration is None:
            session.flush()
            if repository.count_active_governance_keys(session) == 0:
                raise Conflict(
                    f"API key {key_id} is the last active governance key: revoking it would leave nobody able to "
                    "govern. Rotate it instead (`segell admin keys rotate`), which issues its successor first.",
                    code="last_governance_key",
                )
    return record


def rotate_governance_key(session: Session, key_id: str) -> IssuedKey:
    """Issue a governance key that replaces `key_id`, revoked in the same transaction: the old key stops working
    when the new one starts to."""
    repository.lock_governance_keys(session)
    record = _owned_key(session, None, key_id)
    if record.revoked_at is not None:
        raise Conflict(
            f"Governance key {key_id} is already revoked; `segell admin keys list` shows the active ones.",
            code="api_key_revoked",
        )
    issued = issue_key(session, None)
    record.revoked_at = datetime.now(UTC)
    return issued


def _owned_key(session: Session, administration: Administration | None, key_id: str) -> ApiKey:
    # Read again: it may have been loaded before this transaction took its lock, to authenticate the caller.
    record = repository.get_api_key(session, key_id, reload=True)
    owner_id = administration.id if administration is not None else None
    if record is None or record.administration_id != owner_id or (owner_id is None and record.role != "governance"):
        owner = f"Administration {administration.code}" if administration is not None else "Governance"
        raise NotFound(f"{owner} has no API key {key_id!r}.")
    return record


def ensure_governance_key(runtime: Runtime) -> None:
    """Make sure the operator's governance key file exists and authenticates; issue a new one if not."""
    path = runtime.settings.governance_key_path
    with runtime.transaction() as session:
        if path.exists():
            try:
                if authenticate(session, path.read_text().strip()).is_governance:
                    return
            except Unauthenticated:
                pass
        issued = issue_key(session, None)
        replace_atomically(path, issued.secret.encode() + b"\n")


def reconcile_with_chain(runtime: Runtime) -> list[str]:
    """Bring the registry in line with the database, the system of record, and say what differed.

    A node killed between two state saves can come back without its last blocks; the administrations admitted,
    the accounts added and the suspensions decided in those blocks are replayed from the database.
    """
    registry, governance = runtime.registry, runtime.governance
    repaired = []
    with runtime.transaction() as session:
        for administration in repository.list_all(session):
            registry_id = bytes.fromhex(administration.registry_id[2:])
            if not registry.is_admitted(registry_id):
                registry.admit_administration(governance, registry_id, administration.name)
                repaired.append(f"{administration.code}: admitted again")
            for account in administration.accounts:
                if registry.administration_of(account.address) != registry_id:
                    registry.add_account(governance, registry_id, account.address)
                    repaired.append(f"{administration.code}: account {account.address} added again")
                if runtime.node.w3.eth.get_balance(Web3.to_checksum_address(account.address)) == 0:
                    runtime.fund(account.address)
            suspended_on_chain = registry.get_administration(registry_id).suspended
            if administration.status == "suspended" and not suspended_on_chain:
                registry.suspend_administration(governance, registry_id)
                repaired.append(f"{administration.code}: suspended again")
            elif administration.status == "active" and suspended_on_chain:
                registry.reinstate_administration(governance, registry_id)
                repaired.append(f"{administration.code}: reinstated again")
    for line in repaired:
        log.warning("registry differed from the database: %s", line)
    return repaired
