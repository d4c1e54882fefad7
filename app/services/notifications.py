"""Customer notifications: queued in the change's transaction, sent by the dispatcher.

The channel is pluggable: e-mail through SMTP when a relay is configured, otherwise the message
is only logged (without the address: logs carry no customer contact data).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.language import Language
from app.domain.lifecycle import OrderStatus
from app.domain.notifications import compose, is_announced, should_notify
from app.domain.tracking import label
from app.models import Customer, CustomerNotification, RepairOrder, Watch
from app.services import records
from app.settings import Settings

logger = logging.getLogger("atelier.notifications")
PENDING, SENT = "pending", "sent"


async def enqueue(
    session: AsyncSession, order: RepairOrder, now: datetime, settings: Settings
) -> CustomerNotification | None:
    """Queue the message this status deserves, if the workshop and the customer want it."""
    if not is_announced(order.status, settings.notify_customer_on):
        return None  # most transitions: no need to read the customer
    customer = await session.get(Customer, order.customer_id)
    if customer is None or not should_notify(
        order.status, settings.notify_customer_on,
        consent=customer.contact_consent, address=customer.email,
    ):  # fmt: skip
        return None
    watch = await session.get(Watch, order.watch_id)
    language = Language(customer.preferred_language)
    message = compose(
        order.status,
        label(OrderStatus(order.status), language),
        language,
        order_number=order.number,
        watch=" ".join(filter(None, [watch.brand, watch.model])) if watch else "",
        link=settings.tracking_page_url.format(token=order.tracking_token),
        workshop=settings.workshop_name,
    )
    notification = CustomerNotification(
        order_id=order.id,
        channel="email" if settings.smtp_host else "log",
        recipient=customer.email or "",
        language=language.value,
        subject=message.subject,
        body=message.body,
        status=PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    return await records.insert(session, notification)


class Notifier(Protocol):
    async def send(self, notification: CustomerNotification) -> None: ...


class LogNotifier:
    async def send(self, notification: CustomerNotification) -> None:
        logger.info(
            "customer notification",
            extra={"notification_id": str(notification.id), "subject": notification.subject},
        )


class SmtpNotifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _send_blocking(self, notification: CustomerNotification) -> None:
        settings = self.settings
        email = EmailMessage()
        email["From"] = settings.smtp_sender
        email["To"] = notification.recipient
        email["Subject"] = notification.subject
        email["Content-Language"] = notification.language
        email.set_content(notification.body)
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(email)

    async def send(self, notification: CustomerNotification) -> None:
        await asyncio.to_thread(self._send_blocking, notification)


def notifier_for(settings: Settings) -> Notifier:
    return SmtpNotifier(settings) if settings.smtp_host else LogNotifier()
