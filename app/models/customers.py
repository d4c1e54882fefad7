"""Customers of the workshop, or of a partner boutique."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, id_field, updated_at_field, version_field


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: uuid.UUID = id_field()
    partner_id: uuid.UUID | None = Field(default=None, foreign_key="partners.id", index=True)
    # No index: a name is only searched within (``q``, ILIKE '%…%'), which no B-tree serves.
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254, index=True)
    phone: str | None = Field(default=None, max_length=40)
    preferred_language: str = Field(default="fr", max_length=2)
    accessibility_needs: str | None = Field(default=None, max_length=1000)
    contact_consent: bool = Field(default=False)
    version: int = version_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
