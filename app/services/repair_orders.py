"""Repair-order use cases: intake at the counter or by a partner, reading, lists, warranty."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import BusinessValidationError, Conflict, NotFound
from app.domain.handback import (
    INTAKE_CORRECTION_ACTION,
    REMINDER_ACTION,
    SHIPMENT_ACTION,
    check_intake_correction_allowed,
    check_reminder_allowed,
    check_shipment_allowed,
    check_warranty_claim,
)
from app.domain.lifecycle import OrderStatus, creation_status
from app.domain.webhooks import EventType
from app.models import Customer, OrderEvent, RepairOrder, Watch
from app.repositories import order_numbers
from app.repositories import repair_orders as order_repository
from app.repositories.rows import insert_new, insert_values, new_values
from app.repositories.scoping import get_scoped, partner_scope
from app.schemas.customers import CustomerCreate
from app.schemas.measurements import PreDiagnosisReview
from app.schemas.repair_orders import (
    InboundShipment,
    IntakeCorrection,
    IntakeDetails,
    ReminderCreate,
    RepairOrderCreate,
)
from app.schemas.watches import WatchCreate
from app.services import outbox, records
from app.services.order_documents import document_of
from app.services.outbox import NewOrder, OrderHeader

CREATE_ACTION = "create"
WARRANTY_CLAIM_ACTION = "open_warranty_claim"
# Clocks of counters and servers disagree a little: a deposit "now" may be a few minutes ahead.
_CLOCK_SKEW = timedelta(minutes=5)


def new_tracking_token() -> str:
    return secrets.token_urlsafe(32)


def format_order_number(year: int, sequence: int) -> str:
    return f"{year}-{sequence:06d}"


async def _insert_new(
    session: AsyncSession,
    model: type[Customer] | type[Watch],
    actor: Actor,
    now: datetime,
    values: dict[str, Any],
) -> uuid.UUID:
    """Write a new customer or watch of the actor's tenant from its column values (nothing
    changes it later in the request: no table model is built); its id."""
    row = await insert_new(
        session,
        model,
        deferred=True,  # its error, if any, comes with the order's next statement
        **values,
        partner_id=partner_scope(actor),
        created_at=now,
        updated_at=now,
    )
    row_id: uuid.UUID = row["id"]
    return row_id


async def _resolve_customer(
    session: AsyncSession, actor: Actor, reference: Any, now: datetime
) -> uuid.UUID:
    """The id of the order's customer: a new one, or an existing one the actor may see."""
    if isinstance(reference, CustomerCreate):
        return await _insert_new(session, Customer, actor, now, reference.model_dump())
    existing = await get_scoped(session, Customer, reference.id, actor)
    if existing is None:
        raise BusinessValidationError(f"No customer with id {reference.id}.", "/customer/id")
    return existing.id


