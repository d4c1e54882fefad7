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
- a writer's connection, inside its session's transaction (``run_on_writer``). psycopg starts
  that transaction itself before its cursor's first statement; when the first statement comes
  here instead, ``BEGIN`` is sent with it in one libpq pipeline, one round trip for both.
  The writers' connections have psycopg's own preparing off (``create_engine_for``): after a
  rollback psycopg sends ``DEALLOCATE ALL`` when it has prepared statements of its own, which
  would remove these too.
"""

from __future__ import annotations

import asyncio
import copy
import weakref
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
from sqlalchemy.ext.asyncio import AsyncConnection

from app.prepared import (
    Prepared,
    Rows,
    observed,
    run_on_psycopg_driver,
    through_sqlalchemy,
    wrapped_error,
)

_BEGIN = b"BEGIN"


@dataclass(slots=True)
class LibpqState:
    """What a connection keeps for ``run_on_libpq``."""

    # The connection's adapters (the dialect's among them), to write parameters and read values.
    transformer: adapt_abc.Transformer
    # The server-side prepared statements made on this connection: (SQL, parameter types) → name.
    statements: dict[tuple[str, tuple[int, ...]], bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, connection: psycopg.AsyncConnection[Any]) -> LibpqState:
        return cls(Transformer.from_context(connection))


def numbered_twin(dialect: Dialect) -> Dialect:
    """``dialect`` compiling its placeholders as libpq takes them (``$1``), not as psycopg's
    cursor does (``%(name)s``)."""
    twin = copy.copy(dialect)
    twin.paramstyle = "numeric_dollar"
    twin.positional = True
    return twin


async def _ready(watch: Callable[..., Any], unwatch: Callable[[int], Any], descriptor: int) -> None:
    """Until the loop sees the socket ready (to read, or to write), watched for this wait only."""
    ready = asyncio.get_running_loop().create_future()
    watch(descriptor, ready.set_result, None)
    try:
        await ready
    finally:
        unwatch(descriptor)


async def _results(pgconn: PGconn, *, until_sync: bool = False) -> list[PGresult]:
    """Send what libpq holds, then wait for the results: of the one query sent, or, in
    pipeline mode (``until_sync``), of every query up to the pipeline's sync. Each wait is a
    reader on the socket for just that wait (an idle connection's socket is watched by no one)."""
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
                if until_sync:  # the end of one query's results in the pipeline
                    continue
                return results
            if result.status == ExecStatus.PIPELINE_SYNC:
                return results
            results.append(result)
        await _ready(loop.add_reader, loop.remove_reader, descriptor)


def _checked(connection: psycopg.AsyncConnection[Any], results: list[PGresult]) -> PGresult:
    for result in results:
        if result.status == ExecStatus.FATAL_ERROR:
            raise pg_errors.error_from_result(result, encoding=connection.info.encoding)
    return results[-1]


async def _begin_and_send(pgconn: PGconn, name: bytes, values: Any, formats: Any) -> list[PGresult]:
    """``BEGIN`` and the prepared statement in one pipeline: one round trip for both."""
    pgconn.enter_pipeline_mode()
    try:
        pgconn.send_query_params(_BEGIN, None)
        pgconn.send_query_prepared(name, values, param_formats=formats)
        pgconn.pipeline_sync()
        return await _results(pgconn, until_sync=True)
    finally:
        if pgconn.status == ConnStatus.OK:
            pgconn.exit_pipeline_mode()


async def run_on_libpq(
    connection: psycopg.AsyncConnection[Any],
    state: LibpqState,
    dialect: Dialect,
    prepared: Prepared,
    parameters: Mapping[str, Any] | None,
    *,
    begin: bool = False,
) -> Rows:
    """``prepared`` on ``connection``'s libpq, ``BEGIN`` sent before it when ``begin``.

    ``dialect`` is a ``numbered_twin``; a driver error comes out as SQLAlchemy's,
    ``connection_invalidated`` when the connection was lost."""
    transformer = state.transformer
    pgconn = connection.pgconn
    form = prepared.form(dialect, parameters)
    arguments = form.arguments(parameters)
    try:
        values = transformer.dump_sequence(arguments, [PyFormat.TEXT] * len(arguments))
        key = (form.sql, tuple(transformer.types or ()))
        name = state.statements.get(key)
        if name is None:
            name = f"atelier_{len(state.statements)}".encode()
            pgconn.send_prepare(name, form.sql.encode(), param_types=key[1])
            _checked(connection, await _results(pgconn))
            state.statements[key] = name
        if begin:
            results = await _begin_and_send(pgconn, name, values, transformer.formats)
        else:
            pgconn.send_query_prepared(name, values, param_formats=transformer.formats)
            results = await _results(pgconn)
        result = _checked(connection, results)
        if result.status != ExecStatus.TUPLES_OK and result.status != ExecStatus.COMMAND_OK:
            # The statement was not run: BEGIN failed before it (its error is raised above).
            raise psycopg.OperationalError(f"unexpected result {ExecStatus(result.status).name}")
        transformer.set_pgresult(result)
        fetched = transformer.load_rows(0, result.ntuples, tuple) if form.keys else []
        # The column types, read once per form, as the cursor's description gives them.
        description = (
            [(None, result.ftype(index)) for index in range(result.nfields)]
            if form.result_processors is None
            else None
        )
        count = result.command_tuples
    except psycopg.Error as error:
        lost = pgconn.status != ConnStatus.OK or dialect.is_disconnect(
            error,  # type: ignore[arg-type]  # psycopg's own error and connection
            connection,  # type: ignore[arg-type]
            None,
        )
        raise wrapped_error(dialect, form, arguments, error, disconnect=lost) from error
    finally:
        transformer.set_pgresult(None)
    return form.rows(description, fetched, result.ntuples if count is None else count)


# A writer's connection's state, for as long as psycopg's connection lives; the dialects'
# numbered twins, for as long as their engines do.
_WRITERS: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], LibpqState] = (
    weakref.WeakKeyDictionary()
)
_TWINS: weakref.WeakKeyDictionary[Dialect, Dialect] = weakref.WeakKeyDictionary()


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


