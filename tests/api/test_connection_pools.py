"""A burst of requests beyond the pool size waits for the pool's connections: none is opened
for one request and closed after it.

Under 32 clients the writers' pool used to open overflow connections and close them as soon as
they came back to a full pool. On PostgreSQL each such connection is a new server process, its
catalogue caches filled again and every prepared statement made again: that churn was half the
database's CPU per write (docs/benchmarks.md, eighteenth round).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.main import create_app
from app.settings import Settings
from tests.conftest import KeyFactory, TestClock
from tests.factories import WATCH

POOL_SIZE = 2
BURST = 8  # four times the pool


@pytest.fixture
async def small_pool_app(
    settings: Settings, clock: TestClock, clean_database: Engine
) -> AsyncIterator[Any]:
    app = create_app(settings.model_copy(update={"database_pool_size": POOL_SIZE}), clock=clock)
    try:
        yield app
    finally:
        await app.state.runtime.db.dispose()


def _count_connections(app: Any) -> list[int]:
    """How many connections each SQLAlchemy pool of the app opens from now on."""
    engines = app.state.runtime.db.sync_engines()
    opened = [0] * len(engines)
    for index, engine in enumerate(engines):

        def on_connect(*_: Any, index: int = index) -> None:
            opened[index] += 1

        event.listen(engine, "connect", on_connect)
    return opened


async def test_a_burst_of_writes_beyond_the_pool_opens_no_connection_of_its_own(
    small_pool_app: Any,
) -> None:
    transport = httpx.ASGITransport(app=small_pool_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        keys = KeyFactory(small_pool_app)
        counter = await keys.headers("counter")
        technician = await keys.headers("technician")
        intake = {"customer": {"name": "Claire Martin"}, "watch": dict(WATCH)}
        opened = _count_connections(small_pool_app)

        created = await asyncio.gather(
            *(client.post("/v1/repair-orders", json=intake, headers=counter) for _ in range(BURST))
        )
        assert [response.status_code for response in created] == [201] * BURST
        moved = await asyncio.gather(
            *(
                client.post(
                    f"/v1/repair-orders/{response.json()['id']}/transitions",
                    json={"action": "start_diagnosis"},
                    headers=technician,
                )
                for response in created
            )
        )
        assert [response.status_code for response in moved] == [200] * BURST
        read = await asyncio.gather(
            *(
                client.get(f"/v1/repair-orders/{response.json()['id']}", headers=counter)
                for response in created
            )
        )
        assert [response.status_code for response in read] == [200] * BURST

    assert opened
    assert all(count <= POOL_SIZE for count in opened), opened
