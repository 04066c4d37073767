"""The route table finds, for every path and method, the route FastAPI's own walk over the app finds."""

import re
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi import routing as fastapi_routing
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match

from segell.services import main
from segell.services.route_table import RouteTable, _entries, install_route_table

_APP = main.create_app(main.Settings())


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def _walked(app: FastAPI, method: str, path: str) -> tuple[Match, Any]:
    """FastAPI's choice: the first route of the app that matches fully (else partly), inside its included routers."""
    scope = _scope(method, path)
    partial: Any = None
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        chosen = route
        while isinstance(chosen, fastapi_routing._IncludedRouter):
            _, _, inner, context = chosen._match(scope)
            chosen = inner if context is None else context.original_route
        if match is Match.FULL:
            return Match.FULL, chosen
        partial = partial or chosen
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def _tabled(app: FastAPI, method: str, path: str) -> tuple[Match, Any]:
    table = RouteTable(app)._current()
    assert table is not None
    scope = _scope(method, path)
    partial: Any = None
    for entry in table.candidates(path):
        match, child_scope = entry.matches(scope)
        chosen = entry.route or child_scope.get("route") or entry.matches
        if match is Match.FULL:
            return Match.FULL, chosen
        if match is Match.PARTIAL:
            partial = partial or chosen
    return (Match.PARTIAL, partial) if partial is not None else (Match.NONE, None)


def _same(walked: tuple[Match, Any], tabled: tuple[Match, Any]) -> bool:
    if walked[0] is not tabled[0]:
        return False
    if walked[0] is Match.NONE:
        return True
    # A route the router serves itself (a mount, the app's own routes) is told by its matcher.
    route = walked[1]
    chosen = tabled[1]
    return route is chosen or getattr(chosen, "__self__", None) in (route, getattr(route, "starlette_route", None))


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]*\}", lambda _: "0123456789abcdef0123456789abcdef", template)


def _paths(app: FastAPI) -> list[str]:
    templates = [route.path_format for route in app.routes if hasattr(route, "path_format")]
    templates += list(app.openapi()["paths"])
    for route in app.router.routes:
        if isinstance(route, fastapi_routing._IncludedRouter):
            templates += [context.path_format for context in route.effective_route_contexts()]
    paths = {_concrete(template) for template in templates}
    paths |= {path + "/" for path in paths} | {path.rstrip("/") for path in paths if path != "/"}
    paths |= {
        "/",
        "/v1",
        "/v1/",
        "/v1/verify/",
        "/v1/nothing",
        "/nothing/at/all",
        "/static/swagger-ui",
        "/static/swagger-ui/swagger-ui.css",
        "/v1/documents/not-an-id",
        "/v1/documents/batch",
        "",
    }
    return sorted(paths)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_table_finds_the_route_fastapi_finds_for_every_path(method: str) -> None:
    differing = [
        (path, walked, tabled)
        for path in _paths(_APP)
        if not _same(walked := _walked(_APP, method, path), tabled := _tabled(_APP, method, path))
    ]
    assert differing == []


def _refused() -> None:
    raise HTTPException(403, "refused")


def _nested_app() -> FastAPI:
    app = FastAPI()
    outer = APIRouter(prefix="/a")
    inner = APIRouter(prefix="/b")

    @inner.get("/{item}")
    def nested(item: str) -> dict[str, str]:
        return {"route": "nested", "item": item}

    @outer.get("/b/fixed")
    def fixed() -> dict[str, str]:
        return {"route": "fixed"}

    @outer.get("/{anything}/fixed")
    def earlier_than_nested(anything: str) -> dict[str, str]:
        return {"route": "any", "anything": anything}

    @outer.get("/raw/direct")
    async def raw(request: Request) -> Response:
        return PlainTextResponse(f"raw {request.url.path}")

    guarded = APIRouter(prefix="/g", dependencies=[Depends(_refused)])

    @guarded.get("/raw")
    async def guarded_raw(request: Request) -> Response:
        return PlainTextResponse("served")

    outer.include_router(inner)
    app.include_router(outer)
    app.include_router(guarded)

    @app.get("/{name}")
    def top(name: str) -> dict[str, str]:
        return {"route": "top", "name": name}

    install_route_table(app)
    return app


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/a/b/fixed", 200, {"route": "fixed"}),
        ("GET", "/a/c/fixed", 200, {"route": "any", "anything": "c"}),
        ("GET", "/a/b/thing", 200, {"route": "nested", "item": "thing"}),
        ("GET", "/a", 200, {"route": "top", "name": "a"}),
        ("POST", "/a/b/thing", 405, None),
        ("GET", "/a/b/thing/else", 404, None),
        ("GET", "/a/raw/direct", 200, "raw /a/raw/direct"),
        ("GET", "/g/raw", 403, {"detail": "refused"}),
    ],
)
async def test_table_serves_routes_in_fastapi_order(method: str, path: str, status: int, body: Any) -> None:
    transport = httpx.ASGITransport(app=_nested_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.request(method, path)
    assert response.status_code == status
    if isinstance(body, str):
        assert response.text == body
    elif body is not None:
        assert response.json() == body


def test_only_endpoints_of_the_request_alone_are_called_directly() -> None:
    direct = [entry.context.path_format for _, entry in _entries(_nested_app()) if entry.direct is not None]
    assert direct == ["/a/raw/direct"]
    assert [entry.context.path_format for _, entry in _entries(_APP) if entry.direct is not None] == [
        "/v1/documents",
        "/v1/verify",
        "/v1/interop/requests",
    ]
