"""Measurement sessions: record readings, judge them against tolerance profiles, compare."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import BusinessValidationError, Conflict, NotFound
from app.domain.lifecycle import TERMINAL_STATUSES, OrderStatus
from app.domain.readings import (
    MeasurementPhase,
    PowerReserveTest,
    QuartzTest,
    Readings,
    TimingReading,
    TimingRun,
    WaterTest,
    WindingCheck,
    change_over_24h,
    check_plausible,
    timing_figures,
)
from app.domain.verdicts import (
    ProfileKind,
    ToleranceProfile,
    compare,
    describe,
    judge_session,
    kinds_measured,
    select_profile,
)
from app.domain.webhooks import EventType
from app.models import MeasurementSession, RepairOrder, ToleranceProfileRow, Watch
from app.repositories import repair_orders as order_repository
from app.repositories import workshop as workshop_repository
from app.schemas.measurements import (
    Comparison,
    FigureChangeRead,
    MeasurementList,
    MeasurementSessionCreate,
    MeasurementSessionRead,
    ReadingsIn,
    ToleranceProfileCreate,
    ToleranceProfileRead,
    ToleranceProfileWrite,
    VerdictRead,
)
from app.services import outbox
from app.services.records import check_version


def _d(value: float | None) -> Decimal | None:
    # Floats arrive from JSON; their shortest text is what the technician typed.
    return None if value is None else Decimal(str(value))


def to_domain(readings: ReadingsIn) -> Readings:
    return Readings(
        timing=tuple(
            TimingRun(
                beat_rate=run.beat_rate,
                lift_angle=Decimal(str(run.lift_angle)),
                hours_after_full_wind=Decimal(str(run.hours_after_full_wind)),
                machine=run.machine,
                readings=tuple(
                    TimingReading(
                        r.position,
                        Decimal(str(r.rate)),
                        Decimal(str(r.amplitude)),
                        Decimal(str(r.beat_error)),
                    )  # fmt: skip
                    for r in run.readings
                ),
            )
            for run in readings.timing
        ),
        water=tuple(
            WaterTest(
                method=w.method,
                stage=w.stage,
                rated_pressure_bar=Decimal(str(w.rated_pressure_bar)),
                test_pressure_bar=Decimal(str(w.test_pressure_bar)),
                leak_rate=_d(w.leak_rate),
                condensation=w.condensation,
                gaskets_changed=w.gaskets_changed,
            )  # fmt: skip
            for w in readings.water
        ),
        power_reserve=(
            PowerReserveTest(
                Decimal(str(readings.power_reserve.hours_measured)),
                Decimal(str(readings.power_reserve.expected_hours)),
            )
            if readings.power_reserve
            else None
        ),
        winding=(
            WindingCheck(
                readings.winding.minutes_on_winder,
                _d(readings.winding.reserve_gained_hours),
                readings.winding.rotor_play_ok,
                readings.winding.noise_ok,
            )  # fmt: skip
            if readings.winding
            else None
        ),
        quartz=(
            QuartzTest(
                battery_type=readings.quartz.battery_type,
                battery_voltage=_d(readings.quartz.battery_voltage),
                consumption_ua=_d(readings.quartz.consumption_ua),
                coil_resistance_kohm=_d(readings.quartz.coil_resistance_kohm),
                insulation_mohm=_d(readings.quartz.insulation_mohm),
                min_running_voltage=_d(readings.quartz.min_running_voltage),
                monthly_rate=_d(readings.quartz.monthly_rate),
                end_of_life_indicator=readings.quartz.end_of_life_indicator,
            )
            if readings.quartz
            else None
        ),
    )


def profile_of(row: ToleranceProfileRow) -> ToleranceProfile:
    return ToleranceProfile(
        code=row.code,
        name=row.name,
        kind=ProfileKind(row.kind),
        limits={key: Decimal(value) for key, value in row.limits.items()},
        movement_types=tuple(row.movement_types),
        brand=row.brand,
        caliber=row.caliber,
        auto_select=row.auto_select,
    )


def _figures_json(readings: Readings) -> dict[str, Any]:
    derived: dict[str, Any] = {
        "timing": [
            {key: (str(value) if value is not None else None) for key, value in vars(f).items()}
            for f in (timing_figures(run).rounded() for run in readings.timing)
        ]
    }
    change = change_over_24h(readings.timing)
    if change is not None:
        derived["change_0h_to_24h"] = {
            "rate": str(change.rate_change),
            "amplitude": str(change.amplitude_change)
            if change.amplitude_change is not None
            else None,
        }
    return derived


def _text(value: Decimal | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def present(session: MeasurementSession) -> MeasurementSessionRead:
    readings = ReadingsIn.model_validate(session.readings)
    return MeasurementSessionRead(
        id=session.id,
        order_id=session.order_id,
        phase=session.phase,
        instrument=session.instrument,
        operator_name=session.operator_name,
        measured_at=session.measured_at,
        readings=session.readings,
        derived=_figures_json(to_domain(readings)),
        profiles=session.profile_codes,
        verdict=[VerdictRead.model_validate(v) for v in session.verdict],
        passed=session.passed,
        note=session.note,
        created_at=session.created_at,
    )


async def _profiles_for(
    session: AsyncSession,
    watch: Watch | None,
    readings: Readings,
    payload: MeasurementSessionCreate,
) -> dict[ProfileKind, ToleranceProfile]:
    rows = await workshop_repository.active_profiles(session)
    by_code = {row.code: profile_of(row) for row in rows}
    chosen = payload.profiles.model_dump() if payload.profiles else {}
    profiles: dict[ProfileKind, ToleranceProfile] = {}
    for kind in kinds_measured(readings):
        named = chosen.get(kind.value)
        if named is not None:
            profile = by_code.get(named)
            if profile is None or profile.kind is not kind:
                raise BusinessValidationError(
                    f"No active {kind.value} profile {named!r}.", f"/profiles/{kind.value}"
                )
        else:
            profile = select_profile(
                by_code.values(), kind,
                movement_type=watch.movement_type if watch else None,
                brand=watch.brand if watch else None,
                caliber=watch.caliber if watch else None,
            )  # fmt: skip
        if profile is not None:
            profiles[kind] = profile
    return profiles


async def record(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    payload: MeasurementSessionCreate,
    now: datetime,
) -> MeasurementSession:
    order = await order_repository.get(session, actor, order_id, for_update=True)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    if (
        OrderStatus(order.status) in TERMINAL_STATUSES
        or order.status == OrderStatus.AWAITING_ARRIVAL
    ):
        raise Conflict("Measurements are taken while the watch is in the workshop.")
    if payload.phase is MeasurementPhase.QC and order.status != OrderStatus.QUALITY_CONTROL:
        raise Conflict("A QC session is recorded while the order is in quality control.")
    readings = to_domain(payload.readings)
    check_plausible(readings)
    watch = await session.get(Watch, order.watch_id)
    profiles = await _profiles_for(session, watch, readings, payload)
    verdict = judge_session(readings, profiles)
    measurement = MeasurementSession(
        order_id=order.id,
        phase=payload.phase.value,
        instrument=payload.instrument,
        operator_key_id=actor.key_id,
        operator_name=actor.name,
        measured_at=payload.measured_at or now,
        readings=payload.readings.model_dump(mode="json"),
        profile_codes={kind.value: profile.code for kind, profile in profiles.items()},
        verdict=[
            {
                "criterion": v.criterion,
                "measured": _text(v.measured),
                "bound": v.bound.value if v.bound else None,
                "limit": _text(v.limit),
                "unit": v.unit,
                "passed": v.passed,
            }
            for v in verdict.criteria
        ],
        passed=verdict.passed,
        note=payload.note,
        created_at=now,
    )
    await workshop_repository.add(session, measurement)
    if payload.phase is MeasurementPhase.QC:
        await outbox.emit(
            session, EventType.QC_VERDICT, now, order=order,
            data={"session_id": str(measurement.id), "passed": measurement.passed,
                  "failed_criteria": list(verdict.failed_criteria)},
        )  # fmt: skip
    return measurement


def _comparison(sessions: Sequence[MeasurementSession]) -> Comparison | None:
    before = next((s for s in sessions if s.phase != MeasurementPhase.QC), None)
    after = next((s for s in reversed(sessions) if s.phase == MeasurementPhase.QC), None)
    if before is None or after is None:
        return None
    changes = compare(
        to_domain(ReadingsIn.model_validate(before.readings)),
        to_domain(ReadingsIn.model_validate(after.readings)),
    )
    return Comparison(
        before_session_id=before.id,
        after_session_id=after.id,
        changes=[
            FigureChangeRead(figure=c.figure, unit=c.unit, before=str(c.before), after=str(c.after))
            for c in changes
        ],
        summary=describe(changes),
    )


async def listing(session: AsyncSession, actor: Actor, order_id: uuid.UUID) -> MeasurementList:
    order = await order_repository.get(session, actor, order_id)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    sessions = await workshop_repository.sessions_of(session, order.id)
    return MeasurementList(items=[present(s) for s in sessions], comparison=_comparison(sessions))


async def latest_qc(session: AsyncSession, order: RepairOrder) -> MeasurementSession | None:
    sessions = await workshop_repository.sessions_of(session, order.id)
    qc = [s for s in sessions if s.phase == MeasurementPhase.QC]
    return qc[-1] if qc else None


# Tolerance profiles


def present_profile(row: ToleranceProfileRow) -> ToleranceProfileRead:
    return ToleranceProfileRead(
        id=row.id, code=row.code, name=row.name, kind=row.kind,
        movement_types=list(row.movement_types), brand=row.brand, caliber=row.caliber,
        limits=dict(row.limits), auto_select=row.auto_select, active=row.active,
        version=row.version,
    )  # fmt: skip


def _limits(payload: ToleranceProfileWrite) -> dict[str, str]:
    return {
        key: format(Decimal(str(value)).normalize(), "f")
        for key, value in payload.limits.model_dump().items()
        if value is not None
    }


async def profiles(session: AsyncSession) -> list[ToleranceProfileRead]:
    return [present_profile(row) for row in await workshop_repository.all_profiles(session)]


async def profile(session: AsyncSession, code: str) -> ToleranceProfileRow:
    row = await workshop_repository.profile_by_code(session, code)
    if row is None:
        raise NotFound(f"No tolerance profile {code!r}.")
    return row


async def create_profile(
    session: AsyncSession, payload: ToleranceProfileCreate, now: datetime
) -> ToleranceProfileRow:
    if await workshop_repository.profile_by_code(session, payload.code) is not None:
        raise Conflict(f"A profile {payload.code!r} exists already.")
    row = ToleranceProfileRow(
        code=payload.code, name=payload.name, kind=payload.kind.value,
        movement_types=[m.value for m in payload.movement_types], brand=payload.brand,
        caliber=payload.caliber, limits=_limits(payload), auto_select=payload.auto_select,
        active=payload.active,
        created_at=now, updated_at=now,
    )  # fmt: skip
    return await workshop_repository.add(session, row)


async def replace_profile(
    session: AsyncSession,
    code: str,
    payload: ToleranceProfileWrite,
    expected_version: int | None,
    now: datetime,
) -> ToleranceProfileRow:
    row = await workshop_repository.profile_by_code(session, code, for_update=True)
    if row is None:
        raise NotFound(f"No tolerance profile {code!r}.")
    check_version(row.version, expected_version)
    row.name, row.kind = payload.name, payload.kind.value
    row.movement_types = [m.value for m in payload.movement_types]
    row.brand, row.caliber = payload.brand, payload.caliber
    row.limits, row.active = _limits(payload), payload.active
    row.auto_select = payload.auto_select
    row.version += 1
    row.updated_at = now
    session.add(row)
    await session.flush()
    return row
