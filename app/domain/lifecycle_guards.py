"""The facts a lifecycle decision needs, and the guards that judge them.

The service layer gathers every fact from the database before deciding; the domain never queries.
A guard is a small named function that returns quietly or raises ``GuardFailed`` with a
machine-readable ``reason`` (the guard names appear in docs/architecture.md's table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from app.domain.errors import GuardFailed
from app.domain.roles import Role

# Loi du 31 décembre 1903: a watch left more than a year may be sold, after 8 clear days' notice.
UNCLAIMED_DELAY_DAYS: Final = 365
NOTICE_DAYS: Final = 8


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


@dataclass(frozen=True, kw_only=True)
class TransitionContext:
    """Who acts, when, and the facts about the order the guards judge.

    ``now`` and ``role`` are required; every other fact has a default that lets no guard pass by
    accident (no quote, no QC session, identity not checked...), so callers state only what matters.
    """

    now: datetime
    role: Role
    actor_key_id: str | None = None
    # Partner scoping: the service compares the key's partner with the order's.
    actor_owns_order: bool = False
    reason: str | None = None
    override: bool = False
    # Quotes
    has_quote_to_send: bool = False
    quote_needs_manager_review: bool = False
    quote_manager_approved: bool = False
    quote_valid_until: date | None = None
    latest_revision_approved: bool = False
    # Quality control: latest_qc_passed is None when no QC session was recorded.
    latest_qc_passed: bool | None = None
    failed_qc_criteria: tuple[str, ...] = ()
    four_eyes_qc: bool = False
    repairer_key_ids: frozenset[str] = frozenset()
    # Unclaimed watches
    deposited_at: datetime | None = None
    ready_at: datetime | None = None
    reminders_sent_at: tuple[datetime, ...] = ()
    unclaimed_delay_days: int = UNCLAIMED_DELAY_DAYS
    notice_days: int = NOTICE_DAYS
    # Hand-back
    identity_checked: bool = False

    def __post_init__(self) -> None:
        # Naive datetimes would compare wrongly (or raise) in the delay guards: refuse them early.
        moments = [self.now, self.deposited_at, self.ready_at, *self.reminders_sent_at]
        if not all(_is_aware(moment) for moment in moments if moment is not None):
            raise ValueError("TransitionContext needs timezone-aware datetimes.")
        if self.unclaimed_delay_days < 0 or self.notice_days < 0:
            raise ValueError("Legal delays cannot be negative.")

    @property
    def today(self) -> date:
        """The calendar date of ``now``, against which quote validity dates are read."""
        return self.now.date()


Guard = Callable[[TransitionContext], None]


def _refuse(detail: str, reason: str, **extensions: object) -> GuardFailed:
    return GuardFailed(detail, reason=reason, **extensions)


def _has_text(text: str | None) -> bool:
    return text is not None and text.strip() != ""


def reason_required(ctx: TransitionContext) -> None:
    """The event log must say why an order was cancelled or given back unrepaired."""
    if not _has_text(ctx.reason):
        raise _refuse("A reason is required for this action.", "reason-required")


def partner_owns_order(ctx: TransitionContext) -> None:
    """A partner boutique acts only on the orders it submitted (other roles are not scoped)."""
    if ctx.role is Role.PARTNER and not ctx.actor_owns_order:
        raise _refuse("A partner may act only on its own orders.", "not-own-order")


def quote_ready_to_send(ctx: TransitionContext) -> None:
    """A draft revision exists and, above the review threshold, a manager approved it."""
    if not ctx.has_quote_to_send:
        raise _refuse("There is no draft quote revision to send.", "no-quote")
    if ctx.quote_needs_manager_review and not ctx.quote_manager_approved:
        raise _refuse(
            "This quote is above the review threshold: a manager must approve it first.",
            "quote-review-required",
        )


def quote_still_valid(ctx: TransitionContext) -> None:
    """The sent quote may be approved up to and including its validity date."""
    valid_until = ctx.quote_valid_until
    if valid_until is None:
        raise _refuse("There is no sent quote revision to decide on.", "no-quote")
    if ctx.today > valid_until:
        raise _refuse(
            f"The quote expired on {valid_until.isoformat()}.",
            "quote-expired",
            valid_until=valid_until.isoformat(),
        )


def quote_validity_passed(ctx: TransitionContext) -> None:
    """A quote expires only once the day after its validity date has begun."""
    valid_until = ctx.quote_valid_until
    if valid_until is None or ctx.today <= valid_until:
        raise _refuse(
            "The quote is still valid.",
            "quote-still-valid",
            valid_until=valid_until.isoformat() if valid_until else None,
        )


def quote_approved(ctx: TransitionContext) -> None:
    """Quote before work: the latest revision must be approved before the repair starts."""
    # A repairer who works without the customer's agreement on the price can lose the right to
    # retain the watch.
    if not ctx.latest_revision_approved:
        raise _refuse(
            "The latest quote revision is not approved: no work before the price is agreed.",
            "quote-not-approved",
        )


def qc_passed_or_overridden(ctx: TransitionContext) -> None:
    """The latest QC session passes, or a manager overrides it with a reason."""
    if ctx.override:
        if ctx.role is not Role.MANAGER:
            raise _refuse("Only a manager may override quality control.", "override-not-allowed")
        if not _has_text(ctx.reason):
            raise _refuse("An override needs a reason.", "override-reason-required")
        return
    if ctx.latest_qc_passed is not True:
        detail = (
            "No QC measurement session has been recorded."
            if ctx.latest_qc_passed is None
            else "The latest QC measurement session did not pass."
        )
        raise _refuse(detail, "qc-not-passed", failed_criteria=list(ctx.failed_qc_criteria))


def four_eyes(ctx: TransitionContext) -> None:
    """With four-eyes QC on, the technician who repaired the watch may not pass its QC."""
    if not ctx.four_eyes_qc or ctx.role is not Role.TECHNICIAN:
        return
    # A technician whose key is unknown cannot be told apart from the repairer: refuse.
    if ctx.actor_key_id is None or ctx.actor_key_id in ctx.repairer_key_ids:
        raise _refuse(
            "Four-eyes QC is on: the technician who repaired the watch may not pass its QC.",
            "four-eyes",
        )


def identity_checked(ctx: TransitionContext) -> None:
    """The watch goes only to someone whose right to collect it was verified."""
    if not ctx.identity_checked:
        raise _refuse(
            "The collector's identity was not verified (receipt or tracking token, and serial).",
            "identity-not-checked",
        )


def unclaimed_long_enough(ctx: TransitionContext) -> None:
    """Loi du 31 décembre 1903: a year after deposit, reminders sent, the last notice elapsed."""
    deposited = ctx.deposited_at
    delay = timedelta(days=ctx.unclaimed_delay_days)
    if deposited is None or ctx.now - deposited < delay:
        raise _refuse(
            f"An unclaimed watch may be abandoned only {ctx.unclaimed_delay_days} days after "
            "its deposit.",
            "legal-delay-not-reached",
            eligible_from=(deposited + delay).isoformat() if deposited else None,
        )
    # A reminder to collect the watch means something only once the watch is ready.
    reminders = [
        sent for sent in ctx.reminders_sent_at if ctx.ready_at is None or sent >= ctx.ready_at
    ]
    if not reminders:
        raise _refuse("No reminder to collect the watch is on record.", "no-reminder")
    notice_ends_at = max(reminders) + timedelta(days=ctx.notice_days)
    if ctx.now < notice_ends_at:
        raise _refuse(
            f"The last reminder is less than {ctx.notice_days} days old.",
            "notice-period-running",
            notice_ends_at=notice_ends_at.isoformat(),
        )
