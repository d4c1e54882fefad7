"""Queries on customers (always scoped to the caller's tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, or_
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.models import Customer
from app.pagination import fetch_page
from app.repositories.scoping import scoped_select


@dataclass(frozen=True)
class CustomerFilters:
    q: str | None = None
    email: str | None = None
    created_after: datetime | None = None
    updated_after: datetime | None = None


async def list_page(
    session: AsyncSession,
    actor: Actor,
    filters: CustomerFilters,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Customer], str | None]:
    statement = scoped_select(Customer, actor)
    if filters.q:
        pattern = f"%{filters.q}%"
        statement = statement.where(
            or_(
                col(Customer.name).ilike(pattern),
                col(Customer.email).ilike(pattern),
                col(Customer.phone).ilike(pattern),
            )
        )
    if filters.email:
        statement = statement.where(col(Customer.email) == filters.email)
    if filters.created_after:
        statement = statement.where(col(Customer.created_at) > filters.created_after)
    if filters.updated_after:
        statement = statement.where(col(Customer.updated_at) > filters.updated_after)
    return await fetch_page(
        session,
        statement,
        created_at_column=col(Customer.created_at),
        id_column=col(Customer.id),
        limit=limit,
        cursor=cursor,
        filters=vars(filters),
    )
