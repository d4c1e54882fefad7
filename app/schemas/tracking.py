"""The public tracking view: what an end customer may see, and nothing personal."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.domain.language import Language


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
    workshop: WorkshopContact = Field(description="How to reach the workshop")
