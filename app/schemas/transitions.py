"""One typed payload per lifecycle action, discriminated by ``action``."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from app.domain.intake import IdentityProof
from app.schemas.common import ApiModel, Flag, Integer, IsoDate, NoNul, NotBlank
from app.schemas.measurements import PreDiagnoseFields
from app.schemas.repair_orders import (
    Acknowledgement,
    IntakeDetails,
    Note,
)

Reason = Annotated[str, NotBlank, Field(max_length=2000, examples=["Customer changed their mind"])]
Reference = Annotated[str, NotBlank, Field(max_length=100)]
ShortText = Annotated[str, NoNul, Field(max_length=500)]


class DiagnosedPart(ApiModel):
    reference: Reference
    description: ShortText | None = None
    quantity: Integer = Field(default=1, ge=1, le=100)


class CancelCommand(ApiModel):
    action: Literal["cancel"]
    reason: Reason


class ReceiveCommand(IntakeDetails):
    action: Literal["receive"]


class PreDiagnoseCommand(PreDiagnoseFields):
    action: Literal["pre_diagnose"]


class StartDiagnosisCommand(ApiModel):
    action: Literal["start_diagnosis"]
    note: Note | None = None


class CompleteDiagnosisCommand(ApiModel):
    action: Literal["complete_diagnosis"]
    findings: list[ShortText] = Field(default_factory=list, max_length=50)
    hypotheses: list[ShortText] = Field(default_factory=list, max_length=20)
    final_diagnosis: Annotated[str, NotBlank, Field(max_length=4000)]
    parts_required: list[DiagnosedPart] = Field(default_factory=list, max_length=50)


class SendQuoteCommand(ApiModel):
    action: Literal["send_quote"]
    note: Note | None = None


class ApproveQuoteCommand(ApiModel):
    action: Literal["approve_quote"]
    channel: Literal["counter", "phone", "email", "partner", "in_person"] = "counter"
    accepted_optional_lines: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    decided_by: Annotated[str, NotBlank, Field(max_length=200)] | None = Field(
        default=None, description="Who decided, as they named themselves"
    )


class DeclineQuoteCommand(ApiModel):
    action: Literal["decline_quote"]
    channel: Literal["counter", "phone", "email", "partner", "in_person"] = "counter"
    reason: Note | None = None
    decided_by: Annotated[str, NotBlank, Field(max_length=200)] | None = None


class ExpireQuoteCommand(ApiModel):
    action: Literal["expire_quote"]


class StartRepairCommand(ApiModel):
    action: Literal["start_repair"]
    note: Note | None = None


class WaitForPartsCommand(ApiModel):
    action: Literal["wait_for_parts"]
    parts: list[DiagnosedPart] = Field(min_length=1, max_length=50)
    expected_on: IsoDate | None = None
    new_promised_date: IsoDate | None = Field(
        default=None, description="The date promised to the customer, when it moves"
    )


class PartsArrivedCommand(ApiModel):
    action: Literal["parts_arrived"]
    note: Note | None = None


class RequestSupplementCommand(ApiModel):
    action: Literal["request_supplement"]
    reason: Reason = Field(description="The extra work found")


class SubmitForQcCommand(ApiModel):
    action: Literal["submit_for_qc"]
    note: Note | None = None


class FailQcCommand(ApiModel):
    action: Literal["fail_qc"]
    failed_criteria: list[Annotated[str, NotBlank, Field(max_length=100)]] = Field(
        min_length=1, max_length=50
    )
    note: Note | None = None


class PassQcCommand(ApiModel):
    action: Literal["pass_qc"]
    override: Flag = Field(
        default=False, description="Manager only: pass although the QC session did not"
    )
    reason: Reason | None = Field(default=None, description="Required with override")


class WithdrawCommand(ApiModel):
    action: Literal["withdraw"]
    reason: Reason


class IdentityCheck(ApiModel):
    proof: IdentityProof
    presented_reference: Reference = Field(
        description="The receipt's order number, the tracking token, or the document's number"
    )
    serial_confirmed: Flag = Field(description="The watch's serial was checked with the person")


class Shipment(ApiModel):
    carrier: Annotated[str, NotBlank, Field(max_length=100)]
    tracking_number: Annotated[str, NotBlank, Field(max_length=100)]


class HandBackCommand(ApiModel):
    action: Literal["hand_back"]
    collected_by: Annotated[str, NotBlank, Field(max_length=200)]
    identity_check: IdentityCheck
    acknowledgement: Acknowledgement | None = None
    shipped_to_partner: Shipment | None = None


class AbandonCommand(ApiModel):
    action: Literal["abandon"]
    reason: Reason


TransitionCommand = Annotated[
    CancelCommand
    | ReceiveCommand
    | PreDiagnoseCommand
    | StartDiagnosisCommand
    | CompleteDiagnosisCommand
    | SendQuoteCommand
    | ApproveQuoteCommand
    | DeclineQuoteCommand
    | ExpireQuoteCommand
    | StartRepairCommand
    | WaitForPartsCommand
    | PartsArrivedCommand
    | RequestSupplementCommand
    | SubmitForQcCommand
    | FailQcCommand
    | PassQcCommand
    | WithdrawCommand
    | HandBackCommand
    | AbandonCommand,
    Field(discriminator="action"),
]
