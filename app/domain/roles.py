"""Who may act on the workshop's data."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The role an API key (or the public tracking link) carries."""

    COUNTER = "counter"
    TECHNICIAN = "technician"
    MANAGER = "manager"
    PARTNER = "partner"
    ADMIN = "admin"
    # Not a key role: the end customer acting through the public tracking token.
    CUSTOMER = "customer"
    # Not a key role: scheduled jobs (quote expiry, reminders).
    SYSTEM = "system"


KEY_ROLES: frozenset[Role] = frozenset(
    {Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.PARTNER, Role.ADMIN}
)
STAFF_ROLES: frozenset[Role] = frozenset({Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN})
