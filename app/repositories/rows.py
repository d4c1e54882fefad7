"""New rows written by one INSERT of their own, without a unit-of-work flush.

A flush of one new row costs about five times its INSERT alone (docs/benchmarks.md). A row that
nothing changes later in the request (events and outbox messages, which are append-only; a new
order's new customer and watch) needs nothing more, not even an instance: building a table model
costs more than its INSERT (0.03–0.12 ms, SQLAlchemy's instrumentation of every attribute), so
it is written from its column values (``new_values``). Rows a request may still change are
instances, attached to the session afterwards (``app/services/records.py`` ``insert``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import insert
from sqlalchemy.orm import instrumentation
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_prepared
from app.prepared import Prepared
from app.repositories.scoping import table_of

Row = TypeVar("Row", bound=SQLModel)

# A field of a table model: its name, its default value, its default factory, and whether a
# new row must be given a value for it.
_Field = tuple[str, Any, Callable[[], Any] | None, bool]


@functools.cache
def _insert_into(model: type[SQLModel]) -> Prepared:
    # Compiled once per set of columns and run on the driver's cursor (app/prepared.py).
    return Prepared(insert(table_of(model)))


@functools.cache
def _fields(model: type[SQLModel]) -> tuple[_Field, ...]:
    fields: list[_Field] = []
    for name, info in model.model_fields.items():
        if info.default_factory_takes_validated_data:
            raise TypeError(f"{model.__name__}.{name}: a default made from other fields.")
        factory = cast(Callable[[], Any] | None, info.default_factory)
        fields.append((name, info.default, factory, info.is_required()))
    return tuple(fields)


def new_values(model: type[SQLModel], /, **given: Any) -> dict[str, Any]:
    """The column values of a new row of ``model``: ``given``, then the model's defaults (a
    new id, the current time…), as ``model(**given).model_dump()`` would give them."""
    values: dict[str, Any] = {}
    for name, default, factory, required in _fields(model):
        if name in given:
            values[name] = given.pop(name)
        elif factory is not None:
            values[name] = factory()
        elif required:
            raise TypeError(f"A new {model.__name__} needs a value for {name}.")
        else:
            values[name] = default
    if given:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(given))}.")
    return values


async def insert_values(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], *, deferred: bool = False
) -> None:
    """Write a row of ``model`` from its column values (``new_values``), as a Core statement:
    the ORM's execution layer has nothing to add to an INSERT of known values. ``deferred``:
    its error may come with the transaction's next statement (``run_prepared``)."""
    await run_prepared(session, _insert_into(model), values, deferred=deferred)


async def insert_new(
    session: AsyncSession, model: type[SQLModel], /, *, deferred: bool = False, **given: Any
) -> dict[str, Any]:
    """Write a new row of ``model`` from ``given`` and the model's defaults; its column values
    (the new id among them). ``deferred``: as for ``insert_values``."""
    values = new_values(model, **given)
    await insert_values(session, model, values, deferred=deferred)
    return values


async def insert_row(session: AsyncSession, row: SQLModel) -> None:
    """Write ``row`` with an INSERT built once per table; the session does not track it."""
    await insert_values(session, type(row), row.model_dump())


def as_loaded(model: type[Row], values: dict[str, Any]) -> Row:
    """A table model holding the column values of its row, built as SQLAlchemy's loader builds
    a query's instances: the values put in place at once, none of them set through the
    attribute instrumentation (which makes building a table model cost more than its INSERT).
    No session tracks it: whoever changes it writes the change (``OrderForChange``)."""
    instance = _class_manager(model).new_instance()
    instance.__dict__.update(values)
    return cast(Row, instance)


@functools.cache
def _class_manager(model: type[SQLModel]) -> Any:
    return instrumentation.manager_of_class(model)
