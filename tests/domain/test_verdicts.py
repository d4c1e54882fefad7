"""Readings, derived figures and verdicts on the brief's numbers, at and around each limit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import BusinessValidationError
from app.domain.readings import (
    Position,
    PowerReserveTest,
    QuartzTest,
    Readings,
    TimingReading,
    TimingRun,
    WaterMethod,
    WaterStage,
    WaterTest,
    WindingCheck,
    change_over_24h,
    check_plausible,
    timing_figures,
)
from app.domain.symptoms import SymptomCode, is_urgent, suggest_services
from app.domain.verdicts import (
    ProfileKind,
    ToleranceProfile,
    compare,
    describe,
    judge_session,
    select_profile,
)

D = Decimal
POSITIONS = list(Position)
COSC = ToleranceProfile("cosc", "COSC > 20 mm", ProfileKind.TIMING,
                        {"mean_rate_min": D(-4), "mean_rate_max": D(6)})  # fmt: skip
WORKSHOP = ToleranceProfile(
    "workshop", "Workshop after service", ProfileKind.TIMING,
    {"mean_rate_min": D(-5), "mean_rate_max": D(10), "delta_max": D(20),
     "amplitude_dial_up_min": D(270), "amplitude_max": D(315), "beat_error_max": D("0.6"),
     "vertical_amplitude_24h_min": D(200), "power_reserve_ratio_min": D("0.9")},
    movement_types=("mechanical", "automatic"),
)  # fmt: skip
WATER = ToleranceProfile("iso22810", "ISO 22810", ProfileKind.WATER,
                         {"leak_rate_max": D(50), "test_pressure_factor": D(1)})  # fmt: skip
DIVER = ToleranceProfile("iso6425", "ISO 6425", ProfileKind.WATER,
                         {"leak_rate_max": D(50), "test_pressure_factor": D("1.25")})  # fmt: skip
QUARTZ = ToleranceProfile(
    "eta_976_001", "ETA 976.001", ProfileKind.QUARTZ,
    {"consumption_max": D("0.50"), "coil_resistance_min": D("2.10"),
     "coil_resistance_max": D("2.40"), "monthly_rate_min": D(-15), "monthly_rate_max": D(15)},
)  # fmt: skip


def run(rate: str = "0", amplitude: str = "280", beat_error: str = "0.2", hours: str = "0",
        rates: list[str] | None = None) -> TimingRun:  # fmt: skip
    values = rates or [rate] * 6
    readings = tuple(
        TimingReading(p, D(r), D(amplitude), D(beat_error))
        for p, r in zip(POSITIONS, values, strict=False)
    )
    return TimingRun(28800, D(52), D(hours), readings)


def verdicts(readings: Readings, profile: ToleranceProfile) -> dict[str, bool]:
    return {
        v.criterion: v.passed for v in judge_session(readings, {profile.kind: profile}).criteria
    }


@pytest.mark.parametrize(
    ("rate", "passes"),
    [("-4", True), ("6", True), ("-4.1", False), ("6.1", False), ("0", True)],
)
def test_cosc_mean_rate_limits_are_inclusive(rate: str, passes: bool) -> None:
    result = judge_session(Readings(timing=(run(rate),)), {ProfileKind.TIMING: COSC})
    assert result.passed is passes


@pytest.mark.parametrize(
    ("amplitude", "beat_error", "criterion", "passes"),
    [
        ("270", "0.2", "amplitude_dial_up", True),
        ("269.9", "0.2", "amplitude_dial_up", False),
        ("315", "0.2", "amplitude_knocking", True),
        ("316", "0.2", "amplitude_knocking", False),
        ("280", "0.6", "beat_error", True),
        ("280", "0.61", "beat_error", False),
    ],
)
def test_workshop_limits_at_and_beyond_the_boundary(
    amplitude: str, beat_error: str, criterion: str, passes: bool
) -> None:
    result = verdicts(Readings(timing=(run("2", amplitude, beat_error),)), WORKSHOP)
    assert result[criterion] is passes


def test_derived_figures_of_a_run() -> None:
    figures = timing_figures(run(rates=["5", "3", "-2", "0", "-4", "-1"])).rounded()
    assert figures.mean_rate == D("0.2")
    assert figures.delta == D("9.0")
    # horizontal mean 4, vertical mean -1.75
    assert figures.horizontal_minus_vertical == D("5.8")
    assert figures.amplitude_dial_up == D(280)


def test_delta_over_positions_is_judged() -> None:
    spread = run(rates=["-5", "10", "0", "0", "0", "0"])
    assert verdicts(Readings(timing=(spread,)), WORKSHOP)["delta"] is True
    wider = run(rates=["-6", "15", "0", "0", "0", "0"])
    assert verdicts(Readings(timing=(wider,)), WORKSHOP)["delta"] is False


def test_vertical_amplitude_after_24_hours_and_the_change_from_full_wind() -> None:
    full = run("2", "290")
    day_after = run("5", "205", hours="24")
    readings = Readings(timing=(full, day_after))
    assert verdicts(readings, WORKSHOP)["vertical_amplitude_24h"] is True
    low = Readings(timing=(full, run("5", "199", hours="24")))
    assert verdicts(low, WORKSHOP)["vertical_amplitude_24h"] is False
    change = change_over_24h(readings.timing)
    assert change is not None
    assert change.rate_change == D("3.0")
    assert change.amplitude_change == D(-85)


def test_power_reserve_and_winding_checks() -> None:
    eta_2824 = Readings(timing=(run("1"),), power_reserve=PowerReserveTest(D("37.8"), D(42)))
    assert verdicts(eta_2824, WORKSHOP)["power_reserve"] is True
    short = Readings(timing=(run("1"),), power_reserve=PowerReserveTest(D("37.7"), D(42)))
    assert verdicts(short, WORKSHOP)["power_reserve"] is False
    noisy = Readings(timing=(run("1"),), winding=WindingCheck(60, D(8), True, False))
    assert verdicts(noisy, WORKSHOP) | {} == {**verdicts(noisy, WORKSHOP), "winding_noise": False}


@pytest.mark.parametrize(("leak", "passes"), [("50", True), ("50.1", False), ("0", True)])
def test_leak_rate_at_top_pressure(leak: str, passes: bool) -> None:
    test = WaterTest(WaterMethod.DRY, WaterStage.AFTER_CLOSING, D(10), D(10), D(leak), False)
    assert judge_session(Readings(water=(test,)), {ProfileKind.WATER: WATER}).passed is passes


def test_divers_watches_are_tested_at_125_percent_of_their_rating() -> None:
    at_rating = WaterTest(WaterMethod.DRY, WaterStage.AFTER_CLOSING, D(20), D(20), D(10), False)
    assert verdicts(Readings(water=(at_rating,)), DIVER)["test_pressure_after_closing"] is False
    at_125 = WaterTest(WaterMethod.DRY, WaterStage.AFTER_CLOSING, D(20), D(25), D(10), False)
    assert verdicts(Readings(water=(at_125,)), DIVER)["test_pressure_after_closing"] is True
    fogged = WaterTest(WaterMethod.WET, WaterStage.AFTER_CLOSING, D(20), D(25), None, True)
    assert verdicts(Readings(water=(fogged,)), DIVER)["no_condensation_after_closing"] is False


def test_quartz_consumption_and_coil_on_the_eta_976() -> None:
    good = QuartzTest(consumption_ua=D("0.50"), coil_resistance_kohm=D("2.10"), monthly_rate=D(15))
    assert judge_session(Readings(quartz=good), {ProfileKind.QUARTZ: QUARTZ}).passed
    hungry = QuartzTest(consumption_ua=D("0.51"), coil_resistance_kohm=D("2.41"))
    result = verdicts(Readings(quartz=hungry), QUARTZ)
    assert result == {
        "consumption": False,
        "coil_resistance_min": True,
        "coil_resistance_max": False,
    }


def test_a_session_with_nothing_to_judge_does_not_pass() -> None:
    readings = Readings(quartz=QuartzTest(battery_voltage=D("1.55")))
    assert not judge_session(readings, {ProfileKind.QUARTZ: QUARTZ}).passed
    assert not judge_session(Readings(timing=(run(),)), {}).passed


def test_impossible_combinations_are_refused_with_a_pointer() -> None:
    with pytest.raises(BusinessValidationError):
        check_plausible(Readings())
    twice = TimingRun(28800, D(52), D(0), (
        TimingReading(Position.DIAL_UP, D(0), D(280), D("0.1")),
        TimingReading(Position.DIAL_UP, D(1), D(280), D("0.1")),
    ))  # fmt: skip
    with pytest.raises(BusinessValidationError) as refused:
        check_plausible(Readings(timing=(twice,)))
    assert (
        refused.value.extensions["errors"][0]["pointer"] == "/readings/timing/0/readings/1/position"
    )
    dry = WaterTest(WaterMethod.DRY, WaterStage.BEFORE_OPENING, D(10), D(10))
    with pytest.raises(BusinessValidationError):
        check_plausible(Readings(water=(dry,)))


@given(
    rates=st.lists(st.decimals(-30, 30, places=1), min_size=6, max_size=6),
    shift=st.decimals(-20, 20, places=1),
)
def test_shifting_every_rate_shifts_the_mean_and_keeps_the_delta(
    rates: list[Decimal], shift: Decimal
) -> None:
    base = timing_figures(run(rates=[str(r) for r in rates]))
    moved = timing_figures(run(rates=[str(r + shift) for r in rates]))
    assert abs(moved.mean_rate - (base.mean_rate + shift)) < D("1e-20")
    assert moved.delta == base.delta


@given(rates=st.lists(st.decimals(-4, 6, places=1), min_size=6, max_size=6))
def test_a_run_inside_every_cosc_limit_passes(rates: list[Decimal]) -> None:
    readings = Readings(timing=(run(rates=[str(r) for r in rates]),))
    assert judge_session(readings, {ProfileKind.TIMING: COSC}).passed


def test_the_most_specific_automatic_profile_is_chosen() -> None:
    brand = ToleranceProfile("omega", "Omega", ProfileKind.TIMING, {}, ("automatic",), "Omega")
    caliber = ToleranceProfile("c8500", "8500", ProfileKind.TIMING, {}, (), None, "8500")
    named_only = ToleranceProfile("cosc", "COSC", ProfileKind.TIMING, {}, ("automatic",),
                                  None, "8500", auto_select=False)  # fmt: skip
    profiles = [WORKSHOP, brand, caliber, named_only]
    chosen = select_profile(profiles, ProfileKind.TIMING, movement_type="automatic",
                            brand="OMEGA", caliber="8500")  # fmt: skip
    assert chosen is caliber
    assert select_profile(profiles, ProfileKind.TIMING, movement_type="automatic", brand="Omega",
                          caliber=None) is brand  # fmt: skip
    assert select_profile(profiles, ProfileKind.TIMING, movement_type="mechanical", brand=None,
                          caliber=None) is WORKSHOP  # fmt: skip
    assert select_profile(profiles, ProfileKind.TIMING, movement_type="quartz", brand=None,
                          caliber=None) is None  # fmt: skip


def test_comparison_reads_like_a_customer_document() -> None:
    before = Readings(timing=(run("-45", "190"),))
    after = Readings(timing=(run("3", "285"),))
    text = describe(compare(before, after))
    assert text.startswith("rate -45.0 s/d → +3.0 s/d, amplitude 190° → 285°")


def test_symptoms_suggest_services_fitting_the_movement() -> None:
    assert suggest_services([SymptomCode.LOSES_TIME], "automatic") == ["service_automatic"]
    assert suggest_services([SymptomCode.STOPPED_QUARTZ], "quartz") == ["battery_seal_test"]
    assert suggest_services([SymptomCode.STOPPED_QUARTZ], "automatic") == []
    assert suggest_services([SymptomCode.FOGGING, SymptomCode.CRYSTAL_CRACKED], None) == [
        "gaskets", "water_test", "crystal_mineral", "crystal_sapphire",
    ]  # fmt: skip
    assert is_urgent([SymptomCode.FOGGING])
    assert not is_urgent([SymptomCode.DATE_STUCK])
    assert set(SymptomCode) - {SymptomCode.OTHER} >= {SymptomCode.CHRONO_NO_RESET}
