"""API keys: the credentials of machine clients (POS, workshop tools, partner systems)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, created_at_field, id_field


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    partner_id: uuid.UUID | None = Field(default=None, foreign_key="partners.id", index=True)
    # Only a hash is kept: the key itself is shown once, at creation.
    key_hash: str = Field(max_length=64, unique=True)
    key_prefix: str = Field(max_length=16)
    created_at: datetime = created_at_field()
    created_by: uuid.UUID | None = Field(default=None)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
