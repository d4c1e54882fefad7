"""A PostgreSQL writer's session: its prepared statements on its own pooled connection, and its
COMMIT sent by libpq, without the ORM session's machinery when the request used none of it.

An ``AsyncSession`` around a write of prepared statements cost the API ≈ 0.23 ms of CPU more
than the same statements and COMMIT on the connection alone: the session's transaction, the
connection it checks out through it and the commit, each across the asyncio bridge
(docs/benchmarks.md, eighteenth round). A ``WriterSession`` checks a connection out of the
writers' pool itself, once, at its first statement (``checked_out``), and runs its prepared
statements there (``app/db.py`` ``run_prepared``, ``app/libpq.py``).

Anything else the request does goes through the ORM as before, on that same connection and in
that same transaction: the session's binding is that connection (``_BoundSession``). When the
ORM took part, its own commit, rollback and close run, and ``app/libpq.py``'s listeners put
the pipeline's statements before them as they always have. When it did not, ``commit`` sends
the pipeline's statements and the COMMIT itself (``finish_writer``) and calls the session's
``after_commit`` listeners as the ORM would have; ``rollback`` drops them and sends ROLLBACK.
Either way ``close`` gives the connection back: to the writers' ``ParkedConnections`` when it
is at rest, else to the pool, which rolls back whatever a failure left open
(``tests/api/test_writer_session.py``, ``tests/api/test_parked_writers.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_only
from sqlmodel.orm.session import Session

from app.libpq import (
    Pending,
    WriterRoute,
    drop_lost,
    finish_writer,
    run_on_psycopg,
    run_on_route,
    writer_at_rest,
    writer_route,
)
from app.prepared import Prepared, Rows
from app.psycopg_readers import PreparedFirstSession

# A writer's connection's: when it was first parked (None: not yet), and how many connections
# had been lost when it was taken (``ParkedConnections``).
Ticket = tuple[float | None, int]
# A parked connection (None: none fit) and the ticket for it or for the pool's next one.
Taken = tuple[AsyncConnection | None, Ticket]
NOTHING_PARKED: Taken = (None, (None, 0))  # a writer without ``ParkedConnections``


class ParkedConnections:
    """A PostgreSQL writers' connections kept checked out of the pool between writes.

    Checking a connection out of SQLAlchemy's pool and giving it back, each across the asyncio
    bridge with the pool's events and its reset, cost a write ≈ 36 µs of the API's CPU
    (docs/benchmarks.md, twenty-sixth and twenty-seventh rounds). A writer's session gives its
    connection back here instead when it is at rest (no transaction, no pipeline, nothing
    unread: what the pool's reset would have made sure of), and the next writer takes it,
    the most recently parked first. At most ``size`` wait here, fewer than the pool holds, so
    that anything else asking the pool (the readiness check, the command line) still finds a
    connection.

    What the pool would have done at a checkout is done here: a connection parked for longer
    than ``recycle_seconds`` is given back to the pool (which replaces one as old as that), and
    when one of the engine's connections is lost (SQLAlchemy then takes every connection of
    the pool made before as lost too, and ``drop_lost`` replaces the pool), the parked ones are
    dropped, and so is any taken before, when it comes back: their server may be gone.
    """

    __slots__ = (
        "size", "recycle_seconds", "idle", "stale", "loop", "losses", "_dropping"
    )  # fmt: skip

    def __init__(self, engine: AsyncEngine, size: int, recycle_seconds: float) -> None:
        self.size = size
        self.recycle_seconds = recycle_seconds
        # Each parked connection with the time it was first parked.
        self.idle: list[tuple[AsyncConnection, float]] = []
        self.stale: list[AsyncConnection] = []  # parked when a connection was lost
        self.loop: asyncio.AbstractEventLoop | None = None
        self.losses = 0  # connections lost (invalidated) or pools replaced, so far
        self._dropping = False  # while dropping the stale ones (their invalidation is ours)
        event.listen(engine.sync_engine, "engine_disposed", self._lost)
        event.listen(engine.sync_engine, "invalidate", self._lost)  # the pool's, any pool's

    def _lost(self, *_: Any) -> None:
        if self._dropping:
            return
        self.losses += 1
        self.stale.extend(connection for connection, _ in self.idle)
        self.idle.clear()

    async def take(self) -> Taken:
        """A parked connection fit for a new transaction, or None (then the writer checks one
        out of the pool), with the ticket the writer keeps for it."""
        if self.stale:
            await self._drop_stale()
        idle = self.idle
        if idle and self.loop is not asyncio.get_running_loop():  # parked on a closed loop
            idle.clear()
        if idle:
            connection, since = idle.pop()
            if time.monotonic() - since <= self.recycle_seconds:
                return connection, (since, self.losses)
            await connection.close()  # the pool replaces it at a checkout, if as old
        return None, (None, self.losses)

    def take_in_bridge(self) -> Taken:
        """``take`` from inside SQLAlchemy's asyncio bridge."""
        if not self.idle and not self.stale:
            return None, (None, self.losses)
        return await_only(self.take())

    async def give_back(self, connection: AsyncConnection, ticket: Ticket) -> None:
        """Park ``connection`` if it is at rest, taken since the last connection lost, and
        there is room, else give it to the pool."""
        since, losses = ticket
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # the first, or those parked on a loop since closed
            self.idle.clear()
            self.loop = loop
        if (
            len(self.idle) < self.size
            and losses == self.losses
            and not connection.invalidated
            and not connection.closed
            and not connection.in_transaction()
            and writer_at_rest(_driver_of(connection))
        ):
            self.idle.append((connection, time.monotonic() if since is None else since))
            return
        await connection.close()

    async def _drop_stale(self) -> None:
        self._dropping = True
        try:
            while self.stale:
                connection = self.stale.pop()
                await connection.invalidate()
                await connection.close()
        finally:
            self._dropping = False

    async def close(self) -> None:
        """Give every parked connection back to the pool (before the engine is disposed)."""
        await self._drop_stale()
        idle, self.idle = self.idle, []
        if self.loop is asyncio.get_running_loop():
            for connection, _ in idle:
                await connection.close()
        self.loop = None


