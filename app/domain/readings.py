"""What the workshop's instruments measure, what is physically possible, and derived figures.

Timing machines read rate, amplitude and beat error per position; dry testers report a leak
rate; quartz testers read battery voltage, consumption, coil resistance and insulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from app.domain.errors import BusinessValidationError


class MeasurementPhase(StrEnum):
    INTAKE = "intake"
    BEFORE_UNCASING = "before_uncasing"
    AFTER_UNCASING = "after_uncasing"
    QC = "qc"


class Position(StrEnum):
    """Timing positions; the comments give the watchmaker's usual abbreviation."""

    DIAL_UP = "dial_up"  # CH
    DIAL_DOWN = "dial_down"  # CB
    CROWN_DOWN = "crown_down"  # 9H
    CROWN_UP = "crown_up"  # 3H
    CROWN_LEFT = "crown_left"  # 6H
    CROWN_RIGHT = "crown_right"  # 12H


HORIZONTAL = frozenset({Position.DIAL_UP, Position.DIAL_DOWN})
BEAT_RATES = (14400, 18000, 19800, 21600, 25200, 28800, 36000, 43200)


class WaterMethod(StrEnum):
    DRY = "dry"
    WET = "wet"


class WaterStage(StrEnum):
    BEFORE_OPENING = "before_opening"
    AFTER_CLOSING = "after_closing"


class BatteryType(StrEnum):
    """Chemistry and nominal voltage: SR silver oxide 1.55 V (end point 1.2 V), LR/AG alkaline
    1.5 V, CR lithium 3 V."""

    SR = "sr"
    LR = "lr"
    CR = "cr"


NOMINAL_VOLTAGE = {BatteryType.SR: Decimal("1.55"), BatteryType.LR: Decimal("1.5"),
                   BatteryType.CR: Decimal("3.0")}  # fmt: skip

# Physical plausibility: a value outside these bounds is a typing or instrument error.
PLAUSIBLE = {
    "rate": (Decimal(-1000), Decimal(1000)),  # s/d
    "amplitude": (Decimal(0), Decimal(360)),  # degrees
    "beat_error": (Decimal(0), Decimal("9.9")),  # ms
    "lift_angle": (Decimal(40), Decimal(60)),  # degrees
    "hours_after_full_wind": (Decimal(0), Decimal(240)),
    "pressure_bar": (Decimal(0), Decimal(200)),
    "leak_rate": (Decimal(0), Decimal(100_000)),  # µg/min
    "hours": (Decimal(0), Decimal(1000)),
    "voltage": (Decimal(0), Decimal("3.6")),
    "consumption": (Decimal(0), Decimal(1000)),  # µA
    "coil_resistance": (Decimal(0), Decimal(100)),  # kΩ
    "insulation": (Decimal(0), Decimal(100_000)),  # MΩ
    "monthly_rate": (Decimal(-600), Decimal(600)),  # s/month
}


@dataclass(frozen=True)
class TimingReading:
    position: Position
    rate: Decimal
    amplitude: Decimal
    beat_error: Decimal


@dataclass(frozen=True)
class TimingRun:
    beat_rate: int
    lift_angle: Decimal
    hours_after_full_wind: Decimal
    readings: tuple[TimingReading, ...]
    machine: str | None = None


@dataclass(frozen=True)
class WaterTest:
    method: WaterMethod
    stage: WaterStage
    rated_pressure_bar: Decimal
    test_pressure_bar: Decimal
    leak_rate: Decimal | None = None
    condensation: bool | None = None
    gaskets_changed: bool = False


@dataclass(frozen=True)
class PowerReserveTest:
    hours_measured: Decimal
    expected_hours: Decimal


@dataclass(frozen=True)
class WindingCheck:
    minutes_on_winder: int
    reserve_gained_hours: Decimal | None
    rotor_play_ok: bool
    noise_ok: bool


@dataclass(frozen=True)
class QuartzTest:
    battery_type: BatteryType | None = None
    battery_voltage: Decimal | None = None
    consumption_ua: Decimal | None = None
    coil_resistance_kohm: Decimal | None = None
    insulation_mohm: Decimal | None = None
    min_running_voltage: Decimal | None = None
    monthly_rate: Decimal | None = None
    end_of_life_indicator: bool = False


@dataclass(frozen=True)
class Readings:
    """Everything one measurement session recorded."""

    timing: tuple[TimingRun, ...] = ()
    water: tuple[WaterTest, ...] = ()
    power_reserve: PowerReserveTest | None = None
    winding: WindingCheck | None = None
    quartz: QuartzTest | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.timing or self.water or self.power_reserve or self.winding or self.quartz)


