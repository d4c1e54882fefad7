"""PostgreSQL readers' prepared statements on psycopg connections of their own.

A read by id and the tracking page run only prepared statements (``app/prepared.py``), which
need a psycopg connection and nothing else of SQLAlchemy's. Reaching one through the reader's
``AsyncSession`` (its connection checkout across the asyncio bridge, SQLAlchemy's pool, the
close and the pool's reset) was a fifth of such a read's CPU in the API process
(docs/benchmarks.md, ninth round). ``PsycopgReaders`` keeps psycopg connections in autocommit
mode (a reader's statements each read the last commit, as the readers' engine does) and hands
them to ``ReaderSession``s: one connection per session, taken at its first prepared statement
and given back when it closes. The reader's other statements (the ORM's) still go through
its ``AsyncSession`` and the readers' engine, and read the same last commit.

The prepared statements themselves skip psycopg's cursor (``run_on_reader``, through
``app/libpq.py``): prepared on the server once per connection and run through libpq, with the
connection's own adapters, so a reader gets what the cursor gave.

What SQLAlchemy's pool did is kept: at most ``size`` connections are open (a reader beyond them
waits, up to ``timeout_seconds``, then gets SQLAlchemy's pool timeout, a 503); connections are
made with the dialect's own connect arguments (its type adapters); one older than
``recycle_seconds`` is closed instead of reused; and a connection lost with its server is
dropped with every idle one, which the restarted server no longer knows, so the next reads
connect afresh (``tests/api/test_postgres_restart.py``). When something listens to the SQL
the readers' engine sends, the reads go through SQLAlchemy as before.

Each connection's socket is watched from its making to its closing (``SocketWatch``,
``app/libpq.py``): a statement's waits cost no reader of the loop of their own, and an idle
connection the server ends is seen closed at once, and dropped before a read meets it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.pq import ConnStatus, TransactionStatus
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.libpq import LibpqState, SocketWatch, numbered_twin, run_on_libpq, run_on_psycopg
from app.orm_on_demand import OrmOnDemand
from app.prepared import Prepared, Rows
from app.slots import Slots


@dataclass(slots=True)
class _Pooled:
    connection: psycopg.AsyncConnection[Any]
    opened_at: float
    # Its adapters and the statements prepared on it (``app/libpq.py``).
    state: LibpqState


async def run_on_reader(
    pooled: _Pooled, dialect: Dialect, prepared: Prepared, parameters: Mapping[str, Any] | None
) -> Rows:
    """A reader's SELECT on its autocommit connection's libpq, without psycopg's cursor
    (``app/libpq.py``). ``dialect`` is the ``numbered_twin``."""
    return await run_on_libpq(pooled.connection, pooled.state, dialect, prepared, parameters)


class PsycopgReaders:
    """A bounded pool of autocommit psycopg connections for ``ReaderSession``s."""

    def __init__(
        self,
        engine: AsyncEngine,
        size: int,
        *,
        recycle_seconds: float = 1800.0,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.numbered = numbered_twin(self.dialect)  # compiles the statements libpq gets
        # The dialect's connect arguments (its type adapters among them), worked out once.
        self._connect_args = self.dialect.create_connect_args(engine.url)
        self._size = size
        self._recycle = recycle_seconds
        self._idle: list[_Pooled] = []
        self._open = 0  # connections handed out or idle
        self._slots = Slots(size, timeout_seconds, f"PostgreSQL reader connection ({size} in use)")
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def open(self) -> int:
        return self._open

    def observed(self) -> bool:
        """Whether something listens to the SQL the readers' engine sends."""
        return bool(self.engine.sync_engine.dispatch.before_cursor_execute)

    async def take(self) -> _Pooled:
        await self._slots.acquire()
        try:
            while self._idle:
                pooled = self._idle.pop()
                if self._usable(pooled):
                    return pooled
                await self._discard(pooled)
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    async def give_back(self, pooled: _Pooled, *, lost: bool = False) -> None:
        """Back to the idle ones, or closed (lost, too old, left in a transaction, or the pool
        closed); a connection lost with its server takes the idle ones with it."""
        self._slots.release()
        if lost:
            await self._discard(pooled)
            await self._empty()
        elif self._closed or not self._usable(pooled) or len(self._idle) >= self._size:
            await self._discard(pooled)
        else:
            self._idle.append(pooled)

    async def close(self) -> None:
        self._closed = True
        await self._empty()

    def _usable(self, pooled: _Pooled) -> bool:
        # Asked of libpq itself (``connection.info`` makes an object at each call): not closed
        # (``ConnStatus.OK``, which a server that ended it also takes away, ``SocketWatch``).
        pgconn = pooled.connection.pgconn
        return (
            pgconn.status == ConnStatus.OK
            and not pooled.connection.broken
            and pgconn.transaction_status == TransactionStatus.IDLE
            and time.monotonic() - pooled.opened_at < self._recycle
        )

    async def _connect(self) -> _Pooled:
        cargs, cparams = self._connect_args
        try:
            connection = await psycopg.AsyncConnection.connect(*cargs, **cparams, autocommit=True)
        except psycopg.Error as error:  # SQLAlchemy's class, as its pool would raise it
            raise DBAPIError.instance(None, None, error, psycopg.Error) from error
        self._open += 1
        state = LibpqState.of(connection)
        state.watch = SocketWatch(connection.pgconn)
        return _Pooled(connection, time.monotonic(), state)

    async def _discard(self, pooled: _Pooled) -> None:
        self._open -= 1
        if pooled.state.watch is not None:
            pooled.state.watch.close()
        with contextlib.suppress(psycopg.Error):  # already gone with its server
            await pooled.connection.close()

    async def _empty(self) -> None:
        while self._idle:
            await self._discard(self._idle.pop())


class PreparedFirstSession(OrmOnDemand):
    """A session whose requests mostly run prepared statements on a connection it holds itself
    (``ReaderSession``, ``WriterSession``): its ORM side is made at its first use
    (``OrmOnDemand``), and closed only when it was used."""

    async def close_orm(self) -> None:
        # Untouched, the ORM's session holds nothing, and its close would cost a crossing of
        # the asyncio bridge for nothing.
        if not self.orm_used:
            return
        session = self.sync_session
        if session.in_transaction() or session.identity_map:
            await super().close()


class ReaderSession(PreparedFirstSession):
    """A PostgreSQL reader's session: its prepared statements on a connection of
    ``PsycopgReaders``, everything else through the ``AsyncSession`` and the readers' engine."""

    def __init__(self, bind: AsyncEngine, readers: PsycopgReaders) -> None:
        super().__init__(bind, expire_on_commit=False, autoflush=False)
        self.readers = readers
        self._pooled: _Pooled | None = None

    async def prepared(
        self, statement: Prepared, parameters: Mapping[str, Any] | None = None
    ) -> Rows:
        if self.readers.observed():  # something listens to the SQL: SQLAlchemy sends it
            return await run_on_psycopg(await self.connection(), statement, parameters)
        if self._pooled is None:
            self._pooled = await self.readers.take()
        try:
            return await run_on_reader(self._pooled, self.readers.numbered, statement, parameters)
        except DBAPIError as error:
            if error.connection_invalidated:
                pooled, self._pooled = self._pooled, None
                await self.readers.give_back(pooled, lost=True)
            raise

    async def close(self) -> None:
        try:
            await self.close_orm()
        finally:
            if self._pooled is not None:
                pooled, self._pooled = self._pooled, None
                await self.readers.give_back(pooled)
