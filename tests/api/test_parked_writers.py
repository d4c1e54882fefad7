"""PostgreSQL writers' connections parked between writes (``app/pg_writer_session.py``
``ParkedConnections``): the next writer takes the last one given back without going through
the pool, and only a connection as the pool's reset would leave it is parked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app.db import Database, run_prepared
from app.main import create_app
from app.models import Customer
from app.prepared import Prepared
from app.repositories.rows import _insert_into, new_values
from app.settings import Settings
from tests.conftest import KeyFactory, TestClock, is_postgresql
from tests.factories import create_order, transition

BACKEND = Prepared(sa.select(sa.func.pg_backend_pid().label("pid")))
IN_TRANSACTION = Prepared(
    sa.select(sa.func.pg_current_xact_id_if_assigned().is_not(None).label("assigned"))
)
POOL_SIZE = 3  # two parked at most, with the default four writers


@pytest.fixture
async def db(settings: Settings, clean_database: Engine) -> AsyncIterator[Database]:
    if not is_postgresql(settings.database_url):
        pytest.skip("a PostgreSQL writer's connection")
    database = Database.from_settings(settings.model_copy(update={"database_pool_size": POOL_SIZE}))
    try:
        yield database
    finally:
        await database.dispose()


def _checkouts(database: Database) -> list[int]:
    """From now on, each checkout of the writers' pool (how many were checked out then)."""
    pool = database.engine.sync_engine.pool
    seen: list[int] = []
    event.listen(pool, "checkout", lambda *_: seen.append(pool.checkedout()))  # type: ignore[attr-defined]
    return seen


async def _insert(session: Any, name: str) -> None:
    values = new_values(Customer, name=name, created_at=datetime.now(UTC))
    await run_prepared(session, _insert_into(Customer), values, deferred=True)


async def _write(database: Database, name: str, *, commit: bool = True) -> int:
    """One writer's INSERT (committed, or left open when the session closes); its backend."""
    session = database.new_session(write=True)
    try:
        pid = int((await run_prepared(session, BACKEND))[0].pid)
        await _insert(session, name)
        if commit:
            await session.commit()
        return pid
    finally:
        await session.close()


def _names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        table = Customer.__table__  # type: ignore[attr-defined]
        return list(connection.execute(sa.select(table.c.name).order_by("name")).scalars())


async def test_the_next_writer_takes_the_connection_the_last_one_parked(
    db: Database, clean_database: Engine
) -> None:
    first = await _write(db, "First")
    checkouts = _checkouts(db)
    assert await _write(db, "Second") == first
    assert await _write(db, "Third") == first
    assert checkouts == []  # neither went through the pool
    assert _names(clean_database) == ["First", "Second", "Third"]


async def test_a_connection_left_in_its_transaction_goes_back_to_the_pool(
    db: Database, clean_database: Engine
) -> None:
    """Closed without a commit: the pool rolls it back, nothing of it is written, and the next
    writer starts a transaction of its own."""
    await _write(db, "Never committed", commit=False)
    assert db.parked is not None and db.parked.idle == []
    checkouts = _checkouts(db)
    session = db.new_session(write=True)
    try:
        assert (await run_prepared(session, IN_TRANSACTION))[0].assigned is False
        await _insert(session, "Next")
        await session.commit()
    finally:
        await session.close()
    assert len(checkouts) == 1
    assert _names(clean_database) == ["Next"]


async def test_a_writer_through_the_orm_parks_its_connection_too(
    db: Database, clean_database: Engine
) -> None:
    session = db.new_session(write=True)
    try:
        session.add(Customer(name="Through the ORM"))
        await session.commit()
    finally:
        await session.close()
    assert db.parked is not None and len(db.parked.idle) == 1
    checkouts = _checkouts(db)
    await _write(db, "Prepared")
    assert checkouts == []
    assert _names(clean_database) == ["Prepared", "Through the ORM"]


async def test_no_more_are_parked_than_the_pool_can_spare(db: Database) -> None:
    """One fewer than the pool holds: anything else asking it still finds a connection."""
    assert db.parked is not None and db.parked.size == POOL_SIZE - 1
    sessions = [db.new_session(write=True) for _ in range(POOL_SIZE)]
    for session in sessions:
        await run_prepared(session, BACKEND)
    for session in sessions:
        await session.commit()
        await session.close()
    assert len(db.parked.idle) == POOL_SIZE - 1
    pool = db.engine.sync_engine.pool
    assert pool.checkedout() == POOL_SIZE - 1  # type: ignore[attr-defined]
    async with db.engine.connect() as connection:  # the readiness check's, say
        assert (await connection.execute(sa.text("SELECT 1"))).scalar() == 1