async def run_on_writer(
    connection: psycopg.AsyncConnection[Any],
    dialect: Dialect,
    prepared: Prepared,
    parameters: Mapping[str, Any] | None,
) -> Rows:
    """``prepared`` in the writer's transaction on ``connection``, which it starts if none is
    open yet (an autocommit connection runs it on its own)."""
    state = _WRITERS.get(connection)
    if state is None:
        state = _WRITERS[connection] = LibpqState.of(connection)
    begin = (
        not connection.autocommit and connection.pgconn.transaction_status == TransactionStatus.IDLE
    )
    return await run_on_libpq(connection, state, dialect, prepared, parameters, begin=begin)


async def run_on_psycopg(
    connection: AsyncConnection,
    prepared: Prepared,
    parameters: Mapping[str, Any] | None,
    driver: Any = None,
) -> Rows:
    """``prepared`` on the session's psycopg connection (``driver``, its psycopg connection,
    when the caller has it), in its current transaction: through libpq (``run_on_writer``)
    where the connection allows it, else on psycopg's cursor, and through SQLAlchemy while
    something listens to the SQL it sends."""
    sync_connection = connection.sync_connection
    assert sync_connection is not None
    if observed(sync_connection):
        return await connection.run_sync(through_sqlalchemy, prepared, parameters)
    if driver is None:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
    dialect = connection.dialect
    try:
        if writes_through_libpq(driver):
            twin = _TWINS.get(dialect)
            if twin is None:
                twin = _TWINS[dialect] = numbered_twin(dialect)
            return await run_on_writer(driver, twin, prepared, parameters)
        return await run_on_psycopg_driver(driver, dialect, prepared, parameters)
    except DBAPIError as error:
        if error.connection_invalidated:
            # As SQLAlchemy does on a lost connection: this one is dropped, and so are the
            # pooled ones, which a restarted server no longer knows.
            await connection.invalidate(error.orig)
            await connection.engine.dispose(close=False)
        raise
