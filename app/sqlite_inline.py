"""SQLite for the async engine without a thread hop per call.

SQLAlchemy's ``aiosqlite`` dialect runs every driver call (cursor, execute, fetch, close, begin,
commit…) on a worker thread and wakes the event loop when it is done. On this kind of machine
each hop costs about 0.1 ms of CPU, and a read by primary key needs five of them: measured 0.43 ms
of CPU per query through aiosqlite against 0.014 ms for the same query on a plain ``sqlite3``
connection (docs/benchmarks.md). A query on an indexed SQLite file in WAL mode takes
microseconds, so this module runs ``sqlite3`` directly on the event loop's thread instead, behind
the same asynchronous interface that SQLAlchemy's aiosqlite adapter expects (handed over with
``create_async_engine(..., async_creator=...)``).

The one thing that could block the loop is waiting for another process's write lock (two
workers on one file), so SQLite's own busy handler is off (``busy_timeout=0``) and a statement
that meets ``SQLITE_BUSY`` is retried here with ``asyncio.sleep`` until the configured timeout,
letting the loop serve other requests meanwhile; after the timeout the ``database is locked``
error surfaces as usual (503 + ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.02

T = TypeVar("T")
logger = logging.getLogger("atelier.sqlite")


def _is_busy(error: BaseException) -> bool:
    """Whether ``error`` (the driver's, or SQLAlchemy's wrapping it) is SQLite's busy/locked."""
    cause = getattr(error, "orig", error)
    if not isinstance(cause, sqlite3.OperationalError):
        return False
    code = getattr(cause, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "locked" in str(cause) or "busy" in str(cause)


async def patiently(
    timeout_seconds: float,
    call: Callable[..., T],
    *args: Any,
    longest_pause: float = _LONGEST_PAUSE,
    **kwargs: Any,
) -> T:
    """Run ``call``; while SQLite answers busy, yield to the loop and try again (after pauses
    doubling up to ``longest_pause``), up to ``timeout_seconds``, then let the busy error
    through."""
    deadline: float | None = None
    pause = _FIRST_PAUSE
    while True:
        try:
            return call(*args, **kwargs)
        except (sqlite3.OperationalError, DBAPIError) as error:
            if not _is_busy(error):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + timeout_seconds
            if now >= deadline:
                raise
            await asyncio.sleep(min(pause, deadline - now))
            pause = min(pause * 2, longest_pause)


class _Immediate:
    """A stand-in for aiosqlite's request queue: runs the request now and settles its future.

    SQLAlchemy's adapter sets ``isolation_level`` by queueing a function on that queue.
    """

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(error)
            return
        if future is not None:
            future.set_result(result)


class InlineCursor:
    """The asynchronous cursor interface, over a ``sqlite3`` cursor on the calling thread."""

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor = connection._conn.cursor()

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            await self._connection._patiently(self._cursor.execute, sql)
        else:
            await self._connection._patiently(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> InlineCursor:
        await self._connection._patiently(self._cursor.executemany, sql, list(rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The asynchronous connection interface SQLAlchemy's aiosqlite adapter drives."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout_seconds: float) -> None:
        self._conn = conn
        self._tx = _Immediate()
        self._busy_timeout = busy_timeout_seconds
        self._closed = False

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """The open driver connection, or None once closed (SQLAlchemy's adapter checks it)."""
        return None if self._closed else self._conn

    async def _patiently(self, call: Callable[..., T], *args: Any) -> T:
        return await patiently(self._busy_timeout, call, *args)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def commit(self) -> None:
        await self._patiently(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def stop(self) -> None:
        """Close at once (SQLAlchemy's forced termination)."""
        self._closed = True
        self._conn.close()


# Autocommit mode (isolation_level=None) is set at connect, so BEGIN is ours to emit.
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    # A savepoint's journal (each writer of a group has one) stays in memory, never in a file.
    "PRAGMA temp_store=MEMORY",
    # No checkpoint inside a commit on the loop's thread: ``Checkpointer`` runs them on a worker.
    "PRAGMA wal_autocheckpoint=0",
)


def _configure(conn: sqlite3.Connection) -> None:
    for pragma in _PRAGMAS:
        conn.execute(pragma)


def _connect(database: str, busy_timeout_seconds: float = 0) -> sqlite3.Connection:
    # timeout=0 for the loop's connections: SQLite's own busy handler is off from the first
    # statement (the pragmas included), the loop must never sleep inside SQLite; busy is
    # retried by ``patiently``.
    uri = database.startswith("file:")
    return sqlite3.connect(
        database,
        uri=uri,
        check_same_thread=False,
        isolation_level=None,
        timeout=busy_timeout_seconds,
    )


def open_connection(database: str) -> sqlite3.Connection:
    """A configured ``sqlite3`` connection in autocommit mode (BEGIN is ours to emit)."""
    conn = _connect(database)
    try:
        _configure(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def inline_connector(database: str, busy_timeout_seconds: float) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine``: a configured inline connection."""

    async def connect() -> InlineConnection:
        # A busy file while the pragmas run: the connection is closed and opened again.
        conn = await patiently(busy_timeout_seconds, open_connection, database)
        return InlineConnection(conn, busy_timeout_seconds)

    return connect


class Checkpointer:
    """Copies the WAL file back into the database on a worker thread, every few commits.

    Left to SQLite, the commit that takes the WAL past 1 000 pages copies them all and syncs the
    file before it returns: a 9 ms stall of the event loop every twenty-odd order creations, a
    fifth of their CPU (docs/benchmarks.md). Request connections turn that off
    (``wal_autocheckpoint=0``) and writers report their commits here; every ``every`` commits a
    checkpoint runs on a thread with a connection of its own. ``sqlite3`` releases the GIL
    inside SQLite, so the copy and the sync use the other core while the loop serves reads.

    The checkpoint must complete for the next writer to start the WAL over (a PASSIVE one
    racing the writers let it grow by 50 MB a minute), so it ends holding the process's write
    slot (the in-process writers queue meanwhile) with a FULL one. Most of the copy is done
    before, by a PASSIVE checkpoint that the writers go on beside; the FULL one then has only
    the pages written meanwhile to copy, and the writers queue for that much.

    The FULL one does not wait for another process's writer: when one holds the file's write
    lock, it leaves the WAL for a turn that comes sooner (``every`` / 2 commits). Waiting held
    this process's writers, which the other process, not meeting them at the lock, did not
    pause for: with two workers a checkpoint waited up to its 2 s timeout behind the other's
    groups, and its writers with it. After ``patient_after`` turns left so in a row, the next
    one waits as before, so that the WAL stays bounded while another process writes on.
    """

    def __init__(
        self, database: str, write_lock: asyncio.Lock, every: int = 32, patient_after: int = 4
    ) -> None:
        self._database = database
        self._write_lock = write_lock
        self._every = every
        self._patient_after = patient_after
        self._deferrals = 0  # FULL checkpoints left for later in a row
        self._commits = 0
        self._running: asyncio.Task[None] | None = None
        self._connection: sqlite3.Connection | None = None  # used by one thread at a time
        # Run in the write slot before the copy: the writers' open transaction commits.
        self.before_copy: Callable[[], None] = lambda: None
        # Whether the last checkpoint was left incomplete (another process held the file).
        self.deferred = False

    @property
    def running(self) -> bool:
        """Whether a checkpoint is under way (copying, or waiting for the write slot)."""
        return self._running is not None

    def committed(self) -> None:
        """Count a commit; start a checkpoint when enough have piled up and none is running."""
        self._commits += 1
        if self._commits >= self._every and self._running is None:
            self._commits = 0
            self._running = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            with contextlib.suppress(sqlite3.Error):  # then the FULL copy does it all
                await asyncio.to_thread(self._copy, "PASSIVE")
            patient = self._deferrals >= self._patient_after
            async with self._write_lock:
                self.before_copy()
                self.deferred = await asyncio.to_thread(self._copy, "FULL", patient)
            if self.deferred:
                self._deferrals += 1
                self._commits = max(self._commits, self._every // 2)
            else:
                self._deferrals = 0
        except sqlite3.Error as error:  # the next turn tries again; nothing is lost meanwhile
            logger.warning("WAL checkpoint failed", extra={"error": str(error)})
        finally:
            self._running = None

    def _copy(self, mode: str, patient: bool = False) -> bool:
        """Run a checkpoint; whether it was kept from completing (another process writing, or
        checkpointing). Only a ``patient`` one waits for the other process (2 s at most)."""
        if self._connection is None:
            self._connection = _connect(self._database)
        self._connection.execute(f"PRAGMA busy_timeout = {2000 if patient else 0}")
        [(busy, _, _)] = self._connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        return bool(busy)

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.wait([self._running])
        if self._connection is not None:
            self._connection.close()
            self._connection = None
