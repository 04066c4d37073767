"""The shared kernel: it imports no domain, and each of its dependencies for who calls answers its one error."""

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from segell.services import deps
from segell.services.deps import AdministrationDep, AuthenticatedCitizen, CitizenDep, GovernanceDep, citizen_with_factor
from segell.services.errors import install_error_handlers
from tests.helpers import RunningServer, log_in_citizen

SERVICES = Path(deps.__file__).resolve().parent
DOMAINS = sorted(path.name for path in SERVICES.iterdir() if (path / "__init__.py").exists())
# The composition root: the one module that names every domain.
COMPOSITION_ROOT = {"main.py"}


def _imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_kernel_modules_import_no_domain() -> None:
    kernel = sorted(path for path in SERVICES.glob("*.py") if path.name not in COMPOSITION_ROOT)
    assert {path.name for path in kernel} >= {"deps.py", "errors.py", "db.py", "settings.py", "runtime.py"}
    offending = {
        f"{path.name} imports {module}"
        for path in kernel
        for module in _imported_modules(path)
        for domain in DOMAINS
        if module == f"segell.services.{domain}" or module.startswith(f"segell.services.{domain}.")
    }
    assert "cli" in DOMAINS and "notary" in DOMAINS
    assert offending == set()


def _kernel_app(server: RunningServer) -> FastAPI:
    """Routes guarded by the kernel's dependencies alone, on the running server's runtime and authenticators."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.runtime = server.app.state.runtime  # type: ignore[attr-defined]
    app.state.authenticators = server.app.state.authenticators  # type: ignore[attr-defined]

    @app.get("/administration")
    def administration(administration: AdministrationDep) -> dict[str, Any]:
        return {"code": administration.code}

    @app.get("/governance")
    def governance(caller: GovernanceDep) -> dict[str, Any]:
        return {"role": caller.role}

    @app.get("/citizen")
    def citizen(citizen: CitizenDep) -> dict[str, Any]:
        return {"administration": citizen.administration.code, "amr": citizen.amr}

    @app.get("/citizen-with-totp")
    def citizen_with_totp(
        citizen: Annotated[AuthenticatedCitizen, Depends(citizen_with_factor("totp"))],
    ) -> dict[str, Any]:
        return {"amr": citizen.amr}

    return app


class KernelClient:
    """Requests to the kernel's routes through the ASGI transport: a real app, no server of its own."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kernel") as client:
                return await client.get(path, headers=headers)

        return asyncio.run(send())


@pytest.fixture(scope="module")
def kernel(segell_server: RunningServer) -> KernelClient:
    return KernelClient(_kernel_app(segell_server))


@pytest.fixture(scope="module")
def administration_key(segell_server: RunningServer) -> str:
    return segell_server.admit(code="L08019050", name="Ajuntament de Badalona")


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/administration", "/governance"])
def test_api_key_deps_answer_401_unauthenticated_without_a_valid_key(kernel: KernelClient, path: str) -> None:
    assert _error(kernel.get(path)) == (401, "unauthenticated")
    assert _error(kernel.get(path, headers=_bearer("sgl_0123456789ab_not-the-secret"))) == (401, "unauthenticated")
    assert _error(kernel.get(path, headers=_bearer("not-an-api-key"))) == (401, "unauthenticated")


def test_administration_dep_answers_403_administration_key_required_for_the_governance_key(
    kernel: KernelClient, segell_server: RunningServer, administration_key: str
) -> None:
    refused = kernel.get("/administration", headers=_bearer(segell_server.governance_key))
    accepted = kernel.get("/administration", headers=_bearer(administration_key))

    assert _error(refused) == (403, "administration_key_required")
    assert (accepted.status_code, accepted.json()) == (200, {"code": "L08019050"})


def test_governance_dep_answers_403_governance_key_required_for_an_administration_key(
    kernel: KernelClient, segell_server: RunningServer, administration_key: str
) -> None:
    refused = kernel.get("/governance", headers=_bearer(administration_key))
    accepted = kernel.get("/governance", headers=_bearer(segell_server.governance_key))

    assert _error(refused) == (403, "governance_key_required")
    assert (accepted.status_code, accepted.json()) == (200, {"role": "governance"})


def test_citizen_dep_answers_401_without_a_valid_token(kernel: KernelClient, administration_key: str) -> None:
    assert _error(kernel.get("/citizen")) == (401, "unauthenticated")
    assert _error(kernel.get("/citizen", headers=_bearer("not.a.token")))[0] == 401
    # An API key is no citizen token.
    assert _error(kernel.get("/citizen", headers=_bearer(administration_key)))[0] == 401


def test_citizen_with_factor_answers_403_factor_required_for_a_login_without_it(
    kernel: KernelClient, segell_server: RunningServer, administration_key: str
) -> None:
    with segell_server.client(administration_key) as app_of_the_administration:
        token = log_in_citizen(app_of_the_administration)

    citizen = kernel.get("/citizen", headers=_bearer(token))
    refused = kernel.get("/citizen-with-totp", headers=_bearer(token))

    assert (citizen.status_code, citizen.json()["administration"]) == (200, "L08019050")
    assert _error(refused) == (403, "factor_required")
    assert "totp" in refused.json()["error"]["message"]
