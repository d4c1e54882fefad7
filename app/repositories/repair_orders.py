"""Queries on repair orders and their events (always scoped to the caller's tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.models import Customer, OrderEvent, OrderNumberCounter, RepairOrder, Watch
from app.pagination import fetch_page
from app.repositories.counters import next_in_year
from app.repositories.scoping import get_scoped, scoped_select


async def next_order_sequence(session: AsyncSession, year: int) -> int:
    return await next_in_year(session, OrderNumberCounter, year)


async def get(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, *, for_update: bool = False
) -> RepairOrder | None:
    return await get_scoped(session, RepairOrder, order_id, actor, for_update=for_update)


async def add(session: AsyncSession, order: RepairOrder) -> RepairOrder:
    session.add(order)
    await session.flush()
    return order


async def append_event(session: AsyncSession, event: OrderEvent) -> OrderEvent:
    session.add(event)
    await session.flush()
    return event


async def events_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[OrderEvent]:
    statement = (
        select(OrderEvent)
        .where(col(OrderEvent.order_id) == order_id)
        .order_by(col(OrderEvent.sequence))
    )
    return (await session.exec(statement)).all()


@dataclass(frozen=True)
class OrderFilters:
    statuses: tuple[str, ...] = field(default_factory=tuple)
    customer_id: uuid.UUID | None = None
    watch_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    technician: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    promised_before: date | None = None
    q: str | None = None


async def list_page(
    session: AsyncSession, actor: Actor, filters: OrderFilters, *, limit: int, cursor: str | None
) -> tuple[Sequence[RepairOrder], str | None]:
    statement = scoped_select(RepairOrder, actor)
    if filters.statuses:
        statement = statement.where(col(RepairOrder.status).in_(filters.statuses))
    for column, value in (
        (RepairOrder.customer_id, filters.customer_id),
        (RepairOrder.watch_id, filters.watch_id),
        (RepairOrder.partner_id, filters.partner_id),
        (RepairOrder.technician_key_id, filters.technician),
    ):
        if value is not None:
            statement = statement.where(col(column) == value)
    if filters.created_after:
        statement = statement.where(col(RepairOrder.created_at) > filters.created_after)
    if filters.created_before:
        statement = statement.where(col(RepairOrder.created_at) < filters.created_before)
    if filters.updated_after:
        statement = statement.where(col(RepairOrder.updated_at) > filters.updated_after)
    if filters.promised_before:
        statement = statement.where(col(RepairOrder.promised_date) < filters.promised_before)
    if filters.q:
        pattern = f"%{filters.q}%"
        matching_customers = select(Customer.id).where(col(Customer.name).ilike(pattern))
        matching_watches = select(Watch.id).where(col(Watch.serial).ilike(pattern))
        statement = statement.where(
            or_(
                col(RepairOrder.number).ilike(pattern),
                col(RepairOrder.customer_id).in_(matching_customers),
                col(RepairOrder.watch_id).in_(matching_watches),
            )
        )
    return await fetch_page(
        session,
        statement,
        created_at_column=col(RepairOrder.created_at),
        id_column=col(RepairOrder.id),
        limit=limit,
        cursor=cursor,
        filters={**vars(filters), "statuses": sorted(filters.statuses)},
    )
