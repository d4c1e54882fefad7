"""The workshop floor: measurement sessions, tolerance profiles, the work log and its alerts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Response

from app.deps import ClockDep, IfMatchHeader, SessionDep, require_roles, required_version
from app.domain.actors import Actor
from app.domain.roles import Role
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, with_etag
from app.schemas.measurements import (
    AlertResolution,
    MeasurementList,
    MeasurementSessionCreate,
    MeasurementSessionRead,
    ToleranceProfileCreate,
    ToleranceProfileList,
    ToleranceProfileRead,
    ToleranceProfileWrite,
    WorkLogEntryCreate,
    WorkLogEntryRead,
    WorkLogList,
)
from app.services import measurements as measurement_service
from app.services import work_log as work_log_service

router = api_router("/v1", "workshop")
Technician = Annotated[Actor, Depends(require_roles(Role.TECHNICIAN, Role.MANAGER))]
Staff = Annotated[
    Actor, Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.PARTNER))
]
ProfileEditor = Annotated[Actor, Depends(require_roles(Role.MANAGER, Role.ADMIN))]
ProfileReader = Annotated[
    Actor, Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN))
]
Manager = Annotated[Actor, Depends(require_roles(Role.MANAGER))]
ProfileCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,59}$")]


@router.post(
    "/repair-orders/{order_id}/measurements",
    operation_id="recordMeasurementSession",
    summary="Record a measurement session; the response carries derived figures and verdicts",
    status_code=201,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 503),
)
async def record_measurement_session(
    order_id: uuid.UUID,
    payload: MeasurementSessionCreate,
    actor: Technician,
    session: SessionDep,
    clock: ClockDep,
) -> MeasurementSessionRead:
    measurement = await measurement_service.record(session, actor, order_id, payload, clock())
    return measurement_service.present(measurement)


@router.get(
    "/repair-orders/{order_id}/measurements",
    operation_id="listMeasurementSessions",
    summary="Every measurement session, with the before/after comparison",
    responses=documented(401, 403, 404, 422, 503),
)
async def list_measurement_sessions(
    order_id: uuid.UUID, actor: Staff, session: SessionDep
) -> MeasurementList:
    return await measurement_service.listing(session, actor, order_id)


@router.get(
    "/tolerance-profiles",
    operation_id="listToleranceProfiles",
    summary="Tolerance profiles (reference norms and the workshop's own)",
    responses=documented(401, 403, 422, 503),
)
async def list_tolerance_profiles(
    _actor: ProfileReader, session: SessionDep
) -> ToleranceProfileList:
    return ToleranceProfileList(items=await measurement_service.profiles(session))


@router.get(
    "/tolerance-profiles/{code}",
    operation_id="getToleranceProfile",
    summary="Read one tolerance profile",
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_tolerance_profile(
    code: ProfileCode, _actor: ProfileReader, session: SessionDep, response: Response
) -> ToleranceProfileRead:
    row = await measurement_service.profile(session, code)
    with_etag(response, row.version)
    return measurement_service.present_profile(row)


@router.post(
    "/tolerance-profiles",
    operation_id="createToleranceProfile",
    summary="Add a tolerance profile (for a brand, a caliber or a movement type)",
    status_code=201,
    responses=documented(
        400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_tolerance_profile(
    payload: ToleranceProfileCreate,
    _actor: ProfileEditor,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> ToleranceProfileRead:
    row = await measurement_service.create_profile(session, payload, clock())
    response.headers["Location"] = f"/v1/tolerance-profiles/{row.code}"
    with_etag(response, row.version)
    return measurement_service.present_profile(row)


@router.put(
    "/tolerance-profiles/{code}",
    operation_id="replaceToleranceProfile",
    summary="Replace a tolerance profile (If-Match required)",
    responses=documented(
        400, 401, 403, 404, 409, 412, 413, 422, 428, 503, success=200, **ETAG_HEADER
    ),
)
async def replace_tolerance_profile(
    code: ProfileCode,
    payload: ToleranceProfileWrite,
    _actor: ProfileEditor,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ToleranceProfileRead:
    row = await measurement_service.replace_profile(
        session, code, payload, required_version(if_match), clock()
    )
    with_etag(response, row.version)
    return measurement_service.present_profile(row)


@router.post(
    "/repair-orders/{order_id}/work-log",
    operation_id="addWorkLogEntry",
    summary="Add a step to the intervention tracking sheet",
    status_code=201,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 503),
)
async def add_work_log_entry(
    order_id: uuid.UUID,
    payload: WorkLogEntryCreate,
    actor: Technician,
    session: SessionDep,
    clock: ClockDep,
) -> WorkLogEntryRead:
    entry = await work_log_service.add_entry(session, actor, order_id, payload, clock())
    return work_log_service.present(entry, actor)


@router.get(
    "/repair-orders/{order_id}/work-log",
    operation_id="listWorkLog",
    summary="The intervention tracking sheet of an order, oldest first",
    responses=documented(401, 403, 404, 422, 503),
)
async def list_work_log(order_id: uuid.UUID, actor: Staff, session: SessionDep) -> WorkLogList:
    return await work_log_service.entries(session, actor, order_id)


@router.get(
    "/work-log/alerts",
    operation_id="listOpenAlerts",
    summary="Open alerts raised to the manager, across orders",
    responses=documented(401, 403, 422, 503),
)
async def list_open_alerts(actor: Manager, session: SessionDep) -> WorkLogList:
    return await work_log_service.open_alerts(session, actor)


@router.post(
    "/work-log/alerts/{entry_id}/resolution",
    operation_id="resolveAlert",
    summary="Close an alert, with what was decided",
    responses=documented(400, 401, 403, 404, 409, 413, 422, 503),
)
async def resolve_alert(
    entry_id: uuid.UUID,
    resolution: AlertResolution,
    actor: Manager,
    session: SessionDep,
    clock: ClockDep,
) -> WorkLogEntryRead:
    entry = await work_log_service.resolve_alert(session, actor, entry_id, resolution, clock())
    return work_log_service.present(entry, actor)
