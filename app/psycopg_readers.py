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

The prepared statements themselves skip psycopg's cursor (``run_on_reader``): on the asyncio
loop the cursor's execution cost the API about twice what libpq's sending, the wait for the
socket and the reading of the result take. They are prepared on the server once per
connection and run through libpq, their parameters written and their values read by the
connection's own adapters, so a reader gets what the cursor gave (``tests/api/test_prepared.py``).

What SQLAlchemy's pool did is kept: at most ``size`` connections are open (a reader beyond them
waits, up to ``timeout_seconds``, then gets SQLAlchemy's pool timeout, a 503); connections are
made with the dialect's own connect arguments (its type adapters); one older than
``recycle_seconds`` is closed instead of reused; and a connection lost with its server is
dropped with every idle one, which the restarted server no longer knows, so the next reads
connect afresh (``tests/api/test_postgres_restart.py``). When something listens to the SQL
the readers' engine sends, the reads go through SQLAlchemy as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import abc as adapt_abc
from psycopg import errors as pg_errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import ConnStatus, ExecStatus, TransactionStatus
from psycopg.pq.abc import PGconn, PGresult
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.prepared import Prepared, Rows, run_on_psycopg, wrapped_error


@dataclass(slots=True)
class _Pooled:
    connection: psycopg.AsyncConnection[Any]
    opened_at: float
    # The connection's adapters (the dialect's among them), to write parameters and read values.
    transformer: adapt_abc.Transformer
    # The server-side prepared statements made on this connection: (SQL, parameter types) → name.
    statements: dict[tuple[str, tuple[int, ...]], bytes] = field(default_factory=dict)


def numbered_twin(dialect: Dialect) -> Dialect:
    """``dialect`` compiling its placeholders as libpq takes them (``$1``), not as psycopg's
    cursor does (``%(name)s``): the readers' statements go to libpq itself."""
    twin = copy.copy(dialect)
    twin.paramstyle = "numeric_dollar"
    twin.positional = True
    return twin


async def _results(connection: psycopg.AsyncConnection[Any]) -> list[PGresult]:
    """Send what libpq holds, then wait for the results of the query sent, each wait a reader
    on the socket for just that wait (an idle connection's socket is watched by no one)."""
    pgconn: PGconn = connection.pgconn
    loop = asyncio.get_running_loop()
    descriptor = pgconn.socket
    while pgconn.flush():  # the rest of the query once the socket can take it
        await _ready(loop.add_writer, loop.remove_writer, descriptor)
    results: list[PGresult] = []
    while True:
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                return results
            results.append(result)
        await _ready(loop.add_reader, loop.remove_reader, descriptor)


async def _ready(watch: Callable[..., Any], unwatch: Callable[[int], Any], descriptor: int) -> None:
    """Until the loop sees the socket ready (to read, or to write), watched for this wait only."""
    ready = asyncio.get_running_loop().create_future()
    watch(descriptor, ready.set_result, None)
    try:
        await ready
    finally:
        unwatch(descriptor)


def _checked(connection: psycopg.AsyncConnection[Any], results: list[PGresult]) -> PGresult:
    for result in results:
        if result.status == ExecStatus.FATAL_ERROR:
            raise pg_errors.error_from_result(result, encoding=connection.info.encoding)
    return results[-1]


async def run_on_reader(
    pooled: _Pooled, dialect: Dialect, prepared: Prepared, parameters: Mapping[str, Any] | None
) -> Rows:
    """A reader's SELECT on its autocommit connection's libpq, without psycopg's cursor.

    psycopg's cursor costs the API ≈ 0.15 ms of CPU per query on the asyncio loop, twice what
    sending it, waiting for the socket and reading the result take (docs/benchmarks.md,
    eleventh round): the readers' SELECTs go to libpq directly, as server-side prepared
    statements made once per connection, with the parameters written and the values read by
    the connection's own adapters. ``dialect`` is the ``numbered_twin``; a driver error comes
    out as SQLAlchemy's, ``connection_invalidated`` when the connection was lost."""
    connection, transformer = pooled.connection, pooled.transformer
    pgconn = connection.pgconn
    form = prepared.form(dialect, parameters)
    arguments = form.arguments(parameters)
    try:
        values = transformer.dump_sequence(arguments, [PyFormat.TEXT] * len(arguments))
        key = (form.sql, tuple(transformer.types or ()))
        name = pooled.statements.get(key)
        if name is None:
            name = f"atelier_{len(pooled.statements)}".encode()
            pgconn.send_prepare(name, form.sql.encode(), param_types=key[1])
            _checked(connection, await _results(connection))
            pooled.statements[key] = name
        pgconn.send_query_prepared(name, values, param_formats=transformer.formats)
        result = _checked(connection, await _results(connection))
        transformer.set_pgresult(result)
        fetched = transformer.load_rows(0, result.ntuples, tuple)
        # The column types, read once per form, as the cursor's description gives them.
        description = (
            [(None, result.ftype(index)) for index in range(result.nfields)]
            if form.result_processors is None
            else None
        )
    except psycopg.Error as error:
        lost = pgconn.status != ConnStatus.OK or dialect.is_disconnect(
            error,  # type: ignore[arg-type]  # psycopg's own error and connection
            connection,  # type: ignore[arg-type]
            None,
        )
        raise wrapped_error(dialect, form, arguments, error, disconnect=lost) from error
    finally:
        transformer.set_pgresult(None)
    return form.rows(description, fetched, result.ntuples)


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
        self._timeout = timeout_seconds
        self._idle: list[_Pooled] = []
        self._open = 0  # connections handed out or idle
        self._slots = asyncio.Semaphore(size)
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
        try:
            if self._slots.locked():  # every connection taken: wait for one, up to the timeout
                await asyncio.wait_for(self._slots.acquire(), self._timeout)
            else:  # at once (``wait_for`` would cost a task of its own on every read)
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"No PostgreSQL reader connection free within {self._timeout:g} s "
                f"({self._size} in use)."
            ) from None
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
        connection = pooled.connection
        return (
            not connection.closed
            and not connection.broken
            and connection.info.transaction_status == TransactionStatus.IDLE
            and time.monotonic() - pooled.opened_at < self._recycle
        )

    async def _connect(self) -> _Pooled:
        cargs, cparams = self._connect_args
        try:
            connection = await psycopg.AsyncConnection.connect(*cargs, **cparams, autocommit=True)
        except psycopg.Error as error:  # SQLAlchemy's class, as its pool would raise it
            raise DBAPIError.instance(None, None, error, psycopg.Error) from error
        self._open += 1
        return _Pooled(connection, time.monotonic(), Transformer.from_context(connection))

    async def _discard(self, pooled: _Pooled) -> None:
        self._open -= 1
        with contextlib.suppress(psycopg.Error):  # already gone with its server
            await pooled.connection.close()

    async def _empty(self) -> None:
        while self._idle:
            await self._discard(self._idle.pop())


class ReaderSession(AsyncSession):
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
            # Most reads ran prepared statements only: the ORM's session holds nothing, and its
            # close would cost a crossing of the asyncio bridge for nothing.
            session = self.sync_session
            if session.in_transaction() or session.identity_map:
                await super().close()
        finally:
            if self._pooled is not None:
                pooled, self._pooled = self._pooled, None
                await self.readers.give_back(pooled)
