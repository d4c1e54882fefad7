"""Watches brought in for service, identified by brand, reference and serial."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Numeric
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, id_field, updated_at_field, version_field


class Watch(SQLModel, table=True):
    __tablename__ = "watches"

    id: uuid.UUID = id_field()
    partner_id: uuid.UUID | None = Field(default=None, foreign_key="partners.id", index=True)
    customer_id: uuid.UUID | None = Field(default=None, foreign_key="customers.id", index=True)
    # No index: a brand is only searched within (``q``, ILIKE '%…%'), which no B-tree serves.
    brand: str = Field(max_length=100)
    model: str | None = Field(default=None, max_length=100)
    reference: str | None = Field(default=None, max_length=100)
    serial: str | None = Field(default=None, max_length=100, index=True)
    caliber: str | None = Field(default=None, max_length=100)
    movement_type: str = Field(max_length=20)
    beat_rate: int | None = Field(default=None)
    lift_angle: Decimal | None = Field(default=None, sa_type=Numeric(4, 1))
    version: int = version_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
