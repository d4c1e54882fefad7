"""The public tracking view: what an end customer may see, and nothing personal."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.domain.language import Language
from app.schemas.common import ApiModel, NotBlank
from app.schemas.money import MoneyRead


class TrackedWatch(BaseModel):
    brand: str
    model: str | None


class TimelineStepRead(BaseModel):
    status: str
    label: str
    at: datetime


class WorkshopContact(BaseModel):
    name: str
    address: str
    phone: str
    email: str


class PublicQuoteLine(BaseModel):
    id: uuid.UUID
    description: str
    quantity: int
    mandatory: bool
    total_incl_vat: MoneyRead


class PublicQuote(BaseModel):
    number: int
    status: str
    lines: list[PublicQuoteLine]
    total_mandatory_incl_vat: MoneyRead
    total_all_lines_incl_vat: MoneyRead
    vat_mention: str | None
    valid_until: date | None
    diagnosis_fee_if_declined: MoneyRead | None


class TrackingView(BaseModel):
    """Exactly these fields: no e-mail, phone or address of the customer, no staff names."""

    order_number: str
    watch: TrackedWatch
    status: str
    status_label: str
    language: Language
    timeline: list[TimelineStepRead]
    promised_date: date | None
    outcome: str | None
    quote: PublicQuote | None = Field(description="The latest quote sent to the customer")
    amount_due: MoneyRead
    workshop: WorkshopContact = Field(description="How to reach the workshop")


class TrackingDecision(ApiModel):
    """The customer's answer to the quote, from the tracking page."""

    decision: Literal["approve", "decline"]
    accepted_optional_lines: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    name: Annotated[str, NotBlank, Field(max_length=200)] | None = Field(
        default=None, description="The customer's name as they typed it"
    )
