"""What the lifecycle's quote actions do to the revisions (called by the transition service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.amounts import Money
from app.domain.errors import Conflict
from app.domain.quoting import (
    QuoteLine,
    RevisionStatus,
    VatRegime,
    accepted,
    check_accepted_optional,
    default_valid_until,
    fee_line,
    line_total,
    totals,
)
from app.models import QuoteRevision, RepairOrder
from app.services.quotes import QuoteState
from app.settings import Settings


def mark_sent(state: QuoteState, now: datetime, settings: Settings) -> QuoteRevision:
    draft = state.draft
    if draft is None:
        raise Conflict("There is no draft quote revision to send.")
    draft.status = RevisionStatus.SENT.value
    draft.sent_at = now
    draft.valid_until = draft.valid_until or default_valid_until(
        now.date(), settings.quote_validity_days
    )
    draft.version += 1
    draft.updated_at = now
    return draft


def mark_approved(
    state: QuoteState,
    order: RepairOrder,
    accepted_optional: list[str],
    decision: dict[str, Any],
    now: datetime,
) -> QuoteRevision:
    revision = _sent(state)
    lines = state.domain_lines(revision)
    check_accepted_optional(lines, accepted_optional)
    total = totals(
        lines, VatRegime(revision.vat_regime), revision.currency, accepted(accepted_optional)
    )
    revision.status = RevisionStatus.APPROVED.value
    revision.decided_at = now
    revision.decision = {**decision, "accepted_optional_lines": accepted_optional}
    revision.approved_total_cents = total.incl_vat.to_cents()
    revision.version += 1
    order.approved_total_cents += revision.approved_total_cents
    return revision


def mark_declined(
    state: QuoteState, order: RepairOrder, decision: dict[str, Any], now: datetime
) -> QuoteRevision:
    revision = _sent(state)
    revision.status = RevisionStatus.DECLINED.value
    revision.decided_at = now
    revision.decision = decision
    revision.version += 1
    settle_unrepaired(state, order)
    return revision


def mark_expired(state: QuoteState, now: datetime) -> QuoteRevision:
    revision = _sent(state)
    revision.status = RevisionStatus.EXPIRED.value
    revision.decided_at = now
    revision.version += 1
    return revision


def settle_unrepaired(state: QuoteState, order: RepairOrder) -> None:
    """A watch going back unrepaired owes only the announced diagnosis fee."""
    latest = state.latest_issued
    order.approved_total_cents = 0
    order.fee_due_cents = 0
    if latest is not None and latest.diagnosis_fee_cents:
        line = fee_line(Money.from_cents(latest.diagnosis_fee_cents, latest.currency))
        charged = line_total(line, VatRegime(latest.vat_regime)).incl_vat
        order.fee_due_cents = charged.to_cents()


def _sent(state: QuoteState) -> QuoteRevision:
    latest = state.latest_issued
    if latest is None or latest.status != RevisionStatus.SENT:
        raise Conflict("No sent quote revision awaits a decision.")
    return latest


def approved_lines(state: QuoteState) -> list[QuoteLine]:
    """Every line the customer agreed to, across the original and supplementary revisions."""
    chosen: list[QuoteLine] = []
    for revision in state.revisions:
        if revision.status != RevisionStatus.APPROVED:
            continue
        accepted_ids = (revision.decision or {}).get("accepted_optional_lines", [])
        keep = accepted(accepted_ids)
        chosen.extend(line for line in state.domain_lines(revision) if keep(line))
    return chosen
