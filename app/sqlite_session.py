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

import asyncio
import contextvars
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, RootTransaction
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.session import JoinTransactionMode
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.base import Executable

from app.orm_on_demand import OrmOnDemand
from app.prepared import Prepared, Rows, observed, run_on_driver, run_on_sqlite
from app.sqlite_inline import Checkpointer, open_connection, patiently

# What SQLModel's AsyncSession asks of every statement: rows fetched before the call returns.
_BUFFERED = {"prebuffer_rows": True}

T = TypeVar("T")
Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


# The savepoint names SQLAlchemy makes (``sa_savepoint_1``): identifiers that need no quoting.
_SAVEPOINT_NAME = re.compile(r"sa_savepoint_[0-9]+")


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, with a write group's savepoints sent straight to the driver.

    Every writer of a group opens, then releases, a savepoint (``WriteGroup``). SQLAlchemy
    sends each as a statement it compiles anew (a savepoint clause is not cached) and runs
    through its whole execution path: the pair was ≈ 15 % of a creation's or a transition's
    CPU in-process, for two statements SQLite runs in microseconds (docs/benchmarks.md, ninth
    round). Here they go to the ``sqlite3`` connection as text, with the same error wrapping;
    when something listens to the SQL a connection sends, or the name is not one of
    SQLAlchemy's, SQLAlchemy sends them as before.
    """

    # A dialect of our own says so, or SQLAlchemy compiles every statement anew.
    supports_statement_cache = True

    def do_savepoint(self, connection: Connection, name: str) -> None:
        if not self._on_driver(connection, "SAVEPOINT", name):
            super().do_savepoint(connection, name)  # type: ignore[no-untyped-call]

    def do_release_savepoint(self, connection: Connection, name: str) -> None:
        if not self._on_driver(connection, "RELEASE SAVEPOINT", name):
            super().do_release_savepoint(connection, name)  # type: ignore[no-untyped-call]

    def do_rollback_to_savepoint(self, connection: Connection, name: str) -> None:
        if not self._on_driver(connection, "ROLLBACK TO SAVEPOINT", name):
            super().do_rollback_to_savepoint(connection, name)  # type: ignore[no-untyped-call]

    def _on_driver(self, connection: Connection, verb: str, name: str) -> bool:
        """Run ``verb name`` on the driver; False when SQLAlchemy should run it instead."""
        if observed(connection) or not _SAVEPOINT_NAME.fullmatch(name):
            return False
        driver = connection.connection.driver_connection
        if not isinstance(driver, sqlite3.Connection):
            return False
        on_sqlite3(self, driver, f"{verb} {name}")
        return True


def on_sqlite3(dialect: Dialect, driver: sqlite3.Connection, sql: str) -> None:
    """``sql`` run on ``driver``, its error wrapped as SQLAlchemy would wrap it."""
    try:
        driver.execute(sql)
    except sqlite3.Error as error:
        wrapped = DBAPIError.instance(
            sql, (), error, sqlite3.Error, connection_invalidated=False, dialect=dialect
        )
        raise wrapped from error


registry.register("sqlite.atelier_inline", __name__, "InlineSQLiteDialect")


def blocking_engine(database: str, pool_size: int) -> Engine:
    """The ``sqlite3`` engine behind ``InlineSession`` (same file, same pragmas)."""
    # A queue of connections, named explicitly: with a ``creator`` SQLAlchemy cannot tell the
    # file from ``:memory:`` and would pick one connection per thread — every session on the
    # loop's thread sharing one connection, a reader inside a writer's transaction.
    # No limit on overflow connections: a checkout that had to wait for a connection would wait
    # on the loop's thread, for a connection only the loop can give back. Past ``pool_size`` a
    # connection is opened for the request and closed after it (a file handle, microseconds).
    engine = sa.create_engine(
        "sqlite+atelier_inline://",
        creator=lambda: open_connection(database),
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=-1,
    )
    return engine


class ReaderConnections:
    """``sqlite3`` connections for readers' prepared statements, handed out without SQLAlchemy.

    A read by id and the tracking page run only prepared statements (``app/prepared.py``),
    which need the driver's connection and nothing else of SQLAlchemy's. Checking one out of
    SQLAlchemy's pool (its connection record, its events, a ``Connection`` around it) and
    giving it back was ≈ a sixth of such a read's CPU (docs/benchmarks.md, ninth round); here
    it is a list's pop and append. A reader has no transaction (each statement reads the last
    commit), so a reader's ORM or Core statements may run on another connection, the engine's,
    and read the same. Up to ``size`` idle connections are kept, as in the engine's pool; past
    that a connection is opened for the request and closed after it.
    """

    def __init__(self, database: str, size: int) -> None:
        self._database = database
        self._size = size
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    @property
    def idle(self) -> int:
        return len(self._idle)

    def take(self) -> sqlite3.Connection:
        if self._idle:
            return self._idle.pop()
        try:
            return open_connection(self._database)
        except sqlite3.Error as error:  # SQLAlchemy's class, as its pool would raise it
            raise DBAPIError.instance(None, None, error, sqlite3.Error) from error

    def give_back(self, connection: sqlite3.Connection) -> None:
        if self._closed or len(self._idle) >= self._size or connection.in_transaction:
            connection.close()  # a reader never opens a transaction: such a one is not kept
        else:
            self._idle.append(connection)

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()


# How often a process's writer tries for the file's write lock while another process holds it.
# One writer per process does (the others queue in ``Database.writer_slot``), so a short pause
# costs little, and it lets the writer take the lock while the other process holds back
# between two groups (``Database.writer_slot``).
WRITE_LOCK_POLL_SECONDS = 0.001


async def _begin_immediate(
    engine: Engine,
    busy_timeout_seconds: float,
    on_contention: Callable[[], None] | None = None,
) -> Connection:
    """A connection of ``engine`` holding the file's write lock (``BEGIN IMMEDIATE``), waited
    for in the loop while another process holds it (then ``on_contention`` is called)."""
    connection = await patiently(busy_timeout_seconds, engine.connect)
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    attempts = 0

    def begin() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 2 and on_contention is not None:
            on_contention()  # the first attempt met another process's lock
        driver.execute("BEGIN IMMEDIATE")

    try:
        await patiently(busy_timeout_seconds, begin, longest_pause=WRITE_LOCK_POLL_SECONDS)
    except sqlite3.OperationalError as error:
        connection.close()
        raise OperationalError("BEGIN IMMEDIATE", None, error) from error
    except BaseException:
        connection.close()
        raise
    return connection


def _open_transaction(connection: Connection) -> sqlite3.Connection | None:
    """The connection's driver if SQLite still has its transaction open (SQLite ends it by
    itself on some errors: I/O, a full disk), None otherwise."""
    driver = connection.connection.driver_connection
    return driver if isinstance(driver, sqlite3.Connection) and driver.in_transaction else None


def _close(connection: Connection) -> None:
    """Give a writer's connection back, its transaction ended. After a COMMIT that failed
    (a deferred constraint, an I/O error) SQLAlchemy counts the transaction as over and the
    pool does not roll it back: the file's write lock would stay with the pooled connection."""
    try:
        driver = _open_transaction(connection)
        if driver is not None:
            driver.rollback()
    finally:
        connection.close()


