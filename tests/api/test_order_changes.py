"""A transition's order: read by a prepared statement, changed untracked, written by one UPDATE.

``repair_orders.OrderForChange`` replaces the ORM's loading and unit of work on the lifecycle's
hot path. The order it builds must be the order the ORM loads, its write must send exactly the
columns that changed, and a row that moved since it was read must not be overwritten.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.db import run_core
from app.domain.actors import Actor
from app.domain.roles import Role
from app.models import RepairOrder
from app.repositories import repair_orders as order_repository
from app.repositories.scoping import table_of
from tests.conftest import KeyFactory
from tests.factories import create_order

ORDERS = table_of(RepairOrder)
STAFF = Actor(key_id=uuid.uuid4(), name="Test Technician", role=Role.TECHNICIAN)


@pytest.fixture
async def order_id(client: httpx.AsyncClient, keys: KeyFactory) -> uuid.UUID:
    order = await create_order(
        client,
        await keys.headers(Role.COUNTER),
        accessories=[{"item": "box"}],
        promised_date="2099-01-15",
        acknowledgement={"signed_name": "C. Martin"},
        deposit={"amount": "20.00"},
    )
    return uuid.UUID(order["id"])


async def test_the_order_for_change_is_the_order_the_orm_loads(
    app: Any, order_id: uuid.UUID
) -> None:
    session = app.state.runtime.db.new_session(write=True)
    try:
        change = await order_repository.get_for_change(session, STAFF, order_id)
        assert change is not None
        loaded = await order_repository.get(session, STAFF, order_id)
        assert loaded is not None and loaded is not change.order
        assert change.order.model_dump() == loaded.model_dump()
        # Read through the instrumented attributes as well as dumped.
        for name in RepairOrder.model_fields:
            assert getattr(change.order, name) == getattr(loaded, name), name
        # Untracked: the session has nothing to flush for it.
        change.order.status = "diagnosing"
        assert change.order not in session
        await session.rollback()
    finally:
        await session.close()


async def test_a_write_sends_only_what_changed_and_nothing_when_nothing_did(
    app: Any, order_id: uuid.UUID, sync_engine: Engine
) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    session = app.state.runtime.db.new_session(write=True)
    try:
        change = await order_repository.get_for_change(session, STAFF, order_id)
        assert change is not None
        await change.write(session)
        assert statements == []
        change.order.technician_name = "Test Technician"
        change.order.version += 1
        await change.write(session)
        # Written twice in one request (a quote approved within the ceiling): the second
        # write sends only the second change, guarded by the version the first one wrote.
        change.order.status = "diagnosing"
        change.order.version += 1
        await change.write(session)
        await session.commit()
    finally:
        await session.close()
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert len(statements) == 2
    first, second = (s.split(" WHERE ")[0] for s in statements)
    assert "technician_name" in first and "version" in first and "status" not in first
    assert "status" in second and "technician_name" not in second
    with sync_engine.connect() as connection:
        row = connection.execute(sa.select(ORDERS).where(ORDERS.c.id == order_id)).one()
    assert (row.status, row.technician_name, row.version) == ("diagnosing", "Test Technician", 3)
    # The columns no write sent are as the intake left them.
    assert (row.deposit_cents, row.promised_date.isoformat()) == (2000, "2099-01-15")
    assert [a["item"] for a in row.accessories] == ["box"]


async def test_a_row_changed_since_it_was_read_is_not_overwritten(
    app: Any, order_id: uuid.UUID, sync_engine: Engine
) -> None:
    session = app.state.runtime.db.new_session(write=True)
    try:
        change = await order_repository.get_for_change(session, STAFF, order_id)
        assert change is not None
        # Another change of the row after this request read it (in the same transaction here:
        # the row's lock or SQLite's one writer keeps any other out).
        bumped = sa.update(ORDERS).where(ORDERS.c.id == order_id).values(version=2)
        await run_core(session, bumped)
        change.order.status = "diagnosing"
        change.order.version += 1
        with pytest.raises(IntegrityError, match="version"):
            # Refused by the database (the row's version would be NULL), at once on SQLite,
            # with the COMMIT's round trip on PostgreSQL (deferred): an API request gets a 409.
            await change.write(session)
            await session.commit()
        await session.rollback()
    finally:
        await session.close()
    with sync_engine.connect() as connection:
        row = connection.execute(sa.select(ORDERS).where(ORDERS.c.id == order_id)).one()
    assert (row.status, row.version) == ("received", 1)
