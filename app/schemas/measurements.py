"""Measurement sessions, tolerance profiles and the work log as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.domain.readings import (
    BatteryType,
    MeasurementPhase,
    Position,
    WaterMethod,
    WaterStage,
)
from app.domain.symptoms import IntendedUse, SymptomCode, Trigger
from app.domain.verdicts import ProfileKind
from app.domain.watches import MovementType
from app.schemas.common import (
    ApiModel,
    AwareDatetime,
    Flag,
    Integer,
    IsoDate,
    NoNul,
    NotBlank,
    Number,
)
from app.schemas.money import MoneyIn

ProfileCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,59}$")]
ShortText = Annotated[str, NoNul, Field(max_length=100)]
Note = Annotated[str, NoNul, Field(max_length=2000)]


def reading(low: float, high: float, unit: str) -> Any:
    return Field(ge=low, le=high, allow_inf_nan=False, description=unit)


class TimingReadingIn(ApiModel):
    position: Position
    rate: Number = reading(-1000, 1000, "Rate in seconds per day (signed)")
    amplitude: Number = reading(0, 360, "Amplitude in degrees")
    beat_error: Number = reading(0, 9.9, "Beat error in milliseconds")


class TimingRunIn(ApiModel):
    beat_rate: Literal[14400, 18000, 19800, 21600, 25200, 28800, 36000, 43200]
    lift_angle: Number = Field(default=52, ge=40, le=60, description="Lift angle used (degrees)")
    hours_after_full_wind: Number = reading(0, 240, "0 = fully wound")
    machine: ShortText | None = None
    readings: list[TimingReadingIn] = Field(min_length=1, max_length=6)


class WaterTestIn(ApiModel):
    method: WaterMethod
    stage: WaterStage
    rated_pressure_bar: Number = Field(gt=0, le=200, allow_inf_nan=False)
    test_pressure_bar: Number = reading(0, 200, "Pressure applied (bar)")
    leak_rate: Number | None = Field(
        default=None, ge=0, le=100_000, allow_inf_nan=False, description="µg/min (dry testers)"
    )
    condensation: Flag | None = Field(default=None, description="Condensation test result")
    gaskets_changed: Flag = False


class PowerReserveIn(ApiModel):
    hours_measured: Number = reading(0, 1000, "Hours from full wind to stop")
    expected_hours: Number = Field(gt=0, le=1000, allow_inf_nan=False, description="Caliber's")


class WindingCheckIn(ApiModel):
    minutes_on_winder: Integer = Field(ge=0, le=1440)
    reserve_gained_hours: Number | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    rotor_play_ok: Flag
    noise_ok: Flag


class QuartzTestIn(ApiModel):
    battery_type: BatteryType | None = None
    battery_voltage: Number | None = Field(default=None, ge=0, le=3.6, allow_inf_nan=False)
    consumption_ua: Number | None = Field(default=None, ge=0, le=1000, allow_inf_nan=False)
    coil_resistance_kohm: Number | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    insulation_mohm: Number | None = Field(default=None, ge=0, le=100_000, allow_inf_nan=False)
    min_running_voltage: Number | None = Field(default=None, ge=0, le=3.6, allow_inf_nan=False)
    monthly_rate: Number | None = Field(
        default=None, ge=-600, le=600, allow_inf_nan=False, description="s/month"
    )
    end_of_life_indicator: Flag = Field(
        default=False, description="Second hand jumping every 4 seconds"
    )


class ReadingsIn(ApiModel):
    timing: list[TimingRunIn] = Field(default_factory=list, max_length=4)
    water: list[WaterTestIn] = Field(default_factory=list, max_length=4)
    power_reserve: PowerReserveIn | None = None
    winding: WindingCheckIn | None = None
    quartz: QuartzTestIn | None = None


class ProfileChoice(ApiModel):
    """Name a profile per kind; those left out are chosen for the watch (most specific)."""

    timing: ProfileCode | None = None
    water: ProfileCode | None = None
    quartz: ProfileCode | None = None


class MeasurementSessionCreate(ApiModel):
    phase: MeasurementPhase
    instrument: ShortText | None = Field(default=None, examples=["Witschi Chronoscope X1"])
    measured_at: AwareDatetime | None = Field(default=None, description="Defaults to now")
    readings: ReadingsIn
    profiles: ProfileChoice | None = None
    note: Note | None = None


class VerdictRead(BaseModel):
    criterion: str
    measured: str
    bound: str | None
    limit: str
    unit: str
    passed: bool


class MeasurementSessionRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    phase: str
    instrument: str | None
    operator_name: str
    measured_at: datetime
    readings: dict[str, Any]
    derived: dict[str, Any]
    profiles: dict[str, str]
    verdict: list[VerdictRead]
    passed: bool
    note: str | None
    created_at: datetime


class FigureChangeRead(BaseModel):
    figure: str
    unit: str
    before: str
    after: str


class Comparison(BaseModel):
    before_session_id: uuid.UUID
    after_session_id: uuid.UUID
    changes: list[FigureChangeRead]
    summary: str = Field(examples=["rate -45.0 s/d → +3.0 s/d, amplitude 190° → 285°"])


class MeasurementList(BaseModel):
    items: list[MeasurementSessionRead]
    comparison: Comparison | None = Field(
        description="First diagnosis session against the latest QC session"
    )


class ProfileLimits(ApiModel):
    mean_rate_min: Number | None = Field(default=None, ge=-1000, le=1000)
    mean_rate_max: Number | None = Field(default=None, ge=-1000, le=1000)
    delta_max: Number | None = Field(default=None, ge=0, le=1000)
    h_minus_v_min: Number | None = Field(default=None, ge=-1000, le=1000)
    h_minus_v_max: Number | None = Field(default=None, ge=-1000, le=1000)
    amplitude_dial_up_min: Number | None = Field(default=None, ge=0, le=360)
    amplitude_max: Number | None = Field(default=None, ge=0, le=360)
    beat_error_max: Number | None = Field(default=None, ge=0, le=9.9)
    vertical_amplitude_24h_min: Number | None = Field(default=None, ge=0, le=360)
    power_reserve_ratio_min: Number | None = Field(default=None, ge=0, le=2)
    leak_rate_max: Number | None = Field(default=None, ge=0, le=100_000)
    test_pressure_factor: Number | None = Field(default=None, ge=0, le=5)
    battery_voltage_min: Number | None = Field(default=None, ge=0, le=3.6)
    consumption_max: Number | None = Field(default=None, ge=0, le=1000)
    coil_resistance_min: Number | None = Field(default=None, ge=0, le=100)
    coil_resistance_max: Number | None = Field(default=None, ge=0, le=100)
    insulation_min: Number | None = Field(default=None, ge=0, le=100_000)
    monthly_rate_min: Number | None = Field(default=None, ge=-600, le=600)
    monthly_rate_max: Number | None = Field(default=None, ge=-600, le=600)


class ToleranceProfileWrite(ApiModel):
    name: Annotated[str, NotBlank, Field(max_length=200)]
    kind: ProfileKind
    movement_types: list[MovementType] = Field(default_factory=list, max_length=3)
    brand: ShortText | None = None
    caliber: ShortText | None = None
    limits: ProfileLimits
    auto_select: Flag = Field(
        default=True, description="Picked for a matching watch when no profile is named"
    )
    active: Flag = True


class ToleranceProfileCreate(ToleranceProfileWrite):
    code: ProfileCode


class ToleranceProfileRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    movement_types: list[str]
    brand: str | None
    caliber: str | None
    limits: dict[str, str]
    auto_select: bool
    active: bool
    version: int


class ToleranceProfileList(BaseModel):
    items: list[ToleranceProfileRead]


class PartUsed(ApiModel):
    reference: Annotated[str, NotBlank, Field(max_length=100)]
    quantity: Integer = Field(default=1, ge=1, le=1000)


class WorkLogEntryCreate(ApiModel):
    step: Annotated[str, NotBlank, Field(max_length=100, examples=["disassembly"])]
    note: Note | None = None
    minutes_spent: Integer = Field(default=0, ge=0, le=1440)
    anomaly: Flag = False
    alert_manager: Flag = Field(default=False, description="Alert the workshop manager")
    parts_used: list[PartUsed] = Field(default_factory=list, max_length=50)


class WorkLogEntryRead(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    step: str
    note: str | None
    minutes_spent: int
    anomaly: bool
    alert_manager: bool
    parts_used: list[dict[str, Any]]
    author_name: str
    alert_resolved_at: datetime | None
    alert_resolved_by: str | None
    resolution_note: str | None
    created_at: datetime


class WorkLogList(BaseModel):
    items: list[WorkLogEntryRead]
    total_minutes: int


class AlertResolution(ApiModel):
    note: Note | None = None


class EstimateRange(ApiModel):
    low: MoneyIn
    high: MoneyIn


class PreDiagnosisReview(ApiModel):
    approved: Flag
    note: Note | None = None


class PreDiagnoseFields(ApiModel):
    symptoms: list[SymptomCode] = Field(min_length=1, max_length=14)
    description: Note | None = Field(default=None, description="The symptom in free text")
    since: ShortText | None = Field(default=None, examples=["two weeks"])
    trigger: Trigger = Trigger.UNKNOWN
    last_service_on: IsoDate | None = None
    last_battery_change_on: IsoDate | None = None
    worn: ShortText | None = Field(default=None, description="How the watch is worn")
    hours_off_wrist_before_stop: Number | None = Field(default=None, ge=0, le=1000)
    observed_rate: ShortText | None = Field(default=None, examples=["+2 min per week"])
    crown_screwed_down: Flag | None = None
    visible_damage: Note | None = None
    intended_use: IntendedUse | None = None
    proposed_services: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,49}$")]] = Field(
        default_factory=list, max_length=20, description="Catalogue codes"
    )
    estimate: EstimateRange | None = None
    manager_review_requested: Flag = Field(
        default=False, description="Send the pre-quote to the manager for review"
    )
