"""The webhook dispatcher: sends what the outbox holds, at least once, in order per order.

Each round leases the due deliveries in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several dispatchers share the work without sending anything twice), sends them
outside any transaction, then records each outcome. A dispatcher that dies mid-send loses only
its lease: the delivery is sent again later with the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import smtplib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from app.db import Database
from app.domain.clock import Clock, utc_now
from app.domain.errors import BusinessValidationError
from app.domain.webhooks import DeliveryStatus, check_target, next_delay, signature_header
from app.models import CustomerNotification, OutboxMessage, WebhookDelivery, WebhookSubscription
from app.observability import Metrics
from app.repositories import webhooks as webhook_repository
from app.runtime import Runtime
from app.services.notifications import LogNotifier, Notifier, notifier_for
from app.services.webhooks import resolve
from app.settings import Settings

logger = logging.getLogger("atelier.dispatch")
_LEASE_MARGIN = timedelta(seconds=30)
_MAX_ERROR_TEXT = 500


@dataclass
class Attempt:
    status_code: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def message_body(message: OutboxMessage) -> bytes:
    return json.dumps(
        {
            "type": message.event_type,
            "timestamp": message.created_at.isoformat(),
            "data": message.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def _retry_after(response: httpx.Response, now: datetime) -> timedelta | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        return max(parsedate_to_datetime(value) - now, timedelta())
    except (TypeError, ValueError):
        return None


@dataclass
class Dispatcher:
    db: Database
    settings: Settings
    client: httpx.AsyncClient
    clock: Clock = utc_now
    jitter: Callable[[], float] = random.random
    metrics: Metrics | None = None
    notifier: Notifier = field(default_factory=LogNotifier)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run_once(self) -> int:
        """One round: lease what is due, send it, record outcomes. Returns how many were sent."""
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds) + _LEASE_MARGIN
        async with self.db.writer_slot(), self.db.new_session(write=True) as session:
            claimed = await webhook_repository.claim_due(
                session, now, lease, self.settings.dispatch_batch_size
            )
            await session.commit()
        for delivery_id in claimed:
            await self._deliver(delivery_id)
        return len(claimed) + await self._notify_customers(now, lease)

    async def _notify_customers(self, now: datetime, lease: datetime) -> int:
        async with self.db.writer_slot(), self.db.new_session(write=True) as session:
            claimed = await webhook_repository.claim_due_notifications(
                session, now, lease, self.settings.dispatch_batch_size
            )
            await session.commit()
        for notification_id in claimed:
            async with self.db.new_session(write=False) as session:
                notification = await session.get(CustomerNotification, notification_id)
            if notification is None:
                continue
            error: str | None = None
            try:
                await self.notifier.send(notification)
            except (OSError, smtplib.SMTPException) as failure:
                error = f"{type(failure).__name__}: {failure}"[:_MAX_ERROR_TEXT]
            await self._record_notification(notification_id, error)
        return len(claimed)

    async def _record_notification(self, notification_id: uuid.UUID, error: str | None) -> None:
        now = self.clock()
        async with self.db.writer_slot(), self.db.new_session(write=True) as session:
            notification = await session.get(CustomerNotification, notification_id)
            if notification is None:
                return
            notification.attempts += 1
            notification.lease_until = None
            notification.last_error = error
            if error is None:
                notification.status = "sent"
                notification.sent_at = now
            else:
                delay = next_delay(notification.attempts, self.jitter())
                if delay is None:
                    notification.status = "dead"
                else:
                    notification.next_attempt_at = now + delay
            session.add(notification)
            await session.commit()

    async def run_until_idle(self, max_rounds: int = 1000) -> int:
        total = 0
        for _ in range(max_rounds):
            sent = await self.run_once()
            total += sent
            if sent == 0:
                return total
        return total

    async def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.run_once()
            except Exception:  # a database outage must not kill the dispatcher: retry later
                logger.exception("dispatch round failed")
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), timeout=self.settings.dispatch_interval_seconds
                    )

    def stop(self) -> None:
        self._stopping.set()

    async def _deliver(self, delivery_id: uuid.UUID) -> None:
        async with self.db.new_session(write=False) as session:
            found = await webhook_repository.delivery_with_context(session, delivery_id)
        if found is None:
            return
        delivery, message, subscription = found
        started = self.clock()
        attempt = await self._send(message, subscription, started)
        if self.metrics is not None:
            elapsed = (self.clock() - started).total_seconds()
            self.metrics.webhook_latency.observe(max(elapsed, 0.0))
        await self._record(delivery.id, subscription.id, attempt)

    async def _send(
        self, message: OutboxMessage, subscription: WebhookSubscription, now: datetime
    ) -> Attempt:
        try:
            parts = urlsplit(subscription.url)
            # Checked again at send time: a name may now resolve somewhere it should not.
            check_target(
                parts.scheme, parts.hostname or "", await resolve(parts.hostname or ""),
                allow_private=self.settings.webhook_allow_private_targets,
            )  # fmt: skip
        except BusinessValidationError as refused:
            return Attempt(error=f"target refused: {refused.detail}")
        except ValueError:
            return Attempt(error="target refused: malformed URL")
        body = message_body(message)
        message_id = f"msg_{message.id.hex}"
        # The signature's timestamp is the real moment of sending (receivers reject stale ones);
        # the injectable clock only schedules retries.
        timestamp = int(time.time())
        secrets = [subscription.secret]
        overlap = subscription.previous_secret_until
        if subscription.previous_secret and overlap is not None and overlap > now:
            secrets.append(subscription.previous_secret)
        headers = {
            "content-type": "application/json",
            "user-agent": "Atelier-Webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, message_id, timestamp, body),
        }
        try:
            response = await self.client.post(
                subscription.url,
                content=body,
                headers=headers,
                timeout=self.settings.webhook_timeout_seconds,
                follow_redirects=False,
            )
        except httpx.HTTPError as error:
            return Attempt(error=f"{type(error).__name__}: {error}"[:_MAX_ERROR_TEXT])
        return Attempt(
            status_code=response.status_code,
            error=None if 200 <= response.status_code < 300 else response.text[:_MAX_ERROR_TEXT],
            retry_after=_retry_after(response, now) if response.status_code == 429 else None,
        )

    async def _record(
        self, delivery_id: uuid.UUID, subscription_id: uuid.UUID, attempt: Attempt
    ) -> None:
        now = self.clock()
        async with self.db.writer_slot(), self.db.new_session(write=True) as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            subscription = await session.get(WebhookSubscription, subscription_id)
            if delivery is None or subscription is None:
                return
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.last_status_code = attempt.status_code
            delivery.last_error = attempt.error
            delivery.lease_until = None
            outcome = self._outcome(delivery, subscription, attempt, now)
            session.add(delivery)
            session.add(subscription)
            await session.commit()
        if self.metrics is not None:
            self.metrics.webhook_attempts.labels(outcome).inc()

    def _outcome(
        self,
        delivery: WebhookDelivery,
        subscription: WebhookSubscription,
        attempt: Attempt,
        now: datetime,
    ) -> str:
        if attempt.delivered:
            delivery.status = DeliveryStatus.DELIVERED.value
            delivery.delivered_at = now
            return "delivered"
        if attempt.status_code == 410:
            # The receiver says the endpoint is gone for good: stop sending to it.
            subscription.active = False
            subscription.disabled_reason = "the receiver answered 410 Gone"
            delivery.status = DeliveryStatus.DEAD.value
            return "dead"
        delay = next_delay(delivery.attempts, self.jitter(), attempt.retry_after)
        if delay is None:
            delivery.status = DeliveryStatus.DEAD.value
            logger.warning("webhook dead-lettered", extra={"delivery_id": str(delivery.id)})
            return "dead"
        delivery.next_attempt_at = now + delay
        return "failed"


@contextlib.asynccontextmanager
async def running_dispatcher(
    runtime: Runtime, metrics: Metrics | None = None
) -> AsyncIterator[Dispatcher]:
    """A dispatcher running beside the API; on exit it finishes its round before stopping (a
    cancelled round could leave a transaction, and SQLite's lock, behind)."""
    async with httpx.AsyncClient() as client:
        dispatcher = Dispatcher(
            runtime.db, runtime.settings, client, clock=runtime.clock, metrics=metrics,
            notifier=notifier_for(runtime.settings),
        )  # fmt: skip
        task = asyncio.create_task(dispatcher.run_forever(), name="webhook-dispatcher")
        try:
            yield dispatcher
        finally:
            dispatcher.stop()
            try:
                await asyncio.wait_for(
                    asyncio.shield(task), timeout=runtime.settings.webhook_timeout_seconds + 5
                )
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def start_dispatcher(runtime: Runtime, metrics: Metrics | None = None) -> None:
    """Run a dispatcher until cancelled (``atelier dispatch``, or inside the API process)."""
    async with httpx.AsyncClient() as client:
        dispatcher = Dispatcher(
            runtime.db, runtime.settings, client, clock=runtime.clock, metrics=metrics,
            notifier=notifier_for(runtime.settings),
        )  # fmt: skip
        await dispatcher.run_forever()
