"""Replaying an order's event log, and refusing logs that describe no possible history."""

from __future__ import annotations

import pytest

from app.domain.lifecycle_machine import (
    CREATE_ACTION,
    Action,
    InconsistentEventLog,
    OrderSnapshot,
    OrderStatus,
    Outcome,
    RecordedEvent,
    advance,
    replay,
    replay_snapshot,
)

S, A = OrderStatus, Action


def log(start: OrderStatus, *steps: tuple[str, OrderStatus]) -> list[RecordedEvent]:
    """A consistent log: the creation into ``start``, then (action, to_status) steps."""
    events = [RecordedEvent(1, CREATE_ACTION, None, start)]
    for action, to_status in steps:
        events.append(RecordedEvent(len(events) + 1, action, events[-1].to_status, to_status))
    return events


REPAIRED_AND_RETURNED = log(
    S.AWAITING_ARRIVAL,
    (A.RECEIVE, S.RECEIVED),
    (A.PRE_DIAGNOSE, S.PRE_DIAGNOSED),
    (A.START_DIAGNOSIS, S.IN_DIAGNOSIS),
    (A.COMPLETE_DIAGNOSIS, S.DIAGNOSED),
    (A.SEND_QUOTE, S.QUOTE_SENT),
    (A.EXPIRE_QUOTE, S.DIAGNOSED),
    (A.SEND_QUOTE, S.QUOTE_SENT),
    (A.APPROVE_QUOTE, S.APPROVED),
    (A.WAIT_FOR_PARTS, S.AWAITING_PARTS),
    (A.PARTS_ARRIVED, S.IN_REPAIR),
    (A.SUBMIT_FOR_QC, S.QUALITY_CONTROL),
    (A.FAIL_QC, S.IN_REPAIR),
    (A.SUBMIT_FOR_QC, S.QUALITY_CONTROL),
    (A.PASS_QC, S.READY),
    (A.HAND_BACK, S.RETURNED),
)


def test_a_full_repair_replays_to_returned_repaired() -> None:
    snapshot = replay_snapshot(REPAIRED_AND_RETURNED)
    assert snapshot == OrderSnapshot(S.RETURNED, Outcome.REPAIRED, 16)
    assert replay(REPAIRED_AND_RETURNED) is S.RETURNED


def test_a_creation_alone_replays_to_its_status_at_version_one() -> None:
    assert replay_snapshot(log(S.RECEIVED)) == OrderSnapshot(S.RECEIVED, None, 1)


def test_a_declined_quote_replays_to_ready_unrepaired() -> None:
    events = log(
        S.RECEIVED,
        (A.START_DIAGNOSIS, S.IN_DIAGNOSIS),
        (A.COMPLETE_DIAGNOSIS, S.DIAGNOSED),
        (A.SEND_QUOTE, S.QUOTE_SENT),
        (A.DECLINE_QUOTE, S.READY),
    )
    assert replay_snapshot(events) == OrderSnapshot(S.READY, Outcome.UNREPAIRED, 5)


def test_an_abandoned_watch_keeps_the_outcome_of_its_work() -> None:
    events = log(
        S.RECEIVED, (A.WITHDRAW, S.READY), ("send_reminder", S.READY), (A.ABANDON, S.ABANDONED)
    )
    assert replay_snapshot(events) == OrderSnapshot(S.ABANDONED, Outcome.UNREPAIRED, 4)


def test_recorded_facts_count_a_version_but_keep_the_status() -> None:
    events = log(
        S.AWAITING_ARRIVAL, ("record_shipment", S.AWAITING_ARRIVAL), (A.RECEIVE, S.RECEIVED)
    )
    assert replay_snapshot(events) == OrderSnapshot(S.RECEIVED, None, 3)


def test_a_warranty_claim_creation_is_a_creation_too() -> None:
    events = [RecordedEvent(1, "open_warranty_claim", None, S.RECEIVED)]
    assert replay(events) is S.RECEIVED


def test_event_outcome_is_read_from_the_table() -> None:
    assert RecordedEvent(5, "pass_qc", S.QUALITY_CONTROL, S.READY).outcome is Outcome.REPAIRED
    assert RecordedEvent(5, "withdraw", S.IN_REPAIR, S.READY).outcome is Outcome.UNREPAIRED
    assert RecordedEvent(6, "hand_back", S.READY, S.RETURNED).outcome is None
    assert RecordedEvent(6, "send_reminder", S.READY, S.READY).outcome is None


def test_advance_applies_one_event_after_the_last() -> None:
    created = advance(None, RecordedEvent(1, CREATE_ACTION, None, S.RECEIVED))
    moved = advance(created, RecordedEvent(2, "withdraw", S.RECEIVED, S.READY))
    assert moved == OrderSnapshot(S.READY, Outcome.UNREPAIRED, 2)


def test_an_empty_log_is_inconsistent() -> None:
    with pytest.raises(InconsistentEventLog, match="starts with its creation"):
        replay([])


CREATED = RecordedEvent(1, CREATE_ACTION, None, S.RECEIVED)

INCONSISTENT_LOGS = {
    "first event is not a creation": [RecordedEvent(1, "withdraw", S.RECEIVED, S.READY)],
    "creation by a table action": [RecordedEvent(1, "receive", None, S.RECEIVED)],
    "creation into a status no creation starts in": [
        RecordedEvent(1, CREATE_ACTION, None, S.IN_REPAIR)
    ],
    "sequence does not start at one": [RecordedEvent(2, CREATE_ACTION, None, S.RECEIVED)],
    "sequence skips a number": [CREATED, RecordedEvent(3, "withdraw", S.RECEIVED, S.READY)],
    "sequence repeats a number": [CREATED, RecordedEvent(1, "withdraw", S.RECEIVED, S.READY)],
    "second creation": [CREATED, RecordedEvent(2, CREATE_ACTION, None, S.RECEIVED)],
    "from_status differs from the current status": [
        CREATED,
        RecordedEvent(2, "withdraw", S.DIAGNOSED, S.READY),
    ],
    "action not possible from the status": [
        CREATED,
        RecordedEvent(2, "start_repair", S.RECEIVED, S.IN_REPAIR),
    ],
    "action lands elsewhere than its target": [
        CREATED,
        RecordedEvent(2, "withdraw", S.RECEIVED, S.RETURNED),
    ],
    "fact that changes the status": [
        CREATED,
        RecordedEvent(2, "send_reminder", S.RECEIVED, S.READY),
    ],
    "action after a terminal status": log(S.AWAITING_ARRIVAL, (A.CANCEL, S.CANCELLED))
    + [RecordedEvent(3, "receive", S.CANCELLED, S.RECEIVED)],
}


@pytest.mark.parametrize("events", INCONSISTENT_LOGS.values(), ids=INCONSISTENT_LOGS.keys())
def test_an_impossible_history_is_refused(events: list[RecordedEvent]) -> None:
    with pytest.raises(InconsistentEventLog):
        replay(events)