async def _resolve_watch(
    session: AsyncSession, actor: Actor, reference: Any, owner_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """The id of the watch, new or existing; an existing watch without an owner gets the
    order's customer."""
    if isinstance(reference, WatchCreate):
        values = {**reference.model_dump(), "customer_id": owner_id}
        return await _insert_new(session, Watch, actor, now, values)
    existing = await get_scoped(session, Watch, reference.id, actor)
    if existing is None:
        raise BusinessValidationError(f"No watch with id {reference.id}.", "/watch/id")
    if existing.customer_id is None:
        existing.customer_id = owner_id
        session.add(existing)
    return existing.id


def intake_values(intake: IntakeDetails, now: datetime) -> dict[str, Any]:
    """The order's columns the deposit receipt's data sets (only while it is being received)."""
    if intake.promised_date is not None and intake.promised_date < now.date():
        raise BusinessValidationError("The promised date is in the past.", "/promised_date")
    values: dict[str, Any] = {
        "complaint": intake.complaint,
        "condition_report": [c.model_dump(mode="json") for c in intake.condition_report],
        "accessories": [a.model_dump(mode="json") for a in intake.accessories],
        "accessibility_needs": intake.accessibility_needs,
        "promised_date": intake.promised_date,
    }
    if intake.acknowledgement is not None:
        values["intake_acknowledged_by"] = intake.acknowledgement.signed_name
        values["intake_acknowledged_at"] = intake.acknowledgement.signed_at or now
    return values


def apply_intake(order: RepairOrder, intake: IntakeDetails, now: datetime) -> None:
    """Copy the deposit receipt's data onto the order (only while it is being received)."""
    for name, value in intake_values(intake, now).items():
        setattr(order, name, value)


def order_event(
    order: OrderHeader,
    actor: Actor,
    now: datetime,
    action: str,
    payload: dict[str, Any],
    *,
    from_status: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The audit-trail row of an order's current version (creation, transition or fact), as
    the column values it is written from (the log is append-only: no instance is needed)."""
    return new_values(
        OrderEvent,
        order_id=order.id,
        sequence=order.version,
        action=action,
        from_status=from_status,
        to_status=order.status,
        reason=reason,
        actor_key_id=actor.key_id,
        actor_name=actor.name,
        actor_role=actor.role.value,
        occurred_at=now,
        payload=payload,
    )


async def _numbered(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """A new order's number (the year's next) and the secret of its tracking link."""
    sequence = await order_repository.next_order_sequence(session, now.year)
    return {
        "number": format_order_number(now.year, sequence),
        "tracking_token": new_tracking_token(),
    }


async def create(
    session: AsyncSession, actor: Actor, payload: RepairOrderCreate, now: datetime
) -> dict[str, Any]:
    """Take an order in; its column values (nothing changes a new order later in the request,
    so it is written from them, without a table model: ``rows.new_values``)."""
    status = creation_status(actor.role)
    if status is OrderStatus.AWAITING_ARRIVAL and payload.deposited_at is not None:
        raise BusinessValidationError(
            "A partner's order is deposited when the workshop receives the watch.", "/deposited_at"
        )
    if payload.deposited_at is not None and payload.deposited_at > now + _CLOCK_SKEW:
        raise BusinessValidationError("The deposit time is in the future.", "/deposited_at")
    customer_id = await _resolve_customer(session, actor, payload.customer, now)
    watch_id = await _resolve_watch(session, actor, payload.watch, customer_id, now)
    if order_numbers.taken_by_database(session):
        # PostgreSQL: the order's INSERT takes the number, in the COMMIT's round trip
        # (``order_numbers``), which carries the whole creation: nothing waits for a result
        # once the counter's row is locked (the deliveries' subscribers are the database's
        # choice, ``outbox.emit``).
        numbered = {"number": order_numbers.new_mark(), "tracking_token": new_tracking_token()}
    else:
        numbered = await _numbered(session, now)
    order = new_values(
        RepairOrder,
        **numbered,
        status=status.value,
        customer_id=customer_id,
        watch_id=watch_id,
        partner_id=partner_scope(actor),
        created_at=now,
        updated_at=now,
        **intake_values(payload, now),
    )
    if status is OrderStatus.RECEIVED:
        order["deposited_at"] = payload.deposited_at or now
    if payload.deposit is not None:
        order["deposit_cents"] = payload.deposit.to_money().to_cents()
    if payload.preapproved_ceiling is not None:
        order["preapproved_ceiling_cents"] = payload.preapproved_ceiling.to_money().to_cents()
    order["document"] = document_of(order)
    if order_numbers.taken_by_database(session):
        await order_numbers.insert_order(session, order, now.year)
    else:
        await insert_values(session, RepairOrder, order, deferred=True)
    header = NewOrder.of(order)
    await order_repository.append_event(
        session,
        order_event(header, actor, now, CREATE_ACTION, {"channel": actor.role.value}),
    )
    await outbox.emit(session, EventType.ORDER_CREATED, now, order=header)
    return order


async def get(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> RepairOrder:
    order = await order_repository.get(session, actor, order_id)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    return order


async def read_document(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    runs: Sequence[Sequence[str]],
    extra: Sequence[str],
) -> Sequence[Any]:
    """The order's columns as the database writes them in JSON, as a list page's row
    (``order_repository.get_document``)."""
    row = await order_repository.get_document(session, actor, order_id, runs=runs, extra=extra)
    if row is None:
        raise NotFound(f"No repair order with id {order_id}.")
    return row


async def events(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> Sequence[OrderEvent]:
    order = await get(session, actor, order_id)
    return await order_repository.events_of(session, order.id)


async def list_documents(
    session: AsyncSession,
    actor: Actor,
    filters: order_repository.OrderFilters,
    runs: Sequence[Sequence[str]],
    extra: Sequence[str],
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Sequence[Any]], str | None]:
    """One page of orders: their documents, or, for those without, their columns as the
    database writes them in JSON (``order_repository.list_documents``)."""
    return await order_repository.list_documents(
        session, actor, filters, runs=runs, extra=extra, limit=limit, cursor=cursor
    )


async def open_warranty_claim(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    intake: IntakeDetails,
    now: datetime,
) -> RepairOrder:
    original = await order_repository.get(session, actor, order_id, for_update=True)
    if original is None:
        raise NotFound(f"No repair order with id {order_id}.")
    check_warranty_claim(
        status=original.status,
        outcome=original.outcome,
        warranty_until=original.warranty_until,
        today=now.date(),
    )
    claim = RepairOrder(
        **await _numbered(session, now),
        status=OrderStatus.RECEIVED.value,
        customer_id=original.customer_id,
        watch_id=original.watch_id,
        partner_id=original.partner_id,
        created_at=now,
        updated_at=now,
    )
    claim.warranty_of = original.id
    claim.free_of_charge = True
    claim.deposited_at = now
    apply_intake(claim, intake, now)
    # Written by its own INSERT, not a flush: the mapper events do not see it.
    claim.document = document_of(claim.model_dump())
    await records.insert(session, claim)
    await order_repository.append_event(
        session,
        order_event(claim, actor, now, WARRANTY_CLAIM_ACTION, {"warranty_of": str(original.id)}),
    )
    return claim


async def record_fact(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    action: str,
    payload: dict[str, Any],
    now: datetime,
    check: Callable[[str], None],
    reason: str | None = None,
) -> tuple[RepairOrder, dict[str, Any]]:
    """Append an event that records a fact without changing the order's status; the event is
    returned as its column values."""
    order = await order_repository.get(session, actor, order_id, for_update=True)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    check(order.status)
    order.version += 1
    order.updated_at = now
    session.add(order)
    event = order_event(order, actor, now, action, payload, from_status=order.status, reason=reason)
    return order, await order_repository.append_event(session, event)


async def record_reminder(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    reminder: ReminderCreate,
    now: datetime,
) -> dict[str, Any]:
    """Note a reminder in the audit trail: the unclaimed-watch procedure counts on it."""
    _, event = await record_fact(
        session, actor, order_id, REMINDER_ACTION, reminder.model_dump(mode="json"), now,
        check_reminder_allowed,
    )  # fmt: skip
    return event


async def record_shipment(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    shipment: InboundShipment,
    now: datetime,
) -> RepairOrder:
    details = {
        **shipment.model_dump(mode="json"),
        "shipped_at": (shipment.shipped_at or now).isoformat(),
    }
    order, _ = await record_fact(
        session, actor, order_id, SHIPMENT_ACTION, details, now, check_shipment_allowed
    )
    order.inbound_shipment = details
    return order


PRE_DIAGNOSIS_REVIEW_ACTION = "review_pre_diagnosis"


async def review_pre_diagnosis(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    review: PreDiagnosisReview,
    now: datetime,
) -> RepairOrder:
    """The manager's answer to a pre-quote the counter sent for review."""

    def needs_review(_status: str) -> None:
        if order.pre_diagnosis is None or not order.pre_diagnosis.get("manager_review_requested"):
            raise Conflict("No pre-diagnosis awaits the manager's review on this order.")

    order = await get(session, actor, order_id)
    details = {**review.model_dump(mode="json"), "reviewed_by": actor.name, "at": now.isoformat()}
    order, _ = await record_fact(
        session, actor, order_id, PRE_DIAGNOSIS_REVIEW_ACTION, details, now, needs_review
    )
    order.pre_diagnosis = {**(order.pre_diagnosis or {}), "review": details}
    session.add(order)
    return order


async def correct_intake(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    correction: IntakeCorrection,
    now: datetime,
) -> dict[str, Any]:
    """Record a correction of the receipt as an event; the receipt as printed stays intact."""
    _, event = await record_fact(
        session, actor, order_id, INTAKE_CORRECTION_ACTION,
        correction.model_dump(mode="json", exclude={"reason"}), now,
        check_intake_correction_allowed, reason=correction.reason,
    )  # fmt: skip
    return event
