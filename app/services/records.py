"""Shared steps of every versioned resource: create, fetch-or-404, guarded update."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import NotFound, VersionMismatch
from app.repositories import rows
from app.repositories.scoping import get_scoped

Row = TypeVar("Row", bound=SQLModel)


async def fetch_or_404(
    session: AsyncSession,
    model: type[Row],
    row_id: uuid.UUID,
    actor: Actor,
    *,
    label: str,
    for_update: bool = False,
) -> Row:
    row = await get_scoped(session, model, row_id, actor, for_update=for_update)
    if row is None:
        raise NotFound(f"No {label} with id {row_id}.")
    return row


def check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise VersionMismatch(
            f"You sent version {expected} but the resource is at version {current}; read it again.",
            current_version=current,
        )


async def apply_update(
    session: AsyncSession,
    row: Row,
    changes: BaseModel,
    *,
    expected_version: int | None,
    now: datetime,
    exclude: Iterable[str] = (),
) -> Row:
    """Apply the fields the client sent, bump the version, and flush."""
    current: Any = row
    check_version(current.version, expected_version)
    values = changes.model_dump(exclude_unset=True, exclude=set(exclude))
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if changed:
        for name, value in changed.items():
            setattr(row, name, value)
        current.version += 1
        current.updated_at = now
        session.add(row)
        await session.flush()
    return row


async def add(session: AsyncSession, row: Row) -> Row:
    session.add(row)
    await session.flush()
    return row


async def insert(session: AsyncSession, row: Row) -> Row:
    """Write a new row at once with its own INSERT (``rows.insert_row``), then track it as if a
    flush had written it, so later changes to it are still written.

    One flush of several new rows cannot replace this: without relationships, the unit of work
    orders the inserts of different tables by class name, not by foreign key. So the write
    paths insert their new rows this way, parents first."""
    await rows.insert_row(session, row)
    make_transient_to_detached(row)
    session.add(row)
    return row
