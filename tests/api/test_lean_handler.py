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
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.deps import get_clock
from app.domain.roles import Role
from app.lean_handler import PLANNED_PARAMETERS, lean_handler
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
