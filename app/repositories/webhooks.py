"""Queries on the outbox, subscriptions and deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_prepared, send_prepared
from app.domain.actors import Actor
from app.domain.webhooks import DeliveryStatus
from app.libpq import Pending
from app.models import CustomerNotification, OutboxMessage, WebhookDelivery, WebhookSubscription
from app.prepared import Prepared
from app.repositories.rows import insert_new
from app.repositories.scoping import get_scoped, scoped_select, table_of

_SUBSCRIPTIONS = table_of(WebhookSubscription)
# Built once (the hot write paths ask on every event): the staff's subscriptions, and those a
# partner's order also reaches.
_STAFF_SUBSCRIBERS = Prepared(
    select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.event_types).where(
        _SUBSCRIPTIONS.c.active.is_(True), _SUBSCRIPTIONS.c.partner_id.is_(None)
    )
)
_PARTNER_SUBSCRIBERS = Prepared(
    select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.event_types).where(
        _SUBSCRIPTIONS.c.active.is_(True),
        or_(
            _SUBSCRIPTIONS.c.partner_id.is_(None),
            _SUBSCRIPTIONS.c.partner_id == bindparam("partner_id"),
        ),
    )
)


def _subscribers_query(partner_id: uuid.UUID | None) -> tuple[Prepared, dict[str, Any] | None]:
    """The statement, and its parameters, for the active subscriptions an order of
    ``partner_id`` reaches: staff subscriptions (no partner) and the order's own partner's."""
    if partner_id is None:
        return _STAFF_SUBSCRIBERS, None
    return _PARTNER_SUBSCRIBERS, {"partner_id": partner_id}


async def look_up_subscribers(session: AsyncSession, partner_id: uuid.UUID | None) -> Pending:
    """The active subscriptions an order of ``partner_id`` reaches, sent now and read later
    (``send_prepared``): on PostgreSQL with the transaction's next statement that waits for
    its result."""
    return await send_prepared(session, *_subscribers_query(partner_id))


async def subscribers(
    session: AsyncSession,
    event_type: str,
    partner_id: uuid.UUID | None,
    lookup: Pending | None = None,
) -> list[uuid.UUID]:
    """The ids of the active subscriptions interested in ``event_type`` for an order of
    ``partner_id``, from ``lookup`` when the caller sent it earlier."""
    if lookup is not None:
        rows = await lookup.rows()
    else:
        rows = await run_prepared(session, *_subscribers_query(partner_id))
    return [row.id for row in rows if not row.event_types or event_type in row.event_types]


async def add_deliveries(
    session: AsyncSession,
    message_id: uuid.UUID,
    order_id: uuid.UUID | None,
    subscription_ids: Sequence[uuid.UUID],
    now: datetime,
) -> None:
    """Queue the message for each subscription (the dispatcher sends them): INSERTs of known
    values, deferred (``run_prepared``)."""
    for subscription_id in subscription_ids:
        await insert_new(
            session,
            WebhookDelivery,
            deferred=True,
            message_id=message_id,
            subscription_id=subscription_id,
            order_id=order_id,
            status=DeliveryStatus.PENDING.value,
            next_attempt_at=now,
            created_at=now,
        )


async def subscription(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription | None:
    return await get_scoped(
        session, WebhookSubscription, subscription_id, actor, for_update=for_update
    )


async def subscriptions_of(session: AsyncSession, actor: Actor) -> Sequence[WebhookSubscription]:
    statement = scoped_select(WebhookSubscription, actor).order_by(
        col(WebhookSubscription.created_at)
    )
    return (await session.exec(statement)).all()


async def deliveries_of(
    session: AsyncSession, subscription_id: uuid.UUID, status: str | None, limit: int
) -> Sequence[tuple[WebhookDelivery, OutboxMessage]]:
    statement = (
        select(WebhookDelivery, OutboxMessage)
        .join(OutboxMessage, col(OutboxMessage.id) == col(WebhookDelivery.message_id))
        .where(col(WebhookDelivery.subscription_id) == subscription_id)
        .order_by(col(WebhookDelivery.created_at).desc())
        .limit(limit)
    )
    if status:
        statement = statement.where(col(WebhookDelivery.status) == status)
    return (await session.exec(statement)).all()


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> Sequence[uuid.UUID]:
    """Lease the deliveries due now, oldest first, skipping any whose earlier message to the
    same subscription for the same order is still undelivered (per-order ordering). Concurrent
    dispatchers on PostgreSQL skip each other's locked rows."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        col(earlier.subscription_id) == col(WebhookDelivery.subscription_id),
        col(earlier.order_id) == col(WebhookDelivery.order_id),
        col(earlier.status) == DeliveryStatus.PENDING.value,
        col(earlier.created_at) < col(WebhookDelivery.created_at),
    )
    statement = (
        select(WebhookDelivery.id)
        .where(
            col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
            col(WebhookDelivery.next_attempt_at) <= now,
            or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
            or_(col(WebhookDelivery.order_id).is_(None), ~blocked),
        )
        .order_by(col(WebhookDelivery.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.exec(statement)).all())
    if ids:
        await session.exec(
            update(WebhookDelivery)
            .where(and_(col(WebhookDelivery.id).in_(ids)))
            .values(lease_until=lease_until)
        )
    return ids


async def delivery_with_context(
    session: AsyncSession, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, OutboxMessage, WebhookSubscription] | None:
    statement = (
        select(WebhookDelivery, OutboxMessage, WebhookSubscription)
        .join(OutboxMessage, col(OutboxMessage.id) == col(WebhookDelivery.message_id))
        .join(
            WebhookSubscription,
            col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
        )
        .where(col(WebhookDelivery.id) == delivery_id)
    )
    row = (await session.exec(statement)).first()
    return tuple(row) if row else None  # type: ignore[return-value]


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    statement = select(WebhookDelivery.status, func.count()).group_by(col(WebhookDelivery.status))
    return {status: int(n) for status, n in (await session.exec(statement)).all()}


async def delivery_for(
    session: AsyncSession, message_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookDelivery:
    statement = select(WebhookDelivery).where(
        col(WebhookDelivery.message_id) == message_id,
        col(WebhookDelivery.subscription_id) == subscription_id,
    )
    return (await session.exec(statement)).one()


async def claim_due_notifications(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> Sequence[uuid.UUID]:
    statement = (
        select(CustomerNotification.id)
        .where(
            col(CustomerNotification.status) == "pending",
            col(CustomerNotification.next_attempt_at) <= now,
            or_(
                col(CustomerNotification.lease_until).is_(None),
                col(CustomerNotification.lease_until) < now,
            ),
        )
        .order_by(col(CustomerNotification.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.exec(statement)).all())
    if ids:
        await session.exec(
            update(CustomerNotification)
            .where(col(CustomerNotification.id).in_(ids))
            .values(lease_until=lease_until)
        )
    return ids
