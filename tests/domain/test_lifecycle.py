"""The transition table against brief.md, exhaustively, plus random walks through it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ActionForbidden, GuardFailed, InvalidTransition
from app.domain.lifecycle_machine import (
    CREATE_ACTION,
    CREATION_STATUS,
    CREATIONS,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Action,
    CreationKind,
    Decision,
    OrderSnapshot,
    OrderStatus,
    Outcome,
    RecordedEvent,
    TransitionContext,
    actions_from,
    allowed_actions,
    creation_for,
    creation_status,
    decide,
    mermaid_state_diagram,
    replay,
    replay_snapshot,
)
from app.domain.roles import Role

S, A, R = OrderStatus, Action, Role
NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)

# brief.md "The lifecycle", copied by hand: action -> (from, to, who, outcome).
BRIEF_TABLE: dict[Action, tuple[set[OrderStatus], OrderStatus, set[Role], Outcome | None]] = {
    A.CANCEL: ({S.AWAITING_ARRIVAL}, S.CANCELLED, {R.PARTNER, R.MANAGER}, None),
    A.RECEIVE: ({S.AWAITING_ARRIVAL}, S.RECEIVED, {R.COUNTER, R.TECHNICIAN}, None),
    A.PRE_DIAGNOSE: ({S.RECEIVED}, S.PRE_DIAGNOSED, {R.COUNTER}, None),
    A.START_DIAGNOSIS: ({S.RECEIVED, S.PRE_DIAGNOSED}, S.IN_DIAGNOSIS, {R.TECHNICIAN}, None),
    A.COMPLETE_DIAGNOSIS: ({S.IN_DIAGNOSIS}, S.DIAGNOSED, {R.TECHNICIAN}, None),
    A.SEND_QUOTE: ({S.DIAGNOSED}, S.QUOTE_SENT, {R.COUNTER, R.MANAGER}, None),
    # Plus system: the customer's pre-approved ceiling, a standing instruction given at intake.
    A.APPROVE_QUOTE: (
        {S.QUOTE_SENT}, S.APPROVED, {R.CUSTOMER, R.COUNTER, R.PARTNER, R.SYSTEM}, None
    ),
    A.DECLINE_QUOTE: (
        {S.QUOTE_SENT}, S.READY, {R.CUSTOMER, R.COUNTER, R.PARTNER}, Outcome.UNREPAIRED
    ),
    A.EXPIRE_QUOTE: ({S.QUOTE_SENT}, S.DIAGNOSED, {R.SYSTEM, R.MANAGER}, None),
    A.START_REPAIR: ({S.APPROVED}, S.IN_REPAIR, {R.TECHNICIAN}, None),
    A.WAIT_FOR_PARTS: ({S.APPROVED, S.IN_REPAIR}, S.AWAITING_PARTS, {R.TECHNICIAN}, None),
    A.PARTS_ARRIVED: ({S.AWAITING_PARTS}, S.IN_REPAIR, {R.TECHNICIAN}, None),
    A.REQUEST_SUPPLEMENT: ({S.IN_REPAIR}, S.DIAGNOSED, {R.TECHNICIAN}, None),
    A.SUBMIT_FOR_QC: ({S.IN_REPAIR}, S.QUALITY_CONTROL, {R.TECHNICIAN}, None),
    A.FAIL_QC: ({S.QUALITY_CONTROL}, S.IN_REPAIR, {R.TECHNICIAN}, None),
    A.PASS_QC: ({S.QUALITY_CONTROL}, S.READY, {R.TECHNICIAN, R.MANAGER}, Outcome.REPAIRED),
    A.WITHDRAW: (
        {S.RECEIVED, S.PRE_DIAGNOSED, S.IN_DIAGNOSIS, S.DIAGNOSED, S.QUOTE_SENT, S.APPROVED,
         S.IN_REPAIR, S.AWAITING_PARTS},
        S.READY, {R.COUNTER, R.MANAGER}, Outcome.UNREPAIRED,
    ),
    A.HAND_BACK: ({S.READY}, S.RETURNED, {R.COUNTER}, None),
    A.ABANDON: ({S.READY}, S.ABANDONED, {R.MANAGER}, None),
}  # fmt: skip


def satisfying_context(action: Action, role: Role) -> TransitionContext:
    """A context in which every guard of ``action`` lets ``role`` through."""
    return TransitionContext(
        now=NOW,
        role=role,
        actor_key_id="key-inspector",
        actor_owns_order=True,
        reason="customer asked on the phone",
        has_quote_to_send=True,
        quote_needs_manager_review=True,
        quote_manager_approved=True,
        quote_valid_until=NOW.date() - timedelta(days=1)
        if action is A.EXPIRE_QUOTE
        else NOW.date() + timedelta(days=20),
        latest_revision_approved=True,
        latest_qc_passed=True,
        four_eyes_qc=True,
        repairer_key_ids=frozenset({"key-repairer"}),
        deposited_at=NOW - timedelta(days=400),
        ready_at=NOW - timedelta(days=90),
        reminders_sent_at=(NOW - timedelta(days=60), NOW - timedelta(days=30)),
        identity_checked=True,
    )


def brief_allowed(status: OrderStatus, role: Role) -> list[str]:
    return [
        action.value
        for action, (sources, _, roles, _) in BRIEF_TABLE.items()
        if status in sources and role in roles
    ]


COMBINATIONS = list(product(OrderStatus, Action, Role))
WRONG_STATUS = [(s, a, r) for s, a, r in COMBINATIONS if s not in BRIEF_TABLE[a][0]]
WRONG_ROLE = [
    (s, a, r) for s, a, r in COMBINATIONS if s in BRIEF_TABLE[a][0] and r not in BRIEF_TABLE[a][2]
]
PERMITTED = [
    (s, a, r) for s, a, r in COMBINATIONS if s in BRIEF_TABLE[a][0] and r in BRIEF_TABLE[a][2]
]


def test_table_has_one_row_per_action_matching_the_brief() -> None:
    assert list(TRANSITIONS) == list(Action)
    for action, (sources, target, roles, outcome) in BRIEF_TABLE.items():
        row = TRANSITIONS[action]
        assert (row.action, row.sources, row.target, row.roles, row.outcome) == (
            action,
            sources,
            target,
            roles,
            outcome,
        ), action
        assert row.description


def test_admin_takes_no_lifecycle_action_and_creates_no_order() -> None:
    assert all(Role.ADMIN not in row.roles for row in TRANSITIONS.values())
    assert Role.ADMIN not in CREATION_STATUS


def test_the_three_terminal_statuses_are_no_rows_source() -> None:
    assert {S.RETURNED, S.CANCELLED, S.ABANDONED} == TERMINAL_STATUSES
    for status in TERMINAL_STATUSES:
        assert actions_from(status) == []


def test_withdraw_covers_received_through_awaiting_parts_but_not_quality_control() -> None:
    assert S.QUALITY_CONTROL not in TRANSITIONS[A.WITHDRAW].sources
    assert S.AWAITING_PARTS in TRANSITIONS[A.WITHDRAW].sources
    assert S.AWAITING_ARRIVAL not in TRANSITIONS[A.WITHDRAW].sources


@pytest.mark.parametrize(("status", "action", "role"), WRONG_STATUS, ids=str)
def test_action_from_a_status_it_does_not_leave_is_an_invalid_transition(
    status: OrderStatus, action: Action, role: Role
) -> None:
    with pytest.raises(InvalidTransition) as refused:
        decide(status, action, satisfying_context(action, role))
    assert refused.value.extensions == {
        "current_status": status.value,
        "allowed_actions": brief_allowed(status, role),
    }


@pytest.mark.parametrize(("status", "action", "role"), WRONG_ROLE, ids=str)
def test_role_outside_the_who_column_is_forbidden(
    status: OrderStatus, action: Action, role: Role
) -> None:
    with pytest.raises(ActionForbidden):
        decide(status, action, satisfying_context(action, role))


@pytest.mark.parametrize(("status", "action", "role"), PERMITTED, ids=str)
def test_permitted_action_moves_the_order_to_the_brief_target(
    status: OrderStatus, action: Action, role: Role
) -> None:
    _, target, _, outcome = BRIEF_TABLE[action]
    decision = decide(status, action, satisfying_context(action, role))
    assert decision == Decision(action, status, target, outcome)
    assert action in allowed_actions(status, role)


def test_status_is_checked_before_role_and_role_before_guards() -> None:
    # A technician may not abandon, and nothing is abandoned from received: the status wins.
    unsatisfied = TransitionContext(now=NOW, role=R.TECHNICIAN)
    with pytest.raises(InvalidTransition):
        decide(S.RECEIVED, A.ABANDON, unsatisfied)
    # From ready, the role is checked next: the failing legal-delay guard is never reached.
    with pytest.raises(ActionForbidden):
        decide(S.READY, A.ABANDON, unsatisfied)
    with pytest.raises(GuardFailed):
        decide(S.READY, A.ABANDON, replace(unsatisfied, role=R.MANAGER))


@pytest.mark.parametrize(("status", "role"), list(product(OrderStatus, Role)), ids=str)
def test_allowed_actions_are_the_brief_rows_in_table_order(status: OrderStatus, role: Role) -> None:
    assert [a.value for a in allowed_actions(status, role)] == brief_allowed(status, role)


def test_allowed_actions_at_the_counter_for_a_received_watch() -> None:
    assert allowed_actions(S.RECEIVED, R.COUNTER) == [A.PRE_DIAGNOSE, A.WITHDRAW]
    assert actions_from(S.RECEIVED) == [A.PRE_DIAGNOSE, A.START_DIAGNOSIS, A.WITHDRAW]


def test_counter_intake_starts_received_and_partner_submission_awaits_arrival() -> None:
    assert creation_for(CreationKind.COUNTER_INTAKE, R.COUNTER).target is S.RECEIVED
    assert creation_for(CreationKind.COUNTER_INTAKE, R.MANAGER).target is S.RECEIVED
    assert creation_for(CreationKind.PARTNER_SUBMISSION, R.PARTNER).target is S.AWAITING_ARRIVAL
    assert creation_status(R.COUNTER) is S.RECEIVED
    assert creation_status(R.PARTNER) is S.AWAITING_ARRIVAL


@pytest.mark.parametrize(
    ("kind", "role"),
    [(CreationKind.COUNTER_INTAKE, r) for r in Role if r not in {R.COUNTER, R.MANAGER}]
    + [(CreationKind.PARTNER_SUBMISSION, r) for r in Role if r is not R.PARTNER],
    ids=str,
)
def test_only_the_brief_roles_create_orders(kind: CreationKind, role: Role) -> None:
    with pytest.raises(ActionForbidden):
        creation_for(kind, role)
    if role not in {R.COUNTER, R.MANAGER, R.PARTNER}:
        with pytest.raises(ActionForbidden):
            creation_status(role)


def test_mermaid_diagram_draws_exactly_the_table() -> None:
    expected = {"[*] --> received", "[*] --> awaiting_arrival"}
    for action, (sources, target, _, _) in BRIEF_TABLE.items():
        expected |= {f"{source} --> {target}: {action}" for source in sources}
    expected |= {f"{status} --> [*]" for status in ("returned", "cancelled", "abandoned")}
    diagram = mermaid_state_diagram()
    lines = diagram.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert sorted(line.strip() for line in lines[1:]) == sorted(expected)
    assert diagram.endswith("\n")


def test_mermaid_diagram_lists_creations_first_then_rows_in_table_order() -> None:
    lines = [line.strip() for line in mermaid_state_diagram().splitlines()[1:]]
    assert lines[:2] == ["[*] --> awaiting_arrival", "[*] --> received"]
    assert lines[2] == "awaiting_arrival --> cancelled: cancel"
    assert lines[-3:] == ["returned --> [*]", "cancelled --> [*]", "abandoned --> [*]"]
    withdraw = [line for line in lines if line.endswith(": withdraw")]
    assert withdraw[0] == "received --> ready: withdraw"
    assert withdraw[-1] == "awaiting_parts --> ready: withdraw"


FACT_ACTION = "send_reminder"


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_action_sequences_keep_the_lifecycle_invariants(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(CreationKind))
    status = CREATIONS[kind].target
    version, outcome = 1, None
    events = [RecordedEvent(1, CREATE_ACTION, None, status)]
    for _ in range(data.draw(st.integers(min_value=0, max_value=40))):
        if data.draw(st.integers(min_value=0, max_value=9)) == 0:
            # A fact (reminder, note...) counts a version but never moves the order.
            version += 1
            events.append(RecordedEvent(version, FACT_ACTION, status, status))
            assert replay_snapshot(events) == OrderSnapshot(status, outcome, version)
            continue
        # Half of the steps pick a row that leaves this status, so walks reach deep statuses.
        moves = [(t.action, r) for t in TRANSITIONS.values() if status in t.sources
                 for r in sorted(t.roles)]  # fmt: skip
        if moves and data.draw(st.booleans()):
            action, role = data.draw(st.sampled_from(moves))
        else:
            action, role = data.draw(st.sampled_from(Action)), data.draw(st.sampled_from(Role))
        satisfied = data.draw(st.booleans())
        context = (
            satisfying_context(action, role) if satisfied else TransitionContext(now=NOW, role=role)
        )
        try:
            decision = decide(status, action, context)
        except InvalidTransition:
            assert action not in actions_from(status)
            continue
        except ActionForbidden:
            assert action in actions_from(status)
            assert action not in allowed_actions(status, role)
            continue
        except GuardFailed:
            assert not satisfied, "a context built to satisfy the guards was refused"
            continue
        assert status not in TERMINAL_STATUSES, "a terminal status accepted an action"
        version += 1
        events.append(RecordedEvent(version, action.value, status, decision.to_status))
        status = decision.to_status
        outcome = decision.outcome or outcome
        snapshot = replay_snapshot(events)
        assert snapshot == OrderSnapshot(status, outcome, version)
        assert replay(events) is status
        assert len(events) == snapshot.version
        # Ready is only reached with an outcome, and leads only to returned or abandoned.
        assert (snapshot.outcome is not None) == (status in {S.READY, S.RETURNED, S.ABANDONED})
