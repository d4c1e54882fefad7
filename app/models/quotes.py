"""The service catalogue, quote revisions with their lines, and invoices.

Amounts are stored in integer cents and VAT rates in basis points (2000 = 20 %): exact on SQLite
and PostgreSQL alike; the domain works in ``Decimal``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
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


class CatalogService(SQLModel, table=True):
    __tablename__ = "catalog_services"

    id: uuid.UUID = id_field()
    code: str = Field(max_length=50, unique=True)
    name_fr: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    labour_minutes: int
    price_cents: int = Field(description="Price excl. VAT, in cents")
    vat_rate_bp: int = Field(default=2000)
    warranty_months: int = Field(default=12)
    movement_types: list[str] = Field(default_factory=empty_list, sa_type=JSON)
    active: bool = Field(default=True)
    version: int = version_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class QuoteRevision(SQLModel, table=True):
    __tablename__ = "quote_revisions"
    __table_args__ = (UniqueConstraint("order_id", "number"),)

    id: uuid.UUID = id_field()
    order_id: uuid.UUID = Field(foreign_key="repair_orders.id", index=True)
    number: int
    status: str = Field(max_length=20)
    supplement: bool = Field(default=False)
    currency: str = Field(max_length=3, default="EUR")
    vat_regime: str = Field(max_length=20)
    valid_until: date | None = Field(default=None)
    diagnosis_fee_cents: int | None = Field(default=None)
    note: str | None = Field(default=None, max_length=2000)
    manager_approved_by: str | None = Field(default=None, max_length=200)
    manager_approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    approved_total_cents: int | None = Field(default=None)
    version: int = version_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class QuoteLineRow(SQLModel, table=True):
    __tablename__ = "quote_lines"

    id: uuid.UUID = id_field()
    revision_id: uuid.UUID = Field(foreign_key="quote_revisions.id", index=True)
    position: int
    kind: str = Field(max_length=10)
    code: str = Field(max_length=100)
    description: str = Field(max_length=500)
    quantity: int
    unit_price_cents: int
    vat_rate_bp: int
    mandatory: bool = Field(default=True)
    warranty_months: int = Field(default=12)
    labour_minutes: int | None = Field(default=None)


class Invoice(SQLModel, table=True):
    """The invoice ("note") produced at hand-back, frozen as issued."""

    __tablename__ = "invoices"

    id: uuid.UUID = id_field()
    order_id: uuid.UUID = Field(foreign_key="repair_orders.id", unique=True)
    number: str = Field(max_length=20, unique=True)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    total_incl_cents: int
    document: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)
    created_at: datetime = created_at_field()


class InvoiceNumberCounter(SQLModel, table=True):
    __tablename__ = "invoice_number_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_value: int = Field(default=0)
