"""Webhook subscriptions and deliveries as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.domain.webhooks import EventType
from app.schemas.common import SPACE, ApiModel, Flag, NoNul, omitted

WebhookUrl = Annotated[
    str,
    Field(
        min_length=10,
        max_length=2000,
        pattern=rf"^https?://[^{SPACE}/$.?#][^{SPACE}]*$",
        examples=["https://boutique.example/hooks/atelier"],
    ),
]


class WebhookSubscriptionCreate(ApiModel):
    url: WebhookUrl
    event_types: list[EventType] = Field(
        default_factory=list, max_length=10, description="Empty: every event type"
    )
    description: Annotated[str, NoNul, Field(max_length=500)] | None = None
    active: Flag = True


class WebhookSubscriptionUpdate(ApiModel):
    url: WebhookUrl = omitted()
    event_types: Annotated[list[EventType], Field(max_length=10)] = omitted()
    description: Annotated[str, NoNul, Field(max_length=500)] | None = None
    active: Flag = omitted()


class WebhookSubscriptionRead(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID | None
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_reason: str | None
    previous_secret_until: datetime | None
    version: int
    created_at: datetime


class WebhookSubscriptionWithSecret(WebhookSubscriptionRead):
    secret: str = Field(description="The signing secret (whsec_…). Shown this once only.")


class WebhookSubscriptionList(BaseModel):
    items: list[WebhookSubscriptionRead]


class WebhookDeliveryRead(BaseModel):
    id: uuid.UUID
    message_id: uuid.UUID
    event_type: str
    order_id: uuid.UUID | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    payload: dict[str, Any]
    created_at: datetime


class WebhookDeliveryList(BaseModel):
    items: list[WebhookDeliveryRead]


class ReplayResult(BaseModel):
    replayed: int
