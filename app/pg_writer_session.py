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
Either way ``close`` gives the connection back to the pool, which rolls back whatever a
failure left open (``tests/api/test_writer_session.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.orm.session import Session

from app.libpq import drop_lost, finish_writer
from app.psycopg_readers import PreparedFirstSession


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

    def __init__(self, bind: AsyncEngine) -> None:
        super().__init__(
            bind, expire_on_commit=False, autoflush=False, sync_session_class=_BoundSession
        )
        self._engine = bind
        self._connection: AsyncConnection | None = None

    async def checked_out(self) -> tuple[AsyncConnection, Any]:
        """The writer's connection and its psycopg connection, checked out at the first call
        (and again after a lost one)."""
        connection = await self._live()
        if connection is None:
            connection = self._connection = await self._engine.connect()
        return connection, self._driver(connection)

    async def _live(self) -> AsyncConnection | None:
        """The checked-out connection, unless it was lost (invalidated): that one is given
        back to the pool, which drops it, and nothing of its transaction is left to end."""
        connection = self._connection
        if connection is not None and connection.invalidated:
            self._connection = None
            await connection.close()
            return None
        return connection

    async def _drop(self, connection: AsyncConnection, error: DBAPIError) -> None:
        await drop_lost(connection, error)
        await self._live()

    def sync_connection(self) -> Connection:
        """The writer's connection for the ORM (inside the asyncio bridge, where it may wait
        for the pool)."""
        if self._connection is None:
            self._connection = AsyncConnection(self._engine, self._engine.sync_engine.connect())
        sync_connection = self._connection.sync_connection
        assert sync_connection is not None
        return sync_connection

    def orm_made(self) -> None:
        self.sync_session.writer = self

    def _orm_took_part(self) -> bool:
        return self.orm_used and self.sync_session.in_transaction()

    @staticmethod
    def _driver(connection: AsyncConnection) -> Any:
        sync_connection = connection.sync_connection
        assert sync_connection is not None
        return sync_connection.connection.driver_connection

    async def commit(self) -> None:
        if self._orm_took_part():
            await super().commit()
            return
        connection = await self._live()
        if connection is not None:
            try:
                await finish_writer(self._driver(connection), connection.dialect, commit=True)
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
            await finish_writer(self._driver(connection), connection.dialect, commit=False)
        except DBAPIError as error:  # lost with its server: dropped, nothing left to undo
            await self._drop(connection, error)

    async def close(self) -> None:
        try:
            await self.close_orm()
        finally:
            connection, self._connection = self._connection, None
            if connection is not None:
                await connection.close()
