"""SMS gateways: how a one-time code reaches a phone. `SEGELL_CITIZEN_SMS_GATEWAY` names the one in use.

A gateway is any object with a `name` and a `send` method. The sandbox's default, `outbox`, delivers nothing: it
stores each message in the database, in the same transaction as the code's challenge, and the operator (or the
administration) reads it back with `GET /v1/auth/otp/outbox` or `segell otp outbox`. A deployment that sends real
messages registers its own::

    class ProviderGateway:
        name = "provider"

        def send(self, session, *, administration_id, phone, message, now):
            provider_api.send(phone, message)  # raise SmsNotDelivered when it refuses
            return "sent through provider"

    register_gateway("provider", lambda settings: ProviderGateway())
"""

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from services.citizen_auth.models import SmsOutboxEntry
from services.settings import Settings


class SmsNotDelivered(Exception):
    """The gateway could not take the message; the code is not issued."""


class SmsGateway(Protocol):
    name: str

    def send(self, session: Session, *, administration_id: int, phone: str, message: str, now: datetime) -> None:
        """Deliver `message` to `phone` (E.164) or raise `SmsNotDelivered`; `session` is the challenge's."""


class OutboxGateway:
    """The sandbox gateway: messages are kept in the database for the operator to read."""

    name = "outbox"

    def send(self, session: Session, *, administration_id: int, phone: str, message: str, now: datetime) -> None:
        session.add(SmsOutboxEntry(administration_id=administration_id, phone=phone, message=message, created_at=now))


_GATEWAYS: dict[str, Callable[[Settings], SmsGateway]] = {"outbox": lambda _settings: OutboxGateway()}


def register_gateway(name: str, factory: Callable[[Settings], SmsGateway]) -> None:
    """Make a gateway selectable with `SEGELL_CITIZEN_SMS_GATEWAY=<name>`."""
    _GATEWAYS[name] = factory


def gateway_for(settings: Settings) -> SmsGateway:
    name = settings.citizen_sms_gateway
    if name not in _GATEWAYS:
        raise ValueError(
            f"SEGELL_CITIZEN_SMS_GATEWAY={name!r} names no SMS gateway; the registered ones are "
            f"{', '.join(sorted(_GATEWAYS))}"
        )
    return _GATEWAYS[name](settings)
