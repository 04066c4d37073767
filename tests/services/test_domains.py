"""The app is the list of domains: every domain package is in it, and what the app wires comes from it."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from segell.services import main
from segell.services.citizen_auth.settings import CitizenAuthSettings
from segell.services.domains import Domain, authenticators_of, streamed_uploads_of
from segell.services.limits import RequestBodyLimits
from segell.services.notary.settings import NotarySettings
from segell.services.sandboxes.settings import SandboxSettings

SERVICES = Path(main.__file__).resolve().parent
# The CLI is a client of the API, not a part of it.
NOT_SERVED = {"cli"}


def test_every_domain_package_is_in_the_domain_list() -> None:
    packages = {path.name for path in SERVICES.iterdir() if (path / "__init__.py").exists()} - NOT_SERVED
    assert sorted(domain.name for domain in main.DOMAINS) == sorted(packages)
    assert all((SERVICES / name / "domain.py").exists() for name in packages)


def test_start_up_runs_in_the_order_it_always_has() -> None:
    started = [domain.name for domain in main.DOMAINS if domain.start]
    # The catalogue indexes what it published before its search index existed, after the notary is up; the exchanges
    # notarise the access log's past days once the notary is up.
    assert started == ["administrations", "identity", "notary", "citizen_auth", "sandboxes", "opendata", "interop"]


def test_body_limits_leave_the_streamed_uploads_the_domains_name_to_their_routes() -> None:
    app = main.create_app(main.Settings())
    limits = [middleware for middleware in app.user_middleware if middleware.cls is RequestBodyLimits]

    assert [middleware.kwargs["streamed_uploads"] for middleware in limits] == [
        frozenset({("POST", "/v1/documents"), ("POST", "/v1/verify")})
    ]


def _operations(app: FastAPI) -> set[tuple[str, str]]:
    return {(method, path) for path, item in app.openapi()["paths"].items() for method in item}


def test_app_serves_the_routes_of_every_domain() -> None:
    served = _operations(main.create_app(main.Settings()))

    for domain in main.DOMAINS:
        alone = FastAPI()
        for router in domain.routers:
            alone.include_router(router)
        assert _operations(alone) <= served, domain.name
    assert ("post", "/v1/documents") in served and ("get", "/health") in served


def test_one_domain_authenticates_api_keys_and_one_verifies_citizen_tokens() -> None:
    authenticators = authenticators_of(main.DOMAINS)
    owners = {
        "api keys": [domain.name for domain in main.DOMAINS if domain.authenticates_api_keys is not None],
        "citizen tokens": [domain.name for domain in main.DOMAINS if domain.verifies_citizen_tokens is not None],
    }

    assert owners == {"api keys": ["administrations"], "citizen tokens": ["citizen_auth"]}
    assert authenticators.api_keys is not None and authenticators.citizen_tokens is not None


def test_streamed_uploads_of_domains_is_the_union_of_theirs() -> None:
    one = Domain(name="one", streamed_uploads=frozenset({("POST", "/v1/a")}))
    other = Domain(name="other", streamed_uploads=frozenset({("PUT", "/v1/b")}))

    assert streamed_uploads_of([one, other, Domain(name="none")]) == {("POST", "/v1/a"), ("PUT", "/v1/b")}


def test_a_bad_value_in_a_domains_section_stops_the_app_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGELL_SANDBOX_MAX_RUNNING", "many")

    with pytest.raises(ValidationError, match="max_running"):
        main.create_app(main.Settings())


def test_each_domain_reads_its_section_under_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGELL_SANDBOX_MAX_RUNNING", "7")
    monkeypatch.setenv("SEGELL_CITIZEN_CODE_TTL", "120")
    monkeypatch.setenv("SEGELL_ANCHORING_WORKER", "false")
    monkeypatch.setenv("SEGELL_SOLC_BINARY", "/opt/solc")
    settings = main.Settings()

    assert settings.section(SandboxSettings).max_running == 7
    assert settings.section(SandboxSettings).solc_binary == Path("/opt/solc")
    assert settings.section(CitizenAuthSettings).code_ttl == 120
    assert settings.section(NotarySettings).anchoring_worker is False
    assert {domain.settings for domain in main.DOMAINS} >= {SandboxSettings, CitizenAuthSettings, NotarySettings}


def test_sections_given_explicitly_win_over_the_environment_and_misspelt_ones_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEGELL_SANDBOX_MAX_RUNNING", "7")
    settings = main.Settings().with_sections(SandboxSettings(max_running=2))

    assert settings.section(SandboxSettings).max_running == 2
    with pytest.raises(ValidationError, match="sandbox_max_running"):
        main.Settings(sandbox_max_running=2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="max_runing"):
        SandboxSettings(max_runing=2)  # type: ignore[call-arg]