def _driver_of(connection: AsyncConnection) -> Any:
    sync_connection = connection.sync_connection
    assert sync_connection is not None
    return sync_connection.connection.driver_connection


class _BoundSession(Session):
    """The ORM's side of a ``WriterSession``: its statements on the writer's connection."""

    writer: WriterSession | None = None

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        if self.writer is not None:
            return self.writer.sync_connection()
        return super().get_bind(*args, **kwargs)


class WriterSession(PreparedFirstSession):
    """A PostgreSQL writer's unit of work (see the module's docstring)."""

    sync_session: _BoundSession

    def __init__(self, bind: AsyncEngine, parked: ParkedConnections | None = None) -> None:
        super().__init__(
            bind, expire_on_commit=False, autoflush=False, sync_session_class=_BoundSession
        )
        self._engine = bind
        self._parked = parked
        self._connection: AsyncConnection | None = None
        self._ticket: Ticket = (None, 0)  # the connection's (``ParkedConnections``)
        self._route: WriterRoute | None = None  # to the connection's libpq (``prepared``)

    async def checked_out(self) -> tuple[AsyncConnection, Any]:
        """The writer's connection and its psycopg connection, taken at the first call (a
        parked one, else the pool's; again after a lost one)."""
        connection = await self._live()
        if connection is None:
            parked = self._parked
            connection = self._adopt(await parked.take() if parked else NOTHING_PARKED)
            if connection is None:
                connection = self._connection = await self._engine.connect()
        return connection, _driver_of(connection)

    def _adopt(self, taken: Taken) -> AsyncConnection | None:
        """Hold the parked connection ``taken`` (if any) and keep its ticket."""
        self._connection, self._ticket = taken
        return self._connection

    async def _live(self) -> AsyncConnection | None:
        """The connection taken, unless it was lost (invalidated): that one is given back to
        the pool, which drops it, and nothing of its transaction is left to end."""
        connection = self._connection
        if connection is not None and connection.invalidated:
            await self._give_back()
            return None
        return connection

    async def prepared(
        self,
        statement: Prepared,
        parameters: Mapping[str, Any] | None,
        *,
        deferred: bool = False,
        collect: Pending | None = None,
    ) -> Rows:
        """``statement`` in the writer's transaction (``app/db.py`` ``run_prepared``). The
        route to the connection's libpq is worked out at the first statement and kept while
        the connection is: the layers that found it cost ≈ 6 µs a statement, and a write
        runs six or seven (docs/benchmarks.md, twenty-seventh round)."""
        route = self._route
        if route is None or route.connection.invalidated:
            connection, driver = await self.checked_out()
            route = self._route = writer_route(connection, driver)
            if route is None:  # psycopg's cursor, or SQLAlchemy (``run_on_psycopg``)
                return await run_on_psycopg(
                    connection, statement, parameters, driver, deferred=deferred, collect=collect
                )
        return await run_on_route(route, statement, parameters, deferred=deferred, collect=collect)

    async def _give_back(self) -> None:
        self._route = None
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._parked is None:
            await connection.close()
        else:
            await self._parked.give_back(connection, self._ticket)

    async def _drop(self, connection: AsyncConnection, error: DBAPIError) -> None:
        await drop_lost(connection, error)
        await self._live()

    def sync_connection(self) -> Connection:
        """The writer's connection for the ORM (inside the asyncio bridge, where it may wait
        for the pool)."""
        connection = self._connection
        if connection is None:
            parked = self._parked
            connection = self._adopt(parked.take_in_bridge() if parked else NOTHING_PARKED)
            if connection is None:
                engine = self._engine
                connection = AsyncConnection(engine, engine.sync_engine.connect())
                self._connection = connection
        sync_connection = connection.sync_connection
        assert sync_connection is not None
        return sync_connection

    def orm_made(self) -> None:
        self.sync_session.writer = self

    def _orm_took_part(self) -> bool:
        return self.orm_used and self.sync_session.in_transaction()

    async def commit(self) -> None:
        if self._orm_took_part():
            await super().commit()
            return
        connection = await self._live()
        if connection is not None:
            try:
                await finish_writer(_driver_of(connection), connection.dialect, commit=True)
            except DBAPIError as error:
                if error.connection_invalidated:
                    await self._drop(connection, error)
                raise
        if self.orm_used:  # otherwise nothing listens for the commit
            self.sync_session.dispatch.after_commit(self.sync_session)

    async def rollback(self) -> None:
        if self._orm_took_part():
            await super().rollback()
            return
        connection = await self._live()
        if connection is None:
            return
        try:
            await finish_writer(_driver_of(connection), connection.dialect, commit=False)
        except DBAPIError as error:  # lost with its server: dropped, nothing left to undo
            await self._drop(connection, error)

    async def close(self) -> None:
        try:
            await self.close_orm()
        finally:
            await self._give_back()
