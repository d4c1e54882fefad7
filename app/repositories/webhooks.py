"""Queries on the outbox, subscriptions and deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_prepared
from app.domain.actors import Actor
from app.domain.webhooks import DeliveryStatus
from app.models import CustomerNotification, OutboxMessage, WebhookDelivery, WebhookSubscription
from app.prepared import Prepared
from app.repositories.rows import insert_new
from app.repositories.scoping import get_scoped, scoped_select, table_of

_SUBSCRIPTIONS = table_of(WebhookSubscription)
_DELIVERIES = table_of(WebhookDelivery)


class _DeliveryId(ColumnElement[uuid.UUID]):
    """A new delivery's id, made by the database from its message's: the message id's first 64
    bits (its time, so deliveries' ids sort as their messages' do and go on their index's last
    page, as ``new_id``'s do) and 62 random bits after the variant bits."""

    inherit_cache = True
    type = Uuid()
    _traverse_internals = [("message_id", InternalTraversal.dp_clauseelement)]

    def __init__(self, message_id: ColumnElement[uuid.UUID]) -> None:
        self.message_id = message_id


@compiles(_DeliveryId, "postgresql")
def _delivery_id_postgresql(element: _DeliveryId, compiler: Any, **kw: Any) -> str:
    message = compiler.process(element.message_id, **kw)
    # gen_random_uuid()'s bytes 9 to 16 keep its variant bits.
    return (
        "CAST(encode(overlay(uuid_send(gen_random_uuid()) PLACING "
        f"substring(uuid_send({message}) FROM 1 FOR 8) FROM 1 FOR 8), 'hex') AS UUID)"
    )


@compiles(_DeliveryId, "sqlite")
def _delivery_id_sqlite(element: _DeliveryId, compiler: Any, **kw: Any) -> str:
    message = compiler.process(element.message_id, **kw)
    # A UUID is stored as its 32 hexadecimal digits there: the message's first 16, a variant
    # digit (10xx), 15 random ones.
    return (
        f"(substr({message}, 1, 16) || substr('89ab', 1 + (random() & 3), 1)"
        " || lower(substr(hex(randomblob(8)), 1, 15)))"
    )


class _Wants(ColumnElement[bool]):
    """Whether a subscription's ``event_types`` (a JSON list, empty for every event) takes
    ``event_type``."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("event_types", InternalTraversal.dp_clauseelement),
        ("event_type", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, event_types: Any, event_type: ColumnElement[str]) -> None:
        self.event_types = event_types
        self.event_type = event_type


@compiles(_Wants, "postgresql")
def _wants_postgresql(element: _Wants, compiler: Any, **kw: Any) -> str:
    types, wanted = (compiler.process(e, **kw) for e in (element.event_types, element.event_type))
    return (
        f"(json_array_length({types}) = 0 "
        f"OR CAST({types} AS JSONB) @> jsonb_build_array(CAST({wanted} AS TEXT)))"
    )


@compiles(_Wants, "sqlite")
def _wants_sqlite(element: _Wants, compiler: Any, **kw: Any) -> str:
    types, wanted = (compiler.process(e, **kw) for e in (element.event_types, element.event_type))
    return (
        f"(json_array_length({types}) = 0 "
        f"OR EXISTS (SELECT 1 FROM json_each({types}) WHERE json_each.value = {wanted}))"
    )


def _fan_out(partner: ColumnElement[bool]) -> Prepared:
    """The deliveries of a message to every active subscription that takes its event and sees
    its order (``partner``: which partners' subscriptions do), written by one INSERT … SELECT:
    nothing is read back, so on a PostgreSQL writer it waits, deferred, for the transaction's
    next round trip (its COMMIT's, on the hot writes)."""
    message_id = bindparam("message_id", type_=Uuid())
    now = bindparam("now", type_=_DELIVERIES.c.created_at.type)
    chosen = sa_select(
        _DeliveryId(message_id),
        message_id,
        _SUBSCRIPTIONS.c.id,
        bindparam("order_id", type_=Uuid()),
        literal_column(f"'{DeliveryStatus.PENDING.value}'", String()),
        literal_column("0", Integer()),
        now,
        now,
    ).where(
        _SUBSCRIPTIONS.c.active.is_(True),
        partner,
        _Wants(_SUBSCRIPTIONS.c.event_types, bindparam("event_type", type_=Text())),
    )
    columns = ("id", "message_id", "subscription_id", "order_id", "status", "attempts",
               "next_attempt_at", "created_at")  # fmt: skip
    return Prepared(insert(_DELIVERIES).from_select(columns, chosen))


# Built once (the hot writes fan out every event): the staff's subscriptions only, for an order
# of no partner's (or a message of no order), and the staff's and the partner's own.
_TO_STAFF = _fan_out(_SUBSCRIPTIONS.c.partner_id.is_(None))
_TO_STAFF_AND_PARTNER = _fan_out(
    or_(_SUBSCRIPTIONS.c.partner_id.is_(None), _SUBSCRIPTIONS.c.partner_id == bindparam("partner"))
)


async def fan_out(
    session: AsyncSession,
    message_id: uuid.UUID,
    event_type: str,
    order_id: uuid.UUID | None,
    partner_id: uuid.UUID | None,
    now: datetime,
) -> None:
    """Queue the message for each active subscription interested in ``event_type`` that sees
    an order of ``partner_id`` (the staff's, and that partner's own); the dispatcher sends
    them. Deferred (``run_prepared``)."""
    parameters: dict[str, Any] = {
        "message_id": message_id, "order_id": order_id, "event_type": event_type, "now": now
    }  # fmt: skip
    if partner_id is None:
        statement = _TO_STAFF
    else:
        statement, parameters["partner"] = _TO_STAFF_AND_PARTNER, partner_id
    await run_prepared(session, statement, parameters, deferred=True)


async def add_delivery(
    session: AsyncSession,
    message_id: uuid.UUID,
    order_id: uuid.UUID | None,
    subscription_id: uuid.UUID,
    now: datetime,
) -> None:
    """Queue the message for one subscription (the dispatcher sends it): an INSERT of known
    values, deferred (``run_prepared``)."""
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
