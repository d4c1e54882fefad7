"""Lookups by public tracking token (the token is the credential: no tenant scoping)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import RepairOrder, Watch


async def order_by_token(session: AsyncSession, token: str) -> RepairOrder | None:
    statement = select(RepairOrder).where(col(RepairOrder.tracking_token) == token)
    return (await session.exec(statement)).first()


async def watch_of(session: AsyncSession, order: RepairOrder) -> Watch | None:
    return await session.get(Watch, order.watch_id)
