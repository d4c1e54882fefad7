"""PostgreSQL readers' prepared statements run on psycopg connections of their own.

``PsycopgReaders`` replaces SQLAlchemy's pool for them, so it must keep what that pool kept:
a bound on open connections (a reader beyond it waits, then gets the pool's timeout), reuse,
recycling, and a lost server's connections dropped so that the next read connects afresh;
and when something listens to the SQL the readers' engine sends, the reads go through it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app import libpq
from app.db import Database, run_prepared
from app.domain.actors import Actor
from app.domain.roles import Role
from app.models import Customer
from app.prepared import Prepared
from app.psycopg_readers import PsycopgReaders, ReaderSession
from app.repositories import repair_orders as order_repository
from app.repositories.scoping import _row_by_id
from app.settings import Settings

BY_ID = _row_by_id(Customer.__table__, False)  # type: ignore[attr-defined]


@pytest.fixture
async def db(settings: Settings, clean_database: Engine) -> AsyncIterator[Database]:
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        pytest.skip("psycopg reader connections are PostgreSQL's")
    database = Database.from_settings(settings.model_copy(update={"database_pool_size": 2}))
    try:
        yield database
    finally:
        await database.dispose()


async def _customer(db: Database, name: str) -> Customer:
    writer = db.new_session(write=True)
    try:
        customer = Customer(name=name)
        writer.add(customer)
        await writer.commit()
        return customer
    finally:
        await writer.close()


async def _read(session: Any, customer: Customer) -> str:
    row = (await run_prepared(session, BY_ID, {"row_id": customer.id})).first_mapping()
    assert row is not None
    return str(row["name"])


def _readers(db: Database) -> PsycopgReaders:
    assert db.pg_readers is not None
    return db.pg_readers


async def test_a_readers_prepared_statements_take_a_reader_connection_and_give_it_back(
    db: Database,
) -> None:
    readers = _readers(db)
    assert db.reader_engine is not None
    engine_pool = db.reader_engine.sync_engine.pool
    customer = await _customer(db, "Read beside the engine")
    seen = set()
    for _ in range(3):
        reader = db.new_session(write=False)
        assert isinstance(reader, ReaderSession)
        try:
            assert await _read(reader, customer) == "Read beside the engine"
            assert engine_pool.checkedout() == 0  # type: ignore[attr-defined]
            assert (readers.open, readers.idle) == (1, 0)
            seen.add(id(reader._pooled))
        finally:
            await reader.close()
        assert (readers.open, readers.idle) == (1, 1)
    assert len(seen) == 1  # one connection, reused by each reader in turn


async def test_a_reader_that_also_used_the_orm_gives_both_its_connections_back(
    db: Database,
) -> None:
    # A reader's close skips the ORM session's own when it held nothing: not when it did.
    readers = _readers(db)
    assert db.reader_engine is not None
    engine_pool = db.reader_engine.sync_engine.pool
    customer = await _customer(db, "Read both ways")
    reader = db.new_session(write=False)
    try:
        assert await _read(reader, customer) == "Read both ways"
        loaded = await reader.get(Customer, customer.id)
        assert loaded is not None and loaded.name == "Read both ways"
        assert engine_pool.checkedout() == 1  # type: ignore[attr-defined]
    finally:
        await reader.close()
    assert engine_pool.checkedout() == 0  # type: ignore[attr-defined]
    assert (readers.open, readers.idle) == (1, 1)
    assert not reader.sync_session.identity_map and not reader.sync_session.in_transaction()


async def test_a_failed_read_is_sqlalchemys_error_and_leaves_the_connection_usable(
    db: Database,
) -> None:
    # The readers' statements go to libpq itself: the server's error still comes out as
    # SQLAlchemy's class (a DataError here), and the connection serves the next read.
    readers = _readers(db)
    quotient = (sa.literal_column("1") / sa.bindparam("by", type_=sa.Integer)).label("quotient")
    dividing = Prepared(sa.select(quotient))
    customer = await _customer(db, "After an error")
    reader = db.new_session(write=False)
    try:
        assert (await run_prepared(reader, dividing, {"by": 1}))[0][0] == 1
        with pytest.raises(DataError, match="division by zero") as raised:
            await run_prepared(reader, dividing, {"by": 0})
        assert not raised.value.connection_invalidated
        assert await _read(reader, customer) == "After an error"
        assert (await run_prepared(reader, dividing, {"by": 1}))[0][0] == 1
    finally:
        await reader.close()
    assert (readers.open, readers.idle) == (1, 1)


async def test_readers_beyond_the_bound_wait_for_a_connection_then_time_out(
    db: Database,
) -> None:
    assert db.reader_engine is not None
    readers = PsycopgReaders(db.reader_engine, 2, timeout_seconds=0.2)
    customer = await _customer(db, "Bounded")
    holders = [ReaderSession(db.reader_engine, readers) for _ in range(2)]
    waiting = ReaderSession(db.reader_engine, readers)
    try:
        for holder in holders:
            await _read(holder, customer)
        assert readers.open == 2
        third = asyncio.create_task(_read(waiting, customer))
        await asyncio.sleep(0.05)
        assert not third.done()  # waits for one of the two
        await holders[0].close()
        assert await third == "Bounded"
        assert readers.open == 2
        late = ReaderSession(db.reader_engine, readers)
        with pytest.raises(PoolTimeoutError):
            await _read(late, customer)  # both taken, none given back in time
        await late.close()
    finally:
        for session in (*holders, waiting):
            await session.close()
        await readers.close()
    assert (readers.open, readers.idle) == (0, 0)


async def test_a_connection_past_its_recycling_age_is_closed_not_reused(db: Database) -> None:
    assert db.reader_engine is not None
    readers = PsycopgReaders(db.reader_engine, 2, recycle_seconds=0)
    customer = await _customer(db, "Recycled")
    try:
        reader = ReaderSession(db.reader_engine, readers)
        await _read(reader, customer)
        await reader.close()
        assert (readers.open, readers.idle) == (0, 0)
    finally:
        await readers.close()


async def test_a_connection_lost_with_its_server_takes_the_idle_ones_with_it(
    db: Database, sync_engine: Engine
) -> None:
    """Two connections idle; the server ends both (as a restart would): the first read meets a
    dead one (a 503 for the API), the pool drops every idle one, and the next read connects
    afresh."""
    readers = _readers(db)
    customer = await _customer(db, "Survivor")
    first, second = db.new_session(write=False), db.new_session(write=False)
    await _read(first, customer)
    await _read(second, customer)
    pids = [
        session._pooled.connection.info.backend_pid  # type: ignore[attr-defined]
        for session in (first, second)
    ]
    await first.close()
    await second.close()
    assert (readers.open, readers.idle) == (2, 2)
    with sync_engine.connect() as admin:
        for pid in pids:
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    reader = db.new_session(write=False)
    try:
        with pytest.raises(OperationalError) as lost:
            await _read(reader, customer)
        assert lost.value.connection_invalidated
        assert (readers.open, readers.idle) == (0, 0)
        assert await _read(reader, customer) == "Survivor"
    finally:
        await reader.close()


async def test_idle_connections_the_server_ends_are_dropped_before_a_read_meets_them(
    db: Database, sync_engine: Engine
) -> None:
    """The idle connections' sockets stay watched (``SocketWatch``): once the loop has seen
    the server end them (a restart), no read meets a dead one; the next connects afresh."""
    readers = _readers(db)
    customer = await _customer(db, "Watched")
    first, second = db.new_session(write=False), db.new_session(write=False)
    await _read(first, customer)
    await _read(second, customer)
    pooled = [session._pooled for session in (first, second)]  # type: ignore[attr-defined]
    await first.close()
    await second.close()
    with sync_engine.connect() as admin:
        for connection in pooled:
            pid = connection.connection.info.backend_pid
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for _ in range(100):  # the loop runs, and the watches see the sockets end
        if all(connection.connection.closed for connection in pooled):
            break
        await asyncio.sleep(0.01)
    assert (readers.open, readers.idle) == (2, 2)
    reader = db.new_session(write=False)
    try:
        assert await _read(reader, customer) == "Watched"
        assert (readers.open, readers.idle) == (1, 0)
    finally:
        await reader.close()
    assert (readers.open, readers.idle) == (1, 1)


async def test_reads_go_through_sqlalchemy_while_something_listens_to_the_sql(
    db: Database,
) -> None:
    readers = _readers(db)
    assert db.reader_engine is not None
    customer = await _customer(db, "Observed")
    statements: list[str] = []

    def listen(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.reader_engine.sync_engine, "before_cursor_execute", listen)
    reader = db.new_session(write=False)
    try:
        assert await _read(reader, customer) == "Observed"
    finally:
        await reader.close()
        event.remove(db.reader_engine.sync_engine, "before_cursor_execute", listen)
    assert any("FROM customers" in statement for statement in statements)
    assert readers.open == 0


_PREPARED_HERE = Prepared(
    sa.select(sa.column("name"), sa.column("generic_plans"), sa.column("custom_plans"))
    .select_from(sa.table("pg_prepared_statements"))
    .where(sa.column("statement").like(sa.bindparam("pattern")))
    .order_by(sa.column("name"))
)


async def _prepared_here(session: Any, pattern: str = "%") -> list[tuple[str, int, int]]:
    """The server-side prepared statements of the reader connection ``session`` holds (the
    statement that asks included)."""
    rows = await run_prepared(session, _PREPARED_HERE, {"pattern": pattern})
    return [(str(name), int(generic), int(custom)) for name, generic, custom in rows]


async def test_a_connection_keeps_its_most_recently_used_statements_and_closes_the_others(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list page's statuses and row count are in its SQL, so a connection may meet many
    statements: it keeps ``MOST_STATEMENTS`` at most, closing the least recently used one on
    the server, and prepares a closed one again when it comes back."""
    monkeypatch.setattr(libpq, "MOST_STATEMENTS", 3)
    customer = await _customer(db, "Limited")
    by_limit = [
        Prepared(
            sa.select(Customer.__table__.c.name)  # type: ignore[attr-defined]
            .where(Customer.__table__.c.id == sa.bindparam("row_id"))  # type: ignore[attr-defined]
            .limit(sa.literal_column(str(limit), sa.Integer()))
        )
        for limit in range(1, 6)
    ]
    reader = db.new_session(write=False)
    assert isinstance(reader, ReaderSession)
    try:
        for statement in [*by_limit, by_limit[3], by_limit[0]]:
            [(name,)] = await run_prepared(reader, statement, {"row_id": customer.id})
            assert name == "Limited"
        assert reader._pooled is not None
        kept = reader._pooled.state.statements
        # Limits 4 and 1 used last (1 prepared again), before them 5; 2 and 3 closed.
        assert [int(sql.rsplit("LIMIT", 1)[1]) for sql, _ in kept] == [5, 4, 1]
        # Asking for them is a statement too: the least recently used (limit 5) goes for it.
        here = await _prepared_here(reader)
        assert sorted(name for name, *_ in here) == sorted(
            name.decode() for name in reader._pooled.state.statements.values()
        )
        assert len(here) == 3
    finally:
        await reader.close()


async def test_a_list_page_s_plan_is_made_once_and_kept(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its statuses and row count written into its SQL, a list page's statement has no
    parameter left to plan for: PostgreSQL keeps one plan for it (a generic plan), where
    sent as parameters it planned every page again (docs/benchmarks.md, twenty-fourth
    round). A next page's cursor is a parameter; its plan is kept too once PostgreSQL has
    compared a few."""
    actor = Actor(role=Role.MANAGER, key_id=uuid.uuid4(), name="manager", partner_id=None)
    first_page = order_repository.OrderFilters(statuses=("ready",))
    reader = db.new_session(write=False)
    try:
        for _ in range(8):
            await order_repository.list_documents(
                reader, actor, first_page, runs=[["id", "created_at"]], extra=[], limit=10,
                cursor=None,
            )  # fmt: skip
        [(_, generic, custom)] = await _prepared_here(reader, "%status IN ('ready')%LIMIT 11")
        assert (generic, custom) == (8, 0)
    finally:
        await reader.close()
