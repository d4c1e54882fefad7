"""Lifecycle commands: load the order, gather the facts, let the domain decide, persist.

The domain's transition table decides whether an action is possible; this module only gathers
the facts its guards need and records what the action carries (its payload) on the order and in
the event log, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.errors import NotFound
from app.domain.handback import (
    DEFAULT_WARRANTY_MONTHS,
    REMINDER_ACTION,
    add_months,
    identity_verified,
)
from app.domain.lifecycle import Action, OrderStatus, Outcome, TransitionContext, decide
from app.models import OrderEvent, RepairOrder
from app.repositories import repair_orders as order_repository
from app.schemas import transitions as commands
from app.services.records import check_version
from app.services.repair_orders import apply_intake
from app.settings import Settings

Effect = Callable[[RepairOrder, Any, Actor, datetime], None]


def _receive(
    order: RepairOrder, command: commands.ReceiveCommand, _a: Actor, now: datetime
) -> None:
    apply_intake(order, command, now)
    order.deposited_at = now


def _start_diagnosis(order: RepairOrder, _c: Any, actor: Actor, _now: datetime) -> None:
    order.technician_key_id = actor.key_id
    order.technician_name = actor.name


def _complete_diagnosis(
    order: RepairOrder, command: commands.CompleteDiagnosisCommand, _a: Actor, _now: datetime
) -> None:
    order.diagnosis = command.model_dump(mode="json", exclude={"action"})


def _wait_for_parts(
    order: RepairOrder, command: commands.WaitForPartsCommand, _a: Actor, _now: datetime
) -> None:
    if command.new_promised_date is not None:
        order.promised_date = command.new_promised_date


def _becomes_ready(order: RepairOrder, _c: Any, _a: Actor, now: datetime) -> None:
    order.ready_at = now


def _hand_back(
    order: RepairOrder, command: commands.HandBackCommand, actor: Actor, now: datetime
) -> None:
    order.returned_at = now
    order.hand_back = {
        **command.model_dump(mode="json", exclude={"action"}),
        "handed_back_by": actor.name,
    }
    if order.outcome == Outcome.REPAIRED.value:
        order.warranty_until = add_months(now.date(), DEFAULT_WARRANTY_MONTHS)


EFFECTS: dict[Action, Effect] = {
    Action.RECEIVE: _receive,
    Action.START_DIAGNOSIS: _start_diagnosis,
    Action.COMPLETE_DIAGNOSIS: _complete_diagnosis,
    Action.WAIT_FOR_PARTS: _wait_for_parts,
    Action.PASS_QC: _becomes_ready,
    Action.DECLINE_QUOTE: _becomes_ready,
    Action.WITHDRAW: _becomes_ready,
    Action.HAND_BACK: _hand_back,
}


def _reason_of(command: BaseModel) -> str | None:
    reason = getattr(command, "reason", None)
    return reason if isinstance(reason, str) else None


async def _facts(
    session: AsyncSession,
    order: RepairOrder,
    actor: Actor,
    command: BaseModel,
    now: datetime,
    settings: Settings,
) -> TransitionContext:
    identity_checked = False
    if isinstance(command, commands.HandBackCommand):
        check = command.identity_check
        identity_checked = identity_verified(
            check.proof,
            check.presented_reference,
            order_number=order.number,
            tracking_token=order.tracking_token,
            serial_confirmed=check.serial_confirmed,
        )
    events = await order_repository.events_of(session, order.id)
    reminders = tuple(e.occurred_at for e in events if e.action == REMINDER_ACTION)
    return TransitionContext(
        now=now,
        role=actor.role,
        actor_key_id=str(actor.key_id) if actor.key_id else None,
        actor_owns_order=actor.partner_id is not None and actor.partner_id == order.partner_id,
        reason=_reason_of(command),
        override=bool(getattr(command, "override", False)),
        four_eyes_qc=settings.four_eyes_qc,
        deposited_at=order.deposited_at or order.created_at,
        ready_at=order.ready_at,
        reminders_sent_at=reminders,
        unclaimed_delay_days=settings.unclaimed_delay_days,
        identity_checked=identity_checked,
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
) -> RepairOrder:
    order = await order_repository.get(session, actor, order_id, for_update=True)
    if order is None:
        raise NotFound(f"No repair order with id {order_id}.")
    check_version(order.version, expected_version)
    context = await _facts(session, order, actor, command, now, settings)
    decision = decide(OrderStatus(order.status), action, context)
    effect = EFFECTS.get(action)
    if effect is not None:
        effect(order, command, actor, now)
    from_status = order.status
    order.status = decision.to_status.value
    if decision.outcome is not None:
        order.outcome = decision.outcome.value
    order.version += 1
    order.updated_at = now
    session.add(order)
    await order_repository.append_event(
        session,
        OrderEvent(
            order_id=order.id,
            sequence=order.version,
            action=action.value,
            from_status=from_status,
            to_status=order.status,
            actor_key_id=actor.key_id,
            actor_name=actor.name,
            actor_role=actor.role.value,
            occurred_at=now,
            reason=_reason_of(command),
            payload=command.model_dump(mode="json", exclude={"action", "reason"}),
        ),
    )
    return order
