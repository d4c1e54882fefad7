"""The lean route handler (``app/lean_handler.py``) against FastAPI's own.

Every request below is sent twice: through the lean handler, which serves the API, and through
FastAPI's general handler, which takes over while ``app.dependency_overrides`` holds anything.
Both must answer the same status, headers and body. The requests are the ones where the two
could part: how the body is read (malformed JSON, bytes that are not UTF-8, a content type that
is not JSON, no body), the order of the checks (authentication before validation), parameters
in the path, the query and the headers (repeated, empty, unknown, too long), the response's
status code and headers, and requests that change nothing (so the second one meets the same
database).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from fastapi.routing import APIRoute
from pydantic import AfterValidator

from app.deps import get_clock
from app.domain.roles import Role
from app.lean_handler import (
    LONGEST_QUERY_KEPT,
    PLANNED_PARAMETERS,
    QUERIES_KEPT,
    effective_route,
    lean_handler,
)
from app.routing import TransactionalRoute
from tests.conftest import KeyFactory
from tests.factories import create_order

# Headers that differ between any two requests, whichever handler serves them.
_PER_REQUEST = {"date", "x-request-id", "content-length"}


def _never_called() -> None:  # pragma: no cover — only its presence among the overrides counts
    raise AssertionError("not a dependency of any route")


def _answer(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in _PER_REQUEST}
    if response.headers.get("content-type", "").endswith("json") and response.content:
        body: Any = response.json()
    else:
        body = response.content
    return response.status_code, headers, body


async def _both(app: Any, client: httpx.AsyncClient, request: httpx.Request) -> list[Any]:
    """The answers of the lean handler and of FastAPI's handler to the same request."""
    lean = _answer(await client.send(request))
    app.dependency_overrides[_never_called] = _never_called
    try:
        general = _answer(await client.send(request))
    finally:
        app.dependency_overrides.pop(_never_called)
    return [lean, general]


@pytest.fixture
async def setting(client: httpx.AsyncClient, keys: KeyFactory) -> dict[str, Any]:
    counter = await keys.headers(Role.COUNTER)
    order = await create_order(client, counter)
    return {
        "counter": counter,
        "technician": await keys.headers(Role.TECHNICIAN),
        "partner": await keys.headers(Role.PARTNER, partner_id=await keys.partner()),
        "order": order,
    }


