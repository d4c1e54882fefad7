"""Repair orders as the API shows and accepts them: intake, reading, lists, events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from app.domain.handback import ReminderChannel
from app.domain.intake import Accessory, Defect, WatchPart
from app.pagination import Page
from app.schemas.common import ApiModel, AwareDatetime, Integer, IsoDate, NoNul, NotBlank, ReadModel
from app.schemas.customers import CustomerCreate
from app.schemas.money import MoneyIn, MoneyRead
from app.schemas.watches import WatchCreate

Note = Annotated[str, NoNul, Field(max_length=2000)]
SignedName = Annotated[str, NotBlank, Field(max_length=200, examples=["C. Martin"])]


class PartCondition(ApiModel):
    """The state of one part when the watch was deposited."""

    part: WatchPart
    defects: list[Defect] = Field(default_factory=list, max_length=10)
    note: Annotated[str, NoNul, Field(max_length=500)] | None = None


class AccessoryLeft(ApiModel):
    item: Accessory
    quantity: Integer = Field(default=1, ge=1, le=50)
    note: Annotated[str, NoNul, Field(max_length=200)] | None = None


class Acknowledgement(ApiModel):
    """The customer's acknowledgement: the name as signed, and when."""

    signed_name: SignedName
    signed_at: AwareDatetime | None = Field(
        default=None, description="Defaults to the time the request is recorded"
    )


class ExistingCustomer(ApiModel):
    id: uuid.UUID


class ExistingWatch(ApiModel):
    id: uuid.UUID


class IntakeDetails(ApiModel):
    """What the deposit receipt records; all optional so a watch can be taken in before the
    fault is known."""

    complaint: Note | None = Field(default=None, description="The customer's words")
    condition_report: list[PartCondition] = Field(default_factory=list, max_length=12)
    accessories: list[AccessoryLeft] = Field(default_factory=list, max_length=20)
    accessibility_needs: Annotated[str, NoNul, Field(max_length=1000)] | None = None
    promised_date: IsoDate | None = None
    acknowledgement: Acknowledgement | None = None


class RepairOrderCreate(IntakeDetails):
    """A deposit at the counter (`received`) or a partner's submission (`awaiting_arrival`)."""

    customer: ExistingCustomer | CustomerCreate = Field(
        description="An existing customer by id, or a new one inline"
    )
    watch: ExistingWatch | WatchCreate = Field(
        description="An existing watch by id, or a new one inline (owned by the customer)"
    )
    deposited_at: AwareDatetime | None = Field(
        default=None, description="When the watch was left; defaults to now (counter only)"
    )
    deposit: MoneyIn | None = Field(
        default=None, description="Paid at drop-off; deducted from the amount due at hand-back"
    )
    preapproved_ceiling: MoneyIn | None = Field(
        default=None,
        description='"Repair without asking me up to …": a quote within it is approved at once',
    )


class RepairOrderRead(ReadModel):
    id: uuid.UUID
    number: str = Field(description="Human order number printed on the receipt")
    tracking_token: str = Field(description="Secret of the customer's tracking link")
    status: str
    outcome: str | None
    allowed_actions: list[str] = Field(description="Actions the calling role may take now")
    version: int
    partner_id: uuid.UUID | None
    customer_id: uuid.UUID
    watch_id: uuid.UUID
    warranty_of: uuid.UUID | None
    free_of_charge: bool
    complaint: str | None
    condition_report: list[dict[str, Any]]
    accessories: list[dict[str, Any]]
    accessibility_needs: str | None
    promised_date: date | None
    deposited_at: datetime | None
    intake_acknowledged_by: str | None
    intake_acknowledged_at: datetime | None
    inbound_shipment: dict[str, Any] | None
    technician_key_id: uuid.UUID | None
    technician_name: str | None
    pre_diagnosis: dict[str, Any] | None
    diagnosis: dict[str, Any] | None
    ready_at: datetime | None
    returned_at: datetime | None
    hand_back: dict[str, Any] | None
    warranty_until: date | None
    deposit: MoneyRead
    preapproved_ceiling: MoneyRead | None
    approved_total: MoneyRead = Field(description="Incl. VAT, of every approved revision")
    fee_due: MoneyRead = Field(description="Diagnosis fee owed when the quote was declined")
    amount_due: MoneyRead = Field(description="What remains to pay at hand-back")
    refund_due: MoneyRead = Field(description="Deposit to give back, when it exceeds the bill")
    created_at: datetime
    updated_at: datetime


class RepairOrderPage(Page[RepairOrderRead]):
    pass


class OrderEventRead(ReadModel):
    id: uuid.UUID
    order_id: uuid.UUID
    sequence: int
    action: str
    from_status: str | None
    to_status: str
    actor_key_id: uuid.UUID | None
    actor_name: str
    actor_role: str
    occurred_at: datetime
    reason: str | None
    payload: dict[str, Any]


class OrderEventPage(Page[OrderEventRead]):
    pass


class ReminderCreate(ApiModel):
    """A reminder sent to a customer who has not collected a ready watch."""

    channel: ReminderChannel
    note: Note | None = None


class InboundShipment(ApiModel):
    """A partner's parcel carrying the watch to the workshop."""

    carrier: Annotated[str, NotBlank, Field(max_length=100, examples=["Colissimo"])]
    tracking_number: Annotated[str, NotBlank, Field(max_length=100)]
    shipped_at: AwareDatetime | None = Field(default=None, description="Defaults to now")


class IntakeCorrection(ApiModel):
    """A correction of the deposit receipt: recorded beside it, the receipt itself never changes."""

    field: Literal[
        "complaint", "condition_report", "accessories", "accessibility_needs", "promised_date"
    ]
    correction: Annotated[str, NotBlank, Field(max_length=2000)]
    reason: Annotated[str, NotBlank, Field(max_length=2000)]
