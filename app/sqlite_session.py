"""SQLite's unit of work without the asyncio bridge.

SQLite is a library: its calls already run on the event loop's thread (``app/sqlite_inline.py``).
Reaching them through SQLAlchemy's asyncio layer still costs a greenlet switch and an adapter
hop per driver call — measured 0.23 ms of CPU to open a session, read one row by id and close,
against 0.06 ms for the same through a blocking ``Session`` (docs/benchmarks.md). So on a SQLite
file every session is an ``InlineSession``: the ``AsyncSession`` interface the services use,
run straight on a blocking ``Session`` over a ``sqlite3`` engine of its own.

Nothing may wait inside SQLite on the loop's thread. A writer takes the file's write lock up
front with ``BEGIN IMMEDIATE``; when another process holds it, SQLite answers busy at once
(``busy_timeout=0``) and the attempt is repeated with ``asyncio.sleep`` in between, so the loop
serves other requests meanwhile. Once the lock is held no statement of the transaction, nor its
COMMIT, can meet another writer (WAL). Readers never wait in WAL mode, except while another
connection holds the file exclusively (WAL recovery, a tool in exclusive locking mode); they
then wait the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.base import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from app.prepared import Prepared, Rows, run_on_sqlite
from app.sqlite_inline import Checkpointer, open_connection, patiently

# What SQLModel's AsyncSession asks of every statement: rows fetched before the call returns.
_BUFFERED = {"prebuffer_rows": True}

T = TypeVar("T")
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


def blocking_engine(database: str, pool_size: int) -> Engine:
    """The ``sqlite3`` engine behind ``InlineSession`` (same file, same pragmas)."""
    # A queue of connections, named explicitly: with a ``creator`` SQLAlchemy cannot tell the
    # file from ``:memory:`` and would pick one connection per thread — every session on the
    # loop's thread sharing one connection, a reader inside a writer's transaction.
    # No limit on overflow connections: a checkout that had to wait for a connection would wait
    # on the loop's thread, for a connection only the loop can give back. Past ``pool_size`` a
    # connection is opened for the request and closed after it (a file handle, microseconds).
    engine = sa.create_engine(
        "sqlite+pysqlite://",
        creator=lambda: open_connection(database),
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=-1,
    )
    return engine


class InlineSession(AsyncSession):
    """An ``AsyncSession`` whose operations run at once on a blocking ``Session``.

    A reader's statements each run in their own snapshot (no BEGIN), as under READ COMMITTED; a
    writer's transaction starts with ``BEGIN IMMEDIATE`` before its first statement.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool,
        busy_timeout_seconds: float,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        super().__init__(expire_on_commit=False, autoflush=False)
        self._engine = engine
        self._checkpointer = checkpointer
        self._write = write
        self._busy_timeout = busy_timeout_seconds
        # The connection the session holds, bound to its ORM session: a writer's from its first
        # step, with the write lock; a reader's from its first statement, its Core statements
        # run on it directly (no session transaction around a row read).
        self._connection: Connection | None = None
        self.sync_session.bind = engine

    async def _ready(self) -> None:
        """A writer's first step: check a connection out and take the write lock."""
        if not self._write or self._connection is not None:
            return
        connection = await patiently(self._busy_timeout, self._engine.connect)
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        try:
            await patiently(self._busy_timeout, driver.execute, "BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            connection.close()
            raise OperationalError("BEGIN IMMEDIATE", None, error) from error
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.sync_session.bind = connection
        # The session owns the transaction begun above: its commit and rollback end it.
        self.sync_session.join_transaction_mode = "control_fully"

    async def _run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call`` on the blocking session, once a writer holds the lock. A reader can meet
        busy only while another connection recovers the WAL file: it waits the same way."""
        if self._write:
            await self._ready()
            return call(*args, **kwargs)
        if self._connection is None:
            self._connection = await patiently(self._busy_timeout, self._engine.connect)
            self.sync_session.bind = self._connection
        return await patiently(self._busy_timeout, call, *args, **kwargs)

    async def exec(self, statement: Any, **options: Any) -> Any:
        execution_options = options.pop("execution_options", None)
        buffered = {**execution_options, **_BUFFERED} if execution_options else _BUFFERED
        return await self._run(
            self.sync_session.exec, statement, execution_options=buffered, **options
        )

    async def execute(self, statement: Any, *args: Any, **options: Any) -> Any:
        return await self._run(self.sync_session.execute, statement, *args, **options)

    async def scalar(self, statement: Any, *args: Any, **options: Any) -> Any:
        return await self._run(self.sync_session.scalar, statement, *args, **options)

    async def scalars(self, statement: Any, *args: Any, **options: Any) -> Any:
        return await self._run(self.sync_session.scalars, statement, *args, **options)

    async def get(self, *args: Any, **options: Any) -> Any:
        return await self._run(self.sync_session.get, *args, **options)

    async def get_one(self, *args: Any, **options: Any) -> Any:
        return await self._run(self.sync_session.get_one, *args, **options)

    async def refresh(self, instance: object, *args: Any, **options: Any) -> None:
        await self._run(self.sync_session.refresh, instance, *args, **options)

    async def merge(self, instance: Any, *args: Any, **options: Any) -> Any:
        return await self._run(self.sync_session.merge, instance, *args, **options)

    async def flush(self, objects: Sequence[Any] | None = None) -> None:
        await self._run(self.sync_session.flush, objects)

    async def delete(self, instance: object) -> None:
        await self._run(self.sync_session.delete, instance)

    async def run_sync(self, fn: Callable[..., T], *args: Any, **options: Any) -> T:
        return await self._run(fn, self.sync_session, *args, **options)

    async def connection(self, *args: Any, **options: Any) -> Any:
        raise TypeError(
            "An InlineSession has no asyncio connection: "
            "run Core statements with app.db.run_core()."
        )

    async def commit(self) -> None:
        await self._ready()  # pending objects may still need their flush
        try:
            self.sync_session.commit()
        finally:
            self._release()
        if self._checkpointer is not None:
            self._checkpointer.committed()

    async def rollback(self) -> None:
        try:
            self.sync_session.rollback()
        finally:
            self._release()

    async def close(self) -> None:
        try:
            if self._write or not self._orm_idle():
                self.sync_session.close()
        finally:
            self._release()

    def _orm_idle(self) -> bool:
        """Whether the ORM session holds nothing to close: a reader that ran only Core
        statements (closing an unused session still cost ~0.01 ms of a GET)."""
        orm = self.sync_session
        return not (orm.in_transaction() or orm.identity_map or orm.new)

    def _release(self) -> None:
        """Give the connection (and a writer's lock) back; a later statement begins anew."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()  # rolls back whatever was not committed
            self.sync_session.bind = self._engine

    async def core(self, statement: Executable, parameters: Parameters = None) -> CursorResult[Any]:
        """A Core statement on this session's connection, past the ORM's execution layer."""
        return await self._run(self._core, statement, parameters)

    def _core(self, statement: Executable, parameters: Parameters) -> CursorResult[Any]:
        return self._current_connection().execute(statement, parameters)

    async def prepared(
        self, statement: Prepared, parameters: Mapping[str, Any] | None = None
    ) -> Rows:
        """A prepared statement on this session's connection, on the driver's cursor."""
        return await self._run(self._prepared, statement, parameters)

    def _prepared(self, statement: Prepared, parameters: Mapping[str, Any] | None) -> Rows:
        return run_on_sqlite(self._current_connection(), statement, parameters)

    def _current_connection(self) -> Connection:
        if self._write:  # in the session's transaction, which its commit ends
            return self.sync_session.connection()
        assert self._connection is not None  # checked out by ``_run``
        return self._connection
