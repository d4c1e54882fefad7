"""Partner boutique use cases (managed by the workshop's managers and admins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.errors import NotFound
from app.models import Partner
from app.repositories import partners as partner_repository
from app.schemas.partners import PartnerCreate, PartnerUpdate
from app.services import records


async def create(session: AsyncSession, payload: PartnerCreate, now: datetime) -> Partner:
    return await records.add(
        session, Partner(**payload.model_dump(), created_at=now, updated_at=now)
    )


async def get(session: AsyncSession, partner_id: uuid.UUID, *, for_update: bool = False) -> Partner:
    partner = await partner_repository.get(session, partner_id, for_update=for_update)
    if partner is None:
        raise NotFound(f"No partner with id {partner_id}.")
    return partner


async def update(
    session: AsyncSession,
    partner_id: uuid.UUID,
    changes: PartnerUpdate,
    expected_version: int | None,
    now: datetime,
) -> Partner:
    partner = await get(session, partner_id, for_update=True)
    return await records.apply_update(
        session, partner, changes, expected_version=expected_version, now=now
    )


async def list_page(
    session: AsyncSession, q: str | None, limit: int, cursor: str | None
) -> tuple[Sequence[Partner], str | None]:
    return await partner_repository.list_page(session, q=q, limit=limit, cursor=cursor)
