"""An included router's routes are matched once a request (``app.routers.common.match_once``),
and the routing answers as FastAPI's own: the route, its path parameters, 405 and 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.routers.common import PrefixedRouter, match_once


def _app() -> tuple[FastAPI, list[str]]:
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
    for route in app.router.routes:
        match: Callable[..., Any] | None = getattr(route, "_match", None)
        if match is not None:
            route._match = _counting(match, matched)  # type: ignore[attr-defined]
    assert match_once(app) == 2
    return app, matched


def _counting(match: Callable[..., Any], matched: list[str]) -> Callable[..., Any]:
    def counted(scope: dict[str, Any]) -> Any:
        matched.append(scope["path"])
        return match(scope)

    return counted


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
    method: str, path: str, status: int, body: Any, tried: list[str]
) -> None:
    app, matched = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        response = await c.request(method, path)
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    assert matched == tried  # FastAPI alone matched the answering router's routes twice


async def test_a_path_no_router_has_is_404() -> None:
    app, matched = _app()
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
