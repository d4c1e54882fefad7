"""Partner boutiques: tenants that submit repair orders for their own customers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, id_field, updated_at_field, version_field


class Partner(SQLModel, table=True):
    __tablename__ = "partners"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200)
    address: str = Field(default="", max_length=500)
    contact_name: str = Field(default="", max_length=200)
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=40)
    return_shipping_address: str = Field(default="", max_length=500)
    default_language: str = Field(default="fr", max_length=2)
    active: bool = Field(default=True)
    version: int = version_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
