"""Stored first responses of POST requests, replayed when a client retries with the same key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, empty_dict, id_field


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: uuid.UUID = id_field()
    # The calling API key's id (or "public:<path>" for the tracking link): no cross-client replay.
    scope: str = Field(max_length=200)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    method: str = Field(max_length=10)
    path: str = Field(max_length=500)
    status_code: int
    response_body: str = Field(sa_type=Text)
    response_headers: dict[str, str] = Field(default_factory=empty_dict, sa_type=JSON)
    created_at: datetime = created_at_field()
