"""The intervention tracking sheet: steps, time, anomalies, parts used, alerts to the manager."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import Conflict, NotFound
from app.domain.lifecycle import TERMINAL_STATUSES, OrderStatus
from app.domain.roles import Role
from app.domain.webhooks import EventType
from app.models import WorkLogEntry
from app.repositories import repair_orders as order_repository
from app.repositories import workshop as workshop_repository
from app.schemas.measurements import (
    AlertResolution,
    WorkLogEntryCreate,
    WorkLogEntryRead,
    WorkLogList,
)
from app.services import outbox


def present(entry: WorkLogEntry, actor: Actor) -> WorkLogEntryRead:
    read = WorkLogEntryRead.model_validate(entry, from_attributes=True)
    # Internal notes stay inside the workshop (OWASP API3: property-level authorisation).
    if actor.role is Role.PARTNER:
        read = read.model_copy(update={"note": None, "resolution_note": None})
    return read


async def add_entry(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    payload: WorkLogEntryCreate,
    now: datetime,
) -> WorkLogEntry:
    order = await order_repository.get(session, actor, order_id, for_update=True)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    status = OrderStatus(order.status)
    if status in TERMINAL_STATUSES or status is OrderStatus.AWAITING_ARRIVAL:
        raise Conflict("The work log is kept while the watch is in the workshop.")
    entry = WorkLogEntry(
        order_id=order.id,
        step=payload.step,
        note=payload.note,
        minutes_spent=payload.minutes_spent,
        anomaly=payload.anomaly,
        alert_manager=payload.alert_manager,
        parts_used=[p.model_dump() for p in payload.parts_used],
        author_key_id=actor.key_id,
        author_name=actor.name,
        created_at=now,
    )
    await workshop_repository.add(session, entry)
    if entry.alert_manager:
        await outbox.emit(
            session, EventType.WORK_LOG_ALERT, now, order=order,
            data={"entry_id": str(entry.id), "step": entry.step, "anomaly": entry.anomaly},
        )  # fmt: skip
    return entry


async def entries(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> WorkLogList:
    order = await order_repository.get(session, actor, order_id)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    rows = await workshop_repository.work_log_of(session, order.id)
    return WorkLogList(
        items=[present(row, actor) for row in rows],
        total_minutes=sum(row.minutes_spent for row in rows),
    )


async def open_alerts(session: AsyncSession, actor: Actor) -> WorkLogList:
    rows = await workshop_repository.open_alerts(session, actor)
    return WorkLogList(
        items=[present(row, actor) for row in rows],
        total_minutes=sum(row.minutes_spent for row in rows),
    )


async def resolve_alert(
    session: AsyncSession,
    actor: Actor,
    entry_id: uuid.UUID,
    resolution: AlertResolution,
    now: datetime,
) -> WorkLogEntry:
    entry = await workshop_repository.work_log_entry(session, entry_id, for_update=True)
    if entry is None or not entry.alert_manager:
        raise NotFound(f"No alert with id {entry_id}.")
    if entry.alert_resolved_at is not None:
        raise Conflict("This alert was already resolved.")
    entry.alert_resolved_at = now
    entry.alert_resolved_by = actor.name
    entry.resolution_note = resolution.note
    session.add(entry)
    await session.flush()
    return entry
