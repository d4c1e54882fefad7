"""Tolerance profiles, measurement sessions and the intervention tracking sheet (work log)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text
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


class ToleranceProfileRow(SQLModel, table=True):
    __tablename__ = "tolerance_profiles"

    id: uuid.UUID = id_field()
    code: str = Field(max_length=60, unique=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    movement_types: list[str] = Field(default_factory=empty_list, sa_type=JSON)
    brand: str | None = Field(default=None, max_length=100)
    caliber: str | None = Field(default=None, max_length=100)
    # Limit name → decimal text (exact on every database).
    limits: dict[str, str] = Field(default_factory=empty_dict, sa_type=JSON)
    auto_select: bool = Field(default=True)
    active: bool = Field(default=True)
    version: int = version_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class MeasurementSession(SQLModel, table=True):
    __tablename__ = "measurement_sessions"

    id: uuid.UUID = id_field()
    order_id: uuid.UUID = Field(foreign_key="repair_orders.id", index=True)
    phase: str = Field(max_length=20)
    instrument: str | None = Field(default=None, max_length=100)
    operator_key_id: uuid.UUID | None = Field(default=None)
    operator_name: str = Field(max_length=200)
    measured_at: datetime = Field(sa_type=UTCDateTime)
    readings: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)
    profile_codes: dict[str, str] = Field(default_factory=empty_dict, sa_type=JSON)
    verdict: list[dict[str, Any]] = Field(default_factory=empty_list, sa_type=JSON)
    passed: bool = Field(default=False)
    note: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_at_field()


class WorkLogEntry(SQLModel, table=True):
    __tablename__ = "work_log_entries"

    id: uuid.UUID = id_field()
    order_id: uuid.UUID = Field(foreign_key="repair_orders.id", index=True)
    step: str = Field(max_length=100)
    note: str | None = Field(default=None, sa_type=Text)
    minutes_spent: int = Field(default=0)
    anomaly: bool = Field(default=False)
    alert_manager: bool = Field(default=False, index=True)
    parts_used: list[dict[str, Any]] = Field(default_factory=empty_list, sa_type=JSON)
    author_key_id: uuid.UUID | None = Field(default=None)
    author_name: str = Field(max_length=200)
    alert_resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    alert_resolved_by: str | None = Field(default=None, max_length=200)
    resolution_note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = created_at_field()
