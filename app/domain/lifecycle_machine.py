"""The lifecycle state machine: every decision is read from one declarative transition table.

The vocabulary (``lifecycle_states``), the facts and guards (``lifecycle_guards``), the table
(``lifecycle_table``) and the event log (``lifecycle_events``) live in their own modules; this one
decides from them and re-exports them, so callers import every lifecycle name from one place.

``decide`` checks, in this order:

1. the status: the action must leave from it (else ``InvalidTransition``, 409, listing what the
   caller's role may do instead) — terminal statuses are no row's source, so they accept nothing;
2. the role: it must be in the row's roles (else ``ActionForbidden``, 403);
3. the guards, in the row's order (else ``GuardFailed``, 409, with a machine-readable reason).

The status comes first so that a caller learns the order has moved on before being told who may
act, and guards come last because they only make sense for a possible, permitted action.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from app.domain.errors import ActionForbidden, InvalidTransition
from app.domain.lifecycle_events import (
    InconsistentEventLog,
    OrderSnapshot,
    RecordedEvent,
    advance,
    replay,
    replay_snapshot,
)
from app.domain.lifecycle_guards import (
    NOTICE_DAYS,
    UNCLAIMED_DELAY_DAYS,
    Guard,
    TransitionContext,
)
from app.domain.lifecycle_states import (
    CREATE_ACTION,
    TERMINAL_STATUSES,
    Action,
    CreationKind,
    OrderStatus,
    Outcome,
    in_status_order,
)
from app.domain.lifecycle_table import CREATIONS, TRANSITIONS, WITHDRAWABLE, Creation, Transition
from app.domain.roles import Role

__all__ = [
    "CREATE_ACTION",
    "CREATIONS",
    "CREATION_STATUS",
    "NOTICE_DAYS",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "UNCLAIMED_DELAY_DAYS",
    "WITHDRAWABLE",
    "Action",
    "Creation",
    "CreationKind",
    "Decision",
    "Guard",
    "InconsistentEventLog",
    "OrderSnapshot",
    "OrderStatus",
    "Outcome",
    "RecordedEvent",
    "Transition",
    "TransitionContext",
    "actions_from",
    "advance",
    "allowed_actions",
    "creation_for",
    "creation_status",
    "decide",
    "mermaid_state_diagram",
    "replay",
    "replay_snapshot",
]


def _creation_status_by_role() -> Mapping[Role, OrderStatus]:
    statuses: dict[Role, OrderStatus] = {}
    for creation in CREATIONS.values():
        for role in creation.roles:
            if role in statuses:
                raise RuntimeError(f"The {role.value} role appears in two creations.")
            statuses[role] = creation.target
    return MappingProxyType(statuses)


# Who creates an order, and in which status it starts (derived from CREATIONS).
CREATION_STATUS: Mapping[Role, OrderStatus] = _creation_status_by_role()


def creation_for(kind: CreationKind, role: Role) -> Creation:
    """The creation ``role`` may perform as ``kind``, or ``ActionForbidden``."""
    creation = CREATIONS[kind]
    if role not in creation.roles:
        raise ActionForbidden(f"The {role.value} role may not create an order by {kind.value}.")
    return creation


def creation_status(role: Role) -> OrderStatus:
    """The status a new order starts in when ``role`` creates it."""
    if role not in CREATION_STATUS:
        raise ActionForbidden(f"The {role.value} role may not create repair orders.")
    return CREATION_STATUS[role]


@dataclass(frozen=True)
class Decision:
    """What an accepted action does: the order moves, and may get an outcome."""

    action: Action
    from_status: OrderStatus
    to_status: OrderStatus
    outcome: Outcome | None


def allowed_actions(status: OrderStatus, role: Role) -> list[Action]:
    """Actions ``role`` may take from ``status`` per the table, in table order (guards aside)."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources and role in t.roles]


@functools.cache
def allowed_action_names(status: str, role: Role) -> tuple[str, ...]:
    """``allowed_actions`` by the stored status text, as an order's representation lists them:
    computed once per pair (a list page presents fifty orders; the table never changes)."""
    return tuple(action.value for action in allowed_actions(OrderStatus(status), role))


def actions_from(status: OrderStatus) -> list[Action]:
    """Actions some role may take from ``status``, in table order."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources]


def decide(status: OrderStatus, action: Action, ctx: TransitionContext) -> Decision:
    """Check the status (409), then the role (403), then each guard in order; never mutates."""
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


def mermaid_state_diagram() -> str:
    """A Mermaid ``stateDiagram-v2`` of the table, deterministic (docs/architecture.md embeds it).

    One line per creation target, one per (source, target, action) in table order, one per
    terminal status.
    """
    lines = ["stateDiagram-v2"]
    for status in in_status_order(creation.target for creation in CREATIONS.values()):
        lines.append(f"    [*] --> {status.value}")
    for transition in TRANSITIONS.values():
        for source in in_status_order(transition.sources):
            lines.append(f"    {source.value} --> {transition.target.value}: {transition.action}")
    for status in in_status_order(TERMINAL_STATUSES):
        lines.append(f"    {status.value} --> [*]")
    return "\n".join(lines) + "\n"
