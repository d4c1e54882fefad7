"""The counter's pre-diagnosis: symptom codes, likely causes and the services they suggest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class SymptomCode(StrEnum):
    STOPPED_QUARTZ = "stopped_quartz"
    QUARTZ_TWITCHES = "quartz_twitches"
    QUARTZ_DEAD_NEW_BATTERY = "quartz_dead_new_battery"
    CROWN_SPINS_WHEN_WINDING = "crown_spins_when_winding"
    STOPPED_AFTER_SHOCK = "stopped_after_shock"
    AUTOMATIC_STOPS_OFF_WRIST = "automatic_stops_off_wrist"
    GAINS_MINUTES = "gains_minutes"
    LOSES_TIME = "loses_time"
    FOGGING = "fogging"
    CROWN_WONT_SCREW = "crown_wont_screw"
    DATE_STUCK = "date_stuck"
    CHRONO_NO_RESET = "chrono_no_reset"
    STRAP_BROKEN = "strap_broken"
    CRYSTAL_CRACKED = "crystal_cracked"
    OTHER = "other"


class Trigger(StrEnum):
    SHOCK = "shock"
    WATER = "water"
    HEAT = "heat"
    MAGNET = "magnet"
    HOME_REPAIR = "home_repair"
    DATE_SET_EVENING = "date_set_evening"
    NONE = "none"
    UNKNOWN = "unknown"


class IntendedUse(StrEnum):
    EVERYDAY = "everyday"
    SWIMMING = "swimming"
    DIVING = "diving"
    SPORT = "sport"
    DRESS = "dress"


@dataclass(frozen=True)
class SymptomGuide:
    likely_cause: str
    services: tuple[str, ...]
    urgent: bool = False


GUIDE: dict[SymptomCode, SymptomGuide] = {
    SymptomCode.STOPPED_QUARTZ: SymptomGuide("battery exhausted", ("battery_seal_test",)),
    SymptomCode.QUARTZ_TWITCHES: SymptomGuide("gear train blocked", ("service_quartz",)),
    SymptomCode.QUARTZ_DEAD_NEW_BATTERY: SymptomGuide(
        "coil, contacts or corrosion", ("diagnosis", "service_quartz")
    ),
    SymptomCode.CROWN_SPINS_WHEN_WINDING: SymptomGuide(
        "broken mainspring", ("service_manual", "service_automatic")
    ),
    SymptomCode.STOPPED_AFTER_SHOCK: SymptomGuide(
        "broken balance staff", ("diagnosis", "service_manual", "service_automatic")
    ),
    SymptomCode.AUTOMATIC_STOPS_OFF_WRIST: SymptomGuide(
        "not worn enough, mainspring or winding system", ("diagnosis", "service_automatic")
    ),
    SymptomCode.GAINS_MINUTES: SymptomGuide("magnetism", ("demagnetise",)),
    SymptomCode.LOSES_TIME: SymptomGuide(
        "old oil, dirt or a tired mainspring (low amplitude)",
        ("service_manual", "service_automatic"),
    ),
    SymptomCode.FOGGING: SymptomGuide(
        "gasket, crown, tube or crystal", ("gaskets", "water_test"), urgent=True
    ),
    SymptomCode.CROWN_WONT_SCREW: SymptomGuide(
        "threads, tube or stem", ("crown_stem", "water_test")
    ),
    SymptomCode.DATE_STUCK: SymptomGuide(
        "quick-set used between 21:00 and 03:00, or 12 h off", ("calendar_repair",)
    ),
    SymptomCode.CHRONO_NO_RESET: SymptomGuide(
        "hammer or heart cam; quartz chronograph hands not zeroed",
        ("chronograph_adjustment", "service_chronograph"),
    ),
    SymptomCode.STRAP_BROKEN: SymptomGuide("spring bar, pin or clasp", ("bracelet_adjust",)),
    SymptomCode.CRYSTAL_CRACKED: SymptomGuide(
        "impact", ("crystal_mineral", "crystal_sapphire", "water_test")
    ),
    SymptomCode.OTHER: SymptomGuide("to be diagnosed", ("diagnosis",)),
}

_ONLY_FOR = {
    "service_manual": "mechanical",
    "service_automatic": "automatic",
    "battery_seal_test": "quartz",
    "service_quartz": "quartz",
}


def suggest_services(symptoms: Iterable[SymptomCode], movement_type: str | None) -> list[str]:
    """Catalogue codes worth proposing, in the guide's order, without duplicates, keeping only
    the services that fit the movement when it is known."""
    suggested: list[str] = []
    for symptom in symptoms:
        for code in GUIDE[symptom].services:
            fits = movement_type is None or _ONLY_FOR.get(code, movement_type) == movement_type
            if fits and code not in suggested:
                suggested.append(code)
    return suggested


def is_urgent(symptoms: Iterable[SymptomCode]) -> bool:
    return any(GUIDE[symptom].urgent for symptom in symptoms)
