"""Tenant scoping: a partner's queries only ever reach its own rows.

Every repository builds its statements from ``scoped_select`` or loads through ``get_scoped``, so
no query can forget the partner filter (OWASP API1:2023). Staff roles see every row.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.db import run_prepared
from app.domain.actors import Actor
from app.domain.roles import Role
from app.prepared import Prepared

TenantRow = TypeVar("TenantRow", bound=SQLModel)


def partner_scope(actor: Actor) -> uuid.UUID | None:
    """The partner whose rows the actor is confined to; None for staff."""
    if actor.role is Role.PARTNER:
        if actor.partner_id is None:
            raise PermissionError("a partner key without a partner id cannot read anything")
        return actor.partner_id
    return None


def scoped_select(model: type[TenantRow], actor: Actor) -> SelectOfScalar[TenantRow]:
    statement = select(model)
    partner_id = partner_scope(actor)
    if partner_id is not None:
        statement = statement.where(col(_partner_column(model)) == partner_id)
    return statement


async def get_scoped(
    session: AsyncSession,
    model: type[TenantRow],
    row_id: uuid.UUID,
    actor: Actor,
    *,
    for_update: bool = False,
) -> TenantRow | None:
    parameters = by_id_parameters(row_id, actor)
    statement = _instance_by_id(model, "partner_id" in parameters, for_update)
    return (await session.exec(statement, params=parameters)).first()


def by_id_parameters(row_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    """The bound values of a load by id: the id, and the partner for a partner's key."""
    partner_id = partner_scope(actor)
    if partner_id is None:
        return {"row_id": row_id}
    return {"row_id": row_id, "partner_id": partner_id}


@functools.cache
def _instance_by_id(
    model: type[TenantRow], scoped: bool, for_update: bool
) -> SelectOfScalar[TenantRow]:
    # Built once per model and shape: every change starts by loading (and locking) its row,
    # and building the select and its cache key cost as much as running it.
    statement = select(model).where(col(_id_column(model)) == sa.bindparam("row_id"))
    if scoped:
        statement = statement.where(col(_partner_column(model)) == sa.bindparam("partner_id"))
    return statement.with_for_update() if for_update else statement


def table_of(model: type[SQLModel]) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


def scoped_table_select(model: type[SQLModel], actor: Actor) -> sa.Select[Any]:
    """``scoped_select`` for the hot read paths: plain rows of the table, no ORM instances.

    Loading ORM instances (identity map, attribute instrumentation, pydantic's table-model
    set-up) is most of a read's database cost, and a representation needs none of it
    (docs/benchmarks.md).
    """
    table = table_of(model)
    statement = sa.select(table)
    partner_id = partner_scope(actor)
    if partner_id is not None:
        statement = statement.where(table.c.partner_id == partner_id)
    return statement


@functools.cache
def _row_by_id(table: sa.Table, scoped: bool, for_update: bool = False) -> Prepared:
    # Built and compiled once (app/prepared.py): every read by id runs it, and every
    # transition, locking the row on PostgreSQL (SQLite has one writer at a time).
    statement = sa.select(table).where(table.c.id == sa.bindparam("row_id"))
    if scoped:
        statement = statement.where(table.c.partner_id == sa.bindparam("partner_id"))
    return Prepared(statement.with_for_update() if for_update else statement)


async def get_scoped_values(
    session: AsyncSession,
    model: type[SQLModel],
    row_id: uuid.UUID,
    actor: Actor,
    *,
    for_update: bool = False,
) -> dict[str, Any] | None:
    """The column values of one row the actor may see, without building an ORM instance."""
    parameters = by_id_parameters(row_id, actor)
    statement = _row_by_id(table_of(model), "partner_id" in parameters, for_update)
    return (await run_prepared(session, statement, parameters)).first_mapping()


def _partner_column(model: type[SQLModel]) -> Any:
    return model.partner_id  # type: ignore[attr-defined]


def _id_column(model: type[SQLModel]) -> Any:
    return model.id  # type: ignore[attr-defined]
