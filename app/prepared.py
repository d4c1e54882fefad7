"""The hot Core statements, compiled once and run on the database driver's own cursor.

SQLAlchemy's execution of an already compiled statement still costs more CPU than the driver's
work: on every call it works out the statement's cache key, builds an execution context, a
cursor result and its rows, and on PostgreSQL it crosses the asyncio bridge (a greenlet switch
around each driver call). One read by id measured, per call (docs/benchmarks.md, seventh round):

| database | ``Connection.execute`` | the driver's cursor, with SQLAlchemy's processors |
| --- | --- | --- |
| SQLite | 0.053 ms | 0.028 ms |
| PostgreSQL (the API's CPU) | 0.33–0.39 ms | 0.14–0.19 ms |

A ``Prepared`` statement is compiled by SQLAlchemy once per dialect (and, for an INSERT or an
UPDATE, per set of parameters). Running it converts the parameters with SQLAlchemy's bind
processors for their types, sends the compiled SQL on the session's own connection and transaction,
and converts the values read with SQLAlchemy's result processors: callers get what
``Connection.execute`` would give them (``tests/api/test_prepared.py`` compares the two on every
prepared statement). The API prepares the statements every hot request runs: a row by id, the
tracking page's, the INSERT of a new row, an event's webhook deliveries (an INSERT … SELECT),
the upsert that hands out the year's next order or invoice number (an INSERT with RETURNING),
and a transition's UPDATE of the columns it changed.

What it leaves to SQLAlchemy: a session on another driver (SQLite through the async engine, in
memory), a connection with a ``before_cursor_execute`` listener (the tests that look at the SQL
sent), and any statement not prepared. A driver error is wrapped in SQLAlchemy's exception
classes as SQLAlchemy wraps it (``DBAPIError.instance``), so a lost database is still a 503; a
lost PostgreSQL connection is invalidated and the pool emptied, as SQLAlchemy does, so the next
requests reconnect (``tests/api/test_postgres_restart.py``).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Select, Update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.interfaces import Compiled
from sqlalchemy.exc import DBAPIError

Processor = Callable[[Any], Any]


class Rows(Sequence[Any]):
    """A prepared statement's rows: tuples whose values are also attributes (``row.id``), and
    how many rows it changed (an UPDATE's ``rowcount``, as the driver counts them)."""

    __slots__ = ("keys", "_rows", "rowcount")

    def __init__(self, keys: tuple[str, ...], rows: list[Any], rowcount: int = -1) -> None:
        self.keys = keys
        self._rows = rows
        self.rowcount = rowcount

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        return self._rows[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first_mapping(self) -> dict[str, Any] | None:
        """The first row as a dict of its column values, None when there is none."""
        if not self._rows:
            return None
        return dict(zip(self.keys, self._rows[0], strict=True))


class Form:
    """A prepared statement as one dialect runs it."""

    __slots__ = (
        "sql", "compiled", "positions", "bind_processors", "keys", "types", "result_processors",
        "row", "plain", "plan",
    )  # fmt: skip

    def __init__(
        self,
        compiled: Compiled,
        bind_processors: Mapping[str, Processor],
        columns: Sequence[Any],
        plain: bool = False,
    ) -> None:
        self.sql = compiled.string
        self.compiled = compiled
        # Bind names in the order of their placeholders (qmark), None for named placeholders.
        positions: list[str] | None = getattr(compiled, "positiontup", None)
        self.positions = tuple(positions) if positions is not None else None
        self.bind_processors = bind_processors
        self.keys = tuple(str(column.key) for column in columns)
        self.types = tuple(column.type.dialect_impl(compiled.dialect) for column in columns)
        # Worked out at the first run, from the driver's column types, as SQLAlchemy does.
        self.result_processors: tuple[Processor | None, ...] | None = None
        self.row = _row_class(self.keys)
        self.plain = plain
        # Each bind parameter as ``construct_params`` reads it, worked out once: the parameter
        # object, the key and the name it may be given under, and its type's processor. Its
        # general case (names escaped, parameters collected at compile time or rendered into
        # the SQL) is left to SQLAlchemy; it was a third of the arguments' CPU (a profile).
        general = bool(
            compiled.escaped_bind_names  # type: ignore[attr-defined]
            or getattr(compiled, "_collected_params", None)  # values given by ``.params()``
            or getattr(compiled, "_render_postcompile", False)
        )
        names: Mapping[Any, str] = getattr(compiled, "bind_names", {})
        self.plan: tuple[tuple[Any, str, str, Processor | None], ...] | None = (
            None
            if general
            else tuple(
                (bind, bind.key, name, bind_processors.get(name)) for bind, name in names.items()
            )
        )

    def arguments(self, parameters: Mapping[str, Any] | None) -> Any:
        """The driver's arguments: the statement's parameters, converted for their types."""
        plan = self.plan
        if plan is None or not parameters:
            return self._arguments_by_sqlalchemy(parameters)
        values: dict[str, Any] = {}
        for bind, key, name, process in plan:
            if key in parameters:
                value = parameters[key]
            elif name in parameters:
                value = parameters[name]
            elif bind.required:  # SQLAlchemy says which one is missing
                return self._arguments_by_sqlalchemy(parameters)
            else:
                value = bind.effective_value if bind.callable else bind.value
            values[name] = value if process is None else process(value)
        if self.positions is None:
            return values
        return [values[name] for name in self.positions]

    def _arguments_by_sqlalchemy(self, parameters: Mapping[str, Any] | None) -> Any:
        values = self.compiled.construct_params(parameters or {})
        assert values is not None
        for name, process in self.bind_processors.items():
            values[name] = process(values[name])
        if self.positions is None:
            return values
        return [values[name] for name in self.positions]

    def rows(
        self,
        description: Sequence[Any] | None,
        fetched: Sequence[Sequence[Any]],
        rowcount: int = -1,
    ) -> Rows:
        if not self.keys:
            return Rows((), [], rowcount)
        processors = self.result_processors
        if processors is None:
            dialect = self.compiled.dialect
            codes = [column[1] for column in description or ()] or [None] * len(self.types)
            processors = self.result_processors = tuple(
                kind.result_processor(dialect, code)
                for kind, code in zip(self.types, codes, strict=True)
            )
        make = self.row
        if self.plain and not any(processors):
            # Text columns (a list page's documents): the driver's rows as they are.
            return Rows(
                self.keys, fetched if isinstance(fetched, list) else list(fetched), rowcount
            )
        return Rows(
            self.keys,
            [
                make(*[p(v) if p is not None else v for p, v in zip(processors, row, strict=True)])
                for row in fetched
            ],
            rowcount,
        )


Statement = Select[Any] | Insert | Update


class Prepared:
    """A SELECT, an INSERT (an upsert too, with RETURNING) or an UPDATE that hot requests run
    again and again. ``plain_rows``: when no value read needs converting, its rows are the
    driver's tuples, read by position only (a list page's fifty)."""

    __slots__ = ("statement", "plain_rows", "_forms")

    def __init__(self, statement: Statement, *, plain_rows: bool = False) -> None:
        if not isinstance(statement, Select | Insert | Update):
            raise TypeError("Only a SELECT, an INSERT or an UPDATE can be prepared.")
        self.statement = statement
        self.plain_rows = plain_rows
        self._forms: dict[tuple[type[Dialect], str, tuple[str, ...] | None], Form] = {}

    def form(self, dialect: Dialect, parameters: Mapping[str, Any] | None) -> Form:
        # An INSERT, or an UPDATE's SET, is compiled for the columns it is given (one form per
        # set of parameters; an UPDATE's WHERE parameters are among them). A dialect's twin
        # with numbered placeholders ($1, for libpq itself) has forms of its own.
        columns = None if isinstance(self.statement, Select) else tuple(parameters or ())
        key = (type(dialect), dialect.paramstyle, columns)
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _compile(self.statement, dialect, columns, self.plain_rows)
        return form


def _compile(
    statement: Statement, dialect: Dialect, columns: tuple[str, ...] | None, plain: bool
) -> Form:
    compiled = statement.compile(
        dialect=dialect, column_keys=list(columns) if columns is not None else None
    )
    binds: dict[str, Any] = getattr(compiled, "binds", {})
    if any(bind.expanding for bind in binds.values()):
        raise TypeError("A prepared statement cannot have expanding (IN) parameters.")
    bind_processors = {}
    for name, bind in binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            bind_processors[name] = process
    # The columns read back: a SELECT's, or the RETURNING columns (none for most writes).
    selected = (
        list(statement.selected_columns)
        if isinstance(statement, Select)
        else list(getattr(compiled, "effective_returning", None) or ())
    )
    return Form(compiled, bind_processors, selected, plain)


def _row_class(keys: tuple[str, ...]) -> Callable[..., Any]:
    """Rows as tuples whose values are also attributes, as SQLAlchemy's rows are."""
    return collections.namedtuple("Row", keys) if keys else tuple


def observed(connection: Connection) -> bool:
    """Whether something listens to the SQL this connection sends (then SQLAlchemy sends it)."""
    return bool(connection.dispatch.before_cursor_execute)


def through_sqlalchemy(
    connection: Connection, prepared: Prepared, parameters: Mapping[str, Any] | None
) -> Rows:
    """``prepared`` run by SQLAlchemy, its rows as a ``Rows``."""
    result = connection.execute(prepared.statement, dict(parameters or {}))
    if not result.returns_rows:
        return Rows((), [], result.rowcount)
    keys = tuple(result.keys())
    make = _row_class(keys)
    return Rows(keys, [make(*row) for row in result], result.rowcount)


def run_on_sqlite(
    connection: Connection, prepared: Prepared, parameters: Mapping[str, Any] | None
) -> Rows:
    """``prepared`` on a blocking ``sqlite3`` connection, in its current transaction."""
    if observed(connection):
        return through_sqlalchemy(connection, prepared, parameters)
    driver = connection.connection.driver_connection
    assert driver is not None
    return run_on_driver(driver, connection.dialect, prepared, parameters)


def run_on_driver(
    driver: Any, dialect: Dialect, prepared: Prepared, parameters: Mapping[str, Any] | None
) -> Rows:
    """``prepared`` on a blocking DB-API connection of ``dialect``'s driver (``sqlite3``)."""
    form = prepared.form(dialect, parameters)
    arguments = form.arguments(parameters)
    try:
        cursor = driver.execute(form.sql, arguments)
        fetched = cursor.fetchall() if form.keys else []
    except dialect.loaded_dbapi.Error as error:
        raise wrapped_error(dialect, form, arguments, error, disconnect=False) from error
    return form.rows(cursor.description, fetched, cursor.rowcount)


async def run_on_psycopg_driver(
    driver: Any, dialect: Dialect, prepared: Prepared, parameters: Mapping[str, Any] | None
) -> Rows:
    """``prepared`` on a psycopg ``AsyncConnection``; a driver error comes out as SQLAlchemy's
    exception class, ``connection_invalidated`` when the connection was lost."""
    form = prepared.form(dialect, parameters)
    arguments = form.arguments(parameters)
    try:
        async with driver.cursor() as cursor:
            await cursor.execute(form.sql, arguments)
            fetched = await cursor.fetchall() if form.keys else []
            # The column types, read once per form (psycopg builds the description anew).
            description = cursor.description if form.result_processors is None else None
            rowcount = cursor.rowcount
    except dialect.loaded_dbapi.Error as error:
        disconnect = dialect.is_disconnect(error, driver, None)
        raise wrapped_error(dialect, form, arguments, error, disconnect=disconnect) from error
    return form.rows(description, fetched, rowcount)


def wrapped_error(
    dialect: Dialect, form: Form, arguments: Any, error: Exception, *, disconnect: bool
) -> DBAPIError:
    wrapped = DBAPIError.instance(
        form.sql,
        arguments,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
    )
    assert isinstance(wrapped, DBAPIError)
    return wrapped
