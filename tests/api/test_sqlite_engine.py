"""SQLite's engine on the event loop's thread: nothing there may wait for another request.

The WAL file is copied back into the database off the loop and stays bounded; a reader never
waits for a pooled connection (the wait would be on the loop's thread, for a connection only
the loop can give back)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, func
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from app.db import Database, run_core, run_prepared
from app.domain.roles import Role
from app.main import create_app
from app.models import Customer
from app.repositories.scoping import _row_by_id
from app.settings import Settings
from app.sqlite_inline import Checkpointer, open_connection
from app.sqlite_session import blocking_engine
from tests.conftest import KeyFactory


def _wal_bytes(database: str) -> int:
    wal = Path(f"{database}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def _customers(db: Database) -> int:
    """How many customers a new reader sees."""
    reader = db.new_session(write=False)
    try:
        counted: int = (await reader.exec(select(func.count()).select_from(Customer))).one()
        return counted
    finally:
        await reader.close()


async def test_the_wal_stays_small_under_sustained_writes(
    settings: Settings, clean_database: Engine
) -> None:
    """Request connections never checkpoint inside a commit (``wal_autocheckpoint=0``): the
    checkpointer does it on a worker thread every 32 commits. Without it, 300 creations would
    leave the WAL growing by every page they wrote (several MB); with it, the WAL starts over
    after each checkpoint and never holds much more than 32 commits' worth."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the WAL is SQLite's")
    database = str(url.database)
    with closing(sqlite3.connect(database, timeout=5)) as earlier:  # start from an empty WAL
        earlier.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = create_app(settings)
    headers = await KeyFactory(app).headers(Role.COUNTER)
    largest = 0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        for number in range(300):
            created = await client.post(
                "/v1/customers", json={"name": f"Client {number}"}, headers=headers
            )
            assert created.status_code == 201
            await asyncio.sleep(0)  # as a server's loop would, between requests
            largest = max(largest, _wal_bytes(database))
        # Every creation is in the database, whatever the checkpoints did meanwhile.
        listed = await client.get("/v1/customers?limit=200", headers=headers)
        assert listed.status_code == 200
    await app.state.runtime.db.dispose()
    assert largest < 2_000_000, f"the WAL grew to {largest} bytes"
    with clean_database.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM customers").scalar_one()
    assert count == 300


async def test_readers_beyond_the_pool_open_connections_instead_of_waiting(
    settings: Settings,
) -> None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the blocking engine is SQLite's")
    db = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    sessions = [db.new_session(write=False) for _ in range(25)]
    try:
        for session in sessions:  # each holds its connection until it closes
            counted = await session.exec(select(func.count()).select_from(Customer))
            assert counted.one() >= 0
    finally:
        for session in sessions:
            await session.close()
        await db.dispose()


async def test_a_reader_beside_an_open_write_sees_the_last_commit_and_leaves_the_write_alone(
    settings: Settings, clean_database: Engine
) -> None:
    """Readers and the writer each have a connection of their own: a read during a write's
    transaction sees the database as last committed, and the reader's end does not end the
    write (one connection per thread would do both wrong)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the blocking engine is SQLite's")
    db = Database.from_settings(settings)
    try:
        before = await _customers(db)
        writer = db.new_session(write=True)
        writer.add(Customer(name="Inside the write"))
        await writer.flush()
        assert await _customers(db) == before
        await writer.commit()
        await writer.close()
        assert await _customers(db) == before + 1
    finally:
        await db.dispose()


@pytest.mark.parametrize("ending", ["close", "rollback", "nothing written"])
async def test_a_writer_that_does_not_commit_leaves_nothing_and_frees_the_lock(
    settings: Settings, clean_database: Engine, ending: str
) -> None:
    """A writer holds SQLite's write lock from ``BEGIN IMMEDIATE``, even when it ends without
    running a statement of its own: whatever it wrote is gone, the lock is free for the next
    writer at once, and its connection goes back to the pool outside a transaction."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the blocking engine is SQLite's")
    db = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    try:
        before = await _customers(db)
        writer = db.new_session(write=True)
        if ending == "nothing written":
            await writer.commit()  # took the lock, ran no statement of the session
        else:
            writer.add(Customer(name="Never committed"))
            await writer.flush()
            await (writer.close() if ending == "close" else writer.rollback())
        await writer.close()
        # The one pooled connection is the writer's: a transaction left open on it would
        # hold the lock and show readers a stale snapshot.
        with db.blocking.connect() as pooled:
            driver = pooled.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            assert not driver.in_transaction
        with closing(sqlite3.connect(str(url.database), timeout=0)) as other:
            other.execute("BEGIN IMMEDIATE")  # busy at once if the lock were still held
            other.rollback()
        assert await _customers(db) == before
    finally:
        await db.dispose()