def check_plausible(readings: Readings) -> None:
    """Refuse what no instrument can read; schema bounds catch single values, this the rest."""
    if readings.is_empty:
        raise BusinessValidationError(
            "A measurement session needs at least one reading.", "/readings"
        )
    for index, run in enumerate(readings.timing):
        seen: set[Position] = set()
        for position_index, reading in enumerate(run.readings):
            if reading.position in seen:
                raise BusinessValidationError(
                    f"Position {reading.position.value} is measured twice in one run.",
                    f"/readings/timing/{index}/readings/{position_index}/position",
                )
            seen.add(reading.position)
        if not run.readings:
            raise BusinessValidationError(
                "A timing run needs at least one position.", f"/readings/timing/{index}/readings"
            )
    for index, test in enumerate(readings.water):
        if test.method is WaterMethod.DRY and test.leak_rate is None:
            raise BusinessValidationError(
                "A dry test reports a leak rate.", f"/readings/water/{index}/leak_rate"
            )


def _q(value: Decimal, places: str = "0.1") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, Decimal(0)) / len(values)


@dataclass(frozen=True)
class TimingFigures:
    """Derived figures of one run, exact: verdicts judge these, never rounded values."""

    mean_rate: Decimal
    delta: Decimal
    horizontal_minus_vertical: Decimal | None
    amplitude_dial_up: Decimal | None
    amplitude_horizontal: Decimal | None
    amplitude_vertical: Decimal | None
    amplitude_drop: Decimal | None
    max_amplitude: Decimal
    max_beat_error: Decimal
    hours_after_full_wind: Decimal

    def rounded(self) -> TimingFigures:
        """For people: rates to 0.1 s/d, amplitudes to 1°, beat error to 0.1 ms."""

        def rate(value: Decimal | None) -> Decimal | None:
            return None if value is None else _q(value)

        def degrees(value: Decimal | None) -> Decimal | None:
            return None if value is None else _q(value, "1")

        return TimingFigures(
            mean_rate=_q(self.mean_rate),
            delta=_q(self.delta),
            horizontal_minus_vertical=rate(self.horizontal_minus_vertical),
            amplitude_dial_up=degrees(self.amplitude_dial_up),
            amplitude_horizontal=degrees(self.amplitude_horizontal),
            amplitude_vertical=degrees(self.amplitude_vertical),
            amplitude_drop=degrees(self.amplitude_drop),
            max_amplitude=_q(self.max_amplitude, "1"),
            max_beat_error=_q(self.max_beat_error, "0.01"),
            hours_after_full_wind=self.hours_after_full_wind,
        )


def timing_figures(run: TimingRun) -> TimingFigures:
    rates = [r.rate for r in run.readings]
    horizontal = [r for r in run.readings if r.position in HORIZONTAL]
    vertical = [r for r in run.readings if r.position not in HORIZONTAL]
    h_rate = _mean([r.rate for r in horizontal]) if horizontal else None
    v_rate = _mean([r.rate for r in vertical]) if vertical else None
    h_amp = _mean([r.amplitude for r in horizontal]) if horizontal else None
    v_amp = _mean([r.amplitude for r in vertical]) if vertical else None
    dial_up = next((r.amplitude for r in run.readings if r.position is Position.DIAL_UP), None)
    both_rates = h_rate is not None and v_rate is not None
    both_amplitudes = h_amp is not None and v_amp is not None
    return TimingFigures(
        mean_rate=_mean(rates),
        delta=max(rates) - min(rates),
        horizontal_minus_vertical=h_rate - v_rate if both_rates else None,  # type: ignore[operator]
        amplitude_dial_up=dial_up,
        amplitude_horizontal=h_amp,
        amplitude_vertical=v_amp,
        amplitude_drop=h_amp - v_amp if both_amplitudes else None,  # type: ignore[operator]
        max_amplitude=max(r.amplitude for r in run.readings),
        max_beat_error=max(r.beat_error for r in run.readings),
        hours_after_full_wind=run.hours_after_full_wind,
    )


@dataclass(frozen=True)
class WindDownChange:
    """How rate and amplitude change from full wind to 24 h later."""

    rate_change: Decimal
    amplitude_change: Decimal | None


def change_over_24h(runs: Sequence[TimingRun]) -> WindDownChange | None:
    full = next((r for r in runs if r.hours_after_full_wind == 0), None)
    later = next((r for r in runs if r.hours_after_full_wind == 24), None)
    if full is None or later is None:
        return None
    first, second = timing_figures(full).rounded(), timing_figures(later).rounded()
    amplitude = None
    if first.amplitude_vertical is not None and second.amplitude_vertical is not None:
        amplitude = second.amplitude_vertical - first.amplitude_vertical
    return WindDownChange(_q(second.mean_rate - first.mean_rate), amplitude)
