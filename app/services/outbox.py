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
from app.libpq import Pending
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


async def look_up_subscribers(session: AsyncSession, partner_id: uuid.UUID | None) -> Pending:
    """The subscribers of an order of ``partner_id``, asked for ahead of ``emit`` (its
    ``lookup``): on PostgreSQL the question then goes with the transaction's next statement
    that waits for its result, not in a round trip of its own."""
    return await webhook_repository.look_up_subscribers(session, partner_id)


async def emit(
    session: AsyncSession,
    event_type: EventType,
    now: datetime,
    *,
    order: OrderHeader | None = None,
    data: dict[str, Any] | None = None,
    only: WebhookSubscription | None = None,
    lookup: Pending | None = None,
) -> uuid.UUID:
    """Queue a message for its subscribers (or ``only`` one); returns the message's id.
    ``lookup``: the order's subscribers, sent earlier by ``look_up_subscribers``."""
    payload = {**(order_summary(order) if order is not None else {}), **(data or {})}
    # The subscribers first: the message and its deliveries then wait, unread, for the commit,
    # which goes with them in one round trip on PostgreSQL (``app/libpq.py``).
    targets = (
        [only.id]
        if only is not None
        else await webhook_repository.subscribers(
            session, event_type.value, order.partner_id if order is not None else None, lookup
        )
    )
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
    await webhook_repository.add_deliveries(session, message_id, message["order_id"], targets, now)
    return message_id
