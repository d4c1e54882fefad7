"""The transition table of brief.md's "The lifecycle": the single source of truth.

``decide``, the API's ``allowed_actions`` and 409 errors, the replay of the event log, the Mermaid
diagram and docs/architecture.md's table are all derived from ``TRANSITIONS`` and ``CREATIONS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from app.domain.lifecycle_guards import (
    Guard,
    four_eyes,
    identity_checked,
    partner_owns_order,
    qc_passed_or_overridden,
    quote_approved,
    quote_ready_to_send,
    quote_still_valid,
    quote_validity_passed,
    reason_required,
    unclaimed_long_enough,
)
from app.domain.lifecycle_states import Action, CreationKind, OrderStatus, Outcome
from app.domain.roles import Role


@dataclass(frozen=True)
class Transition:
    """One row of the table: from which statuses, to which, by whom, under which guards."""

    action: Action
    sources: frozenset[OrderStatus]
    target: OrderStatus
    roles: frozenset[Role]
    guards: tuple[Guard, ...] = ()
    # Set on the order by this transition; hand-back and abandon keep the one already set.
    outcome: Outcome | None = None
    description: str = ""


@dataclass(frozen=True)
class Creation:
    """How an order comes into existence: by whom, and in which status it starts."""

    kind: CreationKind
    target: OrderStatus
    roles: frozenset[Role]
    description: str


def _row(
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


def _index(rows: Iterable[Transition]) -> Mapping[Action, Transition]:
    table = {row.action: row for row in rows}
    # A missing or duplicated action would silently change the API: fail at import instead.
    if list(table) != list(Action):
        raise RuntimeError("TRANSITIONS must hold exactly one row per Action, in Action order.")
    return MappingProxyType(table)


S, R = OrderStatus, Role

# The brief's "received … awaiting_parts", read literally in the order of the listed states:
# quality_control is not included (the watch is finished; the customer waits for QC).
WITHDRAWABLE: frozenset[OrderStatus] = frozenset(
    {
        S.RECEIVED,
        S.PRE_DIAGNOSED,
        S.IN_DIAGNOSIS,
        S.DIAGNOSED,
        S.QUOTE_SENT,
        S.APPROVED,
        S.IN_REPAIR,
        S.AWAITING_PARTS,
    }
)

CREATIONS: Mapping[CreationKind, Creation] = MappingProxyType(
    {
        CreationKind.COUNTER_INTAKE: Creation(
            CreationKind.COUNTER_INTAKE,
            S.RECEIVED,
            frozenset({R.COUNTER, R.MANAGER}),
            "intake at the counter: customer, watch, condition report, accessories, complaint",
        ),
        CreationKind.PARTNER_SUBMISSION: Creation(
            CreationKind.PARTNER_SUBMISSION,
            S.AWAITING_ARRIVAL,
            frozenset({R.PARTNER}),
            "submitted by a partner boutique before the watch is shipped",
        ),
    }
)

TRANSITIONS: Mapping[Action, Transition] = _index(
    (
        _row(Action.CANCEL, [S.AWAITING_ARRIVAL], S.CANCELLED, [R.PARTNER, R.MANAGER],
             (reason_required, partner_owns_order), description="partner's order cancelled"),
        _row(Action.RECEIVE, [S.AWAITING_ARRIVAL], S.RECEIVED, [R.COUNTER, R.TECHNICIAN],
             description="partner's watch arrives"),
        _row(Action.PRE_DIAGNOSE, [S.RECEIVED], S.PRE_DIAGNOSED, [R.COUNTER],
             description="counter pre-diagnosis and pre-quote"),
        _row(Action.START_DIAGNOSIS, [S.RECEIVED, S.PRE_DIAGNOSED], S.IN_DIAGNOSIS,
             [R.TECHNICIAN], description="technician takes the watch"),
        _row(Action.COMPLETE_DIAGNOSIS, [S.IN_DIAGNOSIS], S.DIAGNOSED, [R.TECHNICIAN],
             description="final diagnosis and parts"),
        _row(Action.SEND_QUOTE, [S.DIAGNOSED], S.QUOTE_SENT, [R.COUNTER, R.MANAGER],
             (quote_ready_to_send,), description="quote revision sent"),
        # SYSTEM approves on the customer's behalf when the quote is within the ceiling the
        # customer agreed to at intake (a standing instruction, recorded as such).
        _row(Action.APPROVE_QUOTE, [S.QUOTE_SENT], S.APPROVED,
             [R.CUSTOMER, R.COUNTER, R.PARTNER, R.SYSTEM],
             (partner_owns_order, quote_still_valid), description="customer agrees to the price"),
        _row(Action.DECLINE_QUOTE, [S.QUOTE_SENT], S.READY, [R.CUSTOMER, R.COUNTER, R.PARTNER],
             (partner_owns_order,), Outcome.UNREPAIRED, "customer declines"),
        _row(Action.EXPIRE_QUOTE, [S.QUOTE_SENT], S.DIAGNOSED, [R.SYSTEM, R.MANAGER],
             (quote_validity_passed,), description="validity passed: new revision needed"),
        _row(Action.START_REPAIR, [S.APPROVED], S.IN_REPAIR, [R.TECHNICIAN],
             (quote_approved,), description="work starts"),
        _row(Action.WAIT_FOR_PARTS, [S.APPROVED, S.IN_REPAIR], S.AWAITING_PARTS,
             [R.TECHNICIAN], description="parts ordered"),
        _row(Action.PARTS_ARRIVED, [S.AWAITING_PARTS], S.IN_REPAIR, [R.TECHNICIAN],
             description="parts received"),
        # The reason is the extra work found: the supplementary revision is built from it.
        _row(Action.REQUEST_SUPPLEMENT, [S.IN_REPAIR], S.DIAGNOSED, [R.TECHNICIAN],
             (reason_required,), description="extra work: supplementary quote"),
        _row(Action.SUBMIT_FOR_QC, [S.IN_REPAIR], S.QUALITY_CONTROL, [R.TECHNICIAN],
             description="repair done"),
        _row(Action.FAIL_QC, [S.QUALITY_CONTROL], S.IN_REPAIR, [R.TECHNICIAN],
             description="QC failed: back to the bench"),
        _row(Action.PASS_QC, [S.QUALITY_CONTROL], S.READY, [R.TECHNICIAN, R.MANAGER],
             (qc_passed_or_overridden, four_eyes), Outcome.REPAIRED, "QC passed"),
        _row(Action.WITHDRAW, WITHDRAWABLE, S.READY, [R.COUNTER, R.MANAGER],
             (reason_required,), Outcome.UNREPAIRED, "customer takes it back unrepaired"),
        _row(Action.HAND_BACK, [S.READY], S.RETURNED, [R.COUNTER], (identity_checked,),
             description="watch handed back"),
        _row(Action.ABANDON, [S.READY], S.ABANDONED, [R.MANAGER], (unclaimed_long_enough,),
             description="unclaimed after the legal delay"),
    )
)  # fmt: skip
