"""Queries on partner boutiques (staff only: partners never list each other)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import Partner
from app.pagination import fetch_page


async def get(
    session: AsyncSession, partner_id: uuid.UUID, *, for_update: bool = False
) -> Partner | None:
    statement = select(Partner).where(col(Partner.id) == partner_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def list_page(
    session: AsyncSession, *, q: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[Partner], str | None]:
    statement = select(Partner)
    if q:
        statement = statement.where(col(Partner.name).ilike(f"%{q}%"))
    return await fetch_page(
        session,
        statement,
        created_at_column=col(Partner.created_at),
        id_column=col(Partner.id),
        limit=limit,
        cursor=cursor,
        filters={"q": q},
    )
