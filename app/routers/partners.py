"""Partner boutiques: the workshop's managers and admins register and maintain them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from app.deps import ClockDep, IfMatchHeader, SessionDep, require_roles, required_version
from app.domain.actors import Actor
from app.domain.roles import Role
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, with_etag
from app.schemas.common import CursorParam, Limit, SearchText
from app.schemas.partners import PartnerCreate, PartnerPage, PartnerRead, PartnerUpdate
from app.services import partners as partner_service

router = api_router("/v1/partners", "partners")
PartnerAdmin = Annotated[Actor, Depends(require_roles(Role.MANAGER, Role.ADMIN))]


@router.post(
    "",
    operation_id="createPartner",
    summary="Register a partner boutique",
    status_code=201,
    responses=documented(
        400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_partner(
    payload: PartnerCreate,
    _actor: PartnerAdmin,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> PartnerRead:
    partner = await partner_service.create(session, payload, clock())
    response.headers["Location"] = f"/v1/partners/{partner.id}"
    with_etag(response, partner.version)
    return PartnerRead.model_validate(partner)


@router.get(
    "/{partner_id}",
    operation_id="getPartner",
    summary="Read a partner boutique",
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_partner(
    partner_id: uuid.UUID, _actor: PartnerAdmin, session: SessionDep, response: Response
) -> PartnerRead:
    partner = await partner_service.get(session, partner_id)
    with_etag(response, partner.version)
    return PartnerRead.model_validate(partner)


@router.patch(
    "/{partner_id}",
    operation_id="updatePartner",
    summary="Change a partner boutique's details (If-Match required)",
    responses=documented(
        400, 401, 403, 404, 409, 412, 413, 422, 428, 503, success=200, **ETAG_HEADER
    ),
)
async def update_partner(
    partner_id: uuid.UUID,
    changes: PartnerUpdate,
    _actor: PartnerAdmin,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> PartnerRead:
    partner = await partner_service.update(
        session, partner_id, changes, required_version(if_match), clock()
    )
    with_etag(response, partner.version)
    return PartnerRead.model_validate(partner)


@router.get(
    "",
    operation_id="listPartners",
    summary="List partner boutiques, newest first",
    responses=documented(400, 401, 403, 422, 503),
)
async def list_partners(
    _actor: PartnerAdmin,
    session: SessionDep,
    q: Annotated[SearchText | None, Query(description="Search in the name")] = None,
    limit: Annotated[Limit, Query()] = 50,
    cursor: Annotated[CursorParam | None, Query()] = None,
) -> PartnerPage:
    rows, next_cursor = await partner_service.list_page(session, q, limit, cursor)
    return PartnerPage(items=[PartnerRead.model_validate(r) for r in rows], next_cursor=next_cursor)
