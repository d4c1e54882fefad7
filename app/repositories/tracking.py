"""Lookups by public tracking token (the token is the credential: no tenant scoping)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_prepared
from app.domain.quoting import RevisionStatus
from app.models import OrderEvent, QuoteLineRow, QuoteRevision, RepairOrder, Watch
from app.prepared import Prepared
from app.repositories.json_rows import json_field_rows
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


@dataclass(slots=True)
class QuoteLineValues:
    """A quote line's stored values, as the tracking page reads them (``LineValues``)."""

    id: uuid.UUID
    kind: str
    code: str
    description: str
    quantity: int
    unit_price_cents: int
    vat_rate_bp: int
    mandatory: bool
    warranty_months: int


# The order's events and the quote's lines, each as the text of one JSON array the database
# writes (``json_field_rows``), in no given order: ``sequence`` and ``position`` order them.
_EVENTS_OF_ORDER = (
    sa.select(
        json_field_rows(
            _events.c.sequence, _events.c.from_status, _events.c.to_status, _events.c.occurred_at
        )
    )
    .where(_events.c.order_id == _orders.c.id)
    .correlate(_orders)
    .scalar_subquery()
)
_LINES_OF_QUOTE = (
    sa.select(
        json_field_rows(
            _lines.c.position,
            *(_lines.c[line_field.name] for line_field in fields(QuoteLineValues)),
        )
    )
    .where(_lines.c.revision_id == _revisions.c.id)
    .correlate(_revisions)
    .scalar_subquery()
)
# What the customer's page shows, read as plain values (no ORM instances) in one statement
# built once: the public page is the most requested one, and on PostgreSQL each statement is a
# round trip whose handling costs the API more CPU than the database's work (docs/benchmarks.md,
# eleventh round).
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
        _EVENTS_OF_ORDER.label("events"),
        _revisions.c.id.label("quote_id"),
        _revisions.c.number.label("quote_number"),
        _revisions.c.status.label("quote_status"),
        _revisions.c.currency.label("quote_currency"),
        _revisions.c.vat_regime.label("quote_vat_regime"),
        _revisions.c.valid_until.label("quote_valid_until"),
        _revisions.c.diagnosis_fee_cents.label("quote_diagnosis_fee_cents"),
        _LINES_OF_QUOTE.label("quote_lines"),
    )
    .select_from(
        _orders.outerjoin(_watches, _watches.c.id == _orders.c.watch_id).outerjoin(
            _revisions, _revisions.c.id == _LATEST_ISSUED_REVISION_ID
        )
    )
    .where(_orders.c.tracking_token == sa.bindparam("token"))
)


@dataclass(frozen=True, slots=True)
class TrackedOrder:
    """The tracked order's public columns, its watch's brand and model and the latest revision
    sent to the customer (``quote_*``, None when none was sent) as ``values``; its status
    changes, oldest first; and that revision's lines, in their drafted order."""

    values: dict[str, Any]
    status_changes: list[tuple[str | None, str, datetime]]
    quote_lines: list[QuoteLineValues]


async def order_by_token(session: AsyncSession, token: str) -> RepairOrder | None:
    statement = select(RepairOrder).where(col(RepairOrder.tracking_token) == token)
    return (await session.exec(statement)).first()


async def tracked_order(session: AsyncSession, token: str) -> TrackedOrder | None:
    """The order tracked by ``token``, with its status changes and its sent quote's lines."""
    values = (await run_prepared(session, _TRACKED_ORDER, {"token": token})).first_mapping()
    if values is None:
        return None
    events = sorted(json.loads(values.pop("events")), key=itemgetter("sequence"))
    lines = sorted(json.loads(values.pop("quote_lines")), key=itemgetter("position"))
    for line in lines:
        del line["position"]  # an order, not a value of the line
    return TrackedOrder(
        values,
        [
            (event["from_status"], event["to_status"], datetime.fromisoformat(event["occurred_at"]))
            for event in events
        ],
        [QuoteLineValues(**{**line, "id": uuid.UUID(line["id"])}) for line in lines],
    )
