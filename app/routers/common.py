"""Helpers every router shares: the transactional router factory and response documentation."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from pydantic_core import to_json
from starlette.routing import Match
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

    @functools.cached_property
    def _beginnings(self) -> tuple[str, ...]:
        """The literal beginnings of the router's paths, worked out once: ``/v1/tracking/``
        for ``/v1/tracking/{token}``, the whole path when it has no parameter."""
        paths = {getattr(route, "path", "") for route in self.routes}
        return tuple(sorted({path.partition("{")[0] for path in paths}))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        if not path.startswith(self._beginnings):
            return Match.NONE, {}
        return super().matches(scope)


# Where a request's scope keeps the last selection made in an included router (``match_once``).
_SELECTION_KEY = "atelier.route_selection"


def match_once(app: FastAPI) -> int:
    """Let FastAPI match a request's path in the router that answers it once, not twice.

    FastAPI 0.165 asks an included router whether one of its routes matches (trying each
    route's pattern), keeps only the answer, then asks the same router again to handle the
    request, which tries the same patterns again: ≈ 6 % of a list page's or a read by id's
    instructions (docs/benchmarks.md, twentieth round). Each included ``PrefixedRouter``'s
    selection is kept in the request's scope, with the path and method it was made for, and
    the second asking reads it. The selection goes through ``_match``, a method of FastAPI's own:
    without it (another release) nothing is changed, and the routing is FastAPI's as it is.
    Returns how many routers were so changed.
    """
    changed = 0
    for route in app.router.routes:
        match = getattr(route, "_match", None)
        if match is None or not isinstance(getattr(route, "original_router", None), PrefixedRouter):
            continue
        route._match = _remembered(route, match)  # type: ignore[attr-defined]
        changed += 1
    return changed


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
