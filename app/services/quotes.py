"""Quote revisions: drafting, manager review, and what each lifecycle decision does to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.amounts import Money
from app.domain.errors import BusinessValidationError, InvalidTransition, NotFound
from app.domain.lifecycle import OrderStatus
from app.domain.quoting import (
    DraftExists,
    LineKind,
    QuoteLine,
    QuoteLocked,
    RevisionStatus,
    Totals,
    VatRegime,
    line_total,
    mandatory_only,
    needs_manager_review,
    totals,
    validate_lines,
)
from app.models import CatalogService, QuoteLineRow, QuoteRevision, RepairOrder
from app.repositories import quotes as quote_repository
from app.repositories import repair_orders as order_repository
from app.repositories.tracking import QuoteLineValues
from app.schemas.money import MoneyRead
from app.schemas.quotes import (
    PartLineIn,
    QuoteLineRead,
    QuoteRevisionCreate,
    QuoteRevisionRead,
    QuoteRevisionUpdate,
    ServiceLineIn,
    TotalsRead,
    VatShareRead,
)
from app.services.records import check_version
from app.settings import Settings

BASIS_POINTS = Decimal(10_000)


def rate_of(basis_points: int) -> Decimal:
    return (Decimal(basis_points) / BASIS_POINTS).quantize(Decimal("0.0001"))


def basis_points(rate_text: str) -> int:
    return int(Decimal(rate_text) * BASIS_POINTS)


def rate_text(basis_points_value: int) -> str:
    return f"{rate_of(basis_points_value).normalize():f}"


# A quote line's stored values: a ``QuoteLineRow``, or the same columns as the tracking page
# reads them without the ORM.
LineValues = QuoteLineRow | QuoteLineValues


def domain_line(row: LineValues, currency: str) -> QuoteLine:
    return QuoteLine(
        line_id=str(row.id),
        kind=LineKind(row.kind),
        code=row.code,
        description=row.description,
        quantity=row.quantity,
        unit_price=Money.from_cents(row.unit_price_cents, currency),
        vat_rate=rate_of(row.vat_rate_bp),
        mandatory=row.mandatory,
        warranty_months=row.warranty_months,
    )


@dataclass
class QuoteState:
    """Every revision of one order with its lines, as the lifecycle's facts need them."""

    revisions: Sequence[QuoteRevision]
    lines: dict[uuid.UUID, list[QuoteLineRow]]
    regime: VatRegime

    @property
    def draft(self) -> QuoteRevision | None:
        return next((r for r in self.revisions if r.status == RevisionStatus.DRAFT), None)

    @property
    def latest_issued(self) -> QuoteRevision | None:
        issued = [r for r in self.revisions if r.status != RevisionStatus.DRAFT]
        return issued[-1] if issued else None

    def domain_lines(self, revision: QuoteRevision) -> list[QuoteLine]:
        return [domain_line(row, revision.currency) for row in self.lines[revision.id]]

    def totals(self, revision: QuoteRevision, *, mandatory: bool = False) -> Totals:
        lines = self.domain_lines(revision)
        include = mandatory_only if mandatory else (lambda _line: True)
        return totals(lines, VatRegime(revision.vat_regime), revision.currency, include)


async def state_of(session: AsyncSession, order: RepairOrder, settings: Settings) -> QuoteState:
    return await quote_state(session, order.id, settings)


async def quote_state(session: AsyncSession, order_id: uuid.UUID, settings: Settings) -> QuoteState:
    revisions = await quote_repository.revisions_of(session, order_id)
    lines = await quote_repository.lines_of(session, [r.id for r in revisions])
    return QuoteState(revisions, lines, VatRegime(settings.vat_regime))


def threshold(settings: Settings) -> Money:
    return Money.of(settings.quote_review_threshold)


def _totals_read(value: Totals) -> TotalsRead:
    return TotalsRead(
        excl_vat=MoneyRead.of(value.excl_vat),
        vat=MoneyRead.of(value.vat),
        incl_vat=MoneyRead.of(value.incl_vat),
        vat_breakdown=[
            VatShareRead(
                rate=f"{s.rate.normalize():f}", base=MoneyRead.of(s.base), vat=MoneyRead.of(s.vat)
            )
            for s in value.vat_breakdown
        ],
        vat_mention=value.vat_mention,
    )


