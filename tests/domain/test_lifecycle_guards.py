"""Each lifecycle guard, passing and failing, at its boundaries, through ``decide``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.domain.errors import GuardFailed
from app.domain.lifecycle_machine import (
    Action,
    Decision,
    OrderStatus,
    Outcome,
    TransitionContext,
    decide,
)
from app.domain.roles import Role

S, A, R = OrderStatus, Action, Role
NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
TODAY = NOW.date()


def context(role: Role, **facts: Any) -> TransitionContext:
    return TransitionContext(now=NOW, role=role, **facts)


def refusal(status: OrderStatus, action: Action, ctx: TransitionContext) -> GuardFailed:
    with pytest.raises(GuardFailed) as refused:
        decide(status, action, ctx)
    return refused.value


def reason_of(status: OrderStatus, action: Action, ctx: TransitionContext) -> str:
    return str(refusal(status, action, ctx).extensions["reason"])


# Reason required: cancel, withdraw (and request_supplement, whose reason is the extra work).


@pytest.mark.parametrize("reason", [None, "", "   \n"])
@pytest.mark.parametrize(
    ("status", "action", "role"),
    [
        (S.AWAITING_ARRIVAL, A.CANCEL, R.MANAGER),
        (S.IN_REPAIR, A.WITHDRAW, R.COUNTER),
        (S.IN_REPAIR, A.REQUEST_SUPPLEMENT, R.TECHNICIAN),
    ],
)
def test_action_without_a_reason_is_refused(
    reason: str | None, status: OrderStatus, action: Action, role: Role
) -> None:
    ctx = context(role, reason=reason)
    assert reason_of(status, action, ctx) == "reason-required"


def test_cancel_with_a_reason_cancels_the_partner_order() -> None:
    decision = decide(S.AWAITING_ARRIVAL, A.CANCEL, context(R.MANAGER, reason="never shipped"))
    assert decision == Decision(A.CANCEL, S.AWAITING_ARRIVAL, S.CANCELLED, None)


def test_withdraw_with_a_reason_makes_the_watch_ready_unrepaired() -> None:
    decision = decide(S.DIAGNOSED, A.WITHDRAW, context(R.COUNTER, reason="too expensive"))
    assert decision == Decision(A.WITHDRAW, S.DIAGNOSED, S.READY, Outcome.UNREPAIRED)


# Partner scoping.


@pytest.mark.parametrize(
    ("status", "action", "facts", "target"),
    [
        (S.AWAITING_ARRIVAL, A.CANCEL, {"reason": "customer changed her mind"}, S.CANCELLED),
        (S.QUOTE_SENT, A.APPROVE_QUOTE, {"quote_valid_until": TODAY}, S.APPROVED),
        (S.QUOTE_SENT, A.DECLINE_QUOTE, {}, S.READY),
    ],
)
def test_partner_acts_only_on_its_own_orders(
    status: OrderStatus, action: Action, facts: dict[str, Any], target: OrderStatus
) -> None:
    foreign = context(R.PARTNER, actor_owns_order=False, **facts)
    assert reason_of(status, action, foreign) == "not-own-order"
    own = replace(foreign, actor_owns_order=True)
    assert decide(status, action, own).to_status is target


def test_ownership_is_a_partner_rule_only() -> None:
    ctx = context(R.CUSTOMER, actor_owns_order=False)
    assert decide(S.QUOTE_SENT, A.DECLINE_QUOTE, ctx).outcome is Outcome.UNREPAIRED


# Sending a quote.


def test_send_quote_needs_a_draft_revision() -> None:
    assert reason_of(S.DIAGNOSED, A.SEND_QUOTE, context(R.COUNTER)) == "no-quote"


def test_send_quote_below_the_threshold_needs_no_review() -> None:
    ctx = context(R.COUNTER, has_quote_to_send=True)
    assert decide(S.DIAGNOSED, A.SEND_QUOTE, ctx).to_status is S.QUOTE_SENT


def test_send_quote_above_the_threshold_waits_for_the_manager() -> None:
    ctx = context(R.MANAGER, has_quote_to_send=True, quote_needs_manager_review=True)
    assert reason_of(S.DIAGNOSED, A.SEND_QUOTE, ctx) == "quote-review-required"
    reviewed = replace(ctx, quote_manager_approved=True)
    assert decide(S.DIAGNOSED, A.SEND_QUOTE, reviewed).to_status is S.QUOTE_SENT


# Quote validity: approve up to and including the validity date, expire the day after.


def test_quote_is_still_approvable_on_its_validity_date() -> None:
    ctx = context(R.CUSTOMER, quote_valid_until=TODAY)
    assert decide(S.QUOTE_SENT, A.APPROVE_QUOTE, ctx).to_status is S.APPROVED


def test_quote_is_still_approvable_in_the_last_second_of_its_validity_date() -> None:
    last_second = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    ctx = TransitionContext(now=last_second, role=R.COUNTER, quote_valid_until=TODAY)
    assert decide(S.QUOTE_SENT, A.APPROVE_QUOTE, ctx).to_status is S.APPROVED


def test_approving_a_quote_the_day_after_its_validity_is_refused() -> None:
    ctx = context(R.COUNTER, quote_valid_until=TODAY - timedelta(days=1))
    refused = refusal(S.QUOTE_SENT, A.APPROVE_QUOTE, ctx)
    assert refused.extensions == {"reason": "quote-expired", "valid_until": "2026-11-22"}


def test_approving_without_a_sent_revision_is_refused() -> None:
    assert reason_of(S.QUOTE_SENT, A.APPROVE_QUOTE, context(R.COUNTER)) == "no-quote"


@pytest.mark.parametrize("valid_until", [TODAY, TODAY + timedelta(days=3), None])
def test_a_quote_does_not_expire_before_the_day_after_its_validity(
    valid_until: date | None,
) -> None:
    ctx = context(R.SYSTEM, quote_valid_until=valid_until)
    assert reason_of(S.QUOTE_SENT, A.EXPIRE_QUOTE, ctx) == "quote-still-valid"


def test_a_quote_past_its_validity_expires_back_to_diagnosed() -> None:
    ctx = context(R.SYSTEM, quote_valid_until=TODAY - timedelta(days=1))
    assert decide(S.QUOTE_SENT, A.EXPIRE_QUOTE, ctx).to_status is S.DIAGNOSED


# Quote before work.


def test_start_repair_refused_until_the_latest_revision_is_approved() -> None:
    ctx = context(R.TECHNICIAN)
    assert reason_of(S.APPROVED, A.START_REPAIR, ctx) == "quote-not-approved"
    approved = replace(ctx, latest_revision_approved=True)
    assert decide(S.APPROVED, A.START_REPAIR, approved).to_status is S.IN_REPAIR


# Quality control gate.


def test_pass_qc_when_latest_session_passes_makes_the_watch_ready_repaired() -> None:
    ctx = context(R.TECHNICIAN, latest_qc_passed=True)
    decision = decide(S.QUALITY_CONTROL, A.PASS_QC, ctx)
    assert decision == Decision(A.PASS_QC, S.QUALITY_CONTROL, S.READY, Outcome.REPAIRED)


def test_pass_qc_refused_when_latest_session_fails_with_the_failed_criteria() -> None:
    ctx = context(
        R.TECHNICIAN, latest_qc_passed=False, failed_qc_criteria=("mean_rate", "amplitude")
    )
    refused = refusal(S.QUALITY_CONTROL, A.PASS_QC, ctx)
    assert refused.extensions == {
        "reason": "qc-not-passed",
        "failed_criteria": ["mean_rate", "amplitude"],
    }


def test_pass_qc_refused_when_no_qc_session_was_recorded() -> None:
    refused = refusal(S.QUALITY_CONTROL, A.PASS_QC, context(R.TECHNICIAN))
    assert refused.extensions == {"reason": "qc-not-passed", "failed_criteria": []}
    assert "No QC measurement session" in refused.detail


def test_manager_overrides_a_failed_qc_with_a_reason() -> None:
    ctx = context(
        R.MANAGER, latest_qc_passed=False, override=True, reason="rate within 1 s/d of limit"
    )
    assert decide(S.QUALITY_CONTROL, A.PASS_QC, ctx).outcome is Outcome.REPAIRED


@pytest.mark.parametrize("reason", [None, " "])
def test_manager_override_without_a_reason_is_refused(reason: str | None) -> None:
    ctx = context(R.MANAGER, latest_qc_passed=False, override=True, reason=reason)
    assert reason_of(S.QUALITY_CONTROL, A.PASS_QC, ctx) == "override-reason-required"


def test_technician_may_not_override_qc_even_with_a_reason() -> None:
    ctx = context(R.TECHNICIAN, latest_qc_passed=True, override=True, reason="looks fine")
    assert reason_of(S.QUALITY_CONTROL, A.PASS_QC, ctx) == "override-not-allowed"


def test_manager_without_override_needs_a_passing_session() -> None:
    ctx = context(R.MANAGER, latest_qc_passed=False)
    assert reason_of(S.QUALITY_CONTROL, A.PASS_QC, ctx) == "qc-not-passed"


def test_four_eyes_keeps_the_repairer_from_passing_qc() -> None:
    ctx = context(
        R.TECHNICIAN,
        latest_qc_passed=True,
        four_eyes_qc=True,
        actor_key_id="key-a",
        repairer_key_ids=frozenset({"key-a", "key-b"}),
    )
    assert reason_of(S.QUALITY_CONTROL, A.PASS_QC, ctx) == "four-eyes"
    colleague = replace(ctx, actor_key_id="key-c")
    assert decide(S.QUALITY_CONTROL, A.PASS_QC, colleague).to_status is S.READY
    rule_off = replace(ctx, four_eyes_qc=False)
    assert decide(S.QUALITY_CONTROL, A.PASS_QC, rule_off).to_status is S.READY


def test_four_eyes_refuses_a_technician_whose_key_is_unknown() -> None:
    ctx = context(R.TECHNICIAN, latest_qc_passed=True, four_eyes_qc=True, actor_key_id=None)
    assert reason_of(S.QUALITY_CONTROL, A.PASS_QC, ctx) == "four-eyes"


def test_four_eyes_does_not_bind_a_manager_who_repaired_the_watch() -> None:
    ctx = context(
        R.MANAGER,
        latest_qc_passed=True,
        four_eyes_qc=True,
        actor_key_id="key-m",
        repairer_key_ids=frozenset({"key-m"}),
    )
    assert decide(S.QUALITY_CONTROL, A.PASS_QC, ctx).to_status is S.READY


# Hand-back.


def test_hand_back_refused_until_identity_is_checked() -> None:
    assert reason_of(S.READY, A.HAND_BACK, context(R.COUNTER)) == "identity-not-checked"
    ctx = context(R.COUNTER, identity_checked=True)
    assert decide(S.READY, A.HAND_BACK, ctx).to_status is S.RETURNED


# Unclaimed watches: loi du 31 décembre 1903.


def unclaimed(**facts: Any) -> TransitionContext:
    base: dict[str, Any] = {
        "deposited_at": NOW - timedelta(days=500),
        "ready_at": NOW - timedelta(days=450),
        "reminders_sent_at": (NOW - timedelta(days=100), NOW - timedelta(days=20)),
    }
    return context(R.MANAGER, **{**base, **facts})


def test_abandon_allowed_exactly_365_days_after_deposit() -> None:
    ctx = unclaimed(deposited_at=NOW - timedelta(days=365))
    assert decide(S.READY, A.ABANDON, ctx).to_status is S.ABANDONED


def test_abandon_refused_one_second_before_the_year_is_out() -> None:
    deposited = NOW - timedelta(days=365) + timedelta(seconds=1)
    refused = refusal(S.READY, A.ABANDON, unclaimed(deposited_at=deposited))
    assert refused.extensions == {
        "reason": "legal-delay-not-reached",
        "eligible_from": "2026-11-23T10:15:01+00:00",
    }


def test_abandon_refused_without_a_deposit_date() -> None:
    assert reason_of(S.READY, A.ABANDON, unclaimed(deposited_at=None)) == "legal-delay-not-reached"


def test_abandon_follows_a_configured_legal_delay() -> None:
    ctx = unclaimed(deposited_at=NOW - timedelta(days=400), unclaimed_delay_days=401)
    assert reason_of(S.READY, A.ABANDON, ctx) == "legal-delay-not-reached"


def test_abandon_refused_without_any_reminder() -> None:
    assert reason_of(S.READY, A.ABANDON, unclaimed(reminders_sent_at=())) == "no-reminder"


def test_reminders_sent_before_the_watch_was_ready_do_not_count() -> None:
    early = (NOW - timedelta(days=460),)
    assert reason_of(S.READY, A.ABANDON, unclaimed(reminders_sent_at=early)) == "no-reminder"


def test_abandon_allowed_exactly_8_days_after_the_last_reminder() -> None:
    reminders = (NOW - timedelta(days=8), NOW - timedelta(days=90))
    ctx = unclaimed(reminders_sent_at=reminders)
    assert decide(S.READY, A.ABANDON, ctx).to_status is S.ABANDONED


def test_abandon_refused_while_the_last_reminders_notice_runs() -> None:
    # The latest reminder counts, wherever it sits in the tuple.
    last = NOW - timedelta(days=8) + timedelta(seconds=1)
    ctx = unclaimed(reminders_sent_at=(last, NOW - timedelta(days=90)))
    refused = refusal(S.READY, A.ABANDON, ctx)
    assert refused.extensions == {
        "reason": "notice-period-running",
        "notice_ends_at": "2026-11-23T10:15:01+00:00",
    }


def test_abandon_follows_a_configured_notice_period() -> None:
    ctx = unclaimed(reminders_sent_at=(NOW - timedelta(days=10),), notice_days=15)
    assert reason_of(S.READY, A.ABANDON, ctx) == "notice-period-running"


# The context itself.


def test_context_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TransitionContext(now=datetime(2026, 11, 23, 10, 15), role=R.COUNTER)
    with pytest.raises(ValueError, match="timezone-aware"):
        context(R.MANAGER, reminders_sent_at=(datetime(2026, 1, 1),))


def test_context_refuses_negative_legal_delays() -> None:
    with pytest.raises(ValueError, match="negative"):
        context(R.MANAGER, notice_days=-1)
    with pytest.raises(ValueError, match="negative"):
        context(R.MANAGER, unclaimed_delay_days=-1)


def test_context_defaults_let_no_guarded_action_through() -> None:
    guarded = [
        (S.DIAGNOSED, A.SEND_QUOTE, R.COUNTER),
        (S.QUOTE_SENT, A.APPROVE_QUOTE, R.COUNTER),
        (S.QUOTE_SENT, A.EXPIRE_QUOTE, R.SYSTEM),
        (S.APPROVED, A.START_REPAIR, R.TECHNICIAN),
        (S.QUALITY_CONTROL, A.PASS_QC, R.TECHNICIAN),
        (S.READY, A.HAND_BACK, R.COUNTER),
        (S.READY, A.ABANDON, R.MANAGER),
        (S.AWAITING_ARRIVAL, A.CANCEL, R.PARTNER),
        (S.RECEIVED, A.WITHDRAW, R.COUNTER),
    ]
    for status, action, role in guarded:
        with pytest.raises(GuardFailed):
            decide(status, action, context(role))
