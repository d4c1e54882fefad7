"""Queries on tolerance profiles, measurement sessions and work-log entries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.models import MeasurementSession, RepairOrder, ToleranceProfileRow, WorkLogEntry
from app.repositories.scoping import partner_scope

Row = TypeVar("Row", bound=SQLModel)


async def add(session: AsyncSession, row: Row) -> Row:
    session.add(row)
    await session.flush()
    return row


async def all_profiles(session: AsyncSession) -> Sequence[ToleranceProfileRow]:
    statement = select(ToleranceProfileRow).order_by(col(ToleranceProfileRow.code))
    return (await session.exec(statement)).all()


async def active_profiles(session: AsyncSession) -> Sequence[ToleranceProfileRow]:
    statement = select(ToleranceProfileRow).where(col(ToleranceProfileRow.active).is_(True))
    return (await session.exec(statement)).all()


async def profile_by_code(
    session: AsyncSession, code: str, *, for_update: bool = False
) -> ToleranceProfileRow | None:
    statement = select(ToleranceProfileRow).where(col(ToleranceProfileRow.code) == code)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def sessions_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[MeasurementSession]:
    statement = (
        select(MeasurementSession)
        .where(col(MeasurementSession.order_id) == order_id)
        .order_by(col(MeasurementSession.measured_at), col(MeasurementSession.created_at))
    )
    return (await session.exec(statement)).all()


async def work_log_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[WorkLogEntry]:
    statement = (
        select(WorkLogEntry)
        .where(col(WorkLogEntry.order_id) == order_id)
        .order_by(col(WorkLogEntry.created_at))
    )
    return (await session.exec(statement)).all()


async def open_alerts(session: AsyncSession, actor: Actor) -> Sequence[WorkLogEntry]:
    statement = (
        select(WorkLogEntry)
        .join(RepairOrder, col(RepairOrder.id) == col(WorkLogEntry.order_id))
        .where(
            col(WorkLogEntry.alert_manager).is_(True), col(WorkLogEntry.alert_resolved_at).is_(None)
        )
        .order_by(col(WorkLogEntry.created_at))
    )
    partner_id = partner_scope(actor)
    if partner_id is not None:
        statement = statement.where(col(RepairOrder.partner_id) == partner_id)
    return (await session.exec(statement)).all()


async def work_log_entry(
    session: AsyncSession, entry_id: uuid.UUID, *, for_update: bool = False
) -> WorkLogEntry | None:
    statement = select(WorkLogEntry).where(col(WorkLogEntry.id) == entry_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()
