"""A watch's identity, as far as the workshop's rules need it."""

from __future__ import annotations

from enum import StrEnum


class MovementType(StrEnum):
    """Manual-wind mechanical, self-winding automatic, or quartz (electronic)."""

    MECHANICAL = "mechanical"
    AUTOMATIC = "automatic"
    QUARTZ = "quartz"
