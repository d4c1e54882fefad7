"""A PostgreSQL writer's prepared statements go to libpq, inside the session's transaction.

psycopg starts a transaction before its cursor's first statement; when the first statement
goes to libpq instead (``app/libpq.py``), ``BEGIN`` must go with it, or the statement would
commit on its own. The statements prepared on a writer's connection must also outlive a
rollback: psycopg clears the server's prepared statements after one when it has prepared
statements of its own, so on the writers' connections it prepares none.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.exc import IntegrityError

from app import libpq
from app.db import Database, run_prepared, send_prepared
from app.domain.roles import Role
from app.models import Customer, WebhookDelivery, WebhookSubscription
from app.repositories.rows import _insert_into, new_values
from app.repositories.scoping import _row_by_id, table_of
from tests.conftest import KeyFactory, count_round_trips, is_postgresql
from tests.factories import create_order, transition

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
BY_ID = _row_by_id(CUSTOMERS, False)


@pytest.fixture
def db(one_connection_postgresql: Database) -> Database:
    return one_connection_postgresql


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


def _queued(driver: Any) -> int:
    state = libpq._WRITERS.get(driver)
    return len(state.queued) if state is not None else 0


async def _insert(session: Any, values: dict[str, Any], *, deferred: bool = True) -> None:
    await run_prepared(session, _insert_into(Customer), values, deferred=deferred)


async def _committed(session: Any, name: str) -> dict[str, Any]:
    """A customer written and committed by ``session``, which goes on with a new transaction."""
    values = _customer(name)
    await _insert(session, values, deferred=False)
    await session.commit()
    return values


async def test_deferred_inserts_go_with_the_next_statement_in_one_pipeline(db: Database) -> None:
    first, second = _customer("Deferred one"), _customer("Deferred two")
    writer = db.new_session(write=True)
    try:
        await _insert(writer, first)  # the transaction's first statement: BEGIN goes with it
        await _insert(writer, second)
        driver = await _driver(writer)
        assert _queued(driver) == 3  # BEGIN and the two INSERTs, sent, not yet read
        rows = await run_prepared(writer, BY_ID, {"row_id": second["id"]})
        assert _queued(driver) == 0
        assert [row.name for row in rows] == ["Deferred two"]
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(db) == ["Deferred one", "Deferred two"]


async def test_a_deferred_inserts_error_comes_with_the_next_statement_as_its_own(
    db: Database,
) -> None:
    writer = db.new_session(write=True)
    try:
        taken = await _committed(writer, "Taken")
        await _insert(writer, _customer("Lost with the rest"))
        await _insert(writer, {**taken, "name": "Duplicate"})
        await _insert(writer, _customer("Never run"))
        with pytest.raises(IntegrityError) as raised:
            await run_prepared(writer, BY_ID, {"row_id": taken["id"]})
        # Charged to the INSERT that failed, with its own parameters.
        assert "INSERT INTO customers" in str(raised.value.statement)
        assert "Duplicate" in [str(value) for value in raised.value.params]
        driver = await _driver(writer)
        assert _queued(driver) == 0
        assert driver.info.transaction_status == TransactionStatus.INERROR
        await writer.rollback()
        await _insert(writer, _customer("After"), deferred=False)  # the connection serves on
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(db) == ["After", "Taken"]


async def test_a_deferred_inserts_error_comes_with_the_commit_when_nothing_follows(
    db: Database,
) -> None:
    writer = db.new_session(write=True)
    try:
        taken = await _committed(writer, "Taken")
        await _insert(writer, _customer("Not committed"))
        await _insert(writer, {**taken, "name": "Duplicate"})
        with pytest.raises(IntegrityError):
            await writer.commit()
        await writer.rollback()
    finally:
        await writer.close()
    assert await _names(db) == ["Taken"]


async def test_the_orms_statements_wait_for_the_deferred_ones(db: Database) -> None:
    values = _customer("Seen by the ORM")
    writer = db.new_session(write=True)
    try:
        await _insert(writer, values)
        # The ORM's own SELECT (in a pipeline left open, psycopg would wait for ever).
        loaded = await asyncio.wait_for(writer.get(Customer, values["id"]), 10)
        assert loaded is not None and loaded.name == "Seen by the ORM"
        loaded.name = "Changed by the ORM"
        await _insert(writer, _customer("Then deferred"))
        await writer.commit()  # the ORM's flush, then the commit, after the deferred INSERT
    finally:
        await writer.close()
    assert await _names(db) == ["Changed by the ORM", "Then deferred"]


async def test_a_rollback_drops_the_deferred_statements_quietly(db: Database) -> None:
    writer = db.new_session(write=True)
    try:
        taken = await _committed(writer, "Taken")
        await _insert(writer, {**taken, "name": "Duplicate"})  # its error is never read
        await _insert(writer, _customer("Rolled back"))
        await writer.rollback()
        assert _queued(await _driver(writer)) == 0
    finally:
        await writer.close()
    writer = db.new_session(write=True)
    try:  # closed with deferred statements and no rollback of its own: the same
        await _insert(writer, _customer("Closed"))
    finally:
        await writer.close()
    writer = db.new_session(write=True)
    try:
        await _insert(writer, _customer("Next"), deferred=False)
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(db) == ["Next", "Taken"]


async def _status_at_psycopgs_commit(writer: Any, driver: Any) -> list[TransactionStatus]:
    """Commit ``writer``, noting the connection's transaction status each time SQLAlchemy asks
    psycopg to commit: IDLE when the ``COMMIT`` already went in the pipeline."""
    seen = []
    psycopgs_commit = driver.commit

    async def commit() -> None:
        seen.append(driver.info.transaction_status)
        await psycopgs_commit()

    driver.commit = commit
    try:
        await writer.commit()
    finally:
        del driver.commit
    return seen


async def test_the_commit_goes_with_the_deferred_statements(db: Database) -> None:
    writer = db.new_session(write=True)
    try:
        await _insert(writer, _customer("Committed with its COMMIT"))
        driver = await _driver(writer)
        assert _queued(driver) == 2  # BEGIN and the INSERT
        seen = await _status_at_psycopgs_commit(writer, driver)
        # By the time SQLAlchemy asked psycopg to commit, the COMMIT had gone with the INSERT.
        assert seen == [TransactionStatus.IDLE]
        assert _queued(driver) == 0
    finally:
        await writer.close()
    assert await _names(db) == ["Committed with its COMMIT"]


async def test_a_select_sent_ahead_is_read_with_the_next_statement(db: Database) -> None:
    writer = db.new_session(write=True)
    try:
        earlier, later = await _committed(writer, "Earlier"), _customer("Later")
        pending = await send_prepared(writer, BY_ID, {"row_id": earlier["id"]})
        await _insert(writer, later)
        driver = await _driver(writer)
        assert _queued(driver) == 3  # BEGIN, the SELECT and the INSERT, sent, not yet read
        rows = await run_prepared(writer, BY_ID, {"row_id": later["id"]})
        assert _queued(driver) == 0 and [row.name for row in rows] == ["Later"]
        # Read in that same round trip: nothing is left to send or read for it.
        assert [row.name for row in await pending.rows()] == ["Earlier"]
        await writer.commit()
    finally:
        await writer.close()
    assert await _names(db) == ["Earlier", "Later"]


async def test_a_select_sent_ahead_is_read_when_asked_for_and_keeps_out_the_commit(
    db: Database,
) -> None:
    writer = db.new_session(write=True)
    try:
        values = await _committed(writer, "Asked for")
        pending = await send_prepared(writer, BY_ID, {"row_id": values["id"]})
        assert [row.name for row in await pending.rows()] == ["Asked for"]  # its own trip
        unread = await send_prepared(writer, BY_ID, {"row_id": values["id"]})
        await _insert(writer, _customer("Committed after the rows"))
        driver = await _driver(writer)
        seen = await _status_at_psycopgs_commit(writer, driver)
        # Rows to read keep the COMMIT out of the pipeline: psycopg sends it once they are.
        assert seen == [TransactionStatus.INTRANS]
        assert [row.name for row in await unread.rows()] == ["Asked for"]
    finally:
        await writer.close()
    assert await _names(db) == ["Asked for", "Committed after the rows"]


async def test_a_select_sent_ahead_has_no_rows_when_an_earlier_statement_failed(
    db: Database,
) -> None:
    writer = db.new_session(write=True)
    try:
        taken = await _committed(writer, "Taken")
        await run_prepared(writer, BY_ID, {"row_id": taken["id"]})  # prepared: sent at once
        await _insert(writer, {**taken, "name": "Duplicate"})
        pending = await send_prepared(writer, BY_ID, {"row_id": taken["id"]})
        with pytest.raises(IntegrityError):
            await pending.rows()
        with pytest.raises(RuntimeError, match="never read"):
            await pending.rows()
        await writer.rollback()
    finally:
        await writer.close()
    assert await _names(db) == ["Taken"]


async def test_a_creation_is_one_round_trip_and_a_transition_two(
    client: httpx.AsyncClient,
    keys: KeyFactory,
    database_url: str,
    sync_engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A creation: ``BEGIN``, the new customer and watch, the order with the year's number,
    its event, the outbox message, its deliveries (the database picks the subscribers) and
    ``COMMIT``, in one round trip. A transition: the order read, then its UPDATE (which guards
    the version itself), event, message, deliveries and ``COMMIT``. Each queued its message
    for the subscription."""
    if not is_postgresql(database_url):
        pytest.skip("the libpq path is PostgreSQL's")
    counter, technician = await keys.headers(Role.COUNTER), await keys.headers(Role.TECHNICIAN)
    hook = new_values(WebhookSubscription, url="https://staff.example/hook", secret="s")
    with sync_engine.begin() as connection:
        connection.execute(sa.insert(table_of(WebhookSubscription)), hook)
    earlier = await create_order(client, counter)
    await transition(client, technician, earlier["id"], "start_diagnosis")
    trips = count_round_trips(monkeypatch)  # every statement is prepared on the connection
    order = await create_order(client, counter)
    assert trips == [1]
    await transition(client, technician, order["id"], "start_diagnosis")
    assert trips == [3]
    deliveries = table_of(WebhookDelivery)
    with sync_engine.connect() as connection:
        queued = connection.execute(
            sa.select(deliveries.c.subscription_id).where(deliveries.c.order_id == order["id"])
        ).all()
    assert [row.subscription_id for row in queued] == [hook["id"]] * 2
