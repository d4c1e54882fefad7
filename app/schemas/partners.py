"""Partner boutiques as the API shows and accepts them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.domain.language import Language
from app.pagination import Page
from app.schemas.common import ApiModel, Email, Flag, NoNul, NotBlank, Phone, ReadModel, omitted

PartnerName = Annotated[str, NotBlank, Field(max_length=200, examples=["Bijouterie du Port"])]
Address = Annotated[str, NoNul, Field(max_length=500)]
ContactName = Annotated[str, NoNul, Field(max_length=200)]


class PartnerCreate(ApiModel):
    name: PartnerName
    address: Address = ""
    contact_name: ContactName = ""
    contact_email: Email | None = None
    contact_phone: Phone | None = None
    return_shipping_address: Address = Field(
        default="", description="Where repaired watches are shipped back"
    )
    default_language: Language = Language.FR


class PartnerUpdate(ApiModel):
    """Fields to change; those left out stay as they are."""

    name: PartnerName = omitted()
    address: Address = omitted()
    contact_name: ContactName = omitted()
    contact_email: Email | None = None
    contact_phone: Phone | None = None
    return_shipping_address: Address = omitted()
    default_language: Language = omitted()
    active: Flag = omitted()


class PartnerRead(ReadModel):
    id: uuid.UUID
    name: str
    address: str
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    return_shipping_address: str
    default_language: Language
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class PartnerPage(Page[PartnerRead]):
    pass
