"""Repair orders, their append-only event log, and the per-year order-number counters."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.domain.clock import utc_now
from app.models.base import (
    UTCDateTime,
    empty_dict,
    empty_list,
    id_field,
    updated_at_field,
    version_field,
)


class RepairOrder(SQLModel, table=True):
    __tablename__ = "repair_orders"
    # Lists are newest first, paged on (created_at, id): each filter has an index that ends with
    # those two columns, so a page is a short index range whatever the table's size
    # (docs/benchmarks.md, list latency from 10 000 to 1 000 000 orders).
    __table_args__ = (
        Index("ix_repair_orders_created_at_id", "created_at", "id"),
        Index("ix_repair_orders_status_created_at_id", "status", "created_at", "id"),
        Index("ix_repair_orders_partner_id_created_at_id", "partner_id", "created_at", "id"),
        Index("ix_repair_orders_customer_id_created_at_id", "customer_id", "created_at", "id"),
        Index("ix_repair_orders_watch_id_created_at_id", "watch_id", "created_at", "id"),
        Index(
            "ix_repair_orders_technician_key_id_created_at_id",
            "technician_key_id",
            "created_at",
            "id",
        ),
    )

    id: uuid.UUID = id_field()
    # Human number printed on the deposit receipt, e.g. 2026-000123 (sequential per year).
    number: str = Field(max_length=20, unique=True)
    # Secret of the public tracking link (256 random bits, URL-safe).
    tracking_token: str = Field(max_length=64, unique=True)
    status: str = Field(max_length=30)
    outcome: str | None = Field(default=None, max_length=20)
    partner_id: uuid.UUID | None = Field(default=None, foreign_key="partners.id")
    customer_id: uuid.UUID = Field(foreign_key="customers.id")
    watch_id: uuid.UUID = Field(foreign_key="watches.id")
    warranty_of: uuid.UUID | None = Field(default=None, foreign_key="repair_orders.id", index=True)
    free_of_charge: bool = Field(default=False)

    # Intake (bon de dépôt): immutable once the order leaves `received`.
    complaint: str | None = Field(default=None, sa_type=Text)
    condition_report: list[dict[str, Any]] = Field(default_factory=empty_list, sa_type=JSON)
    accessories: list[dict[str, Any]] = Field(default_factory=empty_list, sa_type=JSON)
    accessibility_needs: str | None = Field(default=None, max_length=1000)
    promised_date: date | None = Field(default=None, index=True)
    deposited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    intake_acknowledged_by: str | None = Field(default=None, max_length=200)
    intake_acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    # Money (cents, in the workshop's currency): paid at drop-off, the customer's standing
    # "repair without asking me up to …", what approved quotes and fees make due.
    currency: str = Field(default="EUR", max_length=3)
    deposit_cents: int = Field(default=0)
    preapproved_ceiling_cents: int | None = Field(default=None)
    approved_total_cents: int = Field(default=0)
    fee_due_cents: int = Field(default=0)

    # A partner's parcel to the workshop (carrier, tracking number, when it left).
    inbound_shipment: dict[str, Any] | None = Field(default=None, sa_type=JSON)

    technician_key_id: uuid.UUID | None = Field(default=None)
    technician_name: str | None = Field(default=None, max_length=120)
    pre_diagnosis: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    diagnosis: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    returned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    hand_back: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    warranty_until: date | None = Field(default=None)

    version: int = version_field()
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = updated_at_field()

    # The order as the API presents it (RepairOrderRead), written with each change of it, but
    # for the caller's actions: a list page reads it instead of formatting every column of its
    # fifty orders (docs/benchmarks.md, fifteenth round). Written by
    # ``app.services.order_documents``; a database trigger empties it when a write changes the
    # row without writing it, and the order is then presented from its columns.
    document: str | None = Field(default=None, sa_type=Text)


class OrderEvent(SQLModel, table=True):
    """One line of the audit trail. Rows are never updated (a database trigger refuses it)."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "sequence"),)

    id: uuid.UUID = id_field()
    # No index of its own: the unique (order_id, sequence) one serves an order's events, in
    # order, and every write adds an event (one index fewer to maintain for each).
    order_id: uuid.UUID = Field(foreign_key="repair_orders.id")
    sequence: int
    action: str = Field(max_length=40)
    from_status: str | None = Field(default=None, max_length=30)
    to_status: str = Field(max_length=30)
    actor_key_id: uuid.UUID | None = Field(default=None)
    actor_name: str = Field(max_length=200)
    actor_role: str = Field(max_length=20)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    reason: str | None = Field(default=None, sa_type=Text)
    payload: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)


class OrderNumberCounter(SQLModel, table=True):
    """The last order number handed out in a year; incremented under the row's lock."""

    __tablename__ = "order_number_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_value: int = Field(default=0)
