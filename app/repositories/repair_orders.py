"""Queries on repair orders and their events (always scoped to the caller's tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.models import Customer, OrderEvent, OrderNumberCounter, RepairOrder, Watch
from app.pagination import fetch_values_page
from app.repositories.counters import next_in_year
from app.repositories.rows import insert_values
from app.repositories.scoping import (
    get_scoped,
    get_scoped_values,
    scoped_table_select,
    table_of,
)

ORDERS = table_of(RepairOrder)


async def next_order_sequence(session: AsyncSession, year: int) -> int:
    return await next_in_year(session, OrderNumberCounter, year)


async def get(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, *, for_update: bool = False
) -> RepairOrder | None:
    return await get_scoped(session, RepairOrder, order_id, actor, for_update=for_update)


async def get_values(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID
) -> dict[str, Any] | None:
    """The order's column values, for presenting it (no ORM instance)."""
    return await get_scoped_values(session, RepairOrder, order_id, actor)


async def append_event(session: AsyncSession, event: dict[str, Any]) -> dict[str, Any]:
    """Write the pending change the event records, then the event from its column values
    (``rows.new_values``): the log is append-only and nothing needs to track it."""
    await session.flush()
    await insert_values(session, OrderEvent, event)
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
) -> tuple[Sequence[dict[str, Any]], str | None]:
    """One page of orders, each as its column values."""
    orders = ORDERS.c
    statement = scoped_table_select(RepairOrder, actor)
    if filters.statuses:
        statement = statement.where(orders.status.in_(filters.statuses))
    for column, value in (
        (orders.customer_id, filters.customer_id),
        (orders.watch_id, filters.watch_id),
        (orders.partner_id, filters.partner_id),
        (orders.technician_key_id, filters.technician),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.created_after:
        statement = statement.where(orders.created_at > filters.created_after)
    if filters.created_before:
        statement = statement.where(orders.created_at < filters.created_before)
    if filters.updated_after:
        statement = statement.where(orders.updated_at > filters.updated_after)
    if filters.promised_before:
        statement = statement.where(orders.promised_date < filters.promised_before)
    if filters.q:
        pattern = f"%{filters.q}%"
        customers, watches = table_of(Customer).c, table_of(Watch).c
        statement = statement.where(
            or_(
                orders.number.ilike(pattern),
                orders.customer_id.in_(select(customers.id).where(customers.name.ilike(pattern))),
                orders.watch_id.in_(select(watches.id).where(watches.serial.ilike(pattern))),
            )
        )
    return await fetch_values_page(
        session,
        statement,
        created_at_column=orders.created_at,
        id_column=orders.id,
        limit=limit,
        cursor=cursor,
        filters={**vars(filters), "statuses": sorted(filters.statuses)},
    )
