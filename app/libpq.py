"""Prepared statements sent to libpq itself, without psycopg's cursor.

On the asyncio loop psycopg's cursor cost the API ≈ 0.15 ms of CPU per query, about twice what
libpq's sending, the wait for the socket and the reading of the result take
(docs/benchmarks.md, eleventh and twelfth rounds). ``run_on_libpq`` sends a ``Prepared``
statement as a server-side prepared statement, made once per connection, its parameters
written and its values read by the connection's own adapters (``LibpqState``), so a caller gets
what the cursor gave (``tests/api/test_prepared.py``).

Two kinds of connection use it:

- the readers' autocommit connections (``app/psycopg_readers.py``): each statement reads the
  last commit;
- a writer's connection, inside its session's transaction (``run_on_route``). psycopg starts
  that transaction itself before its cursor's first statement; when the first statement comes
  here instead, ``BEGIN`` is sent with it in one libpq pipeline, one round trip for both.
  The writers' connections have psycopg's own preparing off (``create_engine_for``): after a
  rollback psycopg sends ``DEALLOCATE ALL`` when it has prepared statements of its own, which
  would remove these too.

A writer's INSERT of known values can be ``deferred``: sent in the pipeline without waiting
for its result, which is read with the next statement that needs one. A statement whose
rows are wanted later can be sent the same way, its rows ``collect``ed into a ``Pending`` when
the pipeline is read (a new order's INSERT returning its number, read with the COMMIT). A
creation's eight statements (``BEGIN`` and ``COMMIT`` among them) take one round trip, a
transition's seven two: its order's read, then the rest (its UPDATE guards the version
itself, and the webhook deliveries are an ``INSERT … SELECT``: nothing in between waits for a
result). The first deferred statement's error is raised there, as SQLAlchemy's and charged to
that statement, so a request fails as it would have one statement earlier. Nothing else may
use the connection while the pipeline is open: SQLAlchemy's listeners
(``settle_before_sqlalchemy``) wait for it before any statement SQLAlchemy sends, close it with
the ``COMMIT`` in its round trip, and drop it at a rollback
(``tests/api/test_libpq_writers.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import abc as adapt_abc
from psycopg import errors as pg_errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import ConnStatus, ExecStatus, PipelineStatus, TransactionStatus
from psycopg.pq.abc import PGconn, PGresult
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_only

from app.prepared import (
    Form,
    Prepared,
    Rows,
    observed,
    run_on_psycopg_driver,
    through_sqlalchemy,
    wrapped_error,
)

_BEGIN = b"BEGIN"
_COMMIT = b"COMMIT"
_ROLLBACK = b"ROLLBACK"
# The prepared statements a connection keeps at most: each holds its plan in the server's
# process. A list page's statement carries its statuses and row count in its SQL (each its
# own plan: ``app/repositories/repair_orders.py``), so a connection may see many.
MOST_STATEMENTS = 256
# What a deferred statement gives back: nothing yet (its result is read with the pipeline).
DEFERRED = Rows((), [], -1)


@dataclass(slots=True)
class LibpqState:
    """What a connection keeps for ``run_on_libpq``."""

    # The connection's adapters (the dialect's among them), to write parameters and read values.
    transformer: adapt_abc.Transformer
    # The server-side prepared statements kept on this connection: (SQL, parameter types) →
    # name, the least recently used first (``MOST_STATEMENTS`` at most), and how many it made.
    statements: dict[tuple[str, tuple[int, ...]], bytes] = field(default_factory=dict)
    made: int = 0
    # Sent in the open pipeline and not yet read: each statement's form and arguments (for its
    # error) and where its rows go, ``None`` for a ``BEGIN`` or a ``COMMIT``; and
    # the dialect they were compiled for.
    queued: list[_Queued | None] = field(default_factory=list)
    dialect: Dialect | None = None
    # A reader's connection: its socket, watched for as long as it is open (``SocketWatch``).
    watch: SocketWatch | None = None

    @classmethod
    def of(cls, connection: psycopg.AsyncConnection[Any]) -> LibpqState:
        return cls(Transformer.from_context(connection))


class Pending:
    """The rows of a SELECT sent in a writer's pipeline, there once the pipeline is read (with
    the transaction's next statement that waits for its result); or of one already run."""

    __slots__ = ("_rows", "_pipeline", "with_commit")

    def __init__(self, rows: Rows | None = None, *, with_commit: bool = False) -> None:
        self._rows = rows
        self._pipeline: tuple[psycopg.AsyncConnection[Any], LibpqState] | None = None
        # Its rows may be read in the COMMIT's round trip: nothing in them can make the
        # transaction one not to commit (a RETURNING of text the statement wrote).
        self.with_commit = with_commit

    async def rows(self) -> Rows:
        """The statement's rows, reading the pipeline first if nothing has read it yet."""
        if self._rows is None and self._pipeline is not None and self._pipeline[1].queued:
            await _synced(*self._pipeline)
        if self._rows is None:  # its pipeline failed (that error was raised) or was dropped
            raise RuntimeError("The statement's rows were never read.")
        return self._rows


