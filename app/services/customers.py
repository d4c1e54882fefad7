"""Customer use cases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.models import Customer
from app.repositories import customers as customer_repository
from app.repositories.scoping import partner_scope
from app.schemas.customers import CustomerCreate, CustomerUpdate
from app.services import records


async def create(
    session: AsyncSession, actor: Actor, payload: CustomerCreate, now: datetime
) -> Customer:
    customer = Customer(
        **payload.model_dump(), partner_id=partner_scope(actor), created_at=now, updated_at=now
    )
    return await records.add(session, customer)


async def get(session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> Customer:
    return await records.fetch_or_404(session, Customer, customer_id, actor, label="customer")


async def update(
    session: AsyncSession,
    actor: Actor,
    customer_id: uuid.UUID,
    changes: CustomerUpdate,
    expected_version: int | None,
    now: datetime,
) -> Customer:
    customer = await records.fetch_or_404(
        session, Customer, customer_id, actor, label="customer", for_update=True
    )
    return await records.apply_update(
        session, customer, changes, expected_version=expected_version, now=now
    )


async def list_page(
    session: AsyncSession,
    actor: Actor,
    filters: customer_repository.CustomerFilters,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Customer], str | None]:
    return await customer_repository.list_page(session, actor, filters, limit=limit, cursor=cursor)
