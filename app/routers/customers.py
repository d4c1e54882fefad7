"""Customers: create, read, update (If-Match), list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from app.deps import ClockDep, IfMatchHeader, SessionDep, require_roles, required_version
from app.domain.actors import Actor
from app.domain.roles import Role
from app.repositories.customers import CustomerFilters
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, with_etag
from app.schemas.common import AwareDatetime, CursorParam, Email, Limit, SearchText
from app.schemas.customers import CustomerCreate, CustomerPage, CustomerRead, CustomerUpdate
from app.services import customers as customer_service

router = api_router("/v1/customers", "customers")
CustomerActor = Annotated[
    Actor, Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.PARTNER))
]
CustomerWriter = Annotated[Actor, Depends(require_roles(Role.COUNTER, Role.MANAGER, Role.PARTNER))]


@router.post(
    "",
    operation_id="createCustomer",
    summary="Create a customer",
    status_code=201,
    responses=documented(
        400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_customer(
    payload: CustomerCreate,
    actor: CustomerWriter,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> CustomerRead:
    customer = await customer_service.create(session, actor, payload, clock())
    response.headers["Location"] = f"/v1/customers/{customer.id}"
    with_etag(response, customer.version)
    return CustomerRead.model_validate(customer)


@router.get(
    "/{customer_id}",
    operation_id="getCustomer",
    summary="Read a customer",
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_customer(
    customer_id: uuid.UUID, actor: CustomerActor, session: SessionDep, response: Response
) -> CustomerRead:
    customer = await customer_service.get(session, actor, customer_id)
    with_etag(response, customer.version)
    return CustomerRead.model_validate(customer)


@router.patch(
    "/{customer_id}",
    operation_id="updateCustomer",
    summary="Change a customer's details (If-Match required)",
    responses=documented(
        400, 401, 403, 404, 409, 412, 413, 422, 428, 503, success=200, **ETAG_HEADER
    ),
)
async def update_customer(
    customer_id: uuid.UUID,
    changes: CustomerUpdate,
    actor: CustomerWriter,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> CustomerRead:
    customer = await customer_service.update(
        session, actor, customer_id, changes, required_version(if_match), clock()
    )
    with_etag(response, customer.version)
    return CustomerRead.model_validate(customer)


@router.get(
    "",
    operation_id="listCustomers",
    summary="List customers, newest first",
    responses=documented(400, 401, 403, 422, 503),
)
async def list_customers(
    actor: CustomerActor,
    session: SessionDep,
    q: Annotated[SearchText | None, Query(description="Search in name, e-mail, phone")] = None,
    email: Annotated[Email | None, Query(description="Exact e-mail")] = None,
    created_after: Annotated[AwareDatetime | None, Query()] = None,
    updated_after: Annotated[
        AwareDatetime | None, Query(description="Changed after this time (incremental sync)")
    ] = None,
    limit: Annotated[Limit, Query()] = 50,
    cursor: Annotated[CursorParam | None, Query()] = None,
) -> CustomerPage:
    filters = CustomerFilters(
        q=q, email=email, created_after=created_after, updated_after=updated_after
    )
    rows, next_cursor = await customer_service.list_page(session, actor, filters, limit, cursor)
    return CustomerPage(
        items=[CustomerRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