_Queued = tuple[Form, Any, Pending | None]


# Each dialect's numbered twin, for as long as its engine lives.
_TWINS: weakref.WeakKeyDictionary[Dialect, Dialect] = weakref.WeakKeyDictionary()


def numbered_twin(dialect: Dialect) -> Dialect:
    """``dialect`` compiling its placeholders as libpq takes them (``$1``), not as psycopg's
    cursor does (``%(name)s``); made once per dialect."""
    twin = _TWINS.get(dialect)
    if twin is None:
        twin = _TWINS[dialect] = copy.copy(dialect)
        twin.paramstyle = "numeric_dollar"
        twin.positional = True
    return twin


class SocketWatch:
    """A connection's socket, watched by the loop: a reader connection's from its making to its
    closing, a writer's for one statement's waits (``_results``). The watch reads what comes,
    and wakes the statement that waits on the connection only once libpq holds a whole
    result, or the connection failed (docs/benchmarks.md, sixteenth round):

    - a reader of the loop added and removed for each statement cost 11 µs here (two
      ``epoll_ctl`` calls and the selector's bookkeeping);
    - a list page's 46 KB come in several pieces: each is read here, and the request resumes
      once, not once a piece;
    - the loop may report the socket once more after the request read it (the report was
      queued behind the request's step): that report reads nothing and wakes no one, where it
      woke the connection's next statement for nothing.

    Between two statements the server has nothing to say. What it sends anyway (a notice, or
    the end of the connection when it stops) is read into libpq's buffer, so that the loop does
    not report it again; a connection the server ended is closed (``pgconn.status``) and
    unwatched, and the pool drops it instead of handing it out
    (``tests/api/test_psycopg_readers.py``). Whoever closes the connection calls ``close``
    first."""

    __slots__ = ("pgconn", "descriptor", "loop", "waiter")

    def __init__(self, pgconn: PGconn) -> None:
        self.pgconn = pgconn
        self.descriptor = pgconn.socket
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiter: asyncio.Future[None] | None = None
        self._arm(asyncio.get_running_loop())

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self.close()
        loop.add_reader(self.descriptor, self._readable)
        self.loop = loop

    def _readable(self) -> None:
        pgconn, waiter = self.pgconn, self.waiter
        try:
            pgconn.consume_input()
        except psycopg.Error as error:  # the connection is gone: raised where it is awaited
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)
        else:
            if waiter is not None and not waiter.done() and not pgconn.is_busy():
                waiter.set_result(None)
        if pgconn.status != ConnStatus.OK:
            self.close()

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        """Until libpq holds a whole result (read from the socket); raises the connection's
        failure."""
        if self.loop is not loop:  # first used on another loop (or the server ended it)
            self._arm(loop)
        waiter = self.waiter = loop.create_future()
        try:
            await waiter
        finally:
            self.waiter = None

    def close(self) -> None:
        loop, self.loop = self.loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self.descriptor)


async def _ready(watch: Callable[..., Any], unwatch: Callable[[int], Any], descriptor: int) -> None:
    """Until the loop sees the socket ready (to read, or to write), watched for this wait only."""
    ready = asyncio.get_running_loop().create_future()
    watch(descriptor, ready.set_result, None)
    try:
        await ready
    finally:
        unwatch(descriptor)


