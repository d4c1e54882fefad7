"""Webhook subscriptions: registration with SSRF checks, secrets, rotation, replays, pings."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import BusinessValidationError, NotFound
from app.domain.webhooks import DeliveryStatus, EventType, check_target, new_secret
from app.models import WebhookDelivery, WebhookSubscription
from app.repositories import webhooks as webhook_repository
from app.repositories.scoping import partner_scope
from app.schemas.webhooks import (
    WebhookDeliveryList,
    WebhookDeliveryRead,
    WebhookSubscriptionCreate,
    WebhookSubscriptionList,
    WebhookSubscriptionRead,
    WebhookSubscriptionUpdate,
)
from app.services import outbox
from app.services.records import check_version
from app.settings import Settings


async def resolve(host: str) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, settings: Settings) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in the host
        raise BusinessValidationError("The URL is malformed.", "/url") from None
    check_target(
        parts.scheme, host, await resolve(host) if host else [],
        allow_private=settings.webhook_allow_private_targets,
    )  # fmt: skip


def present(row: WebhookSubscription) -> WebhookSubscriptionRead:
    return WebhookSubscriptionRead.model_validate(row, from_attributes=True)


async def create(
    session: AsyncSession,
    actor: Actor,
    payload: WebhookSubscriptionCreate,
    now: datetime,
    settings: Settings,
) -> WebhookSubscription:
    await check_url(payload.url, settings)
    row = WebhookSubscription(
        partner_id=partner_scope(actor),
        url=payload.url,
        event_types=[e.value for e in payload.event_types],
        description=payload.description,
        active=payload.active,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def listing(session: AsyncSession, actor: Actor) -> WebhookSubscriptionList:
    rows = await webhook_repository.subscriptions_of(session, actor)
    return WebhookSubscriptionList(items=[present(row) for row in rows])


async def get(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription:
    row = await webhook_repository.subscription(
        session, actor, subscription_id, for_update=for_update
    )
    if row is None:
        raise NotFound(f"No webhook subscription with id {subscription_id}.")
    return row


async def update(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    changes: WebhookSubscriptionUpdate,
    expected_version: int | None,
    now: datetime,
    settings: Settings,
) -> WebhookSubscription:
    row = await get(session, actor, subscription_id, for_update=True)
    check_version(row.version, expected_version)
    fields = changes.model_fields_set
    if "url" in fields:
        await check_url(changes.url, settings)
        row.url = changes.url
    if "event_types" in fields:
        row.event_types = [e.value for e in changes.event_types]
    if "description" in fields:
        row.description = changes.description
    if "active" in fields:
        row.active = changes.active
        row.disabled_reason = None if changes.active else "disabled by its owner"
    row.version += 1
    row.updated_at = now
    session.add(row)
    await session.flush()
    return row


async def rotate_secret(
    session: AsyncSession,
    actor: Actor,
    subscription_id: uuid.UUID,
    now: datetime,
    settings: Settings,
) -> WebhookSubscription:
    """A new secret; the old one keeps signing too until the overlap window closes."""
    row = await get(session, actor, subscription_id, for_update=True)
    row.previous_secret = row.secret
    row.previous_secret_until = now + timedelta(hours=settings.webhook_secret_overlap_hours)
    row.secret = new_secret()
    row.version += 1
    row.updated_at = now
    session.add(row)
    await session.flush()
    return row


async def deliveries(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, status: str | None, limit: int
) -> WebhookDeliveryList:
    row = await get(session, actor, subscription_id)
    items = []
    for delivery, message in await webhook_repository.deliveries_of(session, row.id, status, limit):
        items.append(
            WebhookDeliveryRead(
                **delivery.model_dump(exclude={"subscription_id", "lease_until"}),
                event_type=message.event_type,
                payload=message.payload,
            )
        )
    return WebhookDeliveryList(items=items)


def _rearm(delivery: WebhookDelivery, now: datetime) -> None:
    delivery.status = DeliveryStatus.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.lease_until = None


async def replay_delivery(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, delivery_id: uuid.UUID,
    now: datetime,
) -> WebhookDelivery:  # fmt: skip
    """Send a message again, by hand (after a dead letter, or for a receiver that lost it)."""
    row = await get(session, actor, subscription_id)
    found = await webhook_repository.delivery_with_context(session, delivery_id)
    if found is None or found[0].subscription_id != row.id:
        raise NotFound(f"No delivery with id {delivery_id} on this subscription.")
    delivery = found[0]
    _rearm(delivery, now)
    session.add(delivery)
    await session.flush()
    return delivery


async def replay_dead(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, now: datetime
) -> int:
    row = await get(session, actor, subscription_id, for_update=True)
    dead = await webhook_repository.deliveries_of(
        session, row.id, DeliveryStatus.DEAD.value, limit=10_000
    )
    for delivery, _message in dead:
        _rearm(delivery, now)
        session.add(delivery)
    await session.flush()
    return len(dead)


async def ping(
    session: AsyncSession, actor: Actor, subscription_id: uuid.UUID, now: datetime
) -> WebhookDelivery:
    row = await get(session, actor, subscription_id)
    message_id = await outbox.emit(
        session, EventType.PING, now, data={"subscription_id": str(row.id)}, only=row
    )
    return await webhook_repository.delivery_for(session, message_id, row.id)


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    return await webhook_repository.count_by_status(session)
