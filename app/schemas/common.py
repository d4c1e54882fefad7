"""Building blocks shared by every API model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints


class ApiModel(BaseModel):
    """Base of request models: unknown fields are refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


def omitted() -> Any:
    """Default of a PATCH field that may be left out but not set to null."""
    return Field(default=None)


class ReadModel(BaseModel):
    """Base of response models, built from table rows."""

    model_config = ConfigDict(from_attributes=True)


# A request's yes/no: a JSON boolean and nothing else. pydantic's lax mode would also take 0, 1,
# "yes" or "off", which the contract's `boolean` refuses (contract fuzzing found `0` accepted).
Flag = Annotated[bool, Strict()]

# Whitespace, spelled out. A pattern in the contract is read with ECMA-262's `\s` by JSON Schema
# tools and clients, and with Unicode's by Python and pydantic; the two differ on U+001C–U+001F,
# U+0085 (whitespace for Python only) and U+FEFF (for ECMA-262 only). Naming the union of both
# makes every reader of a pattern accept the same strings (contract fuzzing found the gap).
SPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

# Text must not carry NUL (PostgreSQL refuses it); required text must not be blank.
_NO_NUL = r"^[^\x00]*$"
_NOT_BLANK = rf"^[^\x00]*[^{SPACE}\x00][^\x00]*$"


# Use as ``Annotated[str, NotBlank, Field(max_length=200)]``.
NotBlank = StringConstraints(min_length=1, pattern=_NOT_BLANK)
NoNul = StringConstraints(pattern=_NO_NUL)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a timezone offset is required (e.g. 2026-11-23T10:15:00Z)")
    # Stored and answered in UTC: a time sent with another offset comes back as the same
    # instant in UTC, from the request that wrote it as from every later read.
    return value.astimezone(UTC)


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

Email = Annotated[
    str,
    StringConstraints(
        max_length=254, pattern=rf"^[^@{SPACE}\x00]+@[^@{SPACE}\x00]+\.[^@{SPACE}\x00]+$"
    ),
]
Phone = Annotated[str, StringConstraints(max_length=40, pattern=r"^\+?[0-9][0-9 .()\-]{2,38}$")]

Limit = Annotated[int, Field(ge=1, le=200, description="Page size (default 50, max 200)")]
CursorParam = Annotated[str, StringConstraints(max_length=512)]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_NO_NUL)]