async def _results(
    pgconn: PGconn, *, until_sync: bool = False, watch: SocketWatch | None = None
) -> list[PGresult]:
    """Send what libpq holds, then wait for the results: of the one query sent, or, in
    pipeline mode (``until_sync``), of every query up to the pipeline's sync. The waits are
    the ``watch``'s when the connection has one (a reader's); otherwise a watch of this call's
    own, from its first wait to its last (a writer's idle connection is watched by no one:
    psycopg waits on it too, with a reader of the loop of its own)."""
    loop = asyncio.get_running_loop()
    while pgconn.flush():  # the rest of the query once the socket can take it
        await _ready(loop.add_writer, loop.remove_writer, pgconn.socket)
    results: list[PGresult] = []
    own: SocketWatch | None = None
    read = True  # after a wait the watch has read the socket already
    try:
        while not _collected(pgconn, results, until_sync, read=read):
            if watch is None:
                watch = own = SocketWatch(pgconn)
            await watch.wait(loop)
            read = False
        return results
    finally:
        if own is not None:
            own.close()


def _collected(
    pgconn: PGconn, results: list[PGresult], until_sync: bool, *, read: bool = True
) -> bool:
    """Read what the socket holds (unless ``read`` is off), adding to ``results`` every result
    libpq then holds whole; whether the last one awaited has come."""
    if read:
        pgconn.consume_input()
    while not pgconn.is_busy():
        result = pgconn.get_result()
        if result is None:
            if until_sync:  # the end of one query's results in the pipeline
                continue
            return True
        if result.status == ExecStatus.PIPELINE_SYNC:
            return True
        results.append(result)
    return False


def _checked(connection: psycopg.AsyncConnection[Any], results: list[PGresult]) -> PGresult:
    for result in results:
        if result.status == ExecStatus.FATAL_ERROR:
            raise pg_errors.error_from_result(result, encoding=connection.info.encoding)
    return results[-1]


def _wrapped(
    connection: psycopg.AsyncConnection[Any],
    dialect: Dialect,
    form: Form,
    arguments: Any,
    error: psycopg.Error,
) -> DBAPIError:
    return wrapped_error(
        dialect, form, arguments, error, disconnect=_lost(connection, dialect, error)
    )


def _lost(connection: psycopg.AsyncConnection[Any], dialect: Dialect, error: psycopg.Error) -> bool:
    """Whether ``error`` came with the connection's loss."""
    return connection.pgconn.status != ConnStatus.OK or dialect.is_disconnect(
        error,  # type: ignore[arg-type]  # psycopg's own error and connection
        connection,  # type: ignore[arg-type]
        None,
    )


async def drop_lost(connection: AsyncConnection, error: DBAPIError) -> None:
    """As SQLAlchemy does on a lost connection: this one is dropped, and so are the pooled
    ones, which a restarted server no longer knows."""
    await connection.invalidate(error.orig)
    await connection.engine.dispose(close=False)


def _leave_pipeline(pgconn: PGconn) -> None:
    # Refused while results are left unread (a wait cancelled halfway): the connection then
    # stays in pipeline mode, psycopg's next command on it fails, and SQLAlchemy drops it.
    with contextlib.suppress(psycopg.Error):
        pgconn.exit_pipeline_mode()


async def _synced(
    connection: psycopg.AsyncConnection[Any],
    state: LibpqState,
    *,
    commit: bool = False,
    read_rows: bool = True,
) -> list[PGresult]:
    """Close the pipeline (``commit``: with a ``COMMIT`` at its end): the results of every
    statement in it, in order (``BEGIN``'s too), raising the first one's error as SQLAlchemy's,
    for the statement that failed; then, unless ``read_rows`` is off (a rollback), the rows of
    the statements that collect them."""
    pgconn = connection.pgconn
    queued, state.queued = state.queued, []
    try:
        if commit:
            pgconn.send_query_params(_COMMIT, None)
            queued.append(None)
        pgconn.pipeline_sync()
        results = await _results(pgconn, until_sync=True, watch=state.watch)
    except psycopg.Error as error:
        form, arguments, *_ = next(entry for entry in queued if entry is not None)
        assert state.dialect is not None
        raise _wrapped(connection, state.dialect, form, arguments, error) from error
    finally:
        _leave_pipeline(pgconn)
    for index, result in enumerate(results):
        if result.status != ExecStatus.FATAL_ERROR:
            continue
        failure = pg_errors.error_from_result(result, encoding=connection.info.encoding)
        # ``BEGIN`` or ``COMMIT`` (``None``) failing is charged to the statement next to it.
        form, arguments, *_ = next(
            entry for entry in (*queued[index:], *reversed(queued[:index])) if entry is not None
        )
        assert state.dialect is not None
        raise _wrapped(connection, state.dialect, form, arguments, failure) from failure
    if not read_rows:
        return results
    for entry, result in zip(queued, results, strict=True):
        if entry is None:
            continue
        form, arguments, pending = entry
        if pending is not None:
            assert state.dialect is not None
            pending._rows = _rows_of(connection, state, state.dialect, form, arguments, result)
    return results


