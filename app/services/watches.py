"""Watch use cases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import BusinessValidationError
from app.models import Customer, Watch
from app.repositories import watches as watch_repository
from app.repositories.scoping import get_scoped, partner_scope
from app.schemas.watches import WatchCreate, WatchUpdate
from app.services import records


async def _check_owner(session: AsyncSession, actor: Actor, customer_id: uuid.UUID | None) -> None:
    # A body reference to a customer the caller cannot see is invalid input, not a 404 path.
    if customer_id is not None and await get_scoped(session, Customer, customer_id, actor) is None:
        raise BusinessValidationError(f"No customer with id {customer_id}.", pointer="/customer_id")


async def create(session: AsyncSession, actor: Actor, payload: WatchCreate, now: datetime) -> Watch:
    await _check_owner(session, actor, payload.customer_id)
    watch = Watch(
        **payload.model_dump(), partner_id=partner_scope(actor), created_at=now, updated_at=now
    )
    return await records.add(session, watch)


async def get(session: AsyncSession, actor: Actor, watch_id: uuid.UUID) -> Watch:
    return await records.fetch_or_404(session, Watch, watch_id, actor, label="watch")


async def update(
    session: AsyncSession,
    actor: Actor,
    watch_id: uuid.UUID,
    changes: WatchUpdate,
    expected_version: int | None,
    now: datetime,
) -> Watch:
    watch = await records.fetch_or_404(
        session, Watch, watch_id, actor, label="watch", for_update=True
    )
    if "customer_id" in changes.model_fields_set:
        await _check_owner(session, actor, changes.customer_id)
    return await records.apply_update(
        session, watch, changes, expected_version=expected_version, now=now
    )


async def list_page(
    session: AsyncSession,
    actor: Actor,
    filters: watch_repository.WatchFilters,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Watch], str | None]:
    return await watch_repository.list_page(session, actor, filters, limit=limit, cursor=cursor)