def _group_failed(detail: str) -> OperationalError:
    """The error every writer of a failed group gets: a 503, retry."""
    return OperationalError("COMMIT", None, sqlite3.OperationalError(detail))


class WriteGroup:
    """Writers of one process that share a SQLite transaction and its commit.

    A commit writes every page the transaction changed to the WAL, and the checkpoint copies
    them back: on a served creation or transition, 15-20 % of the CPU, with 5 % more for the
    checkpoint (docs/benchmarks.md, eighth round). Writers queue for the write slot anyway
    (``Database.writer_slot``), and since ids are made in order most of the pages a writer
    changes are the ones the writer before it changed (the indexes' last pages). So while
    writers are queued, each runs in a SAVEPOINT of the same transaction, and the last of the
    queue (or the sixteenth) commits for them all; none of them answers before that commit.

    A writer that fails rolls back to its savepoint: the others' work stays. If the
    transaction itself is lost (a savepoint that cannot be rolled back, a commit that fails,
    SQLite ending the transaction on an I/O error), every writer of the group gets the error
    (a 503, nothing written), as a lone writer would.
    """

    def __init__(
        self,
        engine: Engine,
        busy_timeout_seconds: float,
        on_contention: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self._busy_timeout = busy_timeout_seconds
        self._on_contention = on_contention
        self.connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self.members = 0  # writers that ran a statement in the transaction
        self._savepoints = 0  # names handed out to writers' own savepoints
        self.failure: BaseException | None = None
        self.outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._after_commit: list[Callable[[], None]] = []

    async def connect(self) -> Connection:
        """The transaction's connection, begun by the group's first statement."""
        if self.connection is None:
            connection = await _begin_immediate(
                self.engine, self._busy_timeout, self._on_contention
            )
            # SQLAlchemy's view of the transaction begun above (pysqlite emits nothing here);
            # each writer's session joins it with a savepoint of its own.
            self._transaction = connection.begin()
            self.connection = connection
        return self.connection

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def savepoint_name(self) -> str:
        """A name for a writer's savepoint, unique in the group's transaction."""
        self._savepoints += 1
        return f"atelier_writer_{self._savepoints}"

    def finish(self) -> bool:
        """Commit the group's transaction (roll it back after a failure) and give every writer
        its outcome; whether something was committed."""
        connection, transaction = self.connection, self._transaction
        self.connection = self._transaction = None
        try:
            if connection is not None and transaction is not None:
                if self.failure is None and _open_transaction(connection) is None:
                    self.failure = _group_failed("the transaction was rolled back by SQLite")
                if self.failure is None:
                    transaction.commit()
                else:
                    transaction.rollback()
        except Exception as error:  # the commit failed: nobody's work is written
            self.failure = self.failure or error
        finally:
            if connection is not None:
                _close(connection)  # rolls back whatever is left
        if self.failure is None:
            self.outcome.set_result(None)
            for callback in self._after_commit:
                callback()
            return connection is not None
        if self.members:
            # Every writer of the group gets a 503 (retry), whichever one's work failed.
            detail = f"the transaction shared by {self.members} writers failed: {self.failure}"
            self.outcome.set_exception(_group_failed(detail))
        else:  # nobody ran a statement: nobody waits for this outcome
            self.outcome.set_result(None)
        return False


@dataclass
class WriteTurn:
    """One writer's turn in the write slot, in a group."""

    group: WriteGroup
    joined: bool = False  # whether it ran a statement in the group's transaction


# The turn of the writer running in this task (set by ``Database.writer_slot``).
CURRENT_TURN: contextvars.ContextVar[WriteTurn | None] = contextvars.ContextVar(
    "atelier_write_turn", default=None
)


class InlineSession(OrmOnDemand):
    """An ``AsyncSession`` whose operations run at once on a blocking ``Session``.

    A reader's statements each run in their own snapshot (no BEGIN), as under READ COMMITTED; a
    writer's transaction starts with ``BEGIN IMMEDIATE`` before its first statement. The
    blocking ``Session`` is made at its first use (``OrmOnDemand``): a reader that runs only
    prepared statements never makes one.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool,
        busy_timeout_seconds: float,
        checkpointer: Checkpointer | None = None,
        turn: WriteTurn | None = None,
        readers: ReaderConnections | None = None,
    ) -> None:
        super().__init__(None, expire_on_commit=False, autoflush=False)
        self._engine = engine
        # A reader's prepared statements: on a driver connection of ``readers``, taken at the
        # first one and given back when the session ends.
        self._readers = None if write else readers
        self._driver: sqlite3.Connection | None = None
        # A writer's driver connection, once its session's transaction has begun on it (a
        # group member's savepoint taken): its next prepared statements go straight to it.
        # Asking the ORM session for its connection again was 5 % of a write (a profile).
        self._writer_driver: sqlite3.Connection | None = None
        # A group member's savepoint, taken on the driver when the ORM is not in use yet: the
        # ORM's own savepoint (begun, committed and closed through its session) was 6-7 % of a
        # write. The ORM made later puts its work in a savepoint of its own inside this one.
        self._savepoint: str | None = None
        self._checkpointer = checkpointer
        # A writer in a group: its transaction is a savepoint of the group's (``WriteGroup``).
        self._turn = turn if write else None
        self._write = write
        self._busy_timeout = busy_timeout_seconds
        # The connection the session holds, bound to its ORM session: a writer's from its first
        # step, with the write lock; a reader's from its first statement, its Core statements
        # run on it directly (no session transaction around a row read).
        self._connection: Connection | None = None

    def orm_made(self) -> None:
        self.sync_session.bind = self._connection if self._connection is not None else self._engine
        if self._write and self._connection is not None:
            # Made once the writer's transaction is open (``_ready``): its work goes in a
            # savepoint inside the writer's own.
            self.sync_session.join_transaction_mode = "create_savepoint"

    async def _ready(self) -> None:
        """A writer's first step: check a connection out and take the write lock."""
        if not self._write or self._connection is not None:
            return
        mode: JoinTransactionMode
        if self._turn is not None:
            connection = await self._turn.group.connect()
            self._turn.joined = True
            if not self.orm_used and not observed(connection):
                self._connection = connection
                self._take_savepoint(connection)
                return
            mode = "create_savepoint"  # its commit releases a savepoint, its rollback undoes it
        else:
            connection = await _begin_immediate(self._engine, self._busy_timeout)
            mode = "control_fully"  # it owns the transaction begun above
        self._connection = connection
        self.sync_session.bind = connection
        self.sync_session.join_transaction_mode = mode

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

    def _take_savepoint(self, connection: Connection) -> None:
        assert self._turn is not None
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        name = self._turn.group.savepoint_name()
        on_sqlite3(connection.dialect, driver, f"SAVEPOINT {name}")
        self._savepoint = name
        self._writer_driver = driver

    def _end_savepoint(self, *, undo: bool) -> None:
        """Release the writer's own savepoint, its work undone first if ``undo``; one that
        cannot be ended loses the group's transaction (``_guarded``)."""
        name, self._savepoint = self._savepoint, None
        driver = self._writer_driver  # the savepoint's, taken with it (``_take_savepoint``)
        if name is None or driver is None:
            return
        dialect = self._engine.dialect

        def end() -> None:
            if undo:
                on_sqlite3(dialect, driver, f"ROLLBACK TO SAVEPOINT {name}")
            on_sqlite3(dialect, driver, f"RELEASE SAVEPOINT {name}")

        self._guarded(end)

    async def commit(self) -> None:
        await self._ready()  # pending objects may still need their flush
        try:
            if self._savepoint is None:
                self.sync_session.commit()
            else:
                try:
                    if not self._orm_idle():
                        self.sync_session.commit()  # its savepoint, inside the writer's
                except BaseException:
                    try:  # the ORM's savepoint first, then the writer's, as they nest
                        self._guarded(self.sync_session.rollback)
                    finally:
                        self._end_savepoint(undo=True)
                    raise
                self._end_savepoint(undo=False)
        finally:
            self._release()
        if self._checkpointer is not None and self._turn is None:
            self._checkpointer.committed()  # a group's commit is counted by its last writer

    async def rollback(self) -> None:
        try:
            if self.orm_used:  # otherwise it has nothing to roll back
                self._guarded(self.sync_session.rollback)
        finally:
            try:
                self._end_savepoint(undo=True)
            finally:
                self._release()

    async def close(self) -> None:
        try:
            if self.orm_used and (self._write or not self._orm_idle()):
                self._guarded(self.sync_session.close)
        finally:
            try:
                self._end_savepoint(undo=True)
            finally:
                self._release()

    @property
    def group(self) -> WriteGroup | None:
        """The write group whose transaction this writer's work is committed in, if any."""
        return self._turn.group if self._turn is not None else None

    def _guarded(self, end: Callable[[], None]) -> None:
        """End the session; in a group, a savepoint that cannot be rolled back loses the
        group's transaction."""
        try:
            end()
        except BaseException as error:
            if self._turn is not None and self._connection is not None:
                self._turn.group.failure = self._turn.group.failure or error
            raise

    def _orm_idle(self) -> bool:
        """Whether the ORM session holds nothing to commit or close: a reader that ran only
        Core statements (closing an unused session still cost ~0.01 ms of a GET), a writer
        that ran only prepared statements in its own savepoint."""
        if not self.orm_used:
            return True
        orm = self.sync_session
        return not (orm.in_transaction() or orm.identity_map or orm.new)

    def _release(self) -> None:
        """Give the connection (and a writer's lock) back; a later statement begins anew."""
        self._writer_driver = None
        self._savepoint = None
        if self._driver is not None:
            driver, self._driver = self._driver, None
            assert self._readers is not None
            self._readers.give_back(driver)
        if self._connection is not None:
            connection, self._connection = self._connection, None
            if self._turn is None:  # a group's connection is the group's to close
                _close(connection)  # rolls back whatever was not committed
            if self.orm_used:
                self.sync_session.bind = self._engine

    async def core(self, statement: Executable, parameters: Parameters = None) -> CursorResult[Any]:
        """A Core statement on this session's connection, past the ORM's execution layer."""
        return await self._run(self._core, statement, parameters)

    def _core(self, statement: Executable, parameters: Parameters) -> CursorResult[Any]:
        return self._current_connection().execute(statement, parameters)

    async def prepared(
        self, statement: Prepared, parameters: Mapping[str, Any] | None = None
    ) -> Rows:
        """A prepared statement on the driver's cursor: a writer's on its transaction's
        connection, a reader's on one of ``ReaderConnections`` (unless something listens to
        the SQL the engine sends: then on the engine's, through SQLAlchemy)."""
        if self._readers is not None and not self._engine.dispatch.before_cursor_execute:
            return await patiently(self._busy_timeout, self._read, statement, parameters)
        if self._write and self._writer_driver is None:
            await self._ready()  # a group member's own savepoint gives it its driver
        if self._writer_driver is not None:
            return run_on_driver(self._writer_driver, self._engine.dialect, statement, parameters)
        return await self._run(self._prepared, statement, parameters)

    def _prepared(self, statement: Prepared, parameters: Mapping[str, Any] | None) -> Rows:
        connection = self._current_connection()
        if self._write and not observed(connection):
            # Until ``_release``: the transaction (or savepoint) stays on this connection.
            driver = connection.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            self._writer_driver = driver
        return run_on_sqlite(connection, statement, parameters)

    def _read(self, statement: Prepared, parameters: Mapping[str, Any] | None) -> Rows:
        if self._driver is None:
            assert self._readers is not None
            self._driver = self._readers.take()
        return run_on_driver(self._driver, self._engine.dialect, statement, parameters)

    def _current_connection(self) -> Connection:
        if self._write:  # in the session's transaction, which its commit ends
            return self.sync_session.connection()
        assert self._connection is not None  # checked out by ``_run``
        return self._connection
