"""Watches as the API shows and accepts them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from app.domain.watches import MovementType
from app.pagination import Page
from app.schemas.common import (
    ApiModel,
    NoNul,
    NotBlank,
    ReadModel,
    number_not_flag_or_text,
    omitted,
)

Brand = Annotated[str, NotBlank, Field(max_length=100, examples=["Omega"])]
Identifier = Annotated[str, NoNul, Field(max_length=100)]
BeatRate = Annotated[
    int,
    Field(ge=7200, le=72000, description="Beat rate in vibrations per hour", examples=[28800]),
    BeforeValidator(number_not_flag_or_text),  # after the bounds, which the contract then shows
]
# A lift angle as text: a decimal from 40 to 60, in any precision. The contract says so with
# this pattern, and the API holds text to it: pydantic alone would read " 52", "5.2e1" or
# "+52" too, and the contract's plain `string` let through text no angle is (contract fuzzing).
LIFT_ANGLE_TEXT = r"^((4[0-9]|5[0-9])(\.[0-9]+)?|60(\.0+)?)$"


def _lift_angle_text(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(LIFT_ANGLE_TEXT, value):
        raise ValueError("a lift angle from 40 to 60 degrees, as a number or as text like 52.5")
    return value


LiftAngle = Annotated[
    Decimal,
    BeforeValidator(_lift_angle_text),
    Field(ge=Decimal("40"), le=Decimal("60")),
    # After the bounds: quantizing 1e27 first raised InvalidOperation, a 500 (found by fuzzing).
    # Any precision is taken and rounded to a tenth, as the contract's number allows any.
    AfterValidator(lambda angle: angle.quantize(Decimal("0.1"))),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 40, "maximum": 60},
                {"type": "string", "pattern": LIFT_ANGLE_TEXT},
            ],
            "description": "Lift angle in degrees, used by the timing machine (usually 48–54°), "
            "kept to a tenth of a degree",
            "examples": ["52"],
        }
    ),
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