@pytest.mark.parametrize("first", ["core", "orm"])
async def test_a_reader_reads_through_one_connection_and_gives_it_back(
    settings: Settings, first: str
) -> None:
    """A reader's Core statements run on its connection directly, outside the ORM session's
    transaction; its ORM queries use the same connection, whichever comes first, and closing
    the reader gives it back to the pool (nothing left checked out, nothing left open)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the blocking engine is SQLite's")
    db = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    assert db.blocking is not None
    pool = db.blocking.pool
    count = select(func.count()).select_from(Customer)
    try:
        for _ in range(2):  # the second reader gets the first one's connection back
            reader = db.new_session(write=False)
            try:
                for kind in (first, "orm" if first == "core" else "core"):
                    if kind == "core":
                        counted = (await run_core(reader, count)).scalar_one()
                    else:
                        counted = (await reader.exec(count)).one()
                    assert counted >= 0
                    assert pool.checkedout() == 1  # type: ignore[attr-defined]
            finally:
                await reader.close()
            assert pool.checkedout() == 0  # type: ignore[attr-defined]
            assert pool.checkedin() == 1  # type: ignore[attr-defined]
    finally:
        await db.dispose()


async def test_a_readers_prepared_statements_run_on_reader_connections(
    settings: Settings, clean_database: Engine
) -> None:
    """A reader's prepared statements take a driver connection of ``ReaderConnections``, not
    one of the engine's pool: it reads the last commit, goes back when the reader ends and is
    reused by the next one; past the pool's size, the extra connections are closed after use,
    and disposing of the database closes the idle ones."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("reader connections are SQLite's")
    db = Database.from_settings(settings.model_copy(update={"database_pool_size": 2}))
    assert db.blocking is not None and db.readers is not None
    pool, readers = db.blocking.pool, db.readers
    by_id = _row_by_id(Customer.__table__, False)  # type: ignore[attr-defined]
    written = Customer(name="Read on a reader connection")
    try:
        writer = db.new_session(write=True)
        writer.add(written)
        await writer.commit()
        await writer.close()
        taken = set()
        for _ in range(2):
            reader = db.new_session(write=False)
            try:
                row = (await run_prepared(reader, by_id, {"row_id": written.id})).first_mapping()
                assert row is not None and row["name"] == written.name
                assert pool.checkedout() == 0  # type: ignore[attr-defined]
                assert readers.idle == 0
                taken.add(id(reader._driver))  # type: ignore[attr-defined]
            finally:
                await reader.close()
            assert readers.idle == 1
        assert len(taken) == 1  # the second reader had the first one's connection
        many = [db.new_session(write=False) for _ in range(4)]
        for reader in many:
            assert (await run_prepared(reader, by_id, {"row_id": written.id})).first_mapping()
        drivers = [reader._driver for reader in many]  # type: ignore[attr-defined]
        for reader in many:
            await reader.close()
        assert readers.idle == 2
        closed = [driver for driver in drivers if _is_closed(driver)]
        assert len(closed) == 2
    finally:
        await db.dispose()
    assert readers.idle == 0
    assert all(_is_closed(driver) for driver in drivers)


def _is_closed(connection: sqlite3.Connection | None) -> bool:
    assert connection is not None
    try:
        connection.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_the_inline_engine_caches_compiled_statements_and_sends_savepoints_to_the_driver(
    settings: Settings, clean_database: Engine
) -> None:
    """The inline engine's dialect is a subclass of pysqlite's: it must still use SQLAlchemy's
    compiled cache (a dialect of one's own that does not say so compiles every statement anew,
    which cost a transition 15 % of its CPU), and a savepoint, its rollback and its release go
    to the ``sqlite3`` connection with their usual effect."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the inline engine is SQLite's")
    engine = blocking_engine(str(url.database), pool_size=1)
    customers = Customer.__table__  # type: ignore[attr-defined]
    statement = select(func.count()).select_from(customers)
    try:
        with engine.connect() as connection:
            connection.execute(statement)
            again = connection.execute(statement)
            assert again.context.cache_hit is engine.dialect.CACHE_HIT
        with engine.connect() as connection:
            through_sqlalchemy: list[str] = []
            event.listen(
                connection,
                "before_execute",
                lambda _c, clause, *_: through_sqlalchemy.append(type(clause).__name__),
            )
            driver = connection.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.execute("BEGIN IMMEDIATE")
            outer = connection.begin()
            kept = connection.begin_nested()
            connection.execute(customers.insert(), [_customer("Kept")])
            kept.commit()  # RELEASE
            undone = connection.begin_nested()
            connection.execute(customers.insert(), [_customer("Undone")])
            undone.rollback()  # ROLLBACK TO
            assert driver.in_transaction  # the group's transaction is untouched
            names = connection.execute(select(customers.c.name)).scalars().all()
            assert names == ["Kept"]
            assert not [name for name in through_sqlalchemy if "Savepoint" in name]
            outer.rollback()
            # An unknown savepoint is the driver's error, wrapped as SQLAlchemy wraps it.
            with pytest.raises(OperationalError, match="no such savepoint"):
                engine.dialect.do_release_savepoint(connection, "sa_savepoint_99")
    finally:
        engine.dispose()


def _customer(name: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"id": uuid.uuid4(), "name": name, "created_at": now, "updated_at": now, "version": 1}


def _notes(database: str, rows: int) -> sqlite3.Connection:
    """A configured connection to a new database whose WAL holds ``rows`` rows of 1 KB."""
    writer = open_connection(database)
    writer.execute("CREATE TABLE notes (body TEXT)")
    for _ in range(rows):
        writer.execute("INSERT INTO notes VALUES (?)", ("x" * 1000,))
    return writer


def _assert_the_wal_starts_over(writer: sqlite3.Connection) -> None:
    """After a complete checkpoint, the next write goes to the WAL's beginning."""
    writer.execute("INSERT INTO notes VALUES ('after')")
    _, frames, copied = writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 10 and copied == frames


