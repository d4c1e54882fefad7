"""The languages customer-facing texts are written in."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    FR = "fr"
    EN = "en"
