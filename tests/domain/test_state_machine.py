"""The transition table, exhaustively: every (status, action, role), every guard, and replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import ActionForbidden, GuardFailed, InvalidTransition
from app.domain.lifecycle import (
    CREATION_STATUS,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Action,
    InconsistentEventLog,
    OrderStatus,
    Outcome,
    RecordedEvent,
    TransitionContext,
    allowed_actions,
    creation_status,
    decide,
    mermaid_state_diagram,
    replay,
)
from app.domain.roles import Role

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def satisfied(action: Action, role: Role) -> TransitionContext:
    """A context in which every guard of ``action`` lets ``role`` through."""
    expired = action is Action.EXPIRE_QUOTE
    return TransitionContext(
        now=NOW,
        role=role,
        actor_key_id="tech-2",
        actor_owns_order=True,
        reason="customer asked",
        has_quote_to_send=True,
        quote_manager_approved=True,
        quote_valid_until=NOW.date() - timedelta(days=1) if expired else NOW.date(),
        latest_revision_approved=True,
        latest_qc_passed=True,
        repairer_key_ids=frozenset({"tech-1"}),
        deposited_at=NOW - timedelta(days=400),
        reminders_sent_at=(NOW - timedelta(days=30),),
        identity_checked=True,
    )


ALL = [(status, action, role) for status in OrderStatus for action in Action for role in Role]


@pytest.mark.parametrize(("status", "action", "role"), ALL, ids=lambda v: str(v))
def test_every_status_action_role_combination_follows_the_table(
    status: OrderStatus, action: Action, role: Role
) -> None:
    transition = TRANSITIONS[action]
    context = satisfied(action, role)
    if status not in transition.sources:
        with pytest.raises(InvalidTransition) as refused:
            decide(status, action, context)
        assert refused.value.extensions["current_status"] == status.value
    elif role not in transition.roles:
        with pytest.raises(ActionForbidden):
            decide(status, action, context)
    else:
        decision = decide(status, action, context)
        assert decision.to_status is transition.target
        assert decision.from_status is status
        assert decision.outcome is transition.outcome


def test_terminal_statuses_accept_no_action() -> None:
    for status in TERMINAL_STATUSES:
        for role in Role:
            assert allowed_actions(status, role) == []


def test_allowed_actions_follow_the_table_order() -> None:
    assert allowed_actions(OrderStatus.RECEIVED, Role.COUNTER) == [
        Action.PRE_DIAGNOSE,
        Action.WITHDRAW,
    ]
    assert allowed_actions(OrderStatus.QUALITY_CONTROL, Role.MANAGER) == [Action.PASS_QC]
    assert allowed_actions(OrderStatus.QUOTE_SENT, Role.CUSTOMER) == [
        Action.APPROVE_QUOTE,
        Action.DECLINE_QUOTE,
    ]


def test_invalid_transition_lists_what_the_role_may_do_instead() -> None:
    with pytest.raises(InvalidTransition) as refused:
        decide(
            OrderStatus.RECEIVED, Action.START_REPAIR, satisfied(Action.START_REPAIR, Role.COUNTER)
        )
    assert refused.value.extensions["allowed_actions"] == ["pre_diagnose", "withdraw"]


def test_creation_status_depends_on_who_creates() -> None:
    assert creation_status(Role.COUNTER) is OrderStatus.RECEIVED
    assert creation_status(Role.PARTNER) is OrderStatus.AWAITING_ARRIVAL
    with pytest.raises(ActionForbidden):
        creation_status(Role.TECHNICIAN)


def refused_reason(status: OrderStatus, action: Action, context: TransitionContext) -> str:
    with pytest.raises(GuardFailed) as refused:
        decide(status, action, context)
    return str(refused.value.extensions["reason"])


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_cancel_and_withdraw_need_a_reason(reason: str | None) -> None:
    cancel = replace(satisfied(Action.CANCEL, Role.MANAGER), reason=reason)
    assert refused_reason(OrderStatus.AWAITING_ARRIVAL, Action.CANCEL, cancel) == "reason-required"
    withdraw = replace(satisfied(Action.WITHDRAW, Role.COUNTER), reason=reason)
    assert refused_reason(OrderStatus.IN_REPAIR, Action.WITHDRAW, withdraw) == "reason-required"


def test_a_partner_acts_only_on_its_own_orders() -> None:
    for status, action in [
        (OrderStatus.AWAITING_ARRIVAL, Action.CANCEL),
        (OrderStatus.QUOTE_SENT, Action.APPROVE_QUOTE),
        (OrderStatus.QUOTE_SENT, Action.DECLINE_QUOTE),
    ]:
        context = replace(satisfied(action, Role.PARTNER), actor_owns_order=False)
        assert refused_reason(status, action, context) == "not-own-order"


def test_send_quote_needs_a_draft_and_the_managers_review_above_threshold() -> None:
    base = satisfied(Action.SEND_QUOTE, Role.COUNTER)
    no_draft = replace(base, has_quote_to_send=False)
    assert refused_reason(OrderStatus.DIAGNOSED, Action.SEND_QUOTE, no_draft) == "no-quote"
    unreviewed = replace(base, quote_needs_manager_review=True, quote_manager_approved=False)
    assert (
        refused_reason(OrderStatus.DIAGNOSED, Action.SEND_QUOTE, unreviewed)
        == "quote-review-required"
    )
    reviewed = replace(base, quote_needs_manager_review=True, quote_manager_approved=True)
    assert (
        decide(OrderStatus.DIAGNOSED, Action.SEND_QUOTE, reviewed).to_status
        is OrderStatus.QUOTE_SENT
    )


def test_a_quote_is_valid_through_its_validity_date() -> None:
    base = satisfied(Action.APPROVE_QUOTE, Role.COUNTER)
    last_day = replace(base, quote_valid_until=NOW.date())
    assert (
        decide(OrderStatus.QUOTE_SENT, Action.APPROVE_QUOTE, last_day).to_status
        is OrderStatus.APPROVED
    )
    day_after = replace(base, quote_valid_until=NOW.date() - timedelta(days=1))
    assert (
        refused_reason(OrderStatus.QUOTE_SENT, Action.APPROVE_QUOTE, day_after) == "quote-expired"
    )
    expire = satisfied(Action.EXPIRE_QUOTE, Role.SYSTEM)
    still_valid = replace(expire, quote_valid_until=NOW.date())
    assert (
        refused_reason(OrderStatus.QUOTE_SENT, Action.EXPIRE_QUOTE, still_valid)
        == "quote-still-valid"
    )
    assert (
        decide(OrderStatus.QUOTE_SENT, Action.EXPIRE_QUOTE, expire).to_status
        is OrderStatus.DIAGNOSED
    )


def test_no_work_before_the_price_is_agreed() -> None:
    context = replace(
        satisfied(Action.START_REPAIR, Role.TECHNICIAN), latest_revision_approved=False
    )
    assert (
        refused_reason(OrderStatus.APPROVED, Action.START_REPAIR, context) == "quote-not-approved"
    )


def test_pass_qc_needs_a_passing_session_or_a_managers_reasoned_override() -> None:
    base = satisfied(Action.PASS_QC, Role.TECHNICIAN)
    failing = replace(base, latest_qc_passed=False, failed_qc_criteria=("mean_rate",))
    with pytest.raises(GuardFailed) as refused:
        decide(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, failing)
    assert refused.value.extensions["reason"] == "qc-not-passed"
    assert refused.value.extensions["failed_criteria"] == ["mean_rate"]
    never_measured = replace(base, latest_qc_passed=None)
    assert (
        refused_reason(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, never_measured)
        == "qc-not-passed"
    )
    technician_override = replace(failing, override=True)
    assert (
        refused_reason(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, technician_override)
        == "override-not-allowed"
    )
    manager = replace(failing, role=Role.MANAGER, override=True, reason=None)
    assert (
        refused_reason(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, manager)
        == "override-reason-required"
    )
    overridden = replace(manager, reason="customer needs it for a funeral; rate within 1 s/d")
    decision = decide(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, overridden)
    assert decision.to_status is OrderStatus.READY
    assert decision.outcome is Outcome.REPAIRED
    manager_without_override = replace(failing, role=Role.MANAGER)
    assert (
        refused_reason(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, manager_without_override)
        == "qc-not-passed"
    )


def test_four_eyes_keeps_the_repairer_from_passing_qc() -> None:
    base = replace(satisfied(Action.PASS_QC, Role.TECHNICIAN), four_eyes_qc=True)
    repairer = replace(base, actor_key_id="tech-1")
    assert refused_reason(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, repairer) == "four-eyes"
    colleague = replace(base, actor_key_id="tech-2")
    assert (
        decide(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, colleague).to_status
        is OrderStatus.READY
    )
    rule_off = replace(repairer, four_eyes_qc=False)
    assert (
        decide(OrderStatus.QUALITY_CONTROL, Action.PASS_QC, rule_off).to_status is OrderStatus.READY
    )


def test_hand_back_needs_a_verified_identity() -> None:
    context = replace(satisfied(Action.HAND_BACK, Role.COUNTER), identity_checked=False)
    assert refused_reason(OrderStatus.READY, Action.HAND_BACK, context) == "identity-not-checked"


def test_abandon_waits_a_year_after_deposit_and_eight_days_after_the_last_reminder() -> None:
    base = satisfied(Action.ABANDON, Role.MANAGER)
    one_day_short = replace(base, deposited_at=NOW - timedelta(days=364, hours=23))
    assert (
        refused_reason(OrderStatus.READY, Action.ABANDON, one_day_short)
        == "legal-delay-not-reached"
    )
    exactly_a_year = replace(base, deposited_at=NOW - timedelta(days=365))
    assert (
        decide(OrderStatus.READY, Action.ABANDON, exactly_a_year).to_status is OrderStatus.ABANDONED
    )
    no_reminder = replace(base, reminders_sent_at=())
    assert refused_reason(OrderStatus.READY, Action.ABANDON, no_reminder) == "no-reminder"
    recent = replace(base, reminders_sent_at=(NOW - timedelta(days=40), NOW - timedelta(days=7)))
    assert refused_reason(OrderStatus.READY, Action.ABANDON, recent) == "notice-period-running"
    eight_days = replace(base, reminders_sent_at=(NOW - timedelta(days=8),))
    assert decide(OrderStatus.READY, Action.ABANDON, eight_days).to_status is OrderStatus.ABANDONED


def test_replay_refuses_an_inconsistent_log() -> None:
    created = RecordedEvent(1, "create", None, OrderStatus.RECEIVED)
    assert replay([created]) is OrderStatus.RECEIVED
    with pytest.raises(InconsistentEventLog):
        replay([])
    with pytest.raises(InconsistentEventLog):
        replay(
            [created, RecordedEvent(2, "start_repair", OrderStatus.RECEIVED, OrderStatus.IN_REPAIR)]
        )
    with pytest.raises(InconsistentEventLog):
        replay([created, RecordedEvent(3, "withdraw", OrderStatus.RECEIVED, OrderStatus.READY)])
    with pytest.raises(InconsistentEventLog):
        replay([created, RecordedEvent(2, "withdraw", OrderStatus.DIAGNOSED, OrderStatus.READY)])
    with pytest.raises(InconsistentEventLog):
        replay(
            [created, RecordedEvent(2, "send_reminder", OrderStatus.RECEIVED, OrderStatus.READY)]
        )


def test_mermaid_diagram_draws_every_transition_and_both_creations() -> None:
    diagram = mermaid_state_diagram()
    assert diagram.startswith("stateDiagram-v2\n")
    for transition in TRANSITIONS.values():
        for source in transition.sources:
            assert f"{source.value} --> {transition.target.value}: {transition.action}" in diagram
    for status in CREATION_STATUS.values():
        assert f"[*] --> {status.value}" in diagram
    assert diagram == mermaid_state_diagram()


@settings(max_examples=300, deadline=None)
@given(
    start=st.sampled_from(sorted(set(CREATION_STATUS.values()))),
    steps=st.lists(st.tuples(st.sampled_from(Action), st.sampled_from(Role)), max_size=40),
)
def test_random_command_sequences_keep_the_invariants(
    start: OrderStatus, steps: list[tuple[Action, Role]]
) -> None:
    status, version, outcome = start, 1, None
    log = [RecordedEvent(1, "create", None, start)]
    for action, role in steps:
        was_terminal = status in TERMINAL_STATUSES
        try:
            decision = decide(status, action, satisfied(action, role))
        except (InvalidTransition, ActionForbidden, GuardFailed):
            continue
        assert not was_terminal, "a terminal status accepted an action"
        version += 1
        log.append(RecordedEvent(version, action.value, status, decision.to_status))
        status = decision.to_status
        outcome = decision.outcome or outcome
        assert replay(log) is status
        assert len(log) == version
    if status in (OrderStatus.READY, OrderStatus.RETURNED):
        assert outcome is not None
    if status in (OrderStatus.CANCELLED, OrderStatus.AWAITING_ARRIVAL, OrderStatus.RECEIVED):
        assert outcome is None
