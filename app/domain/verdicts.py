"""Tolerance profiles (data) and the verdicts that judge readings against them (pure logic).

A profile is a set of named limits. Each criterion knows which figure it measures and whether
its limit is a minimum or a maximum; a session is judged on every criterion that both the
profile limits and the readings allow, and passes only if it was judged on at least one and
every judged criterion passes. Criteria that need several days on a timing machine (COSC's mean
and largest variation) are not evaluated from a workshop session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from app.domain.readings import (
    Readings,
    TimingFigures,
    WaterStage,
    timing_figures,
)


class ProfileKind(StrEnum):
    TIMING = "timing"
    WATER = "water"
    QUARTZ = "quartz"


class Bound(StrEnum):
    MIN = "min"
    MAX = "max"


@dataclass(frozen=True)
class ToleranceProfile:
    code: str
    name: str
    kind: ProfileKind
    limits: Mapping[str, Decimal]
    movement_types: tuple[str, ...] = ()
    brand: str | None = None
    caliber: str | None = None
    # Certification norms (COSC, METAS, ETA grades, ISO 6425) judge a watch only when named.
    auto_select: bool = True

    def applies_to(self, movement_type: str | None, brand: str | None, caliber: str | None) -> bool:
        if self.movement_types and movement_type not in self.movement_types:
            return False
        if self.brand and (brand or "").casefold() != self.brand.casefold():
            return False
        return not (self.caliber and (caliber or "").casefold() != self.caliber.casefold())

    @property
    def specificity(self) -> int:
        return (
            (4 if self.caliber else 0)
            + (2 if self.brand else 0)
            + (1 if self.movement_types else 0)
        )


def select_profile(
    profiles: Iterable[ToleranceProfile],
    kind: ProfileKind,
    *,
    movement_type: str | None,
    brand: str | None,
    caliber: str | None,
) -> ToleranceProfile | None:
    """The most specific profile of ``kind`` for the watch (caliber > brand > movement type >
    generic); ties go to the alphabetically first code, so the choice is deterministic."""
    candidates = [
        p
        for p in profiles
        if p.kind is kind and p.auto_select and p.applies_to(movement_type, brand, caliber)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda p: (-p.specificity, p.code))


@dataclass(frozen=True)
class Verdict:
    criterion: str
    measured: Decimal | bool
    bound: Bound | None
    limit: Decimal | bool
    unit: str
    passed: bool


@dataclass(frozen=True)
class SessionVerdict:
    criteria: tuple[Verdict, ...] = field(default_factory=tuple)

    @property
    def evaluated(self) -> bool:
        return bool(self.criteria)

    @property
    def passed(self) -> bool:
        return self.evaluated and all(v.passed for v in self.criteria)

    @property
    def failed_criteria(self) -> tuple[str, ...]:
        return tuple(v.criterion for v in self.criteria if not v.passed)


@dataclass(frozen=True)
class Criterion:
    code: str
    unit: str
    bound: Bound
    limit_key: str
    measure: Callable[[TimingFigures], Decimal | None]


# Timing criteria, judged on the full-wind run (the first one when none is at 0 h).
TIMING_CRITERIA = (
    Criterion("mean_rate_min", "s/d", Bound.MIN, "mean_rate_min", lambda f: f.mean_rate),
    Criterion("mean_rate_max", "s/d", Bound.MAX, "mean_rate_max", lambda f: f.mean_rate),
    Criterion("delta", "s/d", Bound.MAX, "delta_max", lambda f: f.delta),
    Criterion("horizontal_minus_vertical_min", "s/d", Bound.MIN, "h_minus_v_min",
              lambda f: f.horizontal_minus_vertical),
    Criterion("horizontal_minus_vertical_max", "s/d", Bound.MAX, "h_minus_v_max",
              lambda f: f.horizontal_minus_vertical),
    Criterion("amplitude_dial_up", "°", Bound.MIN, "amplitude_dial_up_min",
              lambda f: f.amplitude_dial_up),
    Criterion("amplitude_knocking", "°", Bound.MAX, "amplitude_max", lambda f: f.max_amplitude),
    Criterion("beat_error", "ms", Bound.MAX, "beat_error_max", lambda f: f.max_beat_error),
)  # fmt: skip


def _judge(code: str, measured: Decimal, bound: Bound, limit: Decimal, unit: str) -> Verdict:
    passed = measured >= limit if bound is Bound.MIN else measured <= limit
    return Verdict(code, measured, bound, limit, unit, passed)


def judge_timing(readings: Readings, profile: ToleranceProfile) -> list[Verdict]:
    if not readings.timing:
        return []
    runs = sorted(readings.timing, key=lambda r: r.hours_after_full_wind)
    full = timing_figures(runs[0])
    verdicts = []
    for criterion in TIMING_CRITERIA:
        limit = profile.limits.get(criterion.limit_key)
        measured = criterion.measure(full)
        if limit is not None and measured is not None:
            verdicts.append(
                _judge(criterion.code, measured, criterion.bound, limit, criterion.unit)
            )
    later = next((r for r in runs if r.hours_after_full_wind >= 24), None)
    vertical_min = profile.limits.get("vertical_amplitude_24h_min")
    if later is not None and vertical_min is not None:
        vertical = timing_figures(later).amplitude_vertical
        if vertical is not None:
            verdicts.append(
                _judge("vertical_amplitude_24h", vertical, Bound.MIN, vertical_min, "°")
            )
    ratio_min = profile.limits.get("power_reserve_ratio_min")
    reserve = readings.power_reserve
    if ratio_min is not None and reserve is not None and reserve.expected_hours > 0:
        needed = (reserve.expected_hours * ratio_min).quantize(Decimal("0.1"))
        verdicts.append(_judge("power_reserve", reserve.hours_measured, Bound.MIN, needed, "h"))
    if readings.winding is not None:
        winding = readings.winding
        verdicts.append(
            Verdict("rotor_play", winding.rotor_play_ok, None, True, "", winding.rotor_play_ok)
        )
        verdicts.append(
            Verdict("winding_noise", winding.noise_ok, None, True, "", winding.noise_ok)
        )
    return verdicts


def judge_water(readings: Readings, profile: ToleranceProfile) -> list[Verdict]:
    verdicts = []
    for test in readings.water:
        stage = test.stage.value
        factor = profile.limits.get("test_pressure_factor")
        if factor is not None and test.stage is WaterStage.AFTER_CLOSING:
            needed = (test.rated_pressure_bar * factor).quantize(Decimal("0.1"))
            verdicts.append(
                _judge(f"test_pressure_{stage}", test.test_pressure_bar, Bound.MIN, needed, "bar")
            )
        leak_max = profile.limits.get("leak_rate_max")
        if leak_max is not None and test.leak_rate is not None:
            verdicts.append(
                _judge(f"leak_rate_{stage}", test.leak_rate, Bound.MAX, leak_max, "µg/min")
            )
        if test.condensation is not None:
            dry = not test.condensation
            verdicts.append(Verdict(f"no_condensation_{stage}", dry, None, True, "", dry))
    return verdicts


QUARTZ_CRITERIA = (
    ("battery_voltage", "V", Bound.MIN, "battery_voltage_min", "battery_voltage"),
    ("consumption", "µA", Bound.MAX, "consumption_max", "consumption_ua"),
    ("coil_resistance_min", "kΩ", Bound.MIN, "coil_resistance_min", "coil_resistance_kohm"),
    ("coil_resistance_max", "kΩ", Bound.MAX, "coil_resistance_max", "coil_resistance_kohm"),
    ("insulation", "MΩ", Bound.MIN, "insulation_min", "insulation_mohm"),
    ("monthly_rate_min", "s/month", Bound.MIN, "monthly_rate_min", "monthly_rate"),
    ("monthly_rate_max", "s/month", Bound.MAX, "monthly_rate_max", "monthly_rate"),
)


def judge_quartz(readings: Readings, profile: ToleranceProfile) -> list[Verdict]:
    test = readings.quartz
    if test is None:
        return []
    verdicts = []
    for code, unit, bound, key, attribute in QUARTZ_CRITERIA:
        limit = profile.limits.get(key)
        measured = getattr(test, attribute)
        if limit is not None and measured is not None:
            verdicts.append(_judge(code, measured, bound, limit, unit))
    return verdicts


JUDGES = {
    ProfileKind.TIMING: judge_timing,
    ProfileKind.WATER: judge_water,
    ProfileKind.QUARTZ: judge_quartz,
}


def judge_session(
    readings: Readings, profiles: Mapping[ProfileKind, ToleranceProfile]
) -> SessionVerdict:
    verdicts: list[Verdict] = []
    for kind, profile in profiles.items():
        verdicts.extend(JUDGES[kind](readings, profile))
    return SessionVerdict(tuple(verdicts))


def kinds_measured(readings: Readings) -> list[ProfileKind]:
    kinds = []
    if readings.timing or readings.power_reserve or readings.winding:
        kinds.append(ProfileKind.TIMING)
    if readings.water:
        kinds.append(ProfileKind.WATER)
    if readings.quartz:
        kinds.append(ProfileKind.QUARTZ)
    return kinds


@dataclass(frozen=True)
class FigureChange:
    figure: str
    unit: str
    before: Decimal
    after: Decimal

    def describe(self) -> str:
        name = self.figure.replace("_", " ")
        return f"{name} {_signed(self.before, self.unit)} → {_signed(self.after, self.unit)}"


def _signed(value: Decimal, unit: str) -> str:
    text = f"{value:+}" if unit == "s/d" else f"{value}"
    return f"{text} {unit}" if unit != "°" else f"{text}°"


def _key_figures(readings: Readings) -> dict[str, tuple[Decimal, str]]:
    figures: dict[str, tuple[Decimal, str]] = {}
    if readings.timing:
        first_run = sorted(readings.timing, key=lambda r: r.hours_after_full_wind)[0]
        full = timing_figures(first_run).rounded()
        figures["rate"] = (full.mean_rate, "s/d")
        if full.amplitude_dial_up is not None:
            figures["amplitude"] = (full.amplitude_dial_up, "°")
        figures["beat_error"] = (full.max_beat_error, "ms")
        figures["delta"] = (full.delta, "s/d")
    if readings.quartz:
        if readings.quartz.battery_voltage is not None:
            figures["battery_voltage"] = (readings.quartz.battery_voltage, "V")
        if readings.quartz.consumption_ua is not None:
            figures["consumption"] = (readings.quartz.consumption_ua, "µA")
    if readings.power_reserve:
        figures["power_reserve"] = (readings.power_reserve.hours_measured, "h")
    return figures


def compare(before: Readings, after: Readings) -> list[FigureChange]:
    """Before/after pairs of the figures both sessions have, for customer documents."""
    first, second = _key_figures(before), _key_figures(after)
    return [
        FigureChange(name, unit, value, second[name][0])
        for name, (value, unit) in first.items()
        if name in second
    ]


def describe(changes: Sequence[FigureChange]) -> str:
    return ", ".join(change.describe() for change in changes)
