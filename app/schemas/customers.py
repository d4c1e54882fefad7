"""Customers as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.domain.language import Language
from app.pagination import Page
from app.schemas.common import ApiModel, Email, Flag, NoNul, NotBlank, Phone, ReadModel, omitted

CustomerName = Annotated[str, NotBlank, Field(max_length=200, examples=["Claire Martin"])]
Accessibility = Annotated[
    str, NoNul, Field(max_length=1000, examples=["Hearing impaired: prefers written quotes"])
]


class CustomerCreate(ApiModel):
    name: CustomerName
    email: Email | None = None
    phone: Phone | None = None
    preferred_language: Language = Language.FR
    accessibility_needs: Accessibility | None = None
    contact_consent: Flag = Field(
        default=False, description="Whether the customer agreed to be contacted (notifications)"
    )


class CustomerUpdate(ApiModel):
    """Fields to change; those left out stay as they are."""

    # Not nullable: leave it out to keep it, null is refused.
    name: CustomerName = omitted()
    email: Email | None = None
    phone: Phone | None = None
    preferred_language: Language = omitted()
    accessibility_needs: Accessibility | None = None
    contact_consent: Flag = omitted()


class CustomerRead(ReadModel):
    id: uuid.UUID
    partner_id: uuid.UUID | None
    name: str
    email: str | None
    phone: str | None
    preferred_language: Language
    accessibility_needs: str | None
    contact_consent: bool
    version: int
    created_at: datetime
    updated_at: datetime


class CustomerPage(Page[CustomerRead]):
    pass
