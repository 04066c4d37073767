"""What the participation tests share: a budget process as Barcelona's rules make it, citizens' tokens, and casting
one request from many threads at once."""

import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any

import httpx

from segell.services.citizen_auth import tokens
from segell.services.citizen_auth.keyring import Keyring
from tests.helpers import RunningServer, administration_record, runtime_of


def texts(text: str) -> dict[str, str]:
    return {"ca": text, "es": text, "en": text}


PROJECTS = [
    ("P1", "Sant Martí", 100),
    ("P2", "Sant Martí", 200),
    ("P3", "Gràcia", 150),
    ("P4", "Gràcia", 50),
    ("P5", "Sants", 300),
    ("C1", None, 100),
]


def budget_process(**overrides: Any) -> dict[str, Any]:
    """A participatory budget with Barcelona's district rules: at least 2 projects per district, at most 2 districts."""
    body: dict[str, Any] = {
        "type": "budget",
        "title": texts("Pressupost participatiu"),
        "description": texts("Decideix en què s'inverteixen 400 euros."),
        "projects": [
            {"id": pid, "title": texts(f"Projecte {pid}"), "cost": cost, "district": district}
            for pid, district, cost in PROJECTS
        ],
        "rules": {
            "budget_cap": 500,
            "min_projects": 2,
            "max_projects": 5,
            "min_projects_per_district": 2,
            "max_districts": 2,
        },
        "available_budget": 400,
    }
    body.update(overrides)
    return body


def new_phone() -> str:
    return f"+3461{secrets.randbelow(10**7):07d}"


def citizen_token(server: RunningServer, code: str, phone: str, amr: Sequence[str] = ("sms", "otp")) -> str:
    """A citizen token for `phone` with the administration `code`, issued as a login issues it (same key, claims)."""
    runtime = runtime_of(server)
    administration = administration_record(server, code)
    keyring = Keyring(runtime.master_key)
    with runtime.transaction() as session:
        issued = tokens.issue(
            session,
            keyring,
            issuer=server.settings.api_url,
            audience=code,
            citizen_id=keyring.citizen_id(administration.id, phone),
            amr=list(amr),
            ttl=timedelta(hours=1),
            now=datetime.now(UTC),
        )
    return issued.token


def at_once(server: RunningServer, count: int, send: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    """The statuses of `count` requests sent together over `count` connections, released by one barrier."""
    barrier = Barrier(count)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)

    with httpx.Client(base_url=server.url, timeout=60, limits=limits) as client:

        def one(_: int) -> int:
            barrier.wait()
            return send(client).status_code

        with ThreadPoolExecutor(count) as pool:
            return sorted(pool.map(one, range(count)))