async def test_a_checkpoint_copies_most_of_the_wal_before_it_holds_the_writers(
    tmp_path: Path,
) -> None:
    """The checkpointer first copies the WAL beside the writers (PASSIVE), and only then waits
    for the process's write slot, to copy what they wrote meanwhile and let the next writer start
    the WAL over (FULL): the writers queue for the rest of the copy, not for all of it."""
    database = str(tmp_path / "checkpoints.db")
    writer = _notes(database, 400)
    try:
        before = Path(database).stat().st_size
        write_slot = asyncio.Lock()
        checkpointer = Checkpointer(database, write_slot, every=1)
        async with write_slot:  # the writers hold the slot all along
            checkpointer.committed()
            for _ in range(500):
                await asyncio.sleep(0.01)
                if Path(database).stat().st_size > before + 300_000:
                    break
            # Copied into the database while the slot was held: the PASSIVE part.
            assert Path(database).stat().st_size > before + 300_000
            assert checkpointer.running  # the FULL part waits for the slot
        await checkpointer.close()
        assert not checkpointer.running
        _assert_the_wal_starts_over(writer)
    finally:
        writer.close()


async def test_a_checkpoint_does_not_wait_for_another_process_writing(tmp_path: Path) -> None:
    """Another process holding the file's write lock: the checkpoint leaves the WAL for its next
    turn at once, instead of holding this process's writers until the other lets go."""
    database = str(tmp_path / "shared.db")
    writer = _notes(database, 50)
    other = open_connection(database)
    try:
        write_slot = asyncio.Lock()
        checkpointer = Checkpointer(database, write_slot, every=1)
        other.execute("BEGIN IMMEDIATE")  # the other process's writer, mid-transaction
        other.execute("INSERT INTO notes VALUES ('theirs')")
        started = asyncio.get_running_loop().time()
        checkpointer.committed()
        await checkpointer.close()
        assert asyncio.get_running_loop().time() - started < 1
        assert checkpointer.deferred
        assert not write_slot.locked()
        other.execute("COMMIT")
        # Its next turn completes, and the WAL starts over.
        checkpointer.committed()
        await checkpointer.close()
        assert not checkpointer.deferred
        _assert_the_wal_starts_over(writer)
    finally:
        other.close()
        writer.close()


async def test_checkpoints_left_for_later_turn_patient_so_the_wal_stays_bounded(
    tmp_path: Path,
) -> None:
    """After ``patient_after`` turns left in a row, a checkpoint waits for the other process's
    writer (as SQLite's busy timeout allows) and completes: another process writing without a
    pause cannot keep the WAL from starting over."""
    database = str(tmp_path / "busy.db")
    writer = _notes(database, 50)
    other = open_connection(database)
    try:
        checkpointer = Checkpointer(database, asyncio.Lock(), every=1, patient_after=1)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO notes VALUES ('theirs')")
        checkpointer.committed()
        await checkpointer.close()
        assert checkpointer.deferred  # the first turn does not wait
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, other.execute, "COMMIT")  # the other writer ends meanwhile
        started = loop.time()
        checkpointer.committed()
        await checkpointer.close()
        assert not checkpointer.deferred
        assert loop.time() - started >= 0.25  # it waited for the other writer
        _assert_the_wal_starts_over(writer)
    finally:
        other.close()
        writer.close()
