"""Rows written as JSON by the database itself, in the formats of the API's representations.

A list page presents fifty orders of about forty values each. Read as Python objects, each of
those values is converted by the driver and SQLAlchemy (a UUID, an aware datetime, a decoded
JSON document), then encoded back into the JSON the client gets: most of a list's CPU
(docs/benchmarks.md, tenth round). ``json_fields`` asks the database to write the columns as a
JSON object text instead, which Python then passes through untouched.

The database writes each value as pydantic writes the response model's field:

- UUIDs in their hyphenated form (SQLite stores them as 32 hexadecimal digits);
- times in UTC as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, the microseconds only when there are any
  (SQLite stores them naive, in UTC, as ``YYYY-MM-DD HH:MM:SS.ffffff``);
- dates as ``YYYY-MM-DD``; booleans as ``true``/``false``; JSON documents as JSON (not as a
  string holding JSON); numbers and text as they are.

``json_field_rows`` is the same as an aggregate: the rows a (correlated) subquery selects, as the
text of one JSON array of such objects, in no particular order (SQLite 3.40 cannot order an
aggregate's input). The tracking page reads an order's events and its quote's lines that way, in
the order's own statement.

``tests/api/test_json_rows.py`` holds both databases to what the model writes, value type by
value type, and ``tests/api/test_order_representation.py`` holds a listed order to the one a
read of it answers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.models.base import UTCDateTime

# A function takes at most 100 arguments on PostgreSQL (two per field here).
MAX_FIELDS = 50


class json_fields(FunctionElement[str]):  # noqa: N801 - named like SQLAlchemy's SQL functions
    """``json_fields(table.c.a, table.c.b, …)``: the columns as the text of one JSON object,
    ``{"a": …, "b": …}``, keyed by the columns' names, in their order."""

    type = sa.String()
    inherit_cache = True
    name = "json_fields"

    def __init__(self, *columns: sa.ColumnElement[Any]) -> None:
        if not columns or len(columns) > MAX_FIELDS:
            raise ValueError(f"json_fields takes 1 to {MAX_FIELDS} columns")
        super().__init__(*columns)


class json_field_rows(json_fields):  # noqa: N801
    """``json_field_rows(table.c.a, …)``, an aggregate: the selected rows' columns as the text
    of a JSON array of objects, ``[{"a": …}, …]`` (``[]`` for no row), in no given order."""

    inherit_cache = True
    name = "json_field_rows"


def _pairs(element: json_fields, compiler: SQLCompiler, value: Any, **kw: Any) -> str:
    parts = []
    for column in element.clauses:
        key = column.key
        sql = compiler.process(column, **kw)
        parts.append(f"'{key}', {value(column.type, sql)}")
    return ", ".join(parts)


def _sqlite_value(kind: sa.types.TypeEngine[Any], sql: str) -> str:
    # A missing value is tested first: SQLite would work the text functions out on the NULL.
    if isinstance(kind, sa.Uuid):
        return (
            f"CASE WHEN {sql} IS NULL THEN NULL ELSE "
            f"substr({sql}, 1, 8) || '-' || substr({sql}, 9, 4) || '-' || "
            f"substr({sql}, 13, 4) || '-' || substr({sql}, 17, 4) || '-' || substr({sql}, 21) END"
        )
    if isinstance(kind, UTCDateTime):
        return (
            f"CASE WHEN {sql} IS NULL THEN NULL "
            f"WHEN substr({sql}, 20) = '.000000' "
            f"THEN substr({sql}, 1, 10) || 'T' || substr({sql}, 12, 8) || 'Z' "
            f"ELSE substr({sql}, 1, 10) || 'T' || substr({sql}, 12) || 'Z' END"
        )
    if isinstance(kind, sa.JSON):
        return f"json({sql})"
    if isinstance(kind, sa.Boolean):
        return f"json(CASE WHEN {sql} IS NULL THEN 'null' WHEN {sql} THEN 'true' ELSE 'false' END)"
    return sql


def _postgresql_value(kind: sa.types.TypeEngine[Any], sql: str) -> str:
    if isinstance(kind, UTCDateTime):
        return (
            f"replace(to_char({sql} AT TIME ZONE 'UTC', "
            f"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"
        )
    return sql


@compiles(json_fields, "sqlite")
def _compile_sqlite(element: json_fields, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({_pairs(element, compiler, _sqlite_value, **kw)})"


@compiles(json_fields, "postgresql")
def _compile_postgresql(element: json_fields, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({_pairs(element, compiler, _postgresql_value, **kw)})::text"


@compiles(json_field_rows, "sqlite")
def _compile_rows_sqlite(element: json_field_rows, compiler: SQLCompiler, **kw: Any) -> str:
    # json_object's result keeps its JSON subtype within the expression: objects, not strings.
    return f"json_group_array(json_object({_pairs(element, compiler, _sqlite_value, **kw)}))"


@compiles(json_field_rows, "postgresql")
def _compile_rows_postgresql(element: json_field_rows, compiler: SQLCompiler, **kw: Any) -> str:
    pairs = _pairs(element, compiler, _postgresql_value, **kw)
    return f"coalesce(json_agg(json_build_object({pairs})), '[]'::json)::text"
