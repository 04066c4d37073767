"""Routes found by a table instead of a walk over all of them.

FastAPI finds a request's route by trying every route of the app in order, each an included router that tries its
own routes in order, and then does it again inside the router it chose: a request to a route near the end of the app
matched some 200 path regexes first, and a path that matches none (a 404) all of them, twice. That took more of the
API's CPU than a verification's own work.

`RouteTable` sits in front of the app's router. It holds every route of the app in FastAPI's order, grouped by the
first two segments of the path they start with (`/v1/verify/{code}`: `v1`, `verify`); a request is matched only
against the routes of its own group, those fixing only its first segment and those fixing none, in the same order,
so it finds the same route. A FastAPI route reached through included routers is then served as FastAPI itself
serves it: the same scope (route, endpoint, path parameters, the included router's form limits), the same handler
with the dependencies and response settings of its inclusion; or, when that handler would only call the endpoint
with the request and send the `Response` it returns (no parameters, dependencies or body), by calling the endpoint
itself. Anything else (a method a path does not allow, a mount, a static route of the app itself, a redirect to the
path with or without its final slash) goes to the router as before. A path that matches nothing at all, with or
without its final slash, is answered by the router's own 404.

The table is made at the first request, from the routes the app then has (`create_app` adds them all before).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

# FastAPI's own names for what its walk leaves in a request's scope and the kinds of route it holds
# (fastapi/routing.py); without any of them the table stays out of the way and the router finds every route.
_PRIVATE = (
    "_FASTAPI_SCOPE_KEY",
    "_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY",
    "_FASTAPI_INCLUDED_ROUTER_KEY",
    "_FASTAPI_FORM_LIMITS_KEY",
    "_IncludedRouter",
    "_EffectiveRouteContext",
    "_route_selected",
)
_SUPPORTED = all(hasattr(fastapi_routing, name) for name in _PRIVATE)
_SCOPE_KEY: str = getattr(fastapi_routing, "_FASTAPI_SCOPE_KEY", "fastapi")
_CONTEXT_KEY: str = getattr(fastapi_routing, "_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY", "")
_INCLUDED_ROUTER_KEY: str = getattr(fastapi_routing, "_FASTAPI_INCLUDED_ROUTER_KEY", "")
_FORM_LIMITS_KEY: str = getattr(fastapi_routing, "_FASTAPI_FORM_LIMITS_KEY", "")
_IncludedRouter: Any = getattr(fastapi_routing, "_IncludedRouter", None)
_EffectiveRouteContext: Any = getattr(fastapi_routing, "_EffectiveRouteContext", None)
_route_selected: Any = getattr(fastapi_routing, "_route_selected", None)

Key = tuple[str, ...]  # the first one or two segments of a path


@dataclass(frozen=True)
class _Entry:
    """One route of the app, as FastAPI's walk meets it."""

    matches: Callable[[Scope], tuple[Match, Scope]]
    # Served by the table: a FastAPI route in an included router. None: the router serves it.
    route: fastapi_routing.APIRoute | None = None
    context: Any = None
    included_router: Any = None
    form_limits: dict[str, Any] | None = None
    # The route's endpoint, when FastAPI's handler would only call it with the request and send what it returns.
    direct: Callable[[Request], Awaitable[Response]] | None = None


@dataclass(frozen=True)
class _Table:
    groups: dict[Key, tuple[_Entry, ...]]
    anywhere: tuple[_Entry, ...]  # the routes a path of no group may match
    answers_not_found: bool  # no fallback route (FastAPI's frontends) a path matching nothing could still reach

    def candidates(self, path: str) -> tuple[_Entry, ...]:
        """The routes `path` may match, in FastAPI's order."""
        parts = path.split("/", 3)
        if len(parts) >= 3:
            found = self.groups.get((parts[1], parts[2]))
            if found is not None:
                return found
        return self.groups.get((parts[1],), self.anywhere) if len(parts) >= 2 else self.anywhere


def _key_of_template(template: str | None) -> Key:
    """The segments every path `template` (`/v1/verify/{code}`) matches starts with, up to two; none when it fixes
    none of them."""
    if not isinstance(template, str):
        return ()
    literal, brace, _ = template.partition("{")
    segments = literal.split("/")
    if brace:
        segments = segments[:-1]  # the last one is only partly literal
    if segments[:1] != [""]:
        return ()
    return tuple(segments[1:3])


def _template_of(route: Any) -> str | None:
    return route.path_format if isinstance(route, Route | Mount) else None


def _served_directly(context: Any) -> Callable[[Request], Awaitable[Response]] | None:
    """The endpoint of a route whose handler adds nothing to it, else None: an async function of the request alone
    that returns a `Response` (sent as it is), with no dependencies of its own or of its inclusions, no parameters, no
    body and no body limit."""
    dependant = getattr(context, "dependant", None)
    endpoint = getattr(context, "endpoint", None)
    if dependant is None or endpoint is None or not inspect.iscoroutinefunction(endpoint):
        return None
    if getattr(context, "max_body_size", None) is not None or getattr(context, "body_field", None) is not None:
        return None
    parts = ("path_params", "query_params", "header_params", "cookie_params", "body_params", "dependencies")
    if any(getattr(dependant, part, True) for part in parts) or dependant.request_param_name is None:
        return None
    try:
        hints = typing.get_type_hints(endpoint)
        parameters = inspect.signature(endpoint).parameters
    except (NameError, TypeError, ValueError):
        return None
    returned = hints.get("return")
    if len(parameters) != 1 or not (isinstance(returned, type) and issubclass(returned, Response)):
        return None
    return cast(Callable[[Request], Awaitable[Response]], endpoint)


