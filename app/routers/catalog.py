"""The service catalogue: every staff role reads it, managers and admins edit it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Response

from app.deps import ClockDep, IfMatchHeader, SessionDep, require_roles, required_version
from app.domain.actors import Actor
from app.domain.roles import Role
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, with_etag
from app.schemas.quotes import (
    CatalogServiceCreate,
    CatalogServiceList,
    CatalogServiceRead,
    CatalogServiceUpdate,
)
from app.services import catalog as catalog_service

router = api_router("/v1/catalog/services", "catalog")
CatalogReader = Annotated[
    Actor,
    Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN, Role.PARTNER)),
]
CatalogEditor = Annotated[Actor, Depends(require_roles(Role.MANAGER, Role.ADMIN))]
Code = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,49}$")]


@router.get(
    "",
    operation_id="listCatalogServices",
    summary="The workshop's services with prices excl. and incl. VAT",
    responses=documented(401, 403, 422, 503),
)
async def list_catalog_services(
    _actor: CatalogReader,
    session: SessionDep,
    include_inactive: Annotated[bool, Query()] = False,
) -> CatalogServiceList:
    return CatalogServiceList(items=await catalog_service.listing(session, include_inactive))


@router.get(
    "/{code}",
    operation_id="getCatalogService",
    summary="Read one catalogue service",
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_catalog_service(
    code: Code, _actor: CatalogReader, session: SessionDep, response: Response
) -> CatalogServiceRead:
    service = await catalog_service.get(session, code)
    with_etag(response, service.version)
    return catalog_service.present(service)


@router.post(
    "",
    operation_id="createCatalogService",
    summary="Add a service to the catalogue",
    status_code=201,
    responses=documented(
        400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_catalog_service(
    payload: CatalogServiceCreate,
    _actor: CatalogEditor,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> CatalogServiceRead:
    service = await catalog_service.create(session, payload, clock())
    response.headers["Location"] = f"/v1/catalog/services/{service.code}"
    with_etag(response, service.version)
    return catalog_service.present(service)


@router.patch(
    "/{code}",
    operation_id="updateCatalogService",
    summary="Change a catalogue service (If-Match required); sent quotes keep their prices",
    responses=documented(
        400, 401, 403, 404, 409, 412, 413, 422, 428, 503, success=200, **ETAG_HEADER
    ),
)
async def update_catalog_service(
    code: Code,
    changes: CatalogServiceUpdate,
    _actor: CatalogEditor,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CatalogServiceRead:
    service = await catalog_service.update(
        session, code, changes, required_version(if_match), clock()
    )
    with_etag(response, service.version)
    return catalog_service.present(service)
