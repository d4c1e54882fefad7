"""The vocabulary of the repair-order lifecycle: statuses, actions, outcomes, creations."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


# No docstring: pydantic would publish it as the schema's description in openapi.json.
# Members are declared in the brief's order; lists and diagrams follow it.
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


TERMINAL_STATUSES: Final[frozenset[OrderStatus]] = frozenset(
    {OrderStatus.RETURNED, OrderStatus.CANCELLED, OrderStatus.ABANDONED}
)


class Outcome(StrEnum):
    """What the workshop did to the watch, fixed when the order becomes ready."""

    REPAIRED = "repaired"
    UNREPAIRED = "unrepaired"


class Action(StrEnum):
    """A lifecycle command; each one is a row of the transition table."""

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


class CreationKind(StrEnum):
    """The two ways an order comes into existence."""

    COUNTER_INTAKE = "counter_intake"
    PARTNER_SUBMISSION = "partner_submission"


# The action name of a creation event in the log: it has no from_status and is not a table row.
CREATE_ACTION: Final = "create"


def in_status_order(statuses: Iterable[OrderStatus]) -> list[OrderStatus]:
    """``statuses`` sorted as OrderStatus declares them, so generated output is deterministic."""
    wanted = frozenset(statuses)
    return [status for status in OrderStatus if status in wanted]