def _cases(s: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str], bytes | None]]:
    """(method, target, headers, body) of each request compared."""
    order, counter, json_type = s["order"], s["counter"], {"content-type": "application/json"}
    order_path = f"/v1/repair-orders/{order['id']}"
    customer_path = f"/v1/customers/{order['customer_id']}"
    # Reads: success with an ETag, a path parameter that is not a UUID, an unknown one, no key,
    # a key that is unknown, a role without access, another tenant's order.
    yield "GET", order_path, counter, None
    yield "GET", "/v1/repair-orders/not-a-uuid", counter, None
    yield "GET", f"/v1/repair-orders/{uuid.uuid4()}", counter, None
    yield "GET", order_path, {}, None
    yield "GET", order_path, {"Authorization": "Bearer atl_unknown"}, None
    yield "GET", order_path, {"Authorization": "Basic Zm9vOmJhcg=="}, None
    yield "GET", order_path, s["partner"], None
    yield "GET", "/v1/api-keys", counter, None
    # Lists: repeated and invalid query parameters, a bad cursor, a bad date and its error list.
    yield "GET", "/v1/repair-orders?status=received&status=ready&limit=2", counter, None
    yield "GET", "/v1/repair-orders?status=bogus&limit=0&created_after=yesterday", counter, None
    yield "GET", "/v1/repair-orders?limit=abc", counter, None
    yield "GET", "/v1/repair-orders?cursor=not-a-cursor", counter, None
    yield "GET", "/v1/repair-orders?created_after=2026-01-01T00:00:00", counter, None
    yield "GET", f"/v1/repair-orders/{order['id']}/events", counter, None
    yield "GET", "/v1/repair-orders?limit=1&limit=7&status=&unknown=1", counter, None
    # The public tracking page (a route-level dependency: the rate limit).
    yield "GET", f"/v1/tracking/{order['tracking_token']}", {}, None
    yield "GET", f"/v1/tracking/{'x' * 129}", {}, None
    yield "GET", f"/v1/tracking/{order['tracking_token']}", {"Accept-Language": "en-GB"}, None
    yield "GET", f"/v1/tracking/{order['tracking_token']}", {"Accept-Language": "x" * 999}, None
    yield "GET", "/v1/tracking/unknown-token", {}, None
    # Bodies that never reach the endpoint: malformed JSON, bytes that are not UTF-8, JSON sent
    # as text/plain or without a content type, no body, an array, missing and unknown fields.
    create = "/v1/repair-orders"
    yield "POST", create, {**counter, **json_type}, b'{"customer": '
    yield "POST", create, {**counter, **json_type}, b'\xff\xfe{"a": 1}'
    yield "POST", create, {**counter, "content-type": "text/plain"}, b'{"customer": {}}'
    yield "POST", create, {**counter, "content-type": "application/x/+json"}, b"{}"
    yield "POST", create, counter, b'{"customer": {}}'
    yield "POST", create, {**counter, **json_type}, b""
    yield "POST", create, {**counter, **json_type}, b"[1, 2]"
    yield "POST", create, {**counter, **json_type}, b'{"customer": {"name": ""}, "x": 1}'
    yield "POST", create, {**counter, "content-type": "application/problem+json"}, b"{}"
    yield "POST", create, {"content-type": "application/json"}, b'{"customer": '
    yield "POST", create, s["technician"], b"{}"
    # Commands refused without a change: a wrong action, a refused transition, an If-Match
    # missing, malformed or stale.
    transitions = f"{order_path}/transitions"
    yield "POST", transitions, {**counter, **json_type}, b'{"action": "fly"}'
    yield "POST", transitions, {**s["technician"], **json_type}, b'{"action": "mark_ready"}'
    change = b'{"phone": "+33 1 23 45 67 89"}'
    yield "PATCH", customer_path, {**counter, **json_type}, change
    yield "PATCH", customer_path, {**counter, **json_type, "If-Match": "three"}, change
    yield "PATCH", customer_path, {**counter, **json_type, "If-Match": '"99"'}, change
    yield "PATCH", customer_path, {**counter, **json_type, "If-Match": '"1"'}, b'{"phone": 5}'
    # A method the path does not have.
    yield "DELETE", order_path, counter, None


async def test_the_lean_handler_answers_as_fastapis_does(
    app: Any, client: httpx.AsyncClient, setting: dict[str, Any]
) -> None:
    compared = 0
    for method, target, headers, body in _cases(setting):
        request = client.build_request(method, target, headers=headers, content=body)
        lean, general = await _both(app, client, request)
        assert lean == general, (method, target, body)
        compared += 1
    assert compared == 38


async def test_a_dependency_override_still_applies(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    """FastAPI's handler takes over while a dependency is overridden, and uses the override:
    the routes were built from the application's included routes, which carry the overrides."""
    moment = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    app.dependency_overrides[get_clock] = lambda: lambda: moment
    try:
        order = await create_order(client, await keys.headers(Role.COUNTER))
    finally:
        app.dependency_overrides.pop(get_clock)
    assert datetime.fromisoformat(order["created_at"]) == moment


def _transactional_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, TransactionalRoute):
            yield route
        inner = getattr(route, "routes", None) or getattr(
            getattr(route, "original_router", None), "routes", None
        )
        if inner:
            yield from _transactional_routes(inner)


def test_every_operation_is_served_by_the_lean_handler(app: Any) -> None:
    """A route that FastAPI's handler would still serve (a ``def`` endpoint, a generator
    dependency, a FastAPI whose internals moved) is listed here, to be looked at."""
    assert PLANNED_PARAMETERS  # FastAPI's helpers for parameters are where the handler looks
    routes = list(_transactional_routes(app.routes))
    paths = app.openapi()["paths"]
    operations = [op for path, ops in paths.items() if path.startswith("/v1/") for op in ops]
    assert len(routes) == len(operations) > 50  # every operation but health and metrics
    assert [route.path for route in routes if lean_handler(route) is None] == []