def _rows_of(
    connection: psycopg.AsyncConnection[Any],
    state: LibpqState,
    dialect: Dialect,
    form: Form,
    arguments: Any,
    result: PGresult,
) -> Rows:
    """A statement's result as the cursor would have given it, read by the connection's
    adapters."""
    transformer = state.transformer
    try:
        transformer.set_pgresult(result)
        fetched = transformer.load_rows(0, result.ntuples, tuple) if form.keys else []
    except psycopg.Error as error:
        raise _wrapped(connection, dialect, form, arguments, error) from error
    finally:
        transformer.set_pgresult(None)
    # The column types, read once per form, as the cursor's description gives them.
    description = (
        [(None, result.ftype(index)) for index in range(result.nfields)]
        if form.result_processors is None
        else None
    )
    count = result.command_tuples
    return form.rows(description, fetched, result.ntuples if count is None else count)


async def run_on_libpq(
    connection: psycopg.AsyncConnection[Any],
    state: LibpqState,
    dialect: Dialect,
    prepared: Prepared,
    parameters: Mapping[str, Any] | None,
    *,
    begin: bool = False,
    deferred: bool = False,
    collect: Pending | None = None,
) -> Rows:
    """``prepared`` on ``connection``'s libpq, ``BEGIN`` sent before it when ``begin``.

    ``deferred``: sent without waiting for its result, which is read, and its error raised,
    with the next statement that is not deferred (or by SQLAlchemy's listeners); its ``Rows``
    are ``DEFERRED``. ``collect`` defers it too, its rows then in ``collect``. Statements sent
    together go in one libpq pipeline: one round trip for all of them.

    ``dialect`` is a ``numbered_twin``; a driver error comes out as SQLAlchemy's,
    ``connection_invalidated`` when the connection was lost."""
    transformer = state.transformer
    pgconn = connection.pgconn
    deferred = deferred or collect is not None
    form = prepared.form(dialect, parameters)
    arguments = form.arguments(parameters)
    assert not (begin and state.queued), "a BEGIN inside an open transaction's pipeline"
    try:
        values = transformer.dump_sequence(arguments, [PyFormat.TEXT] * len(arguments))
    except psycopg.Error as error:
        raise _wrapped(connection, dialect, form, arguments, error) from error
    key = (form.sql, tuple(transformer.types or ()))
    statements = state.statements
    name = statements.pop(key, None)
    if name is None:  # prepared once per connection, on its own (the waiting ones first)
        if state.queued:
            await _synced(connection, state)
        name = f"atelier_{state.made}".encode()
        try:
            if len(statements) >= MOST_STATEMENTS:  # the least recently used one goes
                pgconn.send_close_prepared(statements.pop(next(iter(statements))))
                _checked(connection, await _results(pgconn, watch=state.watch))
            pgconn.send_prepare(name, form.sql.encode(), param_types=key[1])
            _checked(connection, await _results(pgconn, watch=state.watch))
        except psycopg.Error as error:
            raise _wrapped(connection, dialect, form, arguments, error) from error
        state.made += 1
    statements[key] = name  # the most recently used, last
    pipelined = begin or deferred or bool(state.queued)
    try:
        if pipelined and not state.queued:
            pgconn.enter_pipeline_mode()
            state.dialect = dialect
            if begin:
                pgconn.send_query_params(_BEGIN, None)
                state.queued.append(None)
        pgconn.send_query_prepared(name, values, param_formats=transformer.formats)
    except psycopg.Error as error:
        raise _wrapped(connection, dialect, form, arguments, error) from error
    if deferred:
        state.queued.append((form, arguments, collect))
        if collect is not None:
            collect._pipeline = (connection, state)
        return DEFERRED
    if pipelined:
        state.queued.append((form, arguments, None))
        result = (await _synced(connection, state))[-1]
    else:
        try:
            result = _checked(connection, await _results(pgconn, watch=state.watch))
        except psycopg.Error as error:
            raise _wrapped(connection, dialect, form, arguments, error) from error
    return _rows_of(connection, state, dialect, form, arguments, result)


