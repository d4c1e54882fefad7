"""Write events of interest to the outbox, in the transaction of the change they report.

A rolled-back change takes its outbox rows with it, so nothing is ever sent for a change that
did not happen; a committed one always has its message, so nothing is lost.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.webhooks import EventType
from app.models import OutboxMessage, WebhookSubscription
from app.repositories import order_numbers, rows
from app.repositories import webhooks as webhook_repository


class OrderHeader(Protocol):
    """What an order's events and messages say of it: a table model has it, and so has a new
    order written from its column values (``NewOrder``)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def number(self) -> str: ...
    @property
    def partner_id(self) -> uuid.UUID | None: ...
    @property
    def status(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def version(self) -> int: ...


class NewOrder(NamedTuple):
    """The header of an order written from its column values, without a table model."""

    id: uuid.UUID
    number: str
    partner_id: uuid.UUID | None
    status: str
    outcome: str | None
    version: int

    @classmethod
    def of(cls, values: dict[str, Any]) -> NewOrder:
        return cls(
            values["id"], values["number"], values["partner_id"], values["status"],
            values["outcome"], values["version"],
        )  # fmt: skip


def order_summary(order: OrderHeader) -> dict[str, Any]:
    """What every order event says of the order: no personal data, and the version so that a
    receiver can discard an older message arriving late."""
    return {
        "order_id": str(order.id),
        "order_number": order.number,
        "partner_id": str(order.partner_id) if order.partner_id else None,
        "status": order.status,
        "outcome": order.outcome,
        "version": order.version,
    }


async def emit(
    session: AsyncSession,
    event_type: EventType,
    now: datetime,
    *,
    order: OrderHeader | None = None,
    data: dict[str, Any] | None = None,
    only: WebhookSubscription | None = None,
) -> uuid.UUID:
    """Queue a message for its subscribers (or ``only`` one); returns the message's id. Nothing
    waits for the database: the message and its deliveries go with the transaction's next
    round trip, its COMMIT's on PostgreSQL (``app/libpq.py``)."""
    payload = {**(order_summary(order) if order is not None else {}), **(data or {})}
    # Never changed once written: its column values are all it needs (``rows.new_values``).
    message = rows.new_values(
        OutboxMessage,
        event_type=event_type.value,
        order_id=order.id if order is not None else None,
        partner_id=order.partner_id if order is not None else None,
        order_version=order.version if order is not None else None,
        payload=payload,
        created_at=now,
    )
    late = order_numbers.late_number(session)
    if late is not None and order is not None and order.id == late.order_id:
        # A new order whose number the database takes: the payload holds its mark.
        await order_numbers.insert_numbered(session, OutboxMessage, "payload", message, late)
    else:
        await rows.insert_values(session, OutboxMessage, message, deferred=True)
    message_id: uuid.UUID = message["id"]
    order_id = message["order_id"]
    if only is not None:
        await webhook_repository.add_delivery(session, message_id, order_id, only.id, now)
    else:
        # The subscribers are chosen by the database, in the deliveries' INSERT … SELECT.
        await webhook_repository.fan_out(
            session, message_id, event_type.value, order_id, message["partner_id"], now
        )
    return message_id
