"""Queries on API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import ApiKey
from app.pagination import fetch_page


async def by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return (await session.exec(select(ApiKey).where(col(ApiKey.key_hash) == key_hash))).first()


async def get(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def add(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    return key


async def get_for_update(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    statement = select(ApiKey).where(col(ApiKey.id) == key_id).with_for_update()
    return (await session.exec(statement)).first()


async def list_page(
    session: AsyncSession, *, include_revoked: bool, limit: int, cursor: str | None
) -> tuple[Sequence[ApiKey], str | None]:
    statement = select(ApiKey)
    if not include_revoked:
        statement = statement.where(col(ApiKey.revoked_at).is_(None))
    return await fetch_page(
        session,
        statement,
        created_at_column=col(ApiKey.created_at),
        id_column=col(ApiKey.id),
        limit=limit,
        cursor=cursor,
        filters={"include_revoked": include_revoked},
    )
