"""Engine and session plumbing: the request-scoped unit of work commits or rolls back.

SQLite is the embedded default (a WAL-mode file, foreign keys on). Write transactions on SQLite
start with ``BEGIN IMMEDIATE`` so two writers never deadlock on a lock upgrade, and an in-process
lock queues writers in the event loop instead of in SQLite's busy handler. On a SQLite file the
sessions are ``InlineSession``s on a blocking engine (``app/sqlite_session.py``); the async
engine remains for start-up checks and an in-memory database. PostgreSQL relies on row locks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from app.libpq import DEFERRED, Pending, run_on_psycopg, settle_before_sqlalchemy
from app.orm_on_demand import OrmOnDemand
from app.pg_writer_session import ParkedConnections, WriterSession
from app.prepared import Prepared, Rows, through_sqlalchemy
from app.psycopg_readers import PsycopgReaders, ReaderSession
from app.settings import Settings
from app.slots import Slots
from app.sqlite_inline import Checkpointer, inline_connector
from app.sqlite_session import (
    CURRENT_TURN,
    InlineSession,
    Parameters,
    ReaderConnections,
    WriteGroup,
    WriteTurn,
    blocking_engine,
)

_BEGIN_OPTION = "atelier_sqlite_begin"
_CONNECTION_KEY = "atelier.connection"  # a session's transaction, connection and driver's
# Several processes writing to one SQLite file: after a group commits, the process holds its
# next group back long enough for the other's writer, polling every millisecond
# (``WRITE_LOCK_POLL_SECONDS``), to take the lock; for as long as its groups keep meeting the
# other's lock, and a second after.
HAND_OVER_SECONDS = 0.002
CONTENTION_MEMORY_SECONDS = 1.0
# PostgreSQL: a connection older than this is replaced (at the pool's checkout, given back to
# it by ``ParkedConnections``, closed by ``PsycopgReaders``), so that none outlives a proxy's
# or firewall's limit.
POOL_RECYCLE_SECONDS = 1800


def async_database_url(url: str) -> str:
    """Normalise a URL to its asyncio driver (``sqlite://`` → ``sqlite+aiosqlite://``)."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sync_database_url(url: str) -> str:
    """The blocking-driver twin of a URL, for Alembic and the command line."""
    parsed = make_url(async_database_url(url))
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file so a fresh checkout runs without set-up."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine_for(settings: Settings, *, autocommit: bool = False) -> AsyncEngine:
    """Build the async engine for the configured database (``autocommit``: PostgreSQL
    connections that run each statement on its own, for readers)."""
    url = async_database_url(settings.database_url)
    ensure_sqlite_directory(url)
    if make_url(url).get_backend_name() == "sqlite":
        in_memory = make_url(url).database in (None, "", ":memory:")
        pool_options = {} if in_memory else {"pool_size": settings.database_pool_size}
        database = make_url(url).database or ":memory:"
        engine = create_async_engine(
            url,
            async_creator=inline_connector(database, settings.sqlite_busy_timeout_seconds),
            **pool_options,
        )

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            # Writers take the lock up front. Readers run each statement in its own implicit
            # snapshot, as READ COMMITTED does on PostgreSQL: a BEGIN/ROLLBACK pair per GET
            # would cost more than the read itself (docs/benchmarks.md).
            mode = connection.get_execution_options().get(_BEGIN_OPTION)
            if mode is not None:
                connection.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # No pre-ping: it cost a round trip per request. A connection that died with the server
    # fails its statement; SQLAlchemy recognises the disconnect and invalidates every pooled
    # connection, so after a restart at most a request or two per instance get the 503 with
    # Retry-After, and the next ones reconnect (tests/api/test_postgres_restart.py).
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        # A fixed size: past it a request waits for a connection. Overflow connections, opened
        # for a burst and closed as they came back to a full pool, each cost a new server
        # process, its caches and prepared statements: half the database's CPU per write
        # under 32 clients (docs/benchmarks.md, eighteenth round).
        max_overflow=0,
        pool_recycle=POOL_RECYCLE_SECONDS,
        # Writers: psycopg prepares nothing of its own, so its ``DEALLOCATE ALL`` after a
        # rollback never removes the statements prepared through libpq (``app/libpq.py``).
        **(
            {"isolation_level": "AUTOCOMMIT"}
            if autocommit
            else {"connect_args": {"prepare_threshold": None}}
        ),
    )
    if not autocommit:
        settle_before_sqlalchemy(engine)
    return engine


