"""Admin endpoints to issue, list and revoke API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from app.deps import ClockDep, RuntimeDep, SessionDep, require_roles
from app.domain.actors import Actor
from app.domain.roles import Role
from app.routers.common import LOCATION_HEADER, api_router, documented
from app.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead
from app.schemas.common import CursorParam, Limit
from app.services import api_keys as api_key_service

router = api_router("/v1/api-keys", "api-keys")
AdminActor = Annotated[Actor, Depends(require_roles(Role.ADMIN))]


@router.post(
    "",
    operation_id="createApiKey",
    summary="Issue an API key (the secret is shown once)",
    status_code=201,
    responses=documented(400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER),
)
async def create_api_key(
    payload: ApiKeyCreate,
    actor: AdminActor,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> ApiKeyCreated:
    issued = await api_key_service.issue(
        session,
        name=payload.name,
        role=Role(payload.role),
        partner_id=payload.partner_id,
        created_by=actor.key_id,
        now=clock(),
    )
    response.headers["Location"] = f"/v1/api-keys/{issued.record.id}"
    return ApiKeyCreated(**ApiKeyRead.model_validate(issued.record).model_dump(), key=issued.secret)


@router.get(
    "",
    operation_id="listApiKeys",
    summary="List API keys (never their secrets)",
    responses=documented(400, 401, 403, 422, 503),
)
async def list_api_keys(
    _actor: AdminActor,
    session: SessionDep,
    include_revoked: Annotated[bool, Query(description="Include revoked keys")] = False,
    limit: Annotated[Limit, Query()] = 50,
    cursor: Annotated[CursorParam | None, Query()] = None,
) -> ApiKeyPage:
    rows, next_cursor = await api_key_service.list_page(
        session, include_revoked=include_revoked, limit=limit, cursor=cursor
    )
    return ApiKeyPage(items=[ApiKeyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{key_id}/revoke",
    operation_id="revokeApiKey",
    summary="Revoke an API key (it stops working within seconds everywhere)",
    responses=documented(400, 401, 403, 404, 409, 422, 503),
)
async def revoke_api_key(
    key_id: uuid.UUID,
    _actor: AdminActor,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
) -> ApiKeyRead:
    record = await api_key_service.revoke(session, key_id, clock())
    runtime.authenticator.forget_all_when_committed(session)
    return ApiKeyRead.model_validate(record)
