"""Queries on repair orders and their events (always scoped to the caller's tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_prepared
from app.domain.actors import Actor
from app.domain.errors import Conflict
from app.models import Customer, OrderEvent, OrderNumberCounter, RepairOrder, Watch
from app.pagination import fetch_values_page
from app.prepared import Prepared
from app.repositories.counters import next_in_year
from app.repositories.rows import as_loaded, insert_values
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


# A transition's write: the columns it changed, on the row at the version it was read at.
_UPDATE_CHANGED = Prepared(
    sa.update(ORDERS)
    .where(ORDERS.c.id == sa.bindparam("where_id"))
    .where(ORDERS.c.version == sa.bindparam("where_version"))
)


class OrderForChange:
    """An order loaded to be changed by a lifecycle command.

    ``order`` is the table model the rules and effects work on, built from its row read by a
    prepared statement (``rows.as_loaded``) and tracked by no session: the ORM's loading and
    its unit of work were a third of a served transition's CPU (docs/benchmarks.md, eighth
    round). ``write`` sends the columns changed since the order was read (or last written) as
    one UPDATE, on the row at the version it was read at. As with the ORM, a change is an
    assignment: a JSON value changed in place is not seen.
    """

    __slots__ = ("order", "_written")

    def __init__(self, order: RepairOrder, values: dict[str, Any]) -> None:
        self.order = order
        self._written = values

    async def write(self, session: AsyncSession) -> None:
        current = self.order.__dict__
        changed = {
            name: current[name] for name, value in self._written.items() if current[name] != value
        }
        if not changed:
            return
        parameters = {
            **changed, "where_id": self.order.id, "where_version": self._written["version"]
        }  # fmt: skip
        result = await run_prepared(session, _UPDATE_CHANGED, parameters)
        if result.rowcount != 1:
            # The row is locked (PostgreSQL) or the writer is alone (SQLite): never expected.
            raise Conflict("The order changed while this request was changing it; try again.")
        self._written = {**self._written, **changed}


async def get_for_change(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID
) -> OrderForChange | None:
    """The order the actor may see, locked until the transaction ends (PostgreSQL), to change."""
    values = await get_scoped_values(session, RepairOrder, order_id, actor, for_update=True)
    if values is None:
        return None
    return OrderForChange(as_loaded(RepairOrder, dict(values)), values)


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
