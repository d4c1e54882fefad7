"""The workshop's service catalogue: seeded by a migration, edited by managers."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.amounts import Money, round_cent
from app.domain.errors import Conflict, NotFound
from app.domain.quoting import STANDARD_VAT_RATE
from app.models import CatalogService
from app.repositories import quotes as quote_repository
from app.schemas.money import MoneyRead
from app.schemas.quotes import CatalogServiceCreate, CatalogServiceRead, CatalogServiceUpdate
from app.services.quotes import basis_points, rate_of, rate_text
from app.services.records import check_version


def present(service: CatalogService) -> CatalogServiceRead:
    price = Money.from_cents(service.price_cents)
    incl = Money(round_cent(price.amount * (1 + rate_of(service.vat_rate_bp))), price.currency)
    return CatalogServiceRead(
        id=service.id,
        code=service.code,
        name_fr=service.name_fr,
        name_en=service.name_en,
        labour_minutes=service.labour_minutes,
        price_excl_vat=MoneyRead.of(price),
        vat_rate=rate_text(service.vat_rate_bp),
        price_incl_vat=MoneyRead.of(incl),
        warranty_months=service.warranty_months,
        movement_types=list(service.movement_types),
        active=service.active,
        version=service.version,
    )


async def listing(session: AsyncSession, include_inactive: bool) -> list[CatalogServiceRead]:
    rows = await quote_repository.catalog(session, include_inactive=include_inactive)
    return [present(row) for row in rows]


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> CatalogService:
    service = await quote_repository.service_by_code(session, code, for_update=for_update)
    if service is None:
        raise NotFound(f"No catalogue service {code!r}.")
    return service


async def create(
    session: AsyncSession, payload: CatalogServiceCreate, now: datetime
) -> CatalogService:
    if await quote_repository.service_by_code(session, payload.code) is not None:
        raise Conflict(f"The code {payload.code!r} is already in the catalogue.")
    service = CatalogService(
        code=payload.code,
        name_fr=payload.name_fr,
        name_en=payload.name_en,
        labour_minutes=payload.labour_minutes,
        price_cents=payload.price_excl_vat.to_money().to_cents(),
        vat_rate_bp=basis_points(payload.vat_rate or str(STANDARD_VAT_RATE)),
        warranty_months=payload.warranty_months,
        movement_types=[m.value for m in payload.movement_types],
        created_at=now,
        updated_at=now,
    )
    session.add(service)
    await session.flush()
    return service


async def update(
    session: AsyncSession,
    code: str,
    changes: CatalogServiceUpdate,
    expected_version: int | None,
    now: datetime,
) -> CatalogService:
    service = await get(session, code, for_update=True)
    check_version(service.version, expected_version)
    fields = changes.model_fields_set
    for name in ("name_fr", "name_en", "labour_minutes", "warranty_months", "active"):
        if name in fields:
            setattr(service, name, getattr(changes, name))
    if "price_excl_vat" in fields:
        service.price_cents = changes.price_excl_vat.to_money().to_cents()
    if "vat_rate" in fields:
        service.vat_rate_bp = basis_points(changes.vat_rate)
    if "movement_types" in fields:
        service.movement_types = [m.value for m in changes.movement_types]
    if fields:
        service.version += 1
        service.updated_at = now
        session.add(service)
        await session.flush()
    return service
