"""A PostgreSQL writer's session (``app/pg_writer_session.py``): prepared statements and their
COMMIT straight on its connection when the ORM takes no part, the ORM on that same connection
and in that same transaction when it does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import select

from app import pg_writer_session
from app.db import Database, after_commit, run_prepared
from app.models import Customer
from app.pg_writer_session import WriterSession
from app.prepared import Prepared
from app.repositories.rows import _insert_into, new_values
from tests.conftest import count_round_trips

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
BACKEND = Prepared(sa.select(sa.func.pg_backend_pid().label("pid")))


@pytest.fixture
def db(one_connection_postgresql: Database) -> Database:
    return one_connection_postgresql


def _customer(name: str) -> dict[str, Any]:
    return new_values(Customer, name=name, created_at=datetime.now(UTC))


async def _insert(session: Any, values: dict[str, Any], *, deferred: bool = True) -> None:
    await run_prepared(session, _insert_into(Customer), values, deferred=deferred)


async def _names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(CUSTOMERS.c.name).order_by("name")).scalars())


def _spy_on_psycopgs_commit(driver: Any) -> list[TransactionStatus]:
    seen: list[TransactionStatus] = []
    psycopgs_commit = driver.commit

    async def commit() -> None:
        seen.append(driver.info.transaction_status)
        await psycopgs_commit()

    driver.commit = commit
    return seen


async def test_prepared_statements_commit_with_their_pipeline_without_the_orm(
    db: Database, clean_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = db.new_session(write=True)
    assert isinstance(writer, WriterSession)
    try:
        await _insert(writer, _customer("Deferred"))
        _, driver = await writer.checked_out()
        seen = _spy_on_psycopgs_commit(driver)
        trips = count_round_trips(monkeypatch)
        await writer.commit()
        assert trips == [1]  # BEGIN, the INSERT and COMMIT in one round trip
        assert seen == []  # neither SQLAlchemy nor psycopg were asked to commit
        assert driver.info.transaction_status == TransactionStatus.IDLE
        assert not writer.sync_session.in_transaction()
    finally:
        await writer.close()
        del driver.commit
    assert await _names(clean_database) == ["Deferred"]


async def test_after_commit_callbacks_run_once_the_write_is_committed(db: Database) -> None:
    writer = db.new_session(write=True)
    called: list[str] = []
    try:
        await _insert(writer, _customer("Announced"))
        after_commit(writer, lambda: called.append("committed"))
        assert called == []
        await writer.commit()
        assert called == ["committed"]
        await _insert(writer, _customer("Announced twice?"))
        await writer.commit()
        assert called == ["committed"]  # a listener runs for the commit it was added before
    finally:
        await writer.close()


async def test_a_rollback_leaves_nothing_of_the_prepared_statements(
    db: Database, clean_database: Engine
) -> None:
    writer = db.new_session(write=True)
    try:
        await _insert(writer, _customer("Sent"), deferred=False)
        await _insert(writer, _customer("Queued"))
        await writer.rollback()
        _, driver = await writer.checked_out()
        assert driver.info.transaction_status == TransactionStatus.IDLE
        await writer.commit()  # nothing left to commit
    finally:
        await writer.close()
    assert await _names(clean_database) == []


async def test_the_orm_works_in_the_prepared_statements_transaction(
    db: Database, clean_database: Engine
) -> None:
    writer = db.new_session(write=True)
    try:
        await _insert(writer, _customer("Prepared"))
        # The ORM sees the prepared statement's uncommitted row: same connection, same
        # transaction (and the deferred INSERT is sent before its SELECT).
        found = (await writer.exec(select(Customer).where(Customer.name == "Prepared"))).all()
        assert [customer.name for customer in found] == ["Prepared"]
        writer.add(Customer(name="Through the ORM"))
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(clean_database) == ["Prepared", "Through the ORM"]


async def test_prepared_statements_after_the_orm_roll_back_with_it(
    db: Database, clean_database: Engine
) -> None:
    writer = db.new_session(write=True)
    try:
        writer.add(Customer(name="Through the ORM"))
        await writer.flush()  # the ORM first: it checks the connection out
        await _insert(writer, _customer("Prepared"), deferred=False)
        rows = await run_prepared(writer, BACKEND)
        orms = (await writer.connection()).sync_connection
        assert orms is not None
        ours = (await writer.checked_out())[1]
        assert orms.connection.driver_connection is ours
        assert rows[0].pid == ours.info.backend_pid
        await writer.rollback()
    finally:
        await writer.close()
    assert await _names(clean_database) == []


async def test_a_session_closed_without_ending_its_transaction_leaves_nothing(
    db: Database, clean_database: Engine
) -> None:
    writer = db.new_session(write=True)
    try:
        await _insert(writer, _customer("Never committed"), deferred=False)
    finally:
        await writer.close()  # the pool rolls back what was left open
    assert await _names(clean_database) == []
    # The pool's one connection is fine for the next writer.
    writer = db.new_session(write=True)
    try:
        await _insert(writer, _customer("Next"))
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(clean_database) == ["Next"]


async def test_a_commit_refused_by_a_deferred_statement_raises_and_rolls_back(
    db: Database, clean_database: Engine
) -> None:
    taken = _customer("Taken")
    writer = db.new_session(write=True)
    try:
        await _insert(writer, taken)
        await writer.commit()
        await _insert(writer, _customer("Not committed"))
        await _insert(writer, {**_customer("Duplicate"), "id": taken["id"]})
        with pytest.raises(IntegrityError):
            await writer.commit()
        await writer.rollback()
        await _insert(writer, _customer("After"))
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(clean_database) == ["After", "Taken"]


async def test_a_connection_lost_before_the_commit_is_dropped_and_replaced(
    db: Database, clean_database: Engine
) -> None:
    writer = db.new_session(write=True)
    try:
        lost = (await run_prepared(writer, BACKEND))[0].pid
        await _insert(writer, _customer("Lost with its connection"))
        with clean_database.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        with pytest.raises(DBAPIError) as raised:
            await writer.commit()
        assert raised.value.connection_invalidated
        await writer.rollback()
    finally:
        await writer.close()
    writer = db.new_session(write=True)
    try:
        assert (await run_prepared(writer, BACKEND))[0].pid != lost
        await _insert(writer, _customer("On a new connection"))
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(clean_database) == ["On a new connection"]


async def test_a_connection_lost_under_a_statement_rolls_back_quietly(
    db: Database, clean_database: Engine
) -> None:
    writer = db.new_session(write=True)
    try:
        lost = (await run_prepared(writer, BACKEND))[0].pid
        with clean_database.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        with pytest.raises(DBAPIError) as raised:
            await _insert(writer, _customer("Lost"), deferred=False)
        assert raised.value.connection_invalidated
        await writer.rollback()  # nothing to undo on a connection that is gone
        await _insert(writer, _customer("Retried on a new connection"))
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(clean_database) == ["Retried on a new connection"]


async def test_the_route_to_libpq_is_worked_out_once_per_connection(
    db: Database, clean_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write's statements after its first go straight to libpq; a new connection (the last
    one lost) gets a route of its own."""
    worked_out: list[int] = []
    real = pg_writer_session.writer_route

    def counted(connection: Any, driver: Any) -> Any:
        worked_out.append(driver.info.backend_pid)
        return real(connection, driver)

    monkeypatch.setattr(pg_writer_session, "writer_route", counted)
    writer = db.new_session(write=True)
    try:
        lost = (await run_prepared(writer, BACKEND))[0].pid
        await _insert(writer, _customer("First"))
        await _insert(writer, _customer("Second"), deferred=False)
        assert worked_out == [lost]
        with clean_database.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        with pytest.raises(DBAPIError):
            await writer.commit()
        await writer.rollback()
        await _insert(writer, _customer("Third"))
        await writer.commit()
    finally:
        await writer.close()
    assert len(worked_out) == 2 and worked_out[1] != lost
    assert await _names(clean_database) == ["Third"]
