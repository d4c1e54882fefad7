"""Schemathesis as two partner boutiques: neither ever reaches the other's objects.

Boutique A owns an order (with its customer and watch). Schemathesis generates requests for
every operation addressed by an order, customer or watch id — with A's real ids substituted in
the path — and sends them with boutique B's key: no answer may be a success (A's objects are a
404 for B, never a 403). Its `ignored_auth` check also verifies that each of these operations
refuses requests without credentials.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth
from sqlalchemy.engine import Engine

from app.contract import CONTRACT_PATH
from app.domain.roles import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import KeyFactory, restore_seeded_state
from tests.factories import create_order
from tests.live_server import LiveServer

MAX_EXAMPLES = int(os.environ.get("ATELIER_FUZZ_EXAMPLES", "40")) // 2
TENANT_IDS = ("order_id", "customer_id", "watch_id")
# Filled by the `tenants` fixture before any case is generated: boutique A's ids, B's key.
OWNED: dict[str, str] = {}

schema = schemathesis.openapi.from_path(str(CONTRACT_PATH)).include(
    path_regex=r"\{(order|customer|watch)_id\}"
)


@schema.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        name: OWNED.get(name, value) if name in TENANT_IDS else value
        for name, value in path_parameters.items()
    }


@pytest.fixture(scope="module")
def tenants(
    settings: Settings, sync_engine: Engine, seeded_rows: dict[str, list[dict[str, Any]]]
) -> Iterator[LiveServer]:
    server = LiveServer(create_app(settings)).start()
    factory = KeyFactory(create_app(settings))

    async def prepare() -> None:
        transport = httpx.ASGITransport(app=factory.app)
        boutique_a = await factory.headers(Role.PARTNER, partner_id=await factory.partner("A"))
        boutique_b = await factory.headers(Role.PARTNER, partner_id=await factory.partner("B"))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            order = await create_order(client, boutique_a)
        OWNED.update(
            order_id=order["id"],
            customer_id=order["customer_id"],
            watch_id=order["watch_id"],
            authorization=boutique_b["Authorization"],
        )

    asyncio.run(prepare())
    yield server
    server.stop()
    OWNED.clear()
    # The boutiques, their keys and their order go: the next module starts from the seed.
    restore_seeded_state(sync_engine, seeded_rows)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("ATELIER_FUZZ_RANDOM") != "1",
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_a_partner_never_reaches_another_partners_objects(
    case: Any, tenants: LiveServer, http: requests.Session
) -> None:
    headers = {"Authorization": OWNED["authorization"]}
    response = case.call(base_url=tenants.url, session=http, headers=headers)
    assert not 200 <= response.status_code < 300, (
        f"{case.method} {case.formatted_path} gave boutique B a {response.status_code}"
    )
    assert response.status_code != 500
    case.validate_response(response, checks=[ignored_auth])
