"""The order's event log, folded back into its current state.

The log is append-only and holds three kinds of event: the creation (no ``from_status``), the
table's transitions, and facts recorded along the way (reminders, shipments, corrections...) whose
action is not a table row and which never change the status. Every event counts one version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.lifecycle_states import Action, OrderStatus, Outcome
from app.domain.lifecycle_table import CREATIONS, TRANSITIONS, Transition


class InconsistentEventLog(ValueError):
    """The event log does not describe a possible history (a data fault, not a client error)."""


def _transition_of(action: str) -> Transition | None:
    return TRANSITIONS[Action(action)] if action in TRANSITIONS else None


@dataclass(frozen=True)
class RecordedEvent:
    """What replay needs of one event of the log; ``sequence`` counts from 1 per order."""

    sequence: int
    action: str
    from_status: OrderStatus | None
    to_status: OrderStatus

    @property
    def outcome(self) -> Outcome | None:
        """The outcome this event sets, read from the table (facts and creations set none)."""
        transition = _transition_of(self.action)
        return transition.outcome if transition is not None else None


@dataclass(frozen=True)
class OrderSnapshot:
    """An order's state as its log describes it; ``version`` is the number of events."""

    status: OrderStatus
    outcome: Outcome | None
    version: int


_CREATION_STATUSES = frozenset(creation.target for creation in CREATIONS.values())


def _check_creation(event: RecordedEvent) -> None:
    if event.from_status is not None:
        raise InconsistentEventLog(
            f"event {event.sequence} should create the order but starts from {event.from_status}"
        )
    if _transition_of(event.action) is not None:
        raise InconsistentEventLog(f"event {event.sequence} creates the order with a transition")
    if event.to_status not in _CREATION_STATUSES:
        raise InconsistentEventLog(f"event {event.sequence} creates the order in {event.to_status}")


def _check_follow_up(current: OrderStatus, event: RecordedEvent) -> None:
    if event.from_status != current:
        raise InconsistentEventLog(
            f"event {event.sequence} starts from {event.from_status}, the order was {current}"
        )
    transition = _transition_of(event.action)
    if transition is None:
        if event.to_status != current:
            raise InconsistentEventLog(
                f"event {event.sequence} changes the status outside the table"
            )
    elif current not in transition.sources or event.to_status != transition.target:
        raise InconsistentEventLog(f"event {event.sequence} is not a table transition")


def advance(snapshot: OrderSnapshot | None, event: RecordedEvent) -> OrderSnapshot:
    """Apply one event to the state before it (None before the creation), checking it fits."""
    expected_sequence = 1 if snapshot is None else snapshot.version + 1
    if event.sequence != expected_sequence:
        raise InconsistentEventLog(
            f"event {event.sequence} arrives where event {expected_sequence} was expected"
        )
    if snapshot is None:
        _check_creation(event)
        return OrderSnapshot(event.to_status, None, event.sequence)
    _check_follow_up(snapshot.status, event)
    # Only ready is reached with an outcome, and it leads only to terminal statuses: an outcome,
    # once set, stays (the repair was done even if the watch is later abandoned).
    outcome = event.outcome or snapshot.outcome
    return OrderSnapshot(event.to_status, outcome, event.sequence)


def replay_snapshot(events: Iterable[RecordedEvent]) -> OrderSnapshot:
    """Fold the whole log, oldest first, into the order's state."""
    snapshot: OrderSnapshot | None = None
    for event in events:
        snapshot = advance(snapshot, event)
    if snapshot is None:
        raise InconsistentEventLog("an order's log starts with its creation")
    return snapshot


def replay(events: Iterable[RecordedEvent]) -> OrderStatus:
    """The current status the log leads to."""
    return replay_snapshot(events).status
