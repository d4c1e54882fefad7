"""A new row written by one INSERT of its own, without a unit-of-work flush.

A flush of one new row costs about five times its INSERT alone (docs/benchmarks.md). Append-only
rows (events, outbox messages) need nothing more; rows a request may still change are attached
to the session afterwards (``app/services/records.py`` ``insert``).
"""

from __future__ import annotations

import functools

from sqlalchemy import Insert, insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.repositories.scoping import table_of


@functools.cache
def _insert_into(model: type[SQLModel]) -> Insert:
    return insert(table_of(model))


async def insert_row(session: AsyncSession, row: SQLModel) -> None:
    """Write ``row`` with an INSERT built once per table; the session does not track it."""
    await session.exec(_insert_into(type(row)), params=row.model_dump())