# A writer's connection's state, for as long as psycopg's connection lives.
_WRITERS: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], LibpqState] = (
    weakref.WeakKeyDictionary()
)


def writes_through_libpq(connection: psycopg.AsyncConnection[Any]) -> bool:
    """Whether a writer's statements may skip psycopg's cursor on ``connection``: psycopg's
    own preparing is off (see the module's docstring), and a transaction it would start is a
    plain ``BEGIN`` (no isolation level, access mode or deferrability of its own)."""
    return (
        connection.prepare_threshold is None
        and connection.isolation_level is None
        and connection.read_only is None
        and connection.deferrable is None
    )


@dataclass(slots=True)
class WriterRoute:
    """The way from a writer's session to its connection's libpq, worked out at its first
    statement and kept for as long as it holds that connection (``writer_route``,
    ``run_on_route``)."""

    connection: AsyncConnection
    sync_connection: Connection
    driver: psycopg.AsyncConnection[Any]
    state: LibpqState
    dialect: Dialect  # the connection's dialect's ``numbered_twin``


def writer_route(connection: AsyncConnection, driver: Any) -> WriterRoute | None:
    """The route for a writer's statements on ``connection`` (``driver``: its psycopg
    connection; an autocommit one runs each on its own), or None where they cannot go to
    libpq: another driver, psycopg's own preparing on, a transaction of its own settings
    (``writes_through_libpq``)."""
    sync_connection = connection.sync_connection
    assert sync_connection is not None
    dialect = connection.dialect
    if dialect.driver != "psycopg" or not writes_through_libpq(driver):
        return None
    state = _WRITERS.get(driver)
    if state is None:
        state = _WRITERS[driver] = LibpqState.of(driver)
    return WriterRoute(connection, sync_connection, driver, state, numbered_twin(dialect))


async def run_on_route(
    route: WriterRoute,
    prepared: Prepared,
    parameters: Mapping[str, Any] | None,
    *,
    deferred: bool = False,
    collect: Pending | None = None,
) -> Rows:
    """``prepared`` in the writer's transaction, which it starts if none is open yet:
    through libpq (``deferred`` and ``collect``: see ``run_on_libpq``), or through SQLAlchemy
    while something listens to the SQL it sends (the statement then runs at once). A lost
    connection is dropped, with the pool's others (``drop_lost``)."""
    if observed(route.sync_connection):
        return await route.connection.run_sync(through_sqlalchemy, prepared, parameters)
    driver, state = route.driver, route.state
    begin = (
        not state.queued
        and not driver.autocommit
        and driver.pgconn.transaction_status == TransactionStatus.IDLE
    )
    try:
        return await run_on_libpq(
            driver,
            state,
            route.dialect,
            prepared,
            parameters,
            begin=begin,
            deferred=deferred,
            collect=collect,
        )
    except DBAPIError as error:
        if error.connection_invalidated:
            await drop_lost(route.connection, error)
        raise


async def run_on_psycopg(
    connection: AsyncConnection,
    prepared: Prepared,
    parameters: Mapping[str, Any] | None,
    driver: Any = None,
    *,
    deferred: bool = False,
    collect: Pending | None = None,
) -> Rows:
    """``prepared`` on the session's psycopg connection (``driver``, its psycopg connection,
    when the caller has it), in its current transaction: through libpq (``run_on_route``,
    ``deferred`` and ``collect`` there) where the connection allows it, else on psycopg's
    cursor, and through SQLAlchemy while something listens to the SQL it sends (``deferred``
    and ``collect`` have no effect on those two: the statement runs at once)."""
    if driver is None:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
    route = writer_route(connection, driver)
    if route is not None:
        return await run_on_route(route, prepared, parameters, deferred=deferred, collect=collect)
    sync_connection = connection.sync_connection
    assert sync_connection is not None
    if observed(sync_connection):
        return await connection.run_sync(through_sqlalchemy, prepared, parameters)
    try:
        return await run_on_psycopg_driver(driver, connection.dialect, prepared, parameters)
    except DBAPIError as error:
        if error.connection_invalidated:
            await drop_lost(connection, error)
        raise


