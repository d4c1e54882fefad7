"""Lifecycle commands: load the order, gather the facts, let the domain decide, persist.

The domain's transition table decides whether an action is possible; this module gathers the
facts its guards need (quotes, QC sessions, reminders, identity check) and records what the
action carries on the order, its quote revisions and the event log, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.amounts import Money
from app.domain.errors import BusinessValidationError, NotFound
from app.domain.handback import REMINDER_ACTION, add_months, identity_verified
from app.domain.lifecycle import Action, OrderStatus, Outcome, TransitionContext, decide
from app.domain.quoting import (
    RevisionStatus,
    VatRegime,
    needs_manager_review,
    within_ceiling,
)
from app.domain.roles import Role
from app.domain.symptoms import is_urgent, suggest_services
from app.domain.webhooks import EventType
from app.models import OrderEvent, RepairOrder, Watch
from app.repositories import quotes as quote_repository
from app.repositories import repair_orders as order_repository
from app.repositories import workshop as workshop_repository
from app.schemas import transitions as commands
from app.services import invoices as invoice_service
from app.services import measurements as measurement_service
from app.services import notifications as notification_service
from app.services import outbox, quote_decisions
from app.services import quotes as quote_service
from app.services.order_documents import document_of
from app.services.records import check_version
from app.services.repair_orders import apply_intake, order_event
from app.settings import Settings

CEILING_ACTOR = Actor(key_id=None, name="pre-approved ceiling", role=Role.SYSTEM)


@dataclass
class Step:
    """Everything one transition's effect may read or change."""

    session: AsyncSession
    order: RepairOrder
    command: Any
    actor: Actor
    now: datetime
    settings: Settings
    quotes: quote_service.QuoteState
    decision_details: dict[str, Any]


Effect = Callable[[Step], Awaitable[None]]


async def _receive(step: Step) -> None:
    apply_intake(step.order, step.command, step.now)
    step.order.deposited_at = step.now


async def _pre_diagnose(step: Step) -> None:
    command = step.command
    known = await quote_repository.services_by_codes(step.session, set(command.proposed_services))
    for index, code in enumerate(command.proposed_services):
        if code not in known:
            raise BusinessValidationError(
                f"No catalogue service {code!r}.", f"/proposed_services/{index}"
            )
    if command.estimate is not None:
        low, high = command.estimate.low.to_money(), command.estimate.high.to_money()
        if high < low:
            raise BusinessValidationError(
                "The estimate's high end is below its low end.", "/estimate/high"
            )
    watch = await step.session.get(Watch, step.order.watch_id)
    step.order.pre_diagnosis = {
        **command.model_dump(mode="json", exclude={"action"}),
        "suggested_services": suggest_services(
            command.symptoms, watch.movement_type if watch else None
        ),
        "urgent": is_urgent(command.symptoms),
        "recorded_by": step.actor.name,
        "review": None,
    }


async def _start_diagnosis(step: Step) -> None:
    step.order.technician_key_id = step.actor.key_id
    step.order.technician_name = step.actor.name


async def _complete_diagnosis(step: Step) -> None:
    step.order.diagnosis = step.command.model_dump(mode="json", exclude={"action"})


async def _send_quote(step: Step) -> None:
    quote_decisions.mark_sent(step.quotes, step.now, step.settings)


def _decision(step: Step) -> dict[str, Any]:
    return {
        "channel": _field(step.command, "channel"),
        "decided_by": _field(step.command, "decided_by") or step.actor.name,
        "actor_role": step.actor.role.value,
        **step.decision_details,
    }


async def _approve_quote(step: Step) -> None:
    accepted = [str(line_id) for line_id in step.command.accepted_optional_lines]
    quote_decisions.mark_approved(step.quotes, step.order, accepted, _decision(step), step.now)


async def _decline_quote(step: Step) -> None:
    quote_decisions.mark_declined(step.quotes, step.order, _decision(step), step.now)
    step.order.ready_at = step.now


async def _expire_quote(step: Step) -> None:
    quote_decisions.mark_expired(step.quotes, step.now)


async def _wait_for_parts(step: Step) -> None:
    if step.command.new_promised_date is not None:
        step.order.promised_date = step.command.new_promised_date


async def _pass_qc(step: Step) -> None:
    step.order.ready_at = step.now


async def _withdraw(step: Step) -> None:
    quote_decisions.settle_unrepaired(step.quotes, step.order)
    step.order.ready_at = step.now


