"""The service catalogue and quote revisions as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from app.domain.watches import MovementType
from app.schemas.common import (
    ApiModel,
    Flag,
    Integer,
    IsoDate,
    NoNul,
    NotBlank,
    ReadModel,
    number_not_flag_or_text,
    omitted,
)
from app.schemas.money import MoneyIn, MoneyRead

ServiceCode = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_]{1,49}$", examples=["service_automatic"])
]
VatRateText = Annotated[
    str,
    Field(pattern=r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$", description="e.g. 0.20", examples=["0.20"]),
]
Description = Annotated[str, NotBlank, Field(max_length=500)]


class CatalogServiceCreate(ApiModel):
    code: ServiceCode
    name_fr: Annotated[str, NotBlank, Field(max_length=200)]
    name_en: Annotated[str, NotBlank, Field(max_length=200)]
    labour_minutes: Integer = Field(ge=0, le=6000)
    price_excl_vat: MoneyIn
    vat_rate: VatRateText = "0.20"
    warranty_months: Integer = Field(default=12, ge=0, le=120)
    movement_types: list[MovementType] = Field(
        default_factory=list, max_length=3, description="Empty: applies to every movement"
    )


class CatalogServiceUpdate(ApiModel):
    name_fr: Annotated[str, NotBlank, Field(max_length=200)] = omitted()
    name_en: Annotated[str, NotBlank, Field(max_length=200)] = omitted()
    labour_minutes: Annotated[
        int, Field(ge=0, le=6000), BeforeValidator(number_not_flag_or_text)
    ] = omitted()
    price_excl_vat: MoneyIn = omitted()
    vat_rate: VatRateText = omitted()
    warranty_months: Annotated[
        int, Field(ge=0, le=120), BeforeValidator(number_not_flag_or_text)
    ] = omitted()
    movement_types: Annotated[list[MovementType], Field(max_length=3)] = omitted()
    active: Flag = omitted()


class CatalogServiceRead(BaseModel):
    id: uuid.UUID
    code: str
    name_fr: str
    name_en: str
    labour_minutes: int
    price_excl_vat: MoneyRead
    vat_rate: str
    price_incl_vat: MoneyRead
    warranty_months: int
    movement_types: list[str]
    active: bool
    version: int


class CatalogServiceList(BaseModel):
    items: list[CatalogServiceRead]


class ServiceLineIn(ApiModel):
    kind: Literal["service"]
    code: ServiceCode
    quantity: Integer = Field(default=1, ge=1, le=1000)
    mandatory: Flag = True
    unit_price: MoneyIn | None = Field(
        default=None, description="Overrides the catalogue price (excl. VAT)"
    )
    description: Description | None = None


class PartLineIn(ApiModel):
    kind: Literal["part"]
    reference: Annotated[str, NotBlank, Field(max_length=100)]
    description: Description
    quantity: Integer = Field(default=1, ge=1, le=1000)
    unit_price: MoneyIn = Field(description="Price excl. VAT")
    mandatory: Flag = True
    vat_rate: VatRateText = "0.20"
    warranty_months: Integer = Field(default=12, ge=0, le=120)


QuoteLineIn = Annotated[ServiceLineIn | PartLineIn, Field(discriminator="kind")]


class QuoteRevisionCreate(ApiModel):
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=100)
    valid_until: IsoDate | None = Field(
        default=None, description="Defaults to the send date plus the workshop's validity"
    )
    diagnosis_fee: MoneyIn | None = Field(
        default=None,
        description="Excl. VAT, charged (with VAT) only if the quote is declined; the customer "
        "is told the amount beforehand",
    )
    note: Annotated[str, NoNul, Field(max_length=2000)] | None = None


class QuoteRevisionUpdate(ApiModel):
    lines: Annotated[list[QuoteLineIn], Field(min_length=1, max_length=100)] = omitted()
    valid_until: IsoDate | None = None
    diagnosis_fee: MoneyIn | None = None
    note: Annotated[str, NoNul, Field(max_length=2000)] | None = None


class VatShareRead(BaseModel):
    rate: str
    base: MoneyRead
    vat: MoneyRead


class TotalsRead(BaseModel):
    excl_vat: MoneyRead
    vat: MoneyRead
    incl_vat: MoneyRead
    vat_breakdown: list[VatShareRead]
    vat_mention: str | None


class QuoteLineRead(BaseModel):
    id: uuid.UUID
    kind: str
    code: str
    description: str
    quantity: int
    unit_price: MoneyRead
    vat_rate: str
    mandatory: bool
    warranty_months: int
    labour_minutes: int | None
    total_excl_vat: MoneyRead
    total_incl_vat: MoneyRead


class QuoteRevisionRead(ReadModel):
    id: uuid.UUID
    order_id: uuid.UUID
    number: int
    status: str
    supplement: bool
    lines: list[QuoteLineRead]
    totals_all_lines: TotalsRead
    totals_mandatory: TotalsRead
    needs_manager_review: bool
    manager_approved_by: str | None
    manager_approved_at: datetime | None
    valid_until: date | None
    diagnosis_fee: MoneyRead | None
    note: str | None
    sent_at: datetime | None
    decided_at: datetime | None
    decision: dict[str, Any] | None
    approved_total: MoneyRead | None
    version: int
    created_at: datetime


class QuoteRevisionList(BaseModel):
    items: list[QuoteRevisionRead]


class InvoiceRead(BaseModel):
    id: uuid.UUID
    number: str
    issued_at: datetime
    document: dict[str, Any]
