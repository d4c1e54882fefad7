"""Lookups by public tracking token (the token is the credential: no tenant scoping)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, RowMapping
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_core
from app.domain.quoting import RevisionStatus
from app.models import OrderEvent, QuoteLineRow, QuoteRevision, RepairOrder, Watch
from app.repositories.scoping import table_of

_orders, _watches, _events = table_of(RepairOrder), table_of(Watch), table_of(OrderEvent)
_revisions, _lines = table_of(QuoteRevision), table_of(QuoteLineRow)

# What the customer's page shows, read as plain values (no ORM instances) and built once, so
# the public page — the most requested one — costs two short queries.
_ORDER_WITH_WATCH = (
    sa.select(
        _orders.c.id,
        _orders.c.number,
        _orders.c.status,
        _orders.c.outcome,
        _orders.c.promised_date,
        _orders.c.currency,
        _orders.c.deposit_cents,
        _orders.c.preapproved_ceiling_cents,
        _orders.c.approved_total_cents,
        _orders.c.fee_due_cents,
        _orders.c.free_of_charge,
        _watches.c.brand.label("watch_brand"),
        _watches.c.model.label("watch_model"),
    )
    .select_from(_orders.outerjoin(_watches, _watches.c.id == _orders.c.watch_id))
    .where(_orders.c.tracking_token == sa.bindparam("token"))
)
_STATUS_CHANGES = (
    sa.select(_events.c.from_status, _events.c.to_status, _events.c.occurred_at)
    .where(_events.c.order_id == sa.bindparam("order_id"))
    .order_by(_events.c.sequence)
)
# The customer sees the latest revision sent to them, never a draft in the making.
_LATEST_ISSUED_REVISION = (
    sa.select(
        _revisions.c.id,
        _revisions.c.number,
        _revisions.c.status,
        _revisions.c.currency,
        _revisions.c.vat_regime,
        _revisions.c.valid_until,
        _revisions.c.diagnosis_fee_cents,
    )
    .where(
        _revisions.c.order_id == sa.bindparam("order_id"),
        _revisions.c.status != RevisionStatus.DRAFT.value,
    )
    .order_by(_revisions.c.number.desc())
    .limit(1)
)
_LINES_OF_REVISION = (
    sa.select(
        _lines.c.id,
        _lines.c.kind,
        _lines.c.code,
        _lines.c.description,
        _lines.c.quantity,
        _lines.c.unit_price_cents,
        _lines.c.vat_rate_bp,
        _lines.c.mandatory,
        _lines.c.warranty_months,
    )
    .where(_lines.c.revision_id == sa.bindparam("revision_id"))
    .order_by(_lines.c.position)
)


async def order_by_token(session: AsyncSession, token: str) -> RepairOrder | None:
    statement = select(RepairOrder).where(col(RepairOrder.tracking_token) == token)
    return (await session.exec(statement)).first()


async def tracked_order(session: AsyncSession, token: str) -> RowMapping | None:
    """The tracked order's public columns and its watch's brand and model."""
    result = await run_core(session, _ORDER_WITH_WATCH, {"token": token})
    return result.mappings().first()


async def status_changes(
    session: AsyncSession, order_id: uuid.UUID
) -> list[tuple[str | None, str, datetime]]:
    """(from_status, to_status, occurred_at) of every event, oldest first."""
    result = await run_core(session, _STATUS_CHANGES, {"order_id": order_id})
    return [(row.from_status, row.to_status, row.occurred_at) for row in result]


async def latest_issued_quote(
    session: AsyncSession, order_id: uuid.UUID
) -> tuple[Row[Any], list[Row[Any]]] | None:
    """The latest revision sent to the customer and its lines, as plain values: the public
    page reads one revision where the workshop's views load them all as ORM instances."""
    result = await run_core(session, _LATEST_ISSUED_REVISION, {"order_id": order_id})
    revision = result.first()
    if revision is None:
        return None
    lines = await run_core(session, _LINES_OF_REVISION, {"revision_id": revision.id})
    return revision, list(lines)