async def _hand_back(step: Step) -> None:
    order = step.order
    order.returned_at = step.now
    order.hand_back = {
        **step.command.model_dump(mode="json", exclude={"action"}),
        "handed_back_by": step.actor.name,
    }
    lines = quote_decisions.approved_lines(step.quotes) if order.outcome == Outcome.REPAIRED else []
    warranty = max((line.warranty_months for line in lines), default=0)
    if order.outcome == Outcome.REPAIRED and warranty:
        order.warranty_until = add_months(step.now.date(), warranty)
    await invoice_service.issue_at_hand_back(
        step.session, order, step.quotes, lines, step.now, step.settings
    )


QUOTE_AWARE = frozenset(
    {
        Action.SEND_QUOTE,
        Action.APPROVE_QUOTE,
        Action.DECLINE_QUOTE,
        Action.EXPIRE_QUOTE,
        Action.START_REPAIR,
        Action.WITHDRAW,
        Action.HAND_BACK,
    }
)
HISTORY_AWARE = frozenset({Action.ABANDON, Action.PASS_QC})

EFFECTS: dict[Action, Effect] = {
    Action.RECEIVE: _receive,
    Action.PRE_DIAGNOSE: _pre_diagnose,
    Action.START_DIAGNOSIS: _start_diagnosis,
    Action.COMPLETE_DIAGNOSIS: _complete_diagnosis,
    Action.SEND_QUOTE: _send_quote,
    Action.APPROVE_QUOTE: _approve_quote,
    Action.DECLINE_QUOTE: _decline_quote,
    Action.EXPIRE_QUOTE: _expire_quote,
    Action.WAIT_FOR_PARTS: _wait_for_parts,
    Action.PASS_QC: _pass_qc,
    Action.WITHDRAW: _withdraw,
    Action.HAND_BACK: _hand_back,
}


def _field(command: BaseModel, name: str, default: Any = None) -> Any:
    """A field the command's action may not have. Asked of its class first: pydantic answers
    a missing attribute with an exception raised and caught, ≈ 3.5 µs, three times a
    transition (docs/benchmarks.md, nineteenth round)."""
    return getattr(command, name) if name in type(command).model_fields else default


def _reason_of(command: BaseModel) -> str | None:
    reason = _field(command, "reason")
    return reason if isinstance(reason, str) else None


def _identity_checked(order: RepairOrder, command: BaseModel) -> bool:
    if not isinstance(command, commands.HandBackCommand):
        return False
    check = command.identity_check
    return identity_verified(
        check.proof,
        check.presented_reference,
        order_number=order.number,
        tracking_token=order.tracking_token,
        serial_confirmed=check.serial_confirmed,
    )


def _quote_facts(state: quote_service.QuoteState, settings: Settings) -> dict[str, Any]:
    draft, issued = state.draft, state.latest_issued
    facts: dict[str, Any] = {
        "has_quote_to_send": draft is not None,
        "latest_revision_approved": issued is not None and issued.status == RevisionStatus.APPROVED,
        "quote_valid_until": issued.valid_until if issued is not None else None,
    }
    if draft is not None:
        total = state.totals(draft).incl_vat
        facts["quote_needs_manager_review"] = needs_manager_review(
            total, quote_service.threshold(settings)
        )
        facts["quote_manager_approved"] = draft.manager_approved_at is not None
    return facts


async def _qc_facts(step: Step, events: list[OrderEvent]) -> dict[str, Any]:
    latest = await measurement_service.latest_qc(step.session, step.order)
    work_log = await workshop_repository.work_log_of(step.session, step.order.id)
    repairers = {
        str(e.actor_key_id) for e in events if e.action == Action.START_REPAIR and e.actor_key_id
    }
    repairers |= {str(w.author_key_id) for w in work_log if w.author_key_id}
    failed = tuple(v["criterion"] for v in latest.verdict if not v["passed"]) if latest else ()
    return {
        "latest_qc_passed": latest.passed if latest is not None else None,
        "failed_qc_criteria": failed,
        "repairer_key_ids": frozenset(repairers),
    }


async def _facts(step: Step, events: list[OrderEvent]) -> TransitionContext:
    order, actor, settings = step.order, step.actor, step.settings
    qc = await _qc_facts(step, events) if step.command.action == Action.PASS_QC else {}
    reminders = tuple(e.occurred_at for e in events if e.action == REMINDER_ACTION)
    return TransitionContext(
        now=step.now,
        role=actor.role,
        actor_key_id=str(actor.key_id) if actor.key_id else None,
        actor_owns_order=actor.partner_id is not None and actor.partner_id == order.partner_id,
        reason=_reason_of(step.command),
        override=bool(_field(step.command, "override", False)),
        four_eyes_qc=settings.four_eyes_qc,
        deposited_at=order.deposited_at or order.created_at,
        ready_at=order.ready_at,
        reminders_sent_at=reminders,
        unclaimed_delay_days=settings.unclaimed_delay_days,
        identity_checked=_identity_checked(order, step.command),
        **_quote_facts(step.quotes, settings),
        **qc,
    )


