"""The customer's view through the tracking link, and the rotation of that link."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import NotFound
from app.domain.language import Language
from app.domain.lifecycle import OrderStatus
from app.domain.tracking import StatusChange, label, timeline
from app.models import OrderEvent, RepairOrder
from app.repositories import repair_orders as order_repository
from app.repositories import tracking as tracking_repository
from app.schemas.tracking import TimelineStepRead, TrackedWatch, TrackingView, WorkshopContact
from app.services.repair_orders import new_tracking_token
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
    order = await order_for_token(session, token)
    watch = await tracking_repository.watch_of(session, order)
    events = await order_repository.events_of(session, order.id)
    changes = [
        StatusChange(
            OrderStatus(e.from_status) if e.from_status else None,
            OrderStatus(e.to_status),
            e.occurred_at,
        )
        for e in events
    ]
    status = OrderStatus(order.status)
    return TrackingView(
        order_number=order.number,
        watch=TrackedWatch(
            brand=watch.brand if watch else "", model=watch.model if watch else None
        ),
        status=status.value,
        status_label=label(status, language),
        language=language,
        timeline=[
            TimelineStepRead(status=step.status.value, label=step.label, at=step.at)
            for step in timeline(changes, language)
        ],
        promised_date=order.promised_date,
        outcome=order.outcome,
        workshop=WorkshopContact(
            name=settings.workshop_name,
            address=settings.workshop_address,
            phone=settings.workshop_phone,
            email=settings.workshop_email,
        ),
    )


async def rotate_token(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, now: datetime
) -> RepairOrder:
    """Issue a new tracking link; the old one stops working at once."""
    order = await order_repository.get(session, actor, order_id, for_update=True)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    order.tracking_token = new_tracking_token()
    order.version += 1
    order.updated_at = now
    session.add(order)
    await order_repository.append_event(
        session,
        OrderEvent(
            order_id=order.id,
            sequence=order.version,
            action=ROTATE_ACTION,
            from_status=order.status,
            to_status=order.status,
            actor_key_id=actor.key_id,
            actor_name=actor.name,
            actor_role=actor.role.value,
            occurred_at=now,
        ),
    )
    return order
