"""Hand-back and warranty rules: who may take a watch home, and when a claim is free."""

from __future__ import annotations

import calendar
import hmac
from datetime import date
from enum import StrEnum

from app.domain.errors import Conflict, InvalidTransition
from app.domain.intake import IdentityProof
from app.domain.lifecycle import OrderStatus, Outcome

DEFAULT_WARRANTY_MONTHS = 12


def identity_verified(
    proof: IdentityProof,
    presented_reference: str,
    *,
    order_number: str,
    tracking_token: str,
    serial_confirmed: bool,
) -> bool:
    """The receipt's number or the tracking token was presented and the serial was checked.

    The order number alone is printed on paper that can be lost or copied: the serial check is
    always required, and an identity document stands in for a lost receipt.
    """
    if not serial_confirmed:
        return False
    reference = presented_reference.strip()
    if proof is IdentityProof.DEPOSIT_RECEIPT:
        return hmac.compare_digest(reference.encode(), order_number.encode())
    if proof is IdentityProof.TRACKING_LINK:
        return hmac.compare_digest(reference.encode(), tracking_token.encode())
    return bool(reference)


def add_months(start: date, months: int) -> date:
    """Calendar month arithmetic, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


class WarrantyNotApplicable(Conflict):
    code = "warranty-not-applicable"
    title = "No warranty runs on this order"


def check_warranty_claim(
    *, status: str, outcome: str | None, warranty_until: date | None, today: date
) -> None:
    """A claim opens only on a returned, repaired order whose warranty still runs."""
    if status != OrderStatus.RETURNED or outcome != Outcome.REPAIRED or warranty_until is None:
        raise WarrantyNotApplicable(
            "A warranty claim needs an order returned repaired, with a warranty.",
            reason="not-returned-repaired",
        )
    if today > warranty_until:
        raise WarrantyNotApplicable(
            f"The warranty ended on {warranty_until.isoformat()}.",
            reason="warranty-expired",
            warranty_until=warranty_until.isoformat(),
        )


class ReminderChannel(StrEnum):
    REGISTERED_LETTER = "registered_letter"
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"


REMINDER_ACTION = "send_reminder"


def _require(status: str, allowed: bool, detail: str) -> None:
    """Refuse a fact that the order's status does not admit (a 409 like any transition)."""
    if not allowed:
        raise InvalidTransition(detail, current_status=status, allowed_actions=[])


def check_reminder_allowed(status: str) -> None:
    """Reminders to collect a watch make sense only once it is ready."""
    _require(
        status,
        status == OrderStatus.READY,
        "A reminder to collect the watch can be recorded only when it is ready.",
    )


SHIPMENT_ACTION = "record_shipment"


def check_shipment_allowed(status: str) -> None:
    """A partner announces its parcel while the workshop awaits the watch."""
    _require(
        status,
        status == OrderStatus.AWAITING_ARRIVAL,
        "A shipment to the workshop can be recorded only while the watch is awaited.",
    )


INTAKE_CORRECTION_ACTION = "correct_intake"


def check_intake_correction_allowed(status: str) -> None:
    """Before the watch is received there is no receipt to correct; after return, nothing."""
    outside = (OrderStatus.AWAITING_ARRIVAL, OrderStatus.RETURNED, OrderStatus.CANCELLED,
               OrderStatus.ABANDONED)  # fmt: skip
    _require(
        status,
        status not in outside,
        "The deposit receipt can be corrected only while the watch is in the workshop.",
    )