async def test_a_lost_connection_drops_every_parked_one(
    db: Database, clean_database: Engine
) -> None:
    """The server went away: the one that failed and those parked beside it are dropped, and
    the next writer opens a new connection instead of failing on another dead one."""
    first, second = db.new_session(write=True), db.new_session(write=True)
    pids = {int((await run_prepared(s, BACKEND))[0].pid) for s in (first, second)}
    for session in (first, second):
        await session.commit()
        await session.close()
    assert db.parked is not None and len(db.parked.idle) == 2
    with clean_database.connect() as admin:
        for pid in pids:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises(DBAPIError) as raised:
        await _write(db, "Lost")
    assert raised.value.connection_invalidated
    assert db.parked.idle == []
    assert await _write(db, "On a new connection") not in pids
    assert _names(clean_database) == ["On a new connection"]


async def test_a_connection_lost_under_the_orm_drops_every_parked_one_too(
    db: Database, clean_database: Engine
) -> None:
    """SQLAlchemy's own handling of a lost connection (the ORM's statement met it) invalidates
    it without replacing the pool; the parked ones go all the same, and dropping them is not
    taken for another loss."""
    first, second = db.new_session(write=True), db.new_session(write=True)
    pids = {int((await run_prepared(s, BACKEND))[0].pid) for s in (first, second)}
    for session in (first, second):
        await session.commit()
        await session.close()
    assert db.parked is not None and len(db.parked.idle) == 2
    with clean_database.connect() as admin:
        for pid in pids:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    losses = db.parked.losses
    session = db.new_session(write=True)
    try:
        session.add(Customer(name="Lost"))
        with pytest.raises(DBAPIError) as raised:
            await session.commit()
        assert raised.value.connection_invalidated
    finally:
        await session.close()
    assert db.parked.idle == [] and db.parked.losses == losses + 1
    assert await _write(db, "On a new connection") not in pids
    assert db.parked.losses == losses + 1  # the stale ones' drop was not counted
    assert _names(clean_database) == ["On a new connection"]


async def test_a_connection_parked_longer_than_the_recycle_time_goes_back_to_the_pool(
    db: Database,
) -> None:
    await _write(db, "Parked")
    assert db.parked is not None
    db.parked.recycle_seconds = 0
    checkouts = _checkouts(db)
    await _write(db, "After")
    assert len(checkouts) == 1
    assert len(db.parked.idle) == 1  # parked anew, its time counted from now


async def test_dispose_gives_every_parked_connection_back(db: Database) -> None:
    session = db.new_session(write=True)
    await run_prepared(session, BACKEND)
    await session.commit()
    await session.close()
    pool = db.engine.sync_engine.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    await db.dispose()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_pool_of_one_parks_nothing(settings: Settings, clean_database: Engine) -> None:
    if not is_postgresql(settings.database_url):
        pytest.skip("a PostgreSQL writer's connection")
    database = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    try:
        assert database.parked is None
        await _write(database, "Through the pool")
        assert database.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await database.dispose()


async def test_requests_write_on_parked_connections(
    settings: Settings, clock: TestClock, clean_database: Engine
) -> None:
    """Served: a burst of creations, then transitions of each, every one committed once, the
    writers' pool checked out no more often than writes ran at once."""
    if not is_postgresql(settings.database_url):
        pytest.skip("a PostgreSQL writer's connection")
    app = create_app(settings, clock=clock)
    database = app.state.runtime.db
    checkouts = _checkouts(database)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            factory = KeyFactory(app)
            counter, technician = (
                await factory.headers("counter"),
                await factory.headers("technician"),
            )
            created = [await create_order(client, counter) for _ in range(6)]
            for order in created:
                await transition(client, technician, order["id"], "start_diagnosis")
            listed = await client.get("/v1/repair-orders?status=in_diagnosis", headers=counter)
            assert sorted(item["id"] for item in listed.json()["items"]) == sorted(
                order["id"] for order in created
            )
    finally:
        await database.dispose()
    assert len(checkouts) == 1  # one write at a time: one connection, parked between them
