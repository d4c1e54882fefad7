"""Idempotency records: looked up before a POST runs, written in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import IdempotencyRecord


async def find(session: AsyncSession, scope: str, key: str) -> IdempotencyRecord | None:
    statement = select(IdempotencyRecord).where(
        col(IdempotencyRecord.scope) == scope, col(IdempotencyRecord.key) == key
    )
    return (await session.exec(statement)).first()


async def purge_older_than(session: AsyncSession, cutoff: datetime) -> int:
    statement = delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff)
    result = await session.exec(statement)
    return int(getattr(result, "rowcount", 0) or 0)
