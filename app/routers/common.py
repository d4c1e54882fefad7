"""Helpers every router shares: the transactional router factory and response documentation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.routing import APIRoute
from pydantic_core import to_json
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from app.deps import etag
from app.errors import problem_responses
from app.routing import TransactionalRoute

ETAG_HEADER = {
    "ETag": {"description": 'The version of the resource, e.g. "3"', "schema": {"type": "string"}}
}
LOCATION_HEADER = {
    "Location": {"description": "Address of the created resource", "schema": {"type": "string"}}
}


class PrefixedRouter(APIRouter):
    """A router that looks at its routes only for paths they could match.

    FastAPI tries the routers in the order they were included and, inside each, every route's
    pattern in turn: a request for the eleventh router was matched against the routes of the
    ten before it (≈ 15 % of a read's CPU, docs/benchmarks.md). A path must begin with the
    literal part of one of the router's paths (up to its first parameter) to be worth a look;
    the router's prefix alone is not enough when it is as short as ``/v1``.
    """

    _beginnings_for: tuple[Any, int] | None = None
    _beginnings_kept: tuple[str, ...] = ()

    @property
    def _beginnings(self) -> tuple[str, ...]:
        """The literal beginnings of the router's paths: ``/v1/tracking/`` for
        ``/v1/tracking/{token}``, the whole path when it has no parameter. Worked out again
        only when the router's routes change (a route added after the first request)."""
        state = _routes_state(self)
        if state != self._beginnings_for:
            paths = {getattr(route, "path", "") for route in self.routes}
            self._beginnings_kept = tuple(sorted({path.partition("{")[0] for path in paths}))
            self._beginnings_for = state
        return self._beginnings_kept

    def could_match(self, scope: Scope) -> bool:
        """Whether the request's path (without the root path) begins as one of the router's."""
        return get_route_path(scope).startswith(self._beginnings)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not self.could_match(scope):
            return Match.NONE, {}
        return super().matches(scope)


def _routes_state(router: APIRouter) -> tuple[Any, int]:
    """What changes when routes are added to ``router``: FastAPI's count of its changes (None
    in a release without one) and its number of routes."""
    return getattr(router, "_routes_version", None), len(router.routes)


# Where a request's scope keeps the last selection made in an included router (``match_once``).
_SELECTION_KEY = "atelier.route_selection"


def match_once(app: FastAPI) -> int:
    """Let FastAPI match a request's path in the router that answers it once, not twice, and
    only against the routes that could match it.

    FastAPI 0.165 asks an included router whether one of its routes matches (trying each
    route's pattern), keeps only the answer, then asks the same router again to handle the
    request, which tries the same patterns again: ≈ 6 % of a list page's or a read by id's
    instructions (docs/benchmarks.md, twentieth round). Each included ``PrefixedRouter``'s
    selection is kept in the request's scope, with the path and method it was made for, and
    the second asking reads it. The selection itself is made by ``_RouteIndex``, which gives
    FastAPI's answer without trying every route (twenty-sixth round). Both go through
    ``_match``, a method of FastAPI's own: without it (another release) nothing is changed,
    and the routing is FastAPI's as it is. Returns how many routers were so changed.
    """
    changed = 0
    beginnings: list[str] = []
    for route in app.router.routes:
        match = getattr(route, "_match", None)
        router = getattr(route, "original_router", None)
        if match is None or not isinstance(router, PrefixedRouter):
            continue
        route._match = _remembered(route, _RouteIndex(route, match))  # type: ignore[attr-defined]
        route.matches = _beginning_checked(router, route.matches)  # type: ignore[method-assign,assignment]
        beginnings.extend(router._beginnings)
        changed += 1
    _own_pages_last(app, tuple(beginnings))
    return changed


def _beginning_checked(
    router: PrefixedRouter, matches: Callable[[Scope], tuple[Match, Scope]]
) -> Callable[[Scope], tuple[Match, Scope]]:
    """An inclusion's ``matches`` that answers no at once for a path none of its routes
    begins: FastAPI records the inclusion in the scope and restores it around the question
    (≈ 1 µs an inclusion tried), for the router's own check to answer no
    (``PrefixedRouter.matches``)."""

    def checked(scope: Scope) -> tuple[Match, Scope]:
        if not router.could_match(scope):
            return Match.NONE, {}
        return matches(scope)

    return checked


def _own_pages_last(app: FastAPI, beginnings: tuple[str, ...]) -> None:
    """FastAPI's own pages (the contract, the docs) moved after the routers, so that a request
    for the API is not matched against them first (≈ 1 µs each). Only a page with a fixed
    path no router's route begins moves: no route of a router can match its path, so the
    order decides nothing for any request."""
    routes = app.router.routes
    own: list[BaseRoute] = [
        route
        for route in routes
        if type(route) is Route
        and not route.param_convertors
        and not route.path.startswith(beginnings)
    ]
    if own:
        routes[:] = [route for route in routes if route not in own] + own


def _remembered(included: object, match: Callable[[Scope], Any]) -> Callable[[Scope], Any]:
    def remembered(scope: Scope) -> Any:
        kept = scope.get(_SELECTION_KEY)
        path, method = scope.get("path"), scope.get("method")
        if kept is not None and kept[0] is included and kept[1] == path and kept[2] == method:
            return kept[3]
        selection = match(scope)
        scope[_SELECTION_KEY] = (included, path, method, selection)
        return selection

    return remembered


class _RouteIndex:
    """An included router's ``_match`` as FastAPI answers it, without trying every route.

    FastAPI 0.165 tries an inclusion's routes in their order and, around each one, records
    the route in the request's scope and restores the scope after: 7 µs of the 13 µs a list
    page's routing took, timed alone (docs/benchmarks.md, twenty-sixth round). The index tries
    the same routes in the same order, but only those whose literal beginning the path starts
    with (``/v1/repair-orders/`` for ``/v1/repair-orders/{order_id}``; a route's pattern is
    anchored there, so no other can match), each with the route's own pattern, parameter
    convertors and methods, and gives FastAPI's answer: the first full match, else the first
    partial one (the path matches, the method does not: 405), else none, with the same child
    scope (``endpoint``, ``path_params``, ``route``).

    It is built from FastAPI's own list of the inclusion's routes (``effective_candidates``),
    and only when each is an ``APIRoute``; otherwise, and for anything but an HTTP request,
    FastAPI's ``_match`` answers. A route added to the router later is seen: the index is
    built again when the router's count of changes or of routes moves.
    ``tests/test_routing_once.py`` holds the two to the same answers for every route of the
    service.
    """

    __slots__ = ("included", "fastapi_match", "built_for", "routes")

    def __init__(self, included: Any, fastapi_match: Callable[[Scope], Any]) -> None:
        self.included = included
        self.fastapi_match = fastapi_match
        self.built_for: tuple[Any, int] | None = None
        # (literal beginning, FastAPI's route context, the APIRoute), in FastAPI's order; None
        # when a route is of another kind.
        self.routes: list[tuple[str, Any, APIRoute]] | None = None

    def _build(self, state: tuple[Any, int]) -> None:
        routes: list[tuple[str, Any, APIRoute]] | None = []
        if state[0] is None:  # a release without the count of changes: FastAPI's own answers
            routes = None
        for context in self.included.effective_candidates():
            route = getattr(context, "original_route", None)
            if routes is None or not isinstance(route, APIRoute):
                routes = None
                break
            routes.append((context.path_format.partition("{")[0], context, route))
        self.routes = routes
        self.built_for = state

    def __call__(self, scope: Scope) -> Any:
        if scope["type"] != "http":
            return self.fastapi_match(scope)
        state = _routes_state(self.included.original_router)
        if state != self.built_for:
            self._build(state)
        if self.routes is None:
            return self.fastapi_match(scope)
        path = get_route_path(scope)
        method = scope["method"]
        partial: tuple[Scope, APIRoute, Any] | None = None
        for beginning, context, route in self.routes:
            if not path.startswith(beginning):
                continue
            found = context.path_regex.match(path)
            if found is None:
                continue
            matched = found.groupdict()
            convertors = context.param_convertors
            for key, value in matched.items():
                matched[key] = convertors[key].convert(value)
            path_params = dict(scope.get("path_params", {}))
            path_params.update(matched)
            child = {"endpoint": context.endpoint, "path_params": path_params, "route": route}
            methods = context.methods
            if methods and method not in methods:
                if partial is None:
                    partial = (child, route, context)
                continue
            return Match.FULL, child, route, context
        if partial is not None:
            return Match.PARTIAL, *partial
        return Match.NONE, {}, None, None


def api_router(prefix: str, tag: str) -> APIRouter:
    return PrefixedRouter(prefix=prefix, tags=[tag], route_class=TransactionalRoute)


def documented(*statuses: int, success: int | None = None, **headers: Any) -> dict[int | str, Any]:
    """Problem responses for ``statuses`` plus the success response's headers."""
    responses = problem_responses(*statuses)
    if success is not None and headers:
        responses[success] = {"headers": dict(headers)}
    return responses


def with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def json_response(
    content: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``content`` as the JSON body of a response, encoded by pydantic-core from its Python
    values (UUIDs, aware datetimes, dates, nested dicts and lists) without a model.

    For representations already shaped like the route's declared response model, from values
    whose types the database columns fix: validating them into the model first, and the
    response handling's second look at it, were ≈ a sixth of a list page's CPU and 6 % of a
    read by id (docs/benchmarks.md, ninth round). The model stays the contract
    (``response_model``); tests hold the two encodings to the same bytes.
    """
    return Response(
        to_json(content), status_code=status_code, media_type="application/json", headers=headers
    )
