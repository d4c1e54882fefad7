"""Building blocks shared by every API model."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)


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


def number_not_flag_or_text(value: Any) -> Any:
    """A number in a request is a JSON number: pydantic's lax mode would also read `true` as 1
    and "3" as 3, which the contract's `number` and `integer` refuse (contract fuzzing found
    `false` taken for a tolerance limit). Put it after a field's bounds in ``Annotated``: the
    contract then shows them as JSON Schema's minimum and maximum."""
    if isinstance(value, bool | str):
        raise ValueError("a number is required")
    return value


# A strict float takes ints and floats only.
Number = Annotated[float, Strict()]
# An integer keeps taking 3.0, which JSON Schema counts as an integer, and no flag or text.
Integer = Annotated[int, BeforeValidator(number_not_flag_or_text)]

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


# A number, or text that is one: pydantic reads it as seconds since 1970.
_SECONDS = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _text_only(value: Any) -> Any:
    """A date or a time on the wire is RFC 3339 text, as the contract's formats say. pydantic
    would also read a number, or digits, as seconds since 1970: "20260101" as 1970-08-23
    (contract fuzzing found `updated_after=0.5` accepted)."""
    if isinstance(value, int | float) or (isinstance(value, str) and _SECONDS.fullmatch(value)):
        raise ValueError("an RFC 3339 date or date-time is required (e.g. 2026-11-23T10:15:00Z)")
    return value


AwareDatetime = Annotated[datetime, BeforeValidator(_text_only), AfterValidator(_aware)]
# A calendar date in a request: RFC 3339's full-date (e.g. 2026-11-23), never a number.
IsoDate = Annotated[date, BeforeValidator(_text_only)]

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
