"""Quote revisions of a repair order, and the invoice issued at hand-back."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Response

from app.deps import (
    ClockDep,
    IfMatchHeader,
    SessionDep,
    SettingsDep,
    parse_if_match,
    require_roles,
    required_version,
)
from app.domain.actors import Actor
from app.domain.roles import Role
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, with_etag
from app.schemas.quotes import (
    InvoiceRead,
    QuoteRevisionCreate,
    QuoteRevisionList,
    QuoteRevisionRead,
    QuoteRevisionUpdate,
)
from app.services import invoices as invoice_service
from app.services import quotes as quote_service

router = api_router("/v1/repair-orders/{order_id}", "quotes")
QuoteReader = Annotated[
    Actor, Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.PARTNER))
]
QuoteWriter = Annotated[Actor, Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER))]
Manager = Annotated[Actor, Depends(require_roles(Role.MANAGER))]
RevisionNumber = Annotated[int, Path(ge=1, le=1000)]


@router.post(
    "/quotes",
    operation_id="createQuoteRevision",
    summary="Draft a quote revision (a supplementary one after an approved quote)",
    status_code=201,
    responses=documented(
        400, 401, 403, 404, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_quote_revision(
    order_id: uuid.UUID,
    payload: QuoteRevisionCreate,
    actor: QuoteWriter,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> QuoteRevisionRead:
    state, revision = await quote_service.create_draft(
        session, actor, order_id, payload, clock(), settings
    )
    response.headers["Location"] = f"/v1/repair-orders/{order_id}/quotes/{revision.number}"
    with_etag(response, revision.version)
    return quote_service.present(state, revision, settings)


@router.get(
    "/quotes",
    operation_id="listQuoteRevisions",
    summary="Every quote revision of the order, oldest first",
    responses=documented(401, 403, 404, 422, 503),
)
async def list_quote_revisions(
    order_id: uuid.UUID, actor: QuoteReader, session: SessionDep, settings: SettingsDep
) -> QuoteRevisionList:
    return QuoteRevisionList(
        items=await quote_service.revisions(session, actor, order_id, settings)
    )


@router.get(
    "/quotes/{number}",
    operation_id="getQuoteRevision",
    summary="Read one quote revision with its totals",
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_quote_revision(
    order_id: uuid.UUID,
    number: RevisionNumber,
    actor: QuoteReader,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> QuoteRevisionRead:
    revision = await quote_service.revision(session, actor, order_id, number, settings)
    with_etag(response, revision.version)
    return revision


@router.patch(
    "/quotes/{number}",
    operation_id="updateQuoteRevision",
    summary="Edit a draft revision (If-Match required; a sent revision is immutable)",
    responses=documented(
        400, 401, 403, 404, 409, 412, 413, 422, 428, 503, success=200, **ETAG_HEADER
    ),
)
async def update_quote_revision(
    order_id: uuid.UUID,
    number: RevisionNumber,
    changes: QuoteRevisionUpdate,
    actor: QuoteWriter,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> QuoteRevisionRead:
    state, revision = await quote_service.update_draft(
        session, actor, order_id, number, changes, required_version(if_match), clock(), settings
    )
    with_etag(response, revision.version)
    return quote_service.present(state, revision, settings)


@router.post(
    "/quotes/{number}/manager-approval",
    operation_id="approveQuoteRevisionAsManager",
    summary="A manager approves a draft above the review threshold before it is sent",
    responses=documented(400, 401, 403, 404, 409, 412, 422, 503, success=200, **ETAG_HEADER),
)
async def approve_quote_revision_as_manager(
    order_id: uuid.UUID,
    number: RevisionNumber,
    actor: Manager,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> QuoteRevisionRead:
    state, revision = await quote_service.approve_draft_as_manager(
        session, actor, order_id, number, parse_if_match(if_match), clock(), settings
    )
    with_etag(response, revision.version)
    return quote_service.present(state, revision, settings)


@router.get(
    "/invoice",
    operation_id="getInvoice",
    summary="The invoice issued at hand-back, with every mandatory mention",
    responses=documented(401, 403, 404, 422, 503),
)
async def get_invoice(order_id: uuid.UUID, actor: QuoteReader, session: SessionDep) -> InvoiceRead:
    invoice = await invoice_service.invoice_for(session, actor, order_id)
    return InvoiceRead(
        id=invoice.id, number=invoice.number, issued_at=invoice.issued_at, document=invoice.document
    )
