"""API key use cases: issue (shown once), list, revoke."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.errors import BusinessValidationError, NotFound
from app.domain.roles import Role
from app.models import ApiKey, Partner
from app.repositories import api_keys as api_key_repository
from app.security import display_prefix, generate_api_key, hash_api_key


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    secret: str


async def issue(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    partner_id: uuid.UUID | None,
    created_by: uuid.UUID | None,
    now: datetime,
) -> IssuedKey:
    if role is Role.PARTNER and partner_id is None:
        raise BusinessValidationError("A partner key needs a partner_id.", pointer="/partner_id")
    if role is not Role.PARTNER and partner_id is not None:
        raise BusinessValidationError(
            "Only partner keys are bound to a partner.", pointer="/partner_id"
        )
    if partner_id is not None and await session.get(Partner, partner_id) is None:
        raise BusinessValidationError(f"No partner with id {partner_id}.", pointer="/partner_id")
    secret = generate_api_key()
    record = ApiKey(
        name=name,
        role=role.value,
        partner_id=partner_id,
        key_hash=hash_api_key(secret),
        key_prefix=display_prefix(secret),
        created_at=now,
        created_by=created_by,
    )
    await api_key_repository.add(session, record)
    return IssuedKey(record=record, secret=secret)


async def revoke(session: AsyncSession, key_id: uuid.UUID, now: datetime) -> ApiKey:
    record = await api_key_repository.get_for_update(session, key_id)
    if record is None:
        raise NotFound(f"No API key with id {key_id}.")
    if record.revoked_at is None:
        record.revoked_at = now
        session.add(record)
        await session.flush()
    return record


async def list_page(
    session: AsyncSession, *, include_revoked: bool, limit: int, cursor: str | None
) -> tuple[Sequence[ApiKey], str | None]:
    return await api_key_repository.list_page(
        session, include_revoked=include_revoked, limit=limit, cursor=cursor
    )
