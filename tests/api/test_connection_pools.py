"""A burst of requests beyond the pool size waits for the pool's connections: none is opened
for one request and closed after it. On PostgreSQL the writers wait for their turn in the order
they came (``Database.writer_slot``), never in the pool's own queue.

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
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.db import Database
from app.main import create_app
from app.settings import Settings
from tests.conftest import KeyFactory, TestClock, is_postgresql
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


async def test_writes_beyond_the_pool_never_wait_in_the_pools_own_queue(
    small_pool_app: Any, settings: Settings
) -> None:
    """The pool's queue hands a connection given back to whoever asks first, not to the writer
    that has waited longest; on PostgreSQL the writers queue before it instead."""
    if not is_postgresql(settings.database_url):
        pytest.skip("SQLite's writers queue for the file's lock")
    pool = small_pool_app.state.runtime.db.engine.sync_engine.pool
    queue, waits = pool._pool, []
    get = queue.get

    def counted_get(block: bool = True, timeout: float | None = None) -> Any:
        if block and queue.empty():
            waits.append(timeout)
        return get(block, timeout)

    queue.get = counted_get
    transport = httpx.ASGITransport(app=small_pool_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        counter = await KeyFactory(small_pool_app).headers("counter")
        intake = {"customer": {"name": "Claire Martin"}, "watch": dict(WATCH)}
        created = await asyncio.gather(
            *(client.post("/v1/repair-orders", json=intake, headers=counter) for _ in range(BURST))
        )
    assert [response.status_code for response in created] == [201] * BURST
    assert waits == []


async def test_postgresql_writers_take_their_turns_in_the_order_they_came(
    settings: Settings, clean_database: Engine
) -> None:
    """A slot given back goes to the writer that has waited longest, even when a newcomer asks
    for one before that writer has run again."""
    if not is_postgresql(settings.database_url):
        pytest.skip("SQLite's writers queue for the file's lock (tests/api/test_write_groups.py)")
    database = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    entered: list[str] = []
    leave = {name: asyncio.Event() for name in "ABCD"}

    async def writer(name: str) -> None:
        async with database.writer_slot():
            entered.append(name)
            await leave[name].wait()

    async def newcomer() -> None:
        # Asks for a slot the moment A gives its back, before B (woken for it) has run.
        await first.wait()
        await writer("D")

    try:
        first = asyncio.Event()
        a = asyncio.create_task(writer("A"))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(writer(name)) for name in "BC"]
        await asyncio.sleep(0)
        assert entered == ["A"]
        d = asyncio.create_task(newcomer())
        await asyncio.sleep(0)
        leave["A"].set()
        first.set()
        await a
        for name in "BCD":
            leave[name].set()
        await asyncio.gather(*waiting, d)
        assert entered == ["A", "B", "C", "D"]
    finally:
        await database.dispose()


async def test_postgresql_runs_at_most_database_writers_writes_at_once(
    settings: Settings, clock: TestClock, clean_database: Engine
) -> None:
    if not is_postgresql(settings.database_url):
        pytest.skip("SQLite runs one writer at a time")
    app = create_app(
        settings.model_copy(update={"database_pool_size": 10, "database_writers": 2}), clock=clock
    )
    pool = app.state.runtime.db.engine.sync_engine.pool
    at_once: list[int] = []
    event.listen(pool, "checkout", lambda *_: at_once.append(pool.checkedout()))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            counter = await KeyFactory(app).headers("counter")
            intake = {"customer": {"name": "Claire Martin"}, "watch": dict(WATCH)}
            created = await asyncio.gather(
                *(client.post("/v1/repair-orders", json=intake, headers=counter) for _ in range(8))
            )
    finally:
        await app.state.runtime.db.dispose()
    assert [response.status_code for response in created] == [201] * 8
    assert at_once and max(at_once) == 2


async def test_a_writer_waits_for_a_slot_no_longer_than_for_a_pools_connection(
    settings: Settings, clean_database: Engine
) -> None:
    """Then it fails as a wait for the pool did: ``PoolTimeoutError``, a 503 with Retry-After
    (``app/errors.py``), and the slot it never had is not given back."""
    if not is_postgresql(settings.database_url):
        pytest.skip("SQLite's writers queue for the file's lock")
    database = Database.from_settings(settings.model_copy(update={"database_writers": 1}))
    assert database.writer_slots is not None
    assert database.writer_slots.timeout_seconds == 30  # the pool's own default
    database.writer_slots.timeout_seconds = 0.05
    try:
        async with database.writer_slot():
            with pytest.raises(PoolTimeoutError):
                async with database.writer_slot():
                    pytest.fail("two writers at once")
        async with database.writer_slot():  # the slot is free again, once
            assert database.writer_slots is not None
            assert database.writer_slots.locked()
    finally:
        await database.dispose()


async def test_a_write_that_finds_no_slot_in_time_is_a_503_that_changed_nothing(
    small_pool_app: Any, settings: Settings
) -> None:
    if not is_postgresql(settings.database_url):
        pytest.skip("SQLite's writers queue for the file's lock")
    database = small_pool_app.state.runtime.db
    database.writer_slots.timeout_seconds = 0.05
    transport = httpx.ASGITransport(app=small_pool_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        counter = await KeyFactory(small_pool_app).headers("counter")
        intake = {"customer": {"name": "Claire Martin"}, "watch": dict(WATCH)}
        async with database.writer_slot(), database.writer_slot():  # both of the pool's
            refused = await client.post("/v1/repair-orders", json=intake, headers=counter)
        listed = await client.get("/v1/repair-orders", headers=counter)
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert listed.json()["items"] == []
