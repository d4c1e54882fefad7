"""The authenticated caller, as the domain sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.domain.roles import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an API key (with its display name for the audit trail) or the public link."""

    key_id: uuid.UUID | None
    name: str
    role: Role
    partner_id: uuid.UUID | None = None

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER

    @property
    def audit_id(self) -> str:
        return str(self.key_id) if self.key_id else f"{self.role.value}:{self.name}"
