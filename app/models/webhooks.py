"""The transactional outbox, webhook subscriptions and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import (
    UTCDateTime,
    created_at_field,
    empty_dict,
    empty_list,
    id_field,
    updated_at_field,
    version_field,
)


class OutboxMessage(SQLModel, table=True):
    """One event of interest, written in the transaction of the change it reports.

    Read only by id, through its deliveries: no secondary index, as every write adds a message
    and each index would be one more entry to write (docs/benchmarks.md, thirteenth round)."""

    __tablename__ = "outbox_messages"

    id: uuid.UUID = id_field()
    event_type: str = Field(max_length=60)
    order_id: uuid.UUID | None = Field(default=None)
    partner_id: uuid.UUID | None = Field(default=None)
    order_version: int | None = Field(default=None)
    payload: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)
    created_at: datetime = created_at_field(index=False)


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscriptions"

    id: uuid.UUID = id_field()
    # A partner's subscription sees only its own orders; a staff one (null) sees every order.
    partner_id: uuid.UUID | None = Field(default=None, foreign_key="partners.id", index=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(default_factory=empty_list, sa_type=JSON)
    description: str | None = Field(default=None, max_length=500)
    active: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=200)
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = version_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("message_id", "subscription_id"),)

    id: uuid.UUID = id_field()
    message_id: uuid.UUID = Field(foreign_key="outbox_messages.id", index=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscriptions.id", index=True)
    # Deliveries of one order to one subscription go out in order.
    order_id: uuid.UUID | None = Field(default=None, index=True)
    status: str = Field(max_length=20, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=Text)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class CustomerNotification(SQLModel, table=True):
    """A message to an end customer, queued in the transaction of the change it announces."""

    __tablename__ = "customer_notifications"

    id: uuid.UUID = id_field()
    order_id: uuid.UUID = Field(foreign_key="repair_orders.id", index=True)
    channel: str = Field(max_length=20)
    recipient: str = Field(max_length=254)
    language: str = Field(max_length=2)
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=Text)
    status: str = Field(max_length=20, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