def _merged_form_limits(limits: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The form limits FastAPI's walk leaves in the scope (`_apply_router_form_limits` along the inclusions)."""
    merged: dict[str, Any] | None = None
    for overrides in limits:
        if overrides:
            merged = {**(merged or {}), **overrides}
    return merged


def _entries(app: FastAPI) -> list[tuple[Key, _Entry]] | None:
    """Every route in FastAPI's order with its group, or None when a route is of a kind the table does not know."""
    router = app.router
    found: list[tuple[Key, _Entry]] = []

    def walk(included: Any, limits: list[dict[str, Any]]) -> bool:
        limits = [*limits, dict(included.include_context.form_limits or {})]
        for candidate in included.effective_candidates():
            if isinstance(candidate, _IncludedRouter):
                if not walk(candidate, limits):
                    return False
                continue
            if not isinstance(candidate, _EffectiveRouteContext):
                return False
            original = candidate.original_route
            if isinstance(original, fastapi_routing.APIRoute) and candidate.starlette_route is None:
                entry = _Entry(
                    matches=candidate.matches,
                    route=original,
                    context=candidate,
                    included_router=included,
                    form_limits=_merged_form_limits(limits),
                    direct=_served_directly(candidate),
                )
                found.append((_key_of_template(candidate.path_format), entry))
            else:
                template = _template_of(candidate.starlette_route or original)
                found.append((_key_of_template(template), _Entry(matches=candidate.matches)))
        return True

    for route in router.routes:
        if isinstance(route, _IncludedRouter):
            if not walk(route, [dict(router.form_limits or {})]):
                return None
        elif isinstance(route, BaseRoute):
            found.append((_key_of_template(_template_of(route)), _Entry(matches=route.matches)))
        else:
            return None
    return found


def _build(app: FastAPI) -> _Table | None:
    entries = _entries(app)
    if entries is None:
        return None
    # A path of two segments (or more) a, b may match routes fixing a, b; routes fixing a alone; routes fixing none.
    keys = {key for key, _ in entries if key} | {key[:1] for key, _ in entries if key}
    groups = {key: tuple(entry for entry_key, entry in entries if entry_key == key[: len(entry_key)]) for key in keys}
    anywhere = tuple(entry for key, entry in entries if not key)
    low_priority = getattr(app.router, "_iter_low_priority_routes", None)
    answers_not_found = low_priority is not None and not any(True for _ in low_priority())
    return _Table(groups=groups, anywhere=anywhere, answers_not_found=answers_not_found)


class RouteTable:
    """ASGI app in front of `app`'s router (its `middleware_stack`): see the module's description."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.router = app.router
        self.fallback: ASGIApp = app.router.middleware_stack
        self._table: _Table | None = None
        self._routes = -1  # how many routes the app had when the table was made

    def _current(self) -> _Table | None:
        if self._routes != len(self.router.routes):
            self._table = _build(self.app) if _SUPPORTED else None
            self._routes = len(self.router.routes)
        return self._table

    def _matches_any(self, table: _Table, scope: Scope) -> bool:
        return any(entry.matches(scope)[0] is not Match.NONE for entry in table.candidates(scope["path"]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        table = self._current() if scope["type"] == "http" else None
        if table is None or scope.get("root_path"):
            await self.fallback(scope, receive, send)
            return
        matched = False
        for entry in table.candidates(scope["path"]):
            match, child_scope = entry.matches(scope)
            if match is Match.FULL:
                if entry.route is None:
                    break
                await self._serve(entry, child_scope, scope, receive, send)
                return
            if match is not Match.NONE:
                matched = True
        else:
            if not matched and table.answers_not_found and not self._redirects(table, scope):
                await self._not_found(scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    def _redirects(self, table: _Table, scope: Scope) -> bool:
        """Whether the router would redirect to the path with or without its final slash."""
        path = scope["path"]
        if not self.router.redirect_slashes or path == "/":
            return False
        other = path.rstrip("/") if path.endswith("/") else path + "/"
        return self._matches_any(table, {**scope, "path": other})

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("router", self.router)
        await self.router.default(scope, receive, send)

    async def _serve(self, entry: _Entry, child_scope: Scope, scope: Scope, receive: Receive, send: Send) -> None:
        """What FastAPI's walk does once it has chosen `entry` (`APIRouter.app`, `_IncludedRouter._handle_selected`)."""
        assert entry.route is not None
        scope.setdefault("router", self.router)
        fastapi_scope = scope.setdefault(_SCOPE_KEY, {})
        if entry.form_limits is not None:
            fastapi_scope[_FORM_LIMITS_KEY] = {**fastapi_scope.get(_FORM_LIMITS_KEY, {}), **entry.form_limits}
        fastapi_scope[_INCLUDED_ROUTER_KEY] = entry.included_router
        scope.update(child_scope)
        _route_selected(scope=scope, path=entry.context.path_format, mount=False)
        fastapi_scope[_CONTEXT_KEY] = entry.context
        scope["route"] = entry.route
        if entry.direct is None:
            await entry.route.handle(scope, receive, send)
            return
        response = await entry.direct(Request(scope, receive, send))
        await response(scope, receive, send)


def install_route_table(app: FastAPI) -> None:
    """Put a `RouteTable` in front of `app`'s router."""
    app.router.middleware_stack = RouteTable(app)
