"""Tenant scoping: a partner's queries only ever reach its own rows.

Every repository builds its statements from ``scoped_select`` or loads through ``get_scoped``, so
no query can forget the partner filter (OWASP API1:2023). Staff roles see every row.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.domain.actors import Actor
from app.domain.roles import Role

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
    statement = scoped_select(model, actor).where(col(_id_column(model)) == row_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


def _partner_column(model: type[SQLModel]) -> Any:
    return model.partner_id  # type: ignore[attr-defined]


def _id_column(model: type[SQLModel]) -> Any:
    return model.id  # type: ignore[attr-defined]
