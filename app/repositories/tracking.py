"""Lookups by public tracking token (the token is the credential: no tenant scoping)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_prepared
from app.domain.quoting import RevisionStatus
from app.models import OrderEvent, QuoteLineRow, QuoteRevision, RepairOrder, Watch
from app.prepared import Prepared, Rows
from app.repositories.scoping import table_of

_orders, _watches, _events = table_of(RepairOrder), table_of(Watch), table_of(OrderEvent)
_revisions, _lines = table_of(QuoteRevision), table_of(QuoteLineRow)

# The latest revision sent to the customer, never a draft in the making: a subquery the order's
# row joins, so a page without a quote costs no statement of its own.
_issued = _revisions.alias("issued")
_LATEST_ISSUED_REVISION_ID = (
    sa.select(_issued.c.id)
    .where(_issued.c.order_id == _orders.c.id, _issued.c.status != RevisionStatus.DRAFT.value)
    .order_by(_issued.c.number.desc())
    .limit(1)
    .correlate(_orders)
    .scalar_subquery()
)
# What the customer's page shows, read as plain values (no ORM instances) and built once, so
# the public page — the most requested one — costs two short queries (three with a quote).
_TRACKED_ORDER = Prepared(
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
        _revisions.c.id.label("quote_id"),
        _revisions.c.number.label("quote_number"),
        _revisions.c.status.label("quote_status"),
        _revisions.c.currency.label("quote_currency"),
        _revisions.c.vat_regime.label("quote_vat_regime"),
        _revisions.c.valid_until.label("quote_valid_until"),
        _revisions.c.diagnosis_fee_cents.label("quote_diagnosis_fee_cents"),
    )
    .select_from(
        _orders.outerjoin(_watches, _watches.c.id == _orders.c.watch_id).outerjoin(
            _revisions, _revisions.c.id == _LATEST_ISSUED_REVISION_ID
        )
    )
    .where(_orders.c.tracking_token == sa.bindparam("token"))
)
_STATUS_CHANGES = Prepared(
    sa.select(_events.c.from_status, _events.c.to_status, _events.c.occurred_at)
    .where(_events.c.order_id == sa.bindparam("order_id"))
    .order_by(_events.c.sequence)
)
_LINES_OF_REVISION = Prepared(
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


async def tracked_order(session: AsyncSession, token: str) -> dict[str, Any] | None:
    """The tracked order's public columns, its watch's brand and model, and the latest
    revision sent to the customer (``quote_*``, None when none was sent)."""
    return (await run_prepared(session, _TRACKED_ORDER, {"token": token})).first_mapping()


async def status_changes(
    session: AsyncSession, order_id: uuid.UUID
) -> list[tuple[str | None, str, datetime]]:
    """(from_status, to_status, occurred_at) of every event, oldest first."""
    rows = await run_prepared(session, _STATUS_CHANGES, {"order_id": order_id})
    return [(row.from_status, row.to_status, row.occurred_at) for row in rows]


async def quote_lines(session: AsyncSession, revision_id: uuid.UUID) -> Rows:
    """A revision's lines as plain values, in their drafted order."""
    return await run_prepared(session, _LINES_OF_REVISION, {"revision_id": revision_id})
