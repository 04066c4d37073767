"""What a domain tells the app about itself: `Domain`. The app (`services.main`) goes over a list of them.

A domain is one package under `services/` and one `Domain` in its `domain.py`::

    domain = Domain(
        name="participation",
        routers=(router,),
        models=("segell.services.participation.models",),
        settings=ParticipationSettings,
    )

The app includes the routers of every domain in the list's order, runs their start hooks in that order once the
runtime is up (each in a worker thread, given the app and the runtime), and their stop hooks in the opposite
order when it shuts down. The app reads every domain's `settings` section when it is created, so a bad
``SEGELL_*`` value stops it before it serves. Alembic imports every domain's `models` (`services/migrations/env.py`).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from segell.services.deps import ApiKeyAuthenticator, Authenticators, CitizenTokenVerifier
from segell.services.runtime import Runtime
from segell.services.settings import SettingsSection

#: Run at start-up, in order, with the runtime open: create what the domain needs, start its workers.
StartHook = Callable[[FastAPI, Runtime], None]
#: Run at shutdown, before the runtime closes: stop what the start hooks started.
StopHook = Callable[[FastAPI], None]


@dataclass(frozen=True)
class Domain:
    name: str
    routers: tuple[APIRouter, ...] = ()
    start: tuple[StartHook, ...] = ()
    stop: tuple[StopHook, ...] = ()
    #: (method, path) of routes that read an octet-stream body themselves as it arrives: `RequestBodyLimits` leaves
    #: those bodies to them.
    streamed_uploads: frozenset[tuple[str, str]] = frozenset()
    #: (method, path) of routes that read a ``multipart/form-data`` body themselves as it arrives, writing its file
    #: to disk under a limit of their own: `RequestBodyLimits` leaves those bodies to them too.
    streamed_forms: frozenset[tuple[str, str]] = frozenset()
    #: The domain's own settings, read from the environment under its own prefix (`services.settings`).
    settings: type[SettingsSection] | None = None
    #: The modules holding the domain's tables (SQLAlchemy models on `services.models.Base`), for Alembic.
    models: tuple[str, ...] = ()
    #: The administrations domain: how an API key is authenticated, for `CallerDep` and the others.
    authenticates_api_keys: ApiKeyAuthenticator | None = None
    #: The citizen_auth domain: how a citizen token is verified, for `CitizenDep`.
    verifies_citizen_tokens: CitizenTokenVerifier | None = None


def authenticators_of(domains: Iterable[Domain]) -> Authenticators:
    """The API key authenticator and the citizen token verifier the domains give (one of each at most)."""
    api_keys = [domain.authenticates_api_keys for domain in domains if domain.authenticates_api_keys is not None]
    citizen_tokens = [domain.verifies_citizen_tokens for domain in domains if domain.verifies_citizen_tokens]
    if len(api_keys) > 1 or len(citizen_tokens) > 1:
        raise ValueError("Only one domain may authenticate API keys, and only one may verify citizen tokens.")
    return Authenticators(
        api_keys=api_keys[0] if api_keys else None, citizen_tokens=citizen_tokens[0] if citizen_tokens else None
    )


def streamed_uploads_of(domains: Iterable[Domain]) -> frozenset[tuple[str, str]]:
    return frozenset().union(*(domain.streamed_uploads for domain in domains))


def streamed_forms_of(domains: Iterable[Domain]) -> frozenset[tuple[str, str]]:
    return frozenset().union(*(domain.streamed_forms for domain in domains))
