"""The customer's view through the tracking link, and the rotation of that link."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.amounts import Money
from app.domain.errors import NotFound
from app.domain.language import Language
from app.domain.lifecycle import Action, OrderStatus
from app.domain.quoting import VatRegime, fee_line, line_total, mandatory_only, totals
from app.domain.roles import Role
from app.domain.tracking import StatusChange, label, timeline
from app.models import RepairOrder
from app.repositories import tracking as tracking_repository
from app.schemas.tracking import (
    TrackingDecision,
    TrackingView,
)
from app.schemas.transitions import ApproveQuoteCommand, DeclineQuoteCommand
from app.services import quotes as quote_service
from app.services import transitions as transition_service
from app.services.billing import billing
from app.services.quotes import LineValues
from app.services.repair_orders import new_tracking_token, record_fact
from app.settings import Settings

ROTATE_ACTION = "rotate_tracking_token"
# The same answer for a token that never existed and one that was rotated away.
UNKNOWN_TOKEN = "No repair order is tracked at this address."


async def order_for_token(session: AsyncSession, token: str) -> RepairOrder:
    order = await tracking_repository.order_by_token(session, token)
    if order is None:
        raise NotFound(UNKNOWN_TOKEN)
    return order


async def view(
    session: AsyncSession, token: str, language: Language, settings: Settings
) -> TrackingView:
    return TrackingView.model_validate(await view_values(session, token, language, settings))


async def view_values(
    session: AsyncSession, token: str, language: Language, settings: Settings
) -> dict[str, Any]:
    """The customer's page as ``TrackingView``'s fields, from plain values (strings, times,
    dates, ``{"amount", "currency"}`` mappings), for ``json_response``: the most requested
    page skips building its dozen nested models (``tests/api/test_tracking.py`` holds the two
    encodings to the same bytes)."""
    tracked = await tracking_repository.tracked_order(session, token)
    if tracked is None:
        raise NotFound(UNKNOWN_TOKEN)
    order = tracked.values
    changes = [
        StatusChange(OrderStatus(from_status) if from_status else None, OrderStatus(to), at)
        for from_status, to, at in tracked.status_changes
    ]
    status = OrderStatus(order["status"])
    quote = None
    if order["quote_id"] is not None:
        quote = _public_quote(order, tracked.quote_lines)
    return {
        "order_number": order["number"],
        "watch": {"brand": order["watch_brand"] or "", "model": order["watch_model"]},
        "status": status.value,
        "status_label": label(status, language),
        "language": language.value,
        "timeline": [
            {"status": step.status.value, "label": step.label, "at": step.at}
            for step in timeline(changes, language)
        ],
        "promised_date": order["promised_date"],
        "outcome": order["outcome"],
        "quote": quote,
        "amount_due": billing(order)["amount_due"],
        "workshop": {
            "name": settings.workshop_name,
            "address": settings.workshop_address,
            "phone": settings.workshop_phone,
            "email": settings.workshop_email,
        },
    }


def _money(money: Money) -> dict[str, str]:
    return {"amount": money.text(), "currency": money.currency}


def _public_quote(order: Mapping[str, Any], rows: Sequence[LineValues]) -> dict[str, Any]:
    """The revision the tracked order's row carries (``quote_*``), with its lines, as
    ``PublicQuote``'s fields."""
    regime, currency = VatRegime(order["quote_vat_regime"]), order["quote_currency"]
    lines = [quote_service.domain_line(row, currency) for row in rows]
    every = totals(lines, regime, currency)
    fee = order["quote_diagnosis_fee_cents"]
    return {
        "number": order["quote_number"],
        "status": order["quote_status"],
        "lines": [
            {
                "id": line.line_id,
                "description": line.description,
                "quantity": line.quantity,
                "mandatory": line.mandatory,
                "total_incl_vat": _money(line_total(line, regime).incl_vat),
            }
            for line in lines
        ],
        "total_mandatory_incl_vat": _money(
            totals(lines, regime, currency, mandatory_only).incl_vat
        ),
        "total_all_lines_incl_vat": _money(every.incl_vat),
        "vat_mention": every.vat_mention,
        "valid_until": order["quote_valid_until"],
        "diagnosis_fee_if_declined": (
            _money(line_total(fee_line(Money.from_cents(fee, currency)), regime).incl_vat)
            if fee
            else None
        ),
    }


async def decide(
    session: AsyncSession,
    token: str,
    decision: TrackingDecision,
    client_address: str,
    user_agent: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Approve or decline the sent quote as the customer, recorded with channel `online`."""
    order = await order_for_token(session, token)
    customer = Actor(key_id=None, name=decision.name or "customer", role=Role.CUSTOMER)
    details = {
        "channel": "online",
        "client_address": client_address,
        "user_agent": user_agent[:300],
    }
    command: ApproveQuoteCommand | DeclineQuoteCommand
    if decision.decision == "approve":
        command = ApproveQuoteCommand(
            action="approve_quote",
            accepted_optional_lines=decision.accepted_optional_lines,
            decided_by=decision.name,
        )
        action = Action.APPROVE_QUOTE
    else:
        command = DeclineQuoteCommand(action="decline_quote", decided_by=decision.name)
        action = Action.DECLINE_QUOTE
    await transition_service.apply(
        session, customer, order.id, action, command, None, now, settings, details
    )


async def rotate_token(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, now: datetime
) -> RepairOrder:
    """Issue a new tracking link; the old one stops working at once (the event keeps no token)."""
    order, _ = await record_fact(
        session, actor, order_id, ROTATE_ACTION, {}, now, check=lambda _status: None
    )
    order.tracking_token = new_tracking_token()
    session.add(order)
    await session.flush()
    return order