# A route's query strings that validated are kept with their values (``_QueryValues``): a tiny
# application whose routes the lean handler serves, whose validators count their calls.
class _LeanRoute(APIRoute):
    def get_route_handler(self) -> Any:
        handler = lean_handler(effective_route(self))
        assert handler is not None
        return handler


_VALIDATED: Counter[str] = Counter()


def _counted(name: str) -> Any:
    def validator(value: Any) -> Any:
        _VALIDATED[name] += 1
        return value

    return AfterValidator(validator)


_Tags = Annotated[list[str] | None, Query(), _counted("tag")]
_Since = Annotated[date | None, Query(), _counted("since")]
_Limit = Annotated[int, Query(le=50), _counted("limit")]
_Letters = Annotated[str, Query(), AfterValidator(set), _counted("letters")]


def _counting_app() -> FastAPI:
    router = APIRouter(route_class=_LeanRoute)

    @router.get("/items/{group}")
    async def items(
        group: int, tag: _Tags = None, since: _Since = None, limit: _Limit = 10
    ) -> dict[str, Any]:
        tags = tag if tag is not None else []
        tags.append("seen")  # the endpoint changes the list it was given
        return {"group": group, "tags": tags, "since": since, "limit": limit}

    @router.get("/grouped")
    async def grouped(letters: _Letters = "") -> dict[str, Any]:
        return {"letters": sorted(letters)}

    app = FastAPI()
    app.include_router(router)
    return app


@pytest.fixture
async def counting() -> AsyncIterator[tuple[httpx.AsyncClient, Counter[str]]]:
    _VALIDATED.clear()
    transport = httpx.ASGITransport(app=_counting_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://lean") as client:
        yield client, _VALIDATED


async def test_a_query_string_validated_before_is_not_validated_again(
    counting: tuple[httpx.AsyncClient, Counter[str]],
) -> None:
    client, validated = counting
    first = await client.get("/items/1?tag=a&tag=b&since=2026-01-02&limit=5")
    again = await client.get("/items/2?tag=a&tag=b&since=2026-01-02&limit=5")
    # The endpoint appended to its list the first time: the kept list is not the one it got.
    expected = {"tags": ["a", "b", "seen"], "since": "2026-01-02", "limit": 5}
    assert first.json() == {"group": 1, **expected}
    assert again.json() == {"group": 2, **expected}  # the path is validated on its own
    assert validated == {"tag": 1, "since": 1, "limit": 1}
    other = await client.get("/items/1?tag=a&since=2026-01-02&limit=5")
    assert other.json()["tags"] == ["a", "seen"]
    assert validated == {"tag": 2, "since": 2, "limit": 2}


async def test_an_invalid_query_string_is_refused_every_time(
    counting: tuple[httpx.AsyncClient, Counter[str]],
) -> None:
    client, validated = counting
    for _ in range(2):
        response = await client.get("/items/1?since=2026-01-02&limit=51")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "limit"]
    assert validated["since"] == 2


async def test_the_query_strings_kept_are_bounded_and_short(
    counting: tuple[httpx.AsyncClient, Counter[str]],
) -> None:
    client, validated = counting
    await client.get("/items/1?limit=1")
    for limit in range(2, QUERIES_KEPT + 2):  # as many others as are kept: the first goes
        await client.get(f"/items/1?limit={limit % 50 + 1}&tag={limit}")
    assert validated["limit"] == QUERIES_KEPT + 1
    await client.get("/items/1?limit=1")
    assert validated["limit"] == QUERIES_KEPT + 2
    tags = validated["tag"]
    long_tag = "x" * LONGEST_QUERY_KEPT  # with "tag=", one character too many to be kept
    for _ in range(2):
        assert (await client.get(f"/items/1?tag={long_tag}")).status_code == 200
    assert validated["tag"] == tags + 2


async def test_values_an_endpoint_could_change_are_validated_every_time(
    counting: tuple[httpx.AsyncClient, Counter[str]],
) -> None:
    client, validated = counting
    for _ in range(2):
        assert (await client.get("/grouped?letters=abca")).json() == {"letters": ["a", "b", "c"]}
    assert validated["letters"] == 2
