"""A PostgreSQL writer's prepared statements go to libpq, inside the session's transaction.

psycopg starts a transaction before its cursor's first statement; when the first statement
goes to libpq instead (``app/libpq.py``), ``BEGIN`` must go with it, or the statement would
commit on its own. The statements prepared on a writer's connection must also outlive a
rollback: psycopg clears the server's prepared statements after one when it has prepared
statements of its own, so on the writers' connections it prepares none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError

from app import libpq
from app.db import Database, run_prepared
from app.models import Customer
from app.repositories.rows import _insert_into, new_values
from app.settings import Settings

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def db(settings: Settings, clean_database: Engine) -> AsyncIterator[Database]:
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        pytest.skip("the libpq path is PostgreSQL's")
    # One connection: every session below runs on the same one, in turn.
    database = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    try:
        yield database
    finally:
        await database.dispose()


def _customer(name: str) -> dict[str, Any]:
    return new_values(Customer, name=name, created_at=datetime.now(UTC))


async def _driver(session: Any) -> Any:
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


async def _names(db: Database) -> list[str]:
    session = db.new_session(write=False)
    try:
        connection = await session.connection()
        rows = await connection.execute(sa.select(CUSTOMERS.c.name).order_by(CUSTOMERS.c.name))
        return list(rows.scalars())
    finally:
        await session.close()


async def test_a_writers_first_prepared_statement_opens_its_transaction(db: Database) -> None:
    writer = db.new_session(write=True)
    try:
        await run_prepared(writer, _insert_into(Customer), _customer("Rolled back"))
        driver = await _driver(writer)
        assert driver in libpq._WRITERS  # through libpq, not psycopg's cursor
        assert driver.info.transaction_status == TransactionStatus.INTRANS
        await writer.rollback()
    finally:
        await writer.close()
    writer = db.new_session(write=True)
    try:
        await run_prepared(writer, _insert_into(Customer), _customer("Committed"))
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(db) == ["Committed"]


async def test_prepared_statements_outlive_a_rollback_on_the_writers_connection(
    db: Database,
) -> None:
    first = _customer("First")
    writer = db.new_session(write=True)
    try:
        await run_prepared(writer, _insert_into(Customer), first)
        # The same ORM query enough times for psycopg to prepare it, were it allowed to.
        connection = await writer.connection()
        for _ in range(8):
            await connection.execute(sa.select(CUSTOMERS.c.id).where(CUSTOMERS.c.id == first["id"]))
        await writer.commit()
        with pytest.raises(IntegrityError):  # fails first, with the BEGIN sent with it
            await run_prepared(writer, _insert_into(Customer), first)
        await writer.rollback()
        driver = await _driver(writer)
    finally:
        await writer.close()
    writer = db.new_session(write=True)
    try:
        assert await _driver(writer) is driver
        await run_prepared(writer, _insert_into(Customer), _customer("Second"))
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(db) == ["First", "Second"]


async def test_a_failed_statement_later_in_the_transaction_rolls_back_the_earlier_ones(
    db: Database,
) -> None:
    taken = _customer("Taken")
    writer = db.new_session(write=True)
    try:
        await run_prepared(writer, _insert_into(Customer), taken)
        await writer.commit()
        await run_prepared(writer, _insert_into(Customer), _customer("Lost with the rest"))
        with pytest.raises(IntegrityError):
            await run_prepared(writer, _insert_into(Customer), {**taken, "name": "Again"})
        assert (await _driver(writer)).info.transaction_status == TransactionStatus.INERROR
        await writer.rollback()
    finally:
        await writer.close()
    assert await _names(db) == ["Taken"]


async def test_a_connection_with_its_own_transaction_settings_keeps_psycopgs_cursor(
    db: Database,
) -> None:
    # A serialisable writer needs psycopg's own BEGIN: its statements stay on the cursor.
    writer = db.new_session(write=True)
    try:
        connection = await writer.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        driver = (await connection.get_raw_connection()).driver_connection
        assert not libpq.writes_through_libpq(driver)
        values = _customer("Serialisable")
        await run_prepared(writer, _insert_into(Customer), values)
        assert driver not in libpq._WRITERS
        level = await connection.execute(sa.text("SHOW transaction_isolation"))
        assert level.scalar() == "serializable"
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(db) == ["Serialisable"]
