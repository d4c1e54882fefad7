"""Watches: create, read, update (If-Match), list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from app.deps import ClockDep, IfMatchHeader, SessionDep, require_roles, required_version
from app.domain.actors import Actor
from app.domain.roles import Role
from app.domain.watches import MovementType
from app.repositories.watches import WatchFilters
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, with_etag
from app.schemas.common import AwareDatetime, CursorParam, Limit, SearchText
from app.schemas.watches import WatchCreate, WatchPage, WatchRead, WatchUpdate
from app.services import watches as watch_service

router = api_router("/v1/watches", "watches")
WatchActor = Annotated[
    Actor, Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.PARTNER))
]


@router.post(
    "",
    operation_id="createWatch",
    summary="Register a watch",
    status_code=201,
    responses=documented(
        400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_watch(
    payload: WatchCreate,
    actor: WatchActor,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> WatchRead:
    watch = await watch_service.create(session, actor, payload, clock())
    response.headers["Location"] = f"/v1/watches/{watch.id}"
    with_etag(response, watch.version)
    return WatchRead.model_validate(watch)


@router.get(
    "/{watch_id}",
    operation_id="getWatch",
    summary="Read a watch",
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_watch(
    watch_id: uuid.UUID, actor: WatchActor, session: SessionDep, response: Response
) -> WatchRead:
    watch = await watch_service.get(session, actor, watch_id)
    with_etag(response, watch.version)
    return WatchRead.model_validate(watch)


@router.patch(
    "/{watch_id}",
    operation_id="updateWatch",
    summary="Correct a watch's identity (If-Match required)",
    responses=documented(
        400, 401, 403, 404, 409, 412, 413, 422, 428, 503, success=200, **ETAG_HEADER
    ),
)
async def update_watch(
    watch_id: uuid.UUID,
    changes: WatchUpdate,
    actor: WatchActor,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> WatchRead:
    watch = await watch_service.update(
        session, actor, watch_id, changes, required_version(if_match), clock()
    )
    with_etag(response, watch.version)
    return WatchRead.model_validate(watch)


@router.get(
    "",
    operation_id="listWatches",
    summary="List watches, newest first",
    responses=documented(400, 401, 403, 422, 503),
)
async def list_watches(
    actor: WatchActor,
    session: SessionDep,
    q: Annotated[
        SearchText | None, Query(description="Search in brand, model, reference, serial")
    ] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    serial: Annotated[SearchText | None, Query(description="Exact serial number")] = None,
    movement_type: Annotated[MovementType | None, Query()] = None,
    created_after: Annotated[AwareDatetime | None, Query()] = None,
    updated_after: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[Limit, Query()] = 50,
    cursor: Annotated[CursorParam | None, Query()] = None,
) -> WatchPage:
    filters = WatchFilters(
        q=q,
        customer_id=customer_id,
        serial=serial,
        movement_type=movement_type.value if movement_type else None,
        created_after=created_after,
        updated_after=updated_after,
    )
    rows, next_cursor = await watch_service.list_page(session, actor, filters, limit, cursor)
    return WatchPage(items=[WatchRead.model_validate(r) for r in rows], next_cursor=next_cursor)
