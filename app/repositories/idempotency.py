"""Idempotency records: looked up before a POST runs, written in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import IdempotencyRecord

# Built once: every POST carrying an Idempotency-Key looks its key up first.
_BY_KEY = select(IdempotencyRecord).where(
    col(IdempotencyRecord.scope) == bindparam("scope"),
    col(IdempotencyRecord.key) == bindparam("key"),
)


async def find(session: AsyncSession, scope: str, key: str) -> IdempotencyRecord | None:
    return (await session.exec(_BY_KEY, params={"scope": scope, "key": key})).first()


async def purge_older_than(session: AsyncSession, cutoff: datetime) -> int:
    statement = delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff)
    result = await session.exec(statement)
    return int(getattr(result, "rowcount", 0) or 0)
