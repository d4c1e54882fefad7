"""The repair-order lifecycle: one declarative transition table, its guards, and replay.

The table is the single source of truth: the service asks ``decide`` before any change, the API's
``allowed_actions`` and its 409 errors come from it, and so do the Mermaid diagram of
docs/architecture.md and the exhaustive tests. Guards receive only facts (``TransitionContext``)
gathered by the service layer: the domain never queries anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from app.domain.errors import ActionForbidden, GuardFailed, InvalidTransition
from app.domain.roles import Role


class OrderStatus(StrEnum):
    AWAITING_ARRIVAL = "awaiting_arrival"
    RECEIVED = "received"
    PRE_DIAGNOSED = "pre_diagnosed"
    IN_DIAGNOSIS = "in_diagnosis"
    DIAGNOSED = "diagnosed"
    QUOTE_SENT = "quote_sent"
    APPROVED = "approved"
    IN_REPAIR = "in_repair"
    AWAITING_PARTS = "awaiting_parts"
    QUALITY_CONTROL = "quality_control"
    READY = "ready"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"


TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.RETURNED, OrderStatus.CANCELLED, OrderStatus.ABANDONED}
)


class Outcome(StrEnum):
    REPAIRED = "repaired"
    UNREPAIRED = "unrepaired"


class Action(StrEnum):
    CANCEL = "cancel"
    RECEIVE = "receive"
    PRE_DIAGNOSE = "pre_diagnose"
    START_DIAGNOSIS = "start_diagnosis"
    COMPLETE_DIAGNOSIS = "complete_diagnosis"
    SEND_QUOTE = "send_quote"
    APPROVE_QUOTE = "approve_quote"
    DECLINE_QUOTE = "decline_quote"
    EXPIRE_QUOTE = "expire_quote"
    START_REPAIR = "start_repair"
    WAIT_FOR_PARTS = "wait_for_parts"
    PARTS_ARRIVED = "parts_arrived"
    REQUEST_SUPPLEMENT = "request_supplement"
    SUBMIT_FOR_QC = "submit_for_qc"
    FAIL_QC = "fail_qc"
    PASS_QC = "pass_qc"
    WITHDRAW = "withdraw"
    HAND_BACK = "hand_back"
    ABANDON = "abandon"


# Who creates an order, and in which status it starts (counter deposit or partner submission).
CREATION_STATUS: Mapping[Role, OrderStatus] = MappingProxyType(
    {
        Role.COUNTER: OrderStatus.RECEIVED,
        Role.MANAGER: OrderStatus.RECEIVED,
        Role.PARTNER: OrderStatus.AWAITING_ARRIVAL,
    }
)


def creation_status(role: Role) -> OrderStatus:
    """The status a new order starts in when ``role`` creates it."""
    if role not in CREATION_STATUS:
        raise ActionForbidden(f"The {role.value} role may not create repair orders.")
    return CREATION_STATUS[role]


@dataclass(frozen=True)
class TransitionContext:
    """Facts about the order and the caller, gathered by the service before deciding.

    Every fact has a neutral default, so a caller states only what matters to its action.
    """

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    role: Role = Role.COUNTER
    actor_key_id: str | None = None
    actor_owns_order: bool = False
    reason: str | None = None
    override: bool = False
    # Quotes
    has_quote_to_send: bool = False
    quote_needs_manager_review: bool = False
    quote_manager_approved: bool = False
    quote_valid_until: date | None = None
    latest_revision_approved: bool = False
    # Quality control
    latest_qc_passed: bool | None = None
    failed_qc_criteria: tuple[str, ...] = ()
    four_eyes_qc: bool = False
    repairer_key_ids: frozenset[str] = frozenset()
    # Unclaimed watches (loi du 31 décembre 1903)
    deposited_at: datetime | None = None
    ready_at: datetime | None = None
    reminders_sent_at: tuple[datetime, ...] = ()
    unclaimed_delay_days: int = 365
    notice_days: int = 8
    # Hand-back
    identity_checked: bool = False


Guard = Callable[[TransitionContext], None]


def _refuse(detail: str, reason: str, **extensions: object) -> GuardFailed:
    return GuardFailed(detail, reason=reason, **extensions)


def reason_required(ctx: TransitionContext) -> None:
    if not (ctx.reason and ctx.reason.strip()):
        raise _refuse("A reason is required for this action.", "reason-required")


def partner_owns_order(ctx: TransitionContext) -> None:
    if ctx.role is Role.PARTNER and not ctx.actor_owns_order:
        raise _refuse("A partner may act only on its own orders.", "not-own-order")


def quote_ready_to_send(ctx: TransitionContext) -> None:
    if not ctx.has_quote_to_send:
        raise _refuse("There is no draft quote revision to send.", "no-quote")
    if ctx.quote_needs_manager_review and not ctx.quote_manager_approved:
        raise _refuse(
            "This quote is above the review threshold: a manager must approve it first.",
            "quote-review-required",
        )


def quote_still_valid(ctx: TransitionContext) -> None:
    if ctx.quote_valid_until is not None and ctx.now.date() > ctx.quote_valid_until:
        raise _refuse(
            f"The quote expired on {ctx.quote_valid_until.isoformat()}.",
            "quote-expired",
            valid_until=ctx.quote_valid_until.isoformat(),
        )


def quote_validity_passed(ctx: TransitionContext) -> None:
    if ctx.quote_valid_until is None or ctx.now.date() <= ctx.quote_valid_until:
        raise _refuse("The quote is still valid.", "quote-still-valid")


def quote_approved(ctx: TransitionContext) -> None:
    # Quote before work: a repairer who starts without the customer's agreement on the price can
    # lose the right to retain the watch.
    if not ctx.latest_revision_approved:
        raise _refuse(
            "The latest quote revision is not approved: no work before the price is agreed.",
            "quote-not-approved",
        )


def qc_passed_or_overridden(ctx: TransitionContext) -> None:
    if ctx.override:
        if ctx.role is not Role.MANAGER:
            raise _refuse("Only a manager may override quality control.", "override-not-allowed")
        if not (ctx.reason and ctx.reason.strip()):
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
    if (
        ctx.four_eyes_qc
        and ctx.role is Role.TECHNICIAN
        and ctx.actor_key_id is not None
        and ctx.actor_key_id in ctx.repairer_key_ids
    ):
        raise _refuse(
            "Four-eyes QC is on: the technician who repaired the watch may not pass its QC.",
            "four-eyes",
        )


def identity_checked(ctx: TransitionContext) -> None:
    if not ctx.identity_checked:
        raise _refuse(
            "The collector's identity was not verified (receipt or tracking token, and serial).",
            "identity-not-checked",
        )


def unclaimed_long_enough(ctx: TransitionContext) -> None:
    deposited = ctx.deposited_at
    if deposited is None or ctx.now - deposited < timedelta(days=ctx.unclaimed_delay_days):
        raise _refuse(
            f"An unclaimed watch may be abandoned only {ctx.unclaimed_delay_days} days after "
            "its deposit.",
            "legal-delay-not-reached",
        )
    if not ctx.reminders_sent_at:
        raise _refuse("No reminder has been sent to the customer.", "no-reminder")
    last_reminder = max(ctx.reminders_sent_at)
    if ctx.now - last_reminder < timedelta(days=ctx.notice_days):
        raise _refuse(
            f"The last reminder is less than {ctx.notice_days} clear days old.",
            "notice-period-running",
        )


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[OrderStatus]
    target: OrderStatus
    roles: frozenset[Role]
    guards: tuple[Guard, ...] = ()
    outcome: Outcome | None = None
    description: str = ""


def _t(
    action: Action,
    sources: Iterable[OrderStatus],
    target: OrderStatus,
    roles: Iterable[Role],
    guards: tuple[Guard, ...] = (),
    outcome: Outcome | None = None,
    description: str = "",
) -> Transition:
    return Transition(
        action, frozenset(sources), target, frozenset(roles), guards, outcome, description
    )


S, R = OrderStatus, Role
_WITHDRAWABLE = (
    S.RECEIVED,
    S.PRE_DIAGNOSED,
    S.IN_DIAGNOSIS,
    S.DIAGNOSED,
    S.QUOTE_SENT,
    S.APPROVED,
    S.IN_REPAIR,
    S.AWAITING_PARTS,
)

TRANSITIONS: Mapping[Action, Transition] = MappingProxyType(
    {
        t.action: t
        for t in (
            _t(Action.CANCEL, [S.AWAITING_ARRIVAL], S.CANCELLED, [R.PARTNER, R.MANAGER],
               (reason_required, partner_owns_order), description="partner's order cancelled"),
            _t(Action.RECEIVE, [S.AWAITING_ARRIVAL], S.RECEIVED, [R.COUNTER, R.TECHNICIAN],
               description="partner's watch arrives"),
            _t(Action.PRE_DIAGNOSE, [S.RECEIVED], S.PRE_DIAGNOSED, [R.COUNTER],
               description="counter pre-diagnosis and pre-quote"),
            _t(Action.START_DIAGNOSIS, [S.RECEIVED, S.PRE_DIAGNOSED], S.IN_DIAGNOSIS,
               [R.TECHNICIAN], description="technician takes the watch"),
            _t(Action.COMPLETE_DIAGNOSIS, [S.IN_DIAGNOSIS], S.DIAGNOSED, [R.TECHNICIAN],
               description="final diagnosis and parts"),
            _t(Action.SEND_QUOTE, [S.DIAGNOSED], S.QUOTE_SENT, [R.COUNTER, R.MANAGER],
               (quote_ready_to_send,), description="quote revision sent"),
            # SYSTEM approves on the customer's behalf within the ceiling agreed at intake.
            _t(Action.APPROVE_QUOTE, [S.QUOTE_SENT], S.APPROVED,
               [R.CUSTOMER, R.COUNTER, R.PARTNER, R.SYSTEM],
               (partner_owns_order, quote_still_valid), description="customer agrees to the price"),
            _t(Action.DECLINE_QUOTE, [S.QUOTE_SENT], S.READY, [R.CUSTOMER, R.COUNTER, R.PARTNER],
               (partner_owns_order,), Outcome.UNREPAIRED, "customer declines"),
            _t(Action.EXPIRE_QUOTE, [S.QUOTE_SENT], S.DIAGNOSED, [R.SYSTEM, R.MANAGER],
               (quote_validity_passed,), description="validity passed: new revision needed"),
            _t(Action.START_REPAIR, [S.APPROVED], S.IN_REPAIR, [R.TECHNICIAN],
               (quote_approved,), description="work starts"),
            _t(Action.WAIT_FOR_PARTS, [S.APPROVED, S.IN_REPAIR], S.AWAITING_PARTS,
               [R.TECHNICIAN], description="parts ordered"),
            _t(Action.PARTS_ARRIVED, [S.AWAITING_PARTS], S.IN_REPAIR, [R.TECHNICIAN],
               description="parts received"),
            _t(Action.REQUEST_SUPPLEMENT, [S.IN_REPAIR], S.DIAGNOSED, [R.TECHNICIAN],
               (reason_required,), description="extra work: supplementary quote"),
            _t(Action.SUBMIT_FOR_QC, [S.IN_REPAIR], S.QUALITY_CONTROL, [R.TECHNICIAN],
               description="repair done"),
            _t(Action.FAIL_QC, [S.QUALITY_CONTROL], S.IN_REPAIR, [R.TECHNICIAN],
               description="QC failed: back to the bench"),
            _t(Action.PASS_QC, [S.QUALITY_CONTROL], S.READY, [R.TECHNICIAN, R.MANAGER],
               (qc_passed_or_overridden, four_eyes), Outcome.REPAIRED, "QC passed"),
            _t(Action.WITHDRAW, _WITHDRAWABLE, S.READY, [R.COUNTER, R.MANAGER],
               (reason_required,), Outcome.UNREPAIRED, "customer takes it back unrepaired"),
            _t(Action.HAND_BACK, [S.READY], S.RETURNED, [R.COUNTER], (identity_checked,),
               description="watch handed back"),
            _t(Action.ABANDON, [S.READY], S.ABANDONED, [R.MANAGER], (unclaimed_long_enough,),
               description="unclaimed after the legal delay"),
        )
    }
)  # fmt: skip


@dataclass(frozen=True)
class Decision:
    action: Action
    from_status: OrderStatus
    to_status: OrderStatus
    outcome: Outcome | None


def allowed_actions(status: OrderStatus, role: Role) -> list[Action]:
    """Actions ``role`` may take from ``status`` per the table, in table order (guards aside)."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources and role in t.roles]


