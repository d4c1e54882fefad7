"""Queries on watches (always scoped to the caller's tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, or_
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.models import Watch
from app.pagination import fetch_page
from app.repositories.scoping import scoped_select


@dataclass(frozen=True)
class WatchFilters:
    q: str | None = None
    customer_id: uuid.UUID | None = None
    serial: str | None = None
    movement_type: str | None = None
    created_after: datetime | None = None
    updated_after: datetime | None = None


async def list_page(
    session: AsyncSession,
    actor: Actor,
    filters: WatchFilters,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Watch], str | None]:
    statement = scoped_select(Watch, actor)
    if filters.q:
        pattern = f"%{filters.q}%"
        statement = statement.where(
            or_(
                col(Watch.brand).ilike(pattern),
                col(Watch.model).ilike(pattern),
                col(Watch.reference).ilike(pattern),
                col(Watch.serial).ilike(pattern),
            )
        )
    if filters.customer_id:
        statement = statement.where(col(Watch.customer_id) == filters.customer_id)
    if filters.serial:
        statement = statement.where(col(Watch.serial) == filters.serial)
    if filters.movement_type:
        statement = statement.where(col(Watch.movement_type) == filters.movement_type)
    if filters.created_after:
        statement = statement.where(col(Watch.created_at) > filters.created_after)
    if filters.updated_after:
        statement = statement.where(col(Watch.updated_at) > filters.updated_after)
    return await fetch_page(
        session,
        statement,
        created_at_column=col(Watch.created_at),
        id_column=col(Watch.id),
        limit=limit,
        cursor=cursor,
        filters=vars(filters),
    )
