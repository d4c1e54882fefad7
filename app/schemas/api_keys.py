"""API keys as the admin endpoints show and accept them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from app.domain.roles import Role
from app.pagination import Page
from app.schemas.common import ApiModel, NotBlank, ReadModel

# The roles a key can carry (customer and system are not key roles).
KeyRole = Literal["counter", "technician", "manager", "partner", "admin"]


class ApiKeyCreate(ApiModel):
    name: Annotated[str, NotBlank, Field(max_length=120, examples=["POS counter 1"])]
    role: KeyRole
    partner_id: uuid.UUID | None = Field(
        default=None, description="Required for a partner key, refused for the others"
    )


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    role: Role
    partner_id: uuid.UUID | None
    key_prefix: str = Field(description="The first characters of the key, to tell keys apart")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key. Shown this once only: store it now.")


class ApiKeyPage(Page[ApiKeyRead]):
    pass
