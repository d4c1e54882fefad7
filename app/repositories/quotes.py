"""Queries on the catalogue, quote revisions and invoices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.models import (
    CatalogService,
    Invoice,
    InvoiceNumberCounter,
    QuoteLineRow,
    QuoteRevision,
    RepairOrder,
)
from app.repositories.counters import next_in_year


async def catalog(session: AsyncSession, *, include_inactive: bool) -> Sequence[CatalogService]:
    statement = select(CatalogService).order_by(col(CatalogService.code))
    if not include_inactive:
        statement = statement.where(col(CatalogService.active).is_(True))
    return (await session.exec(statement)).all()


async def service_by_code(
    session: AsyncSession, code: str, *, for_update: bool = False
) -> CatalogService | None:
    statement = select(CatalogService).where(col(CatalogService.code) == code)
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def services_by_codes(session: AsyncSession, codes: set[str]) -> dict[str, CatalogService]:
    statement = select(CatalogService).where(col(CatalogService.code).in_(codes))
    return {s.code: s for s in (await session.exec(statement)).all()}


# Built once: every view of an order (its tracking page too) asks for its quote revisions.
_REVISIONS_OF_ORDER = (
    select(QuoteRevision)
    .where(col(QuoteRevision.order_id) == bindparam("order_id"))
    .order_by(col(QuoteRevision.number))
)


async def revisions_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[QuoteRevision]:
    return (await session.exec(_REVISIONS_OF_ORDER, params={"order_id": order_id})).all()


async def lines_of(
    session: AsyncSession, revision_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[QuoteLineRow]]:
    grouped: dict[uuid.UUID, list[QuoteLineRow]] = {rid: [] for rid in revision_ids}
    if not revision_ids:
        return grouped
    statement = (
        select(QuoteLineRow)
        .where(col(QuoteLineRow.revision_id).in_(revision_ids))
        .order_by(col(QuoteLineRow.position))
    )
    for line in (await session.exec(statement)).all():
        grouped[line.revision_id].append(line)
    return grouped


async def replace_lines(
    session: AsyncSession, revision_id: uuid.UUID, lines: Sequence[QuoteLineRow]
) -> None:
    for old in (await lines_of(session, [revision_id]))[revision_id]:
        await session.delete(old)
    await session.flush()
    session.add_all(lines)
    await session.flush()


async def invoice_of(session: AsyncSession, order_id: uuid.UUID) -> Invoice | None:
    statement = select(Invoice).where(col(Invoice.order_id) == order_id)
    return (await session.exec(statement)).first()


async def next_invoice_sequence(session: AsyncSession, year: int) -> int:
    return await next_in_year(session, InvoiceNumberCounter, year)


async def orders_with_expired_quotes(session: AsyncSession, today: date) -> Sequence[uuid.UUID]:
    """Orders still waiting on a sent revision whose validity date has passed."""
    statement = (
        select(RepairOrder.id)
        .join(QuoteRevision, col(QuoteRevision.order_id) == col(RepairOrder.id))
        .where(
            col(RepairOrder.status) == "quote_sent",
            col(QuoteRevision.status) == "sent",
            col(QuoteRevision.valid_until) < today,
        )
    )
    return (await session.exec(statement)).all()