async def apply(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    action: Action,
    command: BaseModel,
    expected_version: int | None,
    now: datetime,
    settings: Settings,
    decision_details: dict[str, Any] | None = None,
) -> RepairOrder:
    change = await order_repository.get_for_change(session, actor, order_id)
    if change is None:
        raise NotFound(f"No repair order with id {order_id}.")
    check_version(change.order.version, expected_version)
    await _apply_to(session, change, actor, action, command, now, settings, decision_details or {})
    if action is Action.SEND_QUOTE:
        await _approve_within_ceiling(session, change, now, settings)
    return change.order


async def _apply_to(
    session: AsyncSession,
    change: order_repository.OrderForChange,
    actor: Actor,
    action: Action,
    command: BaseModel,
    now: datetime,
    settings: Settings,
    decision_details: dict[str, Any],
) -> None:
    order = change.order
    # Facts cost queries: load the quote state and the event log only for the actions whose
    # guards or effects read them (transitions are the hot path of the counter and workshop).
    quotes = (
        await quote_service.state_of(session, order, settings)
        if action in QUOTE_AWARE
        else quote_service.QuoteState((), {}, VatRegime(settings.vat_regime))
    )
    step = Step(session, order, command, actor, now, settings, quotes, decision_details)
    events = (
        list(await order_repository.events_of(session, order.id)) if action in HISTORY_AWARE else []
    )
    decision = decide(OrderStatus(order.status), action, await _facts(step, events))
    effect = EFFECTS.get(action)
    if effect is not None:
        await effect(step)
    from_status = order.status
    order.status = decision.to_status.value
    if decision.outcome is not None:
        order.outcome = decision.outcome.value
    order.version += 1
    order.updated_at = now
    order.document = document_of(order.__dict__)
    await change.write(session)
    await order_repository.append_event(
        session,
        order_event(
            order,
            actor,
            now,
            action.value,
            {**command.model_dump(mode="json", exclude={"action", "reason"}), **decision_details},
            from_status=from_status,
            reason=_reason_of(command),
        ),  # fmt: skip
    )
    moved = {
        "action": action.value,
        "from_status": from_status,
        "to_status": order.status,
        "occurred_at": now.isoformat(),
    }
    await outbox.emit(session, EventType.ORDER_TRANSITIONED, now, order=order, data=moved)
    if order.status != from_status:
        await notification_service.enqueue(session, order, now, settings)
    if action is Action.SEND_QUOTE:
        sent = step.quotes.latest_issued
        await outbox.emit(
            session, EventType.QUOTE_SENT, now, order=order,
            data={"quote_number": sent.number if sent else None},
        )  # fmt: skip


async def _approve_within_ceiling(
    session: AsyncSession,
    change: order_repository.OrderForChange,
    now: datetime,
    settings: Settings,
) -> None:
    """The customer's standing instruction at intake approves a quote within the ceiling."""
    order = change.order
    if order.preapproved_ceiling_cents is None:
        return
    state = await quote_service.state_of(session, order, settings)
    sent = state.latest_issued
    if sent is None:
        return
    mandatory_total = state.totals(sent, mandatory=True).incl_vat
    ceiling = Money.from_cents(order.preapproved_ceiling_cents, order.currency)
    if within_ceiling(mandatory_total, ceiling):
        await _apply_to(
            session, change, CEILING_ACTOR, Action.APPROVE_QUOTE,
            commands.ApproveQuoteCommand(action="approve_quote"),
            now, settings,
            {"channel": "preapproved_ceiling", "auto_approved": True, "ceiling": ceiling.as_json()},
        )  # fmt: skip


EXPIRY_ACTOR = Actor(key_id=None, name="quote expiry job", role=Role.SYSTEM)


async def expire_due_quotes(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """Send back to `diagnosed` every order whose sent quote is past its validity date."""
    expired = 0
    for order_id in await quote_repository.orders_with_expired_quotes(session, now.date()):
        await apply(
            session, EXPIRY_ACTOR, order_id, Action.EXPIRE_QUOTE,
            commands.ExpireQuoteCommand(action="expire_quote"), None, now, settings,
        )  # fmt: skip
        expired += 1
    return expired
