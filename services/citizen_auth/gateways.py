"""SMS gateways: how a one-time code reaches a phone. `SEGELL_CITIZEN_SMS_GATEWAY` names the one in use.

A gateway is any object with a `name` and a `send` method. The sandbox's default, `outbox`, delivers nothing: it
stores each message in the database, sealed under the master key, in the same transaction as the code's challenge,
and the operator (or the administration) reads it back with `GET /v1/auth/otp/outbox` or `segell otp outbox` until
the code expires, when it is deleted. A deployment that sends real messages registers its own::

    class ProviderGateway:
        name = "provider"

        def send(self, session, *, administration_id, phone, message, now):
            provider_api.send(phone, message)  # raise SmsNotDelivered when it refuses
            return "sent through provider"

    register_gateway("provider", lambda settings: ProviderGateway())
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from segell.services.citizen_auth import repository
from segell.services.citizen_auth.keyring import Keyring
from segell.services.citizen_auth.settings import CitizenAuthSettings
from segell.services.settings import Settings


class SmsNotDelivered(Exception):
    """The gateway could not take the message; the code is not issued."""


class SmsGateway(Protocol):
    name: str

    def send(self, session: Session, *, administration_id: int, phone: str, message: str, now: datetime) -> None:
        """Deliver `message` to `phone` (E.164) or raise `SmsNotDelivered`; `session` is the challenge's."""


def outbox_label(administration_id: int, phone_hash: str) -> str:
    """What an outbox message is sealed under: it opens only in its own administration's row for its own number."""
    return f"citizen-sms:{administration_id}:{phone_hash}"


@dataclass(frozen=True)
class OutboxGateway:
    """The sandbox gateway: messages are kept in the database, sealed, for the operator to read until they expire."""

    keyring: Keyring
    code_ttl: timedelta
    name = "outbox"

    def send(self, session: Session, *, administration_id: int, phone: str, message: str, now: datetime) -> None:
        phone_hash = self.keyring.outbox_phone_hash(phone)
        sealed = self.keyring.seal(
            json.dumps({"phone": phone, "message": message}).encode(),
            label=outbox_label(administration_id, phone_hash),
        )
        repository.add_outbox_message(
            session,
            administration_id=administration_id,
            phone_hash=phone_hash,
            sealed_message=sealed,
            created_at=now,
            expires_at=now + self.code_ttl,
        )


_GATEWAYS: dict[str, Callable[[Settings], SmsGateway]] = {}


def register_gateway(name: str, factory: Callable[[Settings], SmsGateway]) -> None:
    """Make a gateway selectable with `SEGELL_CITIZEN_SMS_GATEWAY=<name>`."""
    _GATEWAYS[name] = factory


def gateway_for(settings: Settings, keyring: Keyring) -> SmsGateway:
    """The gateway `SEGELL_CITIZEN_SMS_GATEWAY` names; the sandbox's outbox seals its messages with `keyring`."""
    name = settings.section(CitizenAuthSettings).sms_gateway
    if name == OutboxGateway.name:
        return OutboxGateway(keyring, timedelta(seconds=settings.section(CitizenAuthSettings).code_ttl))
    if name not in _GATEWAYS:
        raise ValueError(
            f"SEGELL_CITIZEN_SMS_GATEWAY={name!r} names no SMS gateway; the registered ones are "
            f"{', '.join(sorted({OutboxGateway.name, *_GATEWAYS}))}"
        )
    return _GATEWAYS[name](settings)
