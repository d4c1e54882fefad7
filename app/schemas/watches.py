"""Watches as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

from app.domain.watches import MovementType
from app.pagination import Page
from app.schemas.common import ApiModel, NoNul, NotBlank, ReadModel, omitted

Brand = Annotated[str, NotBlank, Field(max_length=100, examples=["Omega"])]
Identifier = Annotated[str, NoNul, Field(max_length=100)]
BeatRate = Annotated[
    int,
    Field(ge=7200, le=72000, description="Beat rate in vibrations per hour", examples=[28800]),
]
LiftAngle = Annotated[
    Decimal,
    Field(
        ge=Decimal("40"),
        le=Decimal("60"),
        max_digits=4,
        decimal_places=1,
        description="Lift angle in degrees, used by the timing machine (usually 48–54°)",
        examples=["52"],
    ),
    # After the bounds: quantizing 1e27 first raised InvalidOperation, a 500 (found by fuzzing).
    AfterValidator(lambda angle: angle.quantize(Decimal("0.1"))),
]


class WatchCreate(ApiModel):
    brand: Brand
    model: Identifier | None = Field(default=None, examples=["Seamaster 300"])
    reference: Identifier | None = Field(default=None, examples=["2254.50"])
    serial: Identifier | None = Field(default=None, examples=["56781234"])
    caliber: Identifier | None = Field(default=None, examples=["1120"])
    movement_type: MovementType
    beat_rate: BeatRate | None = None
    lift_angle: LiftAngle | None = None
    customer_id: uuid.UUID | None = Field(default=None, description="The owner, when known")


class WatchUpdate(ApiModel):
    """Fields to change; those left out stay as they are."""

    brand: Brand = omitted()
    model: Identifier | None = None
    reference: Identifier | None = None
    serial: Identifier | None = None
    caliber: Identifier | None = None
    movement_type: MovementType = omitted()
    beat_rate: BeatRate | None = None
    lift_angle: LiftAngle | None = None
    customer_id: uuid.UUID | None = None


class WatchRead(ReadModel):
    id: uuid.UUID
    partner_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    brand: str
    model: str | None
    reference: str | None
    serial: str | None
    caliber: str | None
    movement_type: MovementType
    beat_rate: int | None
    lift_angle: Decimal | None
    version: int
    created_at: datetime
    updated_at: datetime


class WatchPage(Page[WatchRead]):
    pass