def present(state: QuoteState, revision: QuoteRevision, settings: Settings) -> QuoteRevisionRead:
    regime = VatRegime(revision.vat_regime)
    line_reads = []
    for row in state.lines[revision.id]:
        line = domain_line(row, revision.currency)
        amounts = line_total(line, regime)
        line_reads.append(
            QuoteLineRead(
                id=row.id,
                kind=row.kind,
                code=row.code,
                description=row.description,
                quantity=row.quantity,
                unit_price=MoneyRead.of(line.unit_price),
                vat_rate=rate_text(row.vat_rate_bp),
                mandatory=row.mandatory,
                warranty_months=row.warranty_months,
                labour_minutes=row.labour_minutes,
                total_excl_vat=MoneyRead.of(amounts.excl_vat),
                total_incl_vat=MoneyRead.of(amounts.incl_vat),
            )
        )
    all_lines = state.totals(revision)
    fee = revision.diagnosis_fee_cents
    approved = revision.approved_total_cents
    return QuoteRevisionRead(
        id=revision.id,
        order_id=revision.order_id,
        number=revision.number,
        status=revision.status,
        supplement=revision.supplement,
        lines=line_reads,
        totals_all_lines=_totals_read(all_lines),
        totals_mandatory=_totals_read(state.totals(revision, mandatory=True)),
        needs_manager_review=needs_manager_review(all_lines.incl_vat, threshold(settings)),
        manager_approved_by=revision.manager_approved_by,
        manager_approved_at=revision.manager_approved_at,
        valid_until=revision.valid_until,
        diagnosis_fee=MoneyRead.cents(fee, revision.currency) if fee is not None else None,
        note=revision.note,
        sent_at=revision.sent_at,
        decided_at=revision.decided_at,
        decision=revision.decision,
        approved_total=MoneyRead.cents(approved, revision.currency)
        if approved is not None
        else None,
        version=revision.version,
        created_at=revision.created_at,
    )


async def _order(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, *, for_update: bool = False
) -> RepairOrder:
    order = await order_repository.get(session, actor, order_id, for_update=for_update)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    return order


async def _line_rows(
    session: AsyncSession, revision: QuoteRevision, lines: Sequence[ServiceLineIn | PartLineIn]
) -> list[QuoteLineRow]:
    catalogue = await quote_repository.services_by_codes(
        session, {line.code for line in lines if isinstance(line, ServiceLineIn)}
    )
    rows = []
    for position, line in enumerate(lines):
        if isinstance(line, ServiceLineIn):
            service: CatalogService | None = catalogue.get(line.code)
            if service is None or not service.active:
                raise BusinessValidationError(
                    f"No active catalogue service {line.code!r}.", f"/lines/{position}/code"
                )
            price = (
                line.unit_price.to_money().to_cents() if line.unit_price else service.price_cents
            )
            rows.append(
                QuoteLineRow(
                    revision_id=revision.id,
                    position=position,
                    kind=LineKind.SERVICE.value,
                    code=service.code,
                    description=line.description or service.name_fr,
                    quantity=line.quantity,
                    unit_price_cents=price,
                    vat_rate_bp=service.vat_rate_bp,
                    mandatory=line.mandatory,
                    warranty_months=service.warranty_months,
                    labour_minutes=service.labour_minutes * line.quantity,
                )  # fmt: skip
            )
        else:
            rows.append(
                QuoteLineRow(
                    revision_id=revision.id,
                    position=position,
                    kind=LineKind.PART.value,
                    code=line.reference,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price_cents=line.unit_price.to_money().to_cents(),
                    vat_rate_bp=basis_points(line.vat_rate),
                    mandatory=line.mandatory,
                    warranty_months=line.warranty_months,
                )  # fmt: skip
            )
    validate_lines([domain_line(row, revision.currency) for row in rows])
    return rows