def _commit_waits(queued: list[_Queued | None]) -> bool:
    """Whether the COMMIT must wait for the pipeline's results: rows to collect whose
    reading may still refuse the transaction (but those ``with_commit``)."""
    return any(
        entry is not None and entry[2] is not None and not entry[2].with_commit for entry in queued
    )


async def finish_writer(
    connection: psycopg.AsyncConnection[Any], dialect: Dialect, *, commit: bool
) -> None:
    """End a writer's transaction on ``connection`` without SQLAlchemy (``WriterSession``):
    ``commit``: the pipeline's statements, their errors raised as at the ORM's commit, then
    COMMIT, in the pipeline's round trip when nothing waits for its results; else the
    pipeline dropped and ROLLBACK. A driver error comes out as SQLAlchemy's."""
    state = _WRITERS.get(connection)
    pgconn = connection.pgconn
    if state is not None and state.queued:
        if commit:
            await _synced(connection, state, commit=not _commit_waits(state.queued))
        else:
            # Rolled back anyway: a statement's failure changes nothing, a lost connection is
            # seen by the ROLLBACK below.
            with contextlib.suppress(DBAPIError):
                await _synced(connection, state, read_rows=False)
    if pgconn.transaction_status == TransactionStatus.IDLE:
        return
    command = _COMMIT if commit else _ROLLBACK
    try:
        pgconn.send_query_params(command, None)
        _checked(connection, await _results(pgconn))
    except psycopg.Error as error:
        wrapped = DBAPIError.instance(
            command.decode(),
            None,
            error,
            psycopg.Error,
            connection_invalidated=_lost(connection, dialect, error),
            dialect=dialect,
        )
        raise wrapped from error


def writer_at_rest(connection: psycopg.AsyncConnection[Any]) -> bool:
    """Whether a writer's driver connection is as a fresh one from the pool: no transaction
    open, no pipeline, nothing sent and left unread (``ParkedConnections``)."""
    pgconn = connection.pgconn
    if (
        pgconn.status != ConnStatus.OK
        or pgconn.transaction_status != TransactionStatus.IDLE
        or pgconn.pipeline_status != PipelineStatus.OFF
    ):
        return False
    state = _WRITERS.get(connection)
    return state is None or not state.queued


def _open_pipeline(
    connection: Connection,
) -> tuple[psycopg.AsyncConnection[Any], LibpqState] | None:
    """The writer's driver connection and its state, when deferred statements wait on it."""
    if connection.invalidated or connection.closed:  # lost: nothing of it to wait for
        return None
    driver = connection.connection.driver_connection
    if driver is None:
        return None
    state = _WRITERS.get(driver)
    return (driver, state) if state is not None and state.queued else None


def settle_before_sqlalchemy(engine: AsyncEngine) -> None:
    """Make every other use of a writer's connection wait for its deferred statements first:
    a statement SQLAlchemy sends (the ORM's, a savepoint), and its commit raise the first
    deferred one's error, as that statement would have; a rollback drops them quietly.

    The listeners run inside SQLAlchemy's asyncio bridge, where ``await_only`` waits."""

    def before(connection: Connection, *_: Any) -> None:
        if (pipeline := _open_pipeline(connection)) is not None:
            await_only(_synced(*pipeline))

    def before_commit(connection: Connection) -> None:
        # The COMMIT goes at the end of the pipeline, in its round trip, unless it must wait
        # for the pipeline's results (``_commit_waits``); psycopg's own commit then finds no
        # transaction open and sends nothing.
        if (pipeline := _open_pipeline(connection)) is not None:
            await_only(_synced(*pipeline, commit=not _commit_waits(pipeline[1].queued)))

    def before_rollback(connection: Connection) -> None:
        if (pipeline := _open_pipeline(connection)) is not None:
            # Rolled back anyway. Outside the bridge (a connection collected unclosed) the
            # pipeline stays open: the pool's own rollback then fails, and it drops the
            # connection.
            with contextlib.suppress(DBAPIError, MissingGreenlet):
                await_only(_synced(*pipeline, read_rows=False))

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_execute", before)
    event.listen(sync_engine, "commit", before_commit)
    event.listen(sync_engine, "rollback", before_rollback)
