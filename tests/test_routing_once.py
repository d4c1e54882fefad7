"""An included router's routes are matched once a request (``app.routers.common.match_once``),
only against the routes that could match (``_RouteIndex``), and the routing answers as
FastAPI's own: the route, its path parameters, 405 and 404, for every route of the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Match

from app.main import create_app
from app.routers import common
from app.routers.common import PrefixedRouter, match_once


def _app(monkeypatch: pytest.MonkeyPatch) -> tuple[FastAPI, list[str]]:
    router = PrefixedRouter(prefix="/v1/things")

    @router.post("", status_code=201)
    async def create() -> dict[str, str]:
        return {"made": "yes"}

    @router.get("")
    async def listing() -> dict[str, str]:
        return {"list": "yes"}

    @router.get("/{thing_id}")
    async def read(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    other = PrefixedRouter(prefix="/v1/others")

    @other.get("/{name}")
    async def other_read(name: str) -> dict[str, str]:
        return {"name": name}

    app = FastAPI()
    app.include_router(other)
    app.include_router(router)
    matched: list[str] = []
    selected = common._RouteIndex.__call__

    def counted(index: Any, scope: dict[str, Any]) -> Any:
        matched.append(scope["path"])
        return selected(index, scope)

    monkeypatch.setattr(common._RouteIndex, "__call__", counted)
    assert match_once(app) == 2
    return app, matched


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "tried"),
    [
        ("GET", "/v1/things", 200, {"list": "yes"}, ["/v1/things"]),
        ("POST", "/v1/things", 201, {"made": "yes"}, ["/v1/things"]),
        ("GET", "/v1/things/7", 200, {"id": 7}, ["/v1/things/7"]),
        # The other router's paths don't begin the same way: it is never asked.
        ("GET", "/v1/others/abc", 200, {"name": "abc"}, ["/v1/others/abc"]),
        ("DELETE", "/v1/things/7", 405, None, ["/v1/things/7"]),
        ("GET", "/v1/things/x", 422, None, ["/v1/things/x"]),
    ],
)
async def test_the_answering_router_matches_once(
    method: str,
    path: str,
    status: int,
    body: Any,
    tried: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, matched = _app(monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.request(method, path)
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    assert matched == tried  # FastAPI alone matched the answering router's routes twice


async def test_a_path_no_router_has_is_404(monkeypatch: pytest.MonkeyPatch) -> None:
    app, matched = _app(monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.get("/v1/nothing")
    assert response.status_code == 404
    assert matched == []


def test_every_router_of_the_service_is_matched_once() -> None:
    # Fails when a FastAPI release no longer selects through ``_match``: the saving is gone
    # and this says so.
    app = create_app()
    included = [
        r
        for r in app.router.routes
        if isinstance(getattr(r, "original_router", None), PrefixedRouter)
    ]
    assert included
    assert all("_match" in vars(route) for route in included)


_SAMPLES = {"uuid": "3f2a1e4c-1111-4222-8333-444455556666", "int": "7", "float": "1.5"}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _sample_paths(app: FastAPI) -> set[str]:
    """Each route's path with sample parameters, and near misses of it (a trailing slash, a
    segment more, one less, a parameter of the wrong kind), plus paths no route has."""
    paths = {"/", "/v1", "/v1/", "/nothing", "/v1/nothing", "/docs", "/openapi.json"}
    routes = [
        context
        for inclusion in app.router.routes
        for context in getattr(inclusion, "effective_candidates", list)()
    ]
    assert len(routes) > 40
    for route in routes:
        template: str = route.path_format
        for name, convertor in route.param_convertors.items():
            kind = type(convertor).__name__.removesuffix("Convertor").lower()
            template = template.replace("{" + name + "}", _SAMPLES.get(kind, "abc-123"), 1)
        paths |= {template, template + "/", template + "/x", template.rsplit("/", 1)[0]}
        paths.add(template.replace(_SAMPLES["uuid"], "not-a-uuid"))
    return paths


def test_the_index_answers_as_fastapi_for_every_route_of_the_service() -> None:
    app = create_app()
    included = [r for r in app.router.routes if isinstance(r.__dict__.get("_match"), Callable)]
    assert len(included) >= 10
    compared = 0
    for inclusion in included:
        fastapi_match = type(inclusion)._match.__get__(inclusion)
        index = common._RouteIndex(inclusion, fastapi_match)
        for path in _sample_paths(app):
            for method in _METHODS:
                for root_path in ("", "/api"):
                    scope = {
                        "type": "http",
                        "method": method,
                        "path": root_path + path,
                        "root_path": root_path,
                        "path_params": {"outer": "kept"},
                    }
                    assert index(dict(scope)) == fastapi_match(dict(scope)), (method, path)
                    compared += 1
        assert index.routes is not None  # every route of the service is an APIRoute
    assert compared > 15_000


def test_a_route_added_after_the_first_request_is_matched(monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = _app(monkeypatch)
    inclusion = next(r for r in app.router.routes if "_match" in vars(r))
    scope = {"type": "http", "method": "GET", "path": "/v1/others/a/b", "root_path": ""}
    assert inclusion._match(dict(scope))[0] == Match.NONE
    router = inclusion.original_router

    @router.get("/{name}/b")
    async def deeper(name: str) -> dict[str, str]:
        return {"deeper": name}

    match, child, route, _ = inclusion._match(dict(scope))
    assert match == Match.FULL
    assert route.path == "/v1/others/{name}/b" and child["path_params"] == {"name": "a"}


def test_other_kinds_of_request_and_route_get_fastapi_s_own_answer() -> None:
    router = PrefixedRouter(prefix="/v1/sockets")

    @router.get("/plain")
    async def plain() -> dict[str, str]:
        return {}

    @router.websocket("/live")
    async def live(socket: Any) -> None:  # pragma: no cover - never connected
        pass

    app = FastAPI()
    app.include_router(router)
    inclusion = app.router.routes[-1]
    fastapi_match = type(inclusion)._match.__get__(inclusion)
    index = common._RouteIndex(inclusion, fastapi_match)
    scope = {"type": "http", "method": "GET", "path": "/v1/sockets/plain", "root_path": ""}
    assert index(dict(scope)) == fastapi_match(dict(scope))
    assert index.routes is None  # a websocket route among them: FastAPI answers
    socket_scope = {"type": "websocket", "path": "/v1/sockets/live", "root_path": ""}
    assert index(dict(socket_scope))[0] == Match.FULL


async def test_fastapi_s_own_pages_come_after_the_routers_and_still_answer() -> None:
    app = create_app()
    paths = [getattr(route, "path", None) for route in app.router.routes]
    own = ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]
    assert paths[-len(own) :] == own
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        assert (await c.get("/openapi.json")).status_code == 200
        assert (await c.get("/docs")).status_code == 200


def test_an_inclusion_whose_routes_the_path_cannot_begin_answers_no_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, matched = _app(monkeypatch)
    inclusions = [r for r in app.router.routes if "_match" in vars(r)]
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/v1/things/7"}
    others = next(r for r in inclusions if r.original_router.prefix == "/v1/others")
    assert others.matches(scope) == (Match.NONE, {})
    assert "fastapi" not in scope  # FastAPI's bookkeeping skipped
    things = next(r for r in inclusions if r.original_router.prefix == "/v1/things")
    assert things.matches(scope)[0] == Match.FULL
    assert matched == ["/v1/things/7"]


async def test_a_route_with_a_new_beginning_added_later_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _ = _app(monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        assert (await c.get("/v1/others/abc")).status_code == 200  # beginnings worked out
        assert (await c.get("/v1/others")).status_code == 404
        others = next(r for r in app.router.routes if r.original_router.prefix == "/v1/others")

        @others.original_router.get("")  # "/v1/others": no beginning of the router's had it
        async def listing() -> dict[str, str]:
            return {"others": "all"}

        assert (await c.get("/v1/others")).json() == {"others": "all"}