async def create_draft(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    payload: QuoteRevisionCreate,
    now: datetime,
    settings: Settings,
) -> tuple[QuoteState, QuoteRevision]:
    order = await _order(session, actor, order_id, for_update=True)
    if order.status != OrderStatus.DIAGNOSED:
        raise InvalidTransition(
            "A quote is drafted once the watch is diagnosed.",
            current_status=order.status,
            allowed_actions=[],
        )
    state = await state_of(session, order, settings)
    if state.draft is not None:
        raise DraftExists(f"Revision {state.draft.number} is still a draft: edit it instead.")
    if payload.valid_until is not None and payload.valid_until < now.date():
        raise BusinessValidationError("The validity date is in the past.", "/valid_until")
    revision = QuoteRevision(
        order_id=order.id,
        number=len(state.revisions) + 1,
        status=RevisionStatus.DRAFT.value,
        supplement=any(r.status == RevisionStatus.APPROVED for r in state.revisions),
        currency=order.currency,
        vat_regime=settings.vat_regime,
        valid_until=payload.valid_until,
        diagnosis_fee_cents=payload.diagnosis_fee.to_money().to_cents()
        if payload.diagnosis_fee
        else None,
        note=payload.note,
        created_at=now,
        updated_at=now,
    )
    session.add(revision)
    await session.flush()
    rows = await _line_rows(session, revision, payload.lines)
    session.add_all(rows)
    await session.flush()
    return await state_of(session, order, settings), revision


async def _revision(state: QuoteState, number: int) -> QuoteRevision:
    for revision in state.revisions:
        if revision.number == number:
            return revision
    raise NotFound(f"No quote revision {number} on this order.")


async def update_draft(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    number: int,
    changes: QuoteRevisionUpdate,
    expected_version: int | None,
    now: datetime,
    settings: Settings,
) -> tuple[QuoteState, QuoteRevision]:
    order = await _order(session, actor, order_id, for_update=True)
    state = await state_of(session, order, settings)
    revision = await _revision(state, number)
    check_version(revision.version, expected_version)
    if revision.status != RevisionStatus.DRAFT:
        raise QuoteLocked(f"Revision {number} was sent: draft a new revision instead.")
    fields = changes.model_fields_set
    if "lines" in fields:
        await quote_repository.replace_lines(
            session, revision.id, await _line_rows(session, revision, changes.lines)
        )
    if "valid_until" in fields:
        if changes.valid_until is not None and changes.valid_until < now.date():
            raise BusinessValidationError("The validity date is in the past.", "/valid_until")
        revision.valid_until = changes.valid_until
    if "diagnosis_fee" in fields:
        fee = changes.diagnosis_fee
        revision.diagnosis_fee_cents = fee.to_money().to_cents() if fee else None
    if "note" in fields:
        revision.note = changes.note
    # Any change to a reviewed draft needs a new review.
    revision.manager_approved_by = None
    revision.manager_approved_at = None
    revision.version += 1
    revision.updated_at = now
    session.add(revision)
    await session.flush()
    return await state_of(session, order, settings), revision


async def approve_draft_as_manager(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    number: int,
    expected_version: int | None,
    now: datetime,
    settings: Settings,
) -> tuple[QuoteState, QuoteRevision]:
    order = await _order(session, actor, order_id, for_update=True)
    state = await state_of(session, order, settings)
    revision = await _revision(state, number)
    check_version(revision.version, expected_version)
    if revision.status != RevisionStatus.DRAFT:
        raise QuoteLocked(f"Revision {number} was already sent.")
    revision.manager_approved_by = actor.name
    revision.manager_approved_at = now
    revision.version += 1
    revision.updated_at = now
    session.add(revision)
    await session.flush()
    return state, revision


async def revisions(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, settings: Settings
) -> list[QuoteRevisionRead]:
    order = await _order(session, actor, order_id)
    state = await state_of(session, order, settings)
    return [present(state, r, settings) for r in state.revisions]


async def revision(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, number: int, settings: Settings
) -> QuoteRevisionRead:
    order = await _order(session, actor, order_id)
    state = await state_of(session, order, settings)
    return present(state, await _revision(state, number), settings)