def parked_writers(engine: AsyncEngine, settings: Settings) -> ParkedConnections | None:
    """As many parked writers' connections as writes run at once, one fewer than the pool
    holds at most (``ParkedConnections``)."""
    size = min(settings.database_writers, settings.database_pool_size - 1)
    return ParkedConnections(engine, size, POOL_RECYCLE_SECONDS) if size > 0 else None


@dataclass
class Database:
    """The engine and the way sessions are opened for reads and writes."""

    engine: AsyncEngine
    is_sqlite: bool
    # PostgreSQL: a pool of autocommit connections for reads (None: read through ``engine``).
    reader_engine: AsyncEngine | None = None
    # A SQLite file: the blocking engine every session runs on (``app/sqlite_session.py``).
    blocking: Engine | None = None
    # A SQLite file: the driver connections readers' prepared statements run on.
    readers: ReaderConnections | None = None
    # PostgreSQL: the psycopg connections readers' prepared statements run on.
    pg_readers: PsycopgReaders | None = None
    busy_timeout_seconds: float = 5.0
    checkpointer: Checkpointer | None = None
    # A SQLite file: queued writers share a transaction and its commit (``WriteGroup``), up to
    # ``max_group`` of them.
    group_commit: bool = True
    max_group: int = 16
    _write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # PostgreSQL: the writes in progress (``database_writers``, at most as many as the writers'
    # pool holds connections), the others queued in their order of arrival (``writer_slot``).
    # Each waits no longer than for the writers' pool's connection (its own timeout).
    writer_slots: Slots | None = None
    # PostgreSQL: writers' connections kept between writes, out of the pool (fewer than it
    # holds; None: every writer checks its connection out of the pool).
    parked: ParkedConnections | None = None
    _reader: AsyncEngine = field(init=False)
    _writer: AsyncEngine = field(init=False)
    _group: WriteGroup | None = field(default=None, init=False)
    _writers_waiting: int = field(default=0, init=False)
    # Groups committed, and the writers they held (the mean group size, for the metrics).
    group_commits: int = field(default=0, init=False)
    grouped_writers: int = field(default=0, init=False)
    # Until when another process is taken to be writing to the file too: one of this process's
    # groups met its lock. Meanwhile a committed group holds the next one back a moment.
    _contended_until: float = field(default=0.0, init=False)
    hand_overs: int = field(default=0, init=False)  # those moments, for the metrics

    def __post_init__(self) -> None:
        # Writers: a transaction (``BEGIN IMMEDIATE`` on SQLite). Readers: each statement its
        # own snapshot, as under READ COMMITTED, without BEGIN/ROLLBACK around every GET
        # (on SQLite ``_on_begin`` emits nothing for readers; on PostgreSQL the readers' pool
        # is in autocommit from the start — switching a shared connection to autocommit and
        # back on every checkout cost more than the query, docs/benchmarks.md).
        if self.is_sqlite:
            self._reader = self.engine
            self._writer = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        else:
            self._reader = self.reader_engine or self.engine.execution_options(
                isolation_level="AUTOCOMMIT"
            )
            self._writer = self.engine
        if self.checkpointer is not None:
            # A checkpoint waits for every writer to commit: an open group commits first.
            self.checkpointer.before_copy = self._finish_group

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_engine_for(settings)
        if engine.dialect.name == "sqlite":
            database = engine.url.database
            if database in (None, "", ":memory:"):
                return cls(engine=engine, is_sqlite=True)
            write_lock = asyncio.Lock()
            return cls(
                engine=engine,
                is_sqlite=True,
                blocking=blocking_engine(database, settings.database_pool_size),
                readers=ReaderConnections(database, settings.database_pool_size),
                busy_timeout_seconds=settings.sqlite_busy_timeout_seconds,
                checkpointer=Checkpointer(database, write_lock),
                group_commit=settings.sqlite_group_commit,
                _write_lock=write_lock,
            )
        reader = create_engine_for(settings, autocommit=True)
        return cls(
            engine=engine,
            is_sqlite=False,
            reader_engine=reader,
            pg_readers=PsycopgReaders(
                reader, settings.database_pool_size, recycle_seconds=POOL_RECYCLE_SECONDS
            ),
            writer_slots=Slots(
                min(settings.database_writers, settings.database_pool_size),
                engine.sync_engine.pool.timeout(),  # type: ignore[attr-defined]
                "write slot",
            ),
            parked=parked_writers(engine, settings),
        )

    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine with a pool of its own (one on SQLite, writers' and readers' on
        PostgreSQL)."""
        return (self.engine,) if self.reader_engine is None else (self.engine, self.reader_engine)

    def sync_engines(self) -> tuple[Engine, ...]:
        """Every engine's blocking core, the one that sends the statements (event hooks)."""
        engines = tuple(engine.sync_engine for engine in self.engines())
        return engines if self.blocking is None else (*engines, self.blocking)

    def new_session(self, *, write: bool) -> AsyncSession:
        if self.blocking is not None:
            turn = CURRENT_TURN.get() if write else None
            return InlineSession(
                self.blocking,
                write=write,
                busy_timeout_seconds=self.busy_timeout_seconds,
                checkpointer=self.checkpointer if write else None,
                turn=turn if turn is not None and turn.group.engine is self.blocking else None,
                readers=self.readers,
            )
        if not write and self.pg_readers is not None:
            return ReaderSession(self._reader, self.pg_readers)
        if write and self.pg_readers is not None:
            return WriterSession(self._writer, self.parked)
        bind = self._writer if write else self._reader
        return AsyncSession(bind, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def writer_slot(self) -> AsyncIterator[None]:
        """Serialise writers in-process on SQLite, where only one may hold the file lock; on
        PostgreSQL, let in ``database_writers`` writers at once (no more than the writers' pool
        has connections), the others in their order of arrival.

        On a SQLite file the write sessions opened in the slot join the current
        ``WriteGroup``; the slot is left once the group has committed (or with its error), and
        the group commits when no writer is left waiting for the slot, or at ``max_group``
        writers.

        On PostgreSQL a writer would otherwise wait for a connection in the pool's own queue,
        where a connection given back goes to whoever asks first: a writer arriving just then
        takes it, and the one woken for it finds the queue empty and waits again at its end.
        Under 32 clients that put a few writers far behind the others (p99 twice to three times
        the median, docs/benchmarks.md, twenty-second round). ``writer_slots`` (``Slots``,
        first come, first served) holds them instead, so the pool always
        has a connection for the writers it lets in. Fewer transactions at once also cost the
        database less CPU: four, against ten, 13-23 % less a write there."""
        if not self.is_sqlite:
            slots = self.writer_slots
            if slots is None:
                yield
                return
            # As long as the pool would have let a writer wait for a connection.
            await slots.acquire()
            try:
                yield
            finally:
                slots.release()
            return
        if self.blocking is None or not self.group_commit:
            async with self._write_lock:
                yield
            return
        self._writers_waiting += 1
        try:
            await self._write_lock.acquire()
        except BaseException:
            self._writers_waiting -= 1
            self._finish_group_if_idle()  # it was left open for this writer
            raise
        self._writers_waiting -= 1
        try:
            if self._group is None:
                self._group = WriteGroup(
                    self.blocking, self.busy_timeout_seconds, self._note_contention
                )
            turn = WriteTurn(self._group)
            token = CURRENT_TURN.set(turn)
            try:
                yield
            finally:
                CURRENT_TURN.reset(token)
                group = turn.group
                group.members += turn.joined
                if (
                    self._writers_waiting == 0
                    or group.members >= self.max_group
                    or group.failure is not None
                ):
                    self._finish_group()
                    if self._writers_waiting and time.monotonic() < self._contended_until:
                        # Another process writes to the file too, and its writer is polling for
                        # the lock: without a pause this process's next group would take it
                        # again at once, and the other's writers wait for every group of ours
                        # (p99 up to 1.2 s with 2 workers, docs/benchmarks.md, ninth round).
                        self.hand_overs += 1
                        await asyncio.sleep(HAND_OVER_SECONDS)
        finally:
            self._write_lock.release()
        if turn.joined:
            # Answer only once the work is committed (an error here is the group's: a 503).
            await asyncio.shield(turn.group.outcome)

    def _note_contention(self) -> None:
        self._contended_until = time.monotonic() + CONTENTION_MEMORY_SECONDS

    def _finish_group(self) -> None:
        group, self._group = self._group, None
        if group is None or not group.finish():
            return
        self.group_commits += 1
        self.grouped_writers += group.members
        if self.checkpointer is not None:
            self.checkpointer.committed()

    def _finish_group_if_idle(self) -> None:
        if self._group is not None and self._writers_waiting == 0 and not self._write_lock.locked():
            self._finish_group()

    async def dispose(self) -> None:
        self._finish_group()
        if self.pg_readers is not None:
            await self.pg_readers.close()
        if self.parked is not None:
            await self.parked.close()
        for engine in self.engines():
            await engine.dispose()
        if self.checkpointer is not None:
            await self.checkpointer.close()
        if self.readers is not None:
            self.readers.close()
        if self.blocking is not None:
            self.blocking.dispose()


def dialect_name(session: AsyncSession) -> str:
    """The database ``session`` writes to ("sqlite", "postgresql"), without making the ORM's
    side of a session that has none yet (``OrmOnDemand``)."""
    if isinstance(session, InlineSession):
        return "sqlite"
    bind = session.sync_session.bind
    return bind.dialect.name if bind is not None else "sqlite"


def orm_has_changes(session: AsyncSession) -> bool:
    """Whether the ORM session holds changes to flush (none when it was never made)."""
    if isinstance(session, OrmOnDemand) and not session.orm_used:
        return False
    return bool(session.new or session.dirty or session.deleted)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``session``'s work is committed: for a SQLite writer in a group,
    once the group's transaction is, not when its savepoint is released."""
    group = session.group if isinstance(session, InlineSession) else None
    if group is not None:
        group.after_commit(callback)
    else:
        event.listen(session.sync_session, "after_commit", lambda _s: callback(), once=True)


async def run_prepared(
    session: AsyncSession,
    statement: Prepared,
    parameters: Mapping[str, Any] | None = None,
    *,
    deferred: bool = False,
    collect: Pending | None = None,
) -> Rows:
    """Run a prepared statement in ``session``'s transaction, on the driver's own cursor where
    the driver is ``sqlite3`` or psycopg (``app/prepared.py``), through SQLAlchemy otherwise; a
    reader's on a connection of its own (``ReaderConnections``, ``PsycopgReaders``).

    ``deferred``: on a PostgreSQL writer's connection, sent without waiting for its result,
    which is read with the transaction's next statement or before its commit, in the same
    round trip (``app/libpq.py``); its ``Rows`` are empty, and its error is raised there. Only
    for a statement whose result and error its caller leaves to the request (an INSERT of
    known values, a transition's UPDATE, which guards its version itself); elsewhere it runs
    at once. ``collect``: see ``send_prepared``."""
    if isinstance(session, InlineSession | ReaderSession):
        rows = await session.prepared(statement, parameters)
    elif isinstance(session, WriterSession):
        rows = await session.prepared(statement, parameters, deferred=deferred, collect=collect)
    else:
        connection, driver = await _connection_of(session)
        if connection.dialect.driver == "psycopg":
            rows = await run_on_psycopg(
                connection,
                statement,
                parameters,
                driver,
                deferred=deferred,
                collect=collect,
            )
        else:
            rows = await connection.run_sync(through_sqlalchemy, statement, parameters)
    return rows


async def send_prepared(
    session: AsyncSession,
    statement: Prepared,
    parameters: Mapping[str, Any] | None = None,
    *,
    with_commit: bool = False,
) -> Pending:
    """A SELECT whose rows its caller reads later (``await pending.rows()``): on a PostgreSQL
    writer's connection it goes in the pipeline with the statements after it, its rows read
    with the next one that waits for its result, in the same round trip (``app/libpq.py``);
    elsewhere it runs at once. ``with_commit``: its rows may be read with the COMMIT, when
    it is the last statement to wait for (``Pending``)."""
    pending = Pending(with_commit=with_commit)
    rows = await run_prepared(session, statement, parameters, collect=pending)
    return pending if rows is DEFERRED else Pending(rows)


async def _connection_of(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """``session``'s connection and its driver's, looked up once per transaction: the lookup
    crosses the asyncio bridge, and a write runs five to eight prepared statements."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_CONNECTION_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2]
    connection = await session.connection()
    # Checked out just now: its pooled connection is at hand, no need to cross for it.
    sync_connection = connection.sync_connection
    assert sync_connection is not None
    driver = sync_connection.connection.driver_connection
    session.info[_CONNECTION_KEY] = (session.sync_session.get_transaction(), connection, driver)
    return connection, driver


async def run_core(
    session: AsyncSession, statement: Executable, parameters: Parameters = None
) -> CursorResult[Any]:
    """Run a Core statement in ``session``'s transaction, without the ORM's execution layer
    (a plain row read costs a third of the same through ``session.execute``)."""
    if isinstance(session, InlineSession):
        return await session.core(statement, parameters)
    connection = await session.connection()
    return await connection.execute(statement, parameters)