def actions_from(status: OrderStatus) -> list[Action]:
    return [t.action for t in TRANSITIONS.values() if status in t.sources]


def decide(status: OrderStatus, action: Action, ctx: TransitionContext) -> Decision:
    """Check the status first (409), then the role (403), then each guard in order."""
    transition = TRANSITIONS[action]
    if status not in transition.sources:
        raise InvalidTransition(
            f"'{action.value}' is not possible while the order is {status.value}.",
            current_status=status.value,
            allowed_actions=[a.value for a in allowed_actions(status, ctx.role)],
        )
    if ctx.role not in transition.roles:
        names = ", ".join(sorted(r.value for r in transition.roles))
        raise ActionForbidden(f"'{action.value}' is for: {names}.")
    for guard in transition.guards:
        guard(ctx)
    return Decision(action, status, transition.target, transition.outcome)


@dataclass(frozen=True)
class RecordedEvent:
    """What replay needs of one event of the log."""

    sequence: int
    action: str
    from_status: OrderStatus | None
    to_status: OrderStatus


class InconsistentEventLog(ValueError):
    """The event log does not describe a possible history."""


def replay(events: Iterable[RecordedEvent]) -> OrderStatus:
    """Fold the log into the current status, checking that each event starts where the last
    one ended and that transitions follow the table."""
    status: OrderStatus | None = None
    expected_sequence = 1
    for event in events:
        if event.sequence != expected_sequence:
            raise InconsistentEventLog(f"event {event.sequence} arrives out of order")
        expected_sequence += 1
        if event.from_status != status:
            raise InconsistentEventLog(
                f"event {event.sequence} starts from {event.from_status}, the order was {status}"
            )
        if status is not None and event.action in TRANSITIONS:
            transition = TRANSITIONS[Action(event.action)]
            if status not in transition.sources or event.to_status is not transition.target:
                raise InconsistentEventLog(f"event {event.sequence} is not a table transition")
        elif status is not None and event.to_status is not status:
            # Events outside the table (reminders, notes) record facts, never a status change.
            raise InconsistentEventLog(f"event {event.sequence} changes status outside the table")
        status = event.to_status
    if status is None:
        raise InconsistentEventLog("an order's log starts with its creation")
    return status


def mermaid_state_diagram() -> str:
    """A Mermaid state diagram of the table, deterministic (docs/architecture.md embeds it)."""
    lines = ["stateDiagram-v2"]
    for status in sorted({*CREATION_STATUS.values()}, key=list(OrderStatus).index):
        lines.append(f"    [*] --> {status.value}")
    for transition in TRANSITIONS.values():
        for source in sorted(transition.sources, key=list(OrderStatus).index):
            lines.append(f"    {source.value} --> {transition.target.value}: {transition.action}")
    for status in sorted(TERMINAL_STATUSES, key=list(OrderStatus).index):
        lines.append(f"    {status.value} --> [*]")
    return "\n".join(lines) + "\n"
