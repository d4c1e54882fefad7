"""Column types and conventions shared by every table."""

from __future__ import annotations

import inspect
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect, TypeDecorator
from sqlmodel import Field, SQLModel

from app.domain.clock import utc_now

# Constraint names are stable across SQLite and PostgreSQL, so migrations can name them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        # The text SQLite's DATETIME stores, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, written by
        # ``isoformat``: SQLAlchemy's own formatting fills a dict of the fields and took 3.5 µs
        # a value, and a write has five to fifteen of them (tests/test_column_types.py holds
        # the two texts equal).
        to_utc = self.process_bind_param

        def process(value: datetime | None) -> str | None:
            stored = to_utc(value, dialect)
            return None if stored is None else stored.isoformat(" ", "microseconds")

        return process


Factory = TypeVar("Factory", bound=Callable[..., Any])


def quick_signature(factory: Factory) -> Factory:
    """Give a default factory a precomputed signature.

    Building a table model asks pydantic whether each default factory takes the validated data,
    which calls ``inspect.signature`` on every construction (for builtins such as ``list`` it
    even parses their text signature): about a tenth of the CPU of creating an order, measured
    in docs/benchmarks.md. With ``__signature__`` set, that is an attribute lookup.
    """
    factory.__signature__ = inspect.signature(factory)  # type: ignore[attr-defined]
    return factory


_RAND_B = (1 << 62) - 1


@quick_signature
def new_id() -> uuid.UUID:
    """The one id generator for resources: a UUID version 7 (RFC 9562).

    Its first 48 bits are the creation time in milliseconds, the other 74 (after the version
    and variant bits) random. Ids made one after the other sort one after the other, so a new
    row's id, in its primary key and in the foreign-key indexes of the rows that point to it,
    goes on the index's last page instead of a random one: the page is in memory and the
    next write dirties it again (docs/benchmarks.md, eighth round). The random part keeps ids
    unguessable; nothing but scoping gives access, and the creation time they carry is no
    secret (every resource shows its ``created_at``).
    """
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them used
    return uuid.UUID(
        int=(milliseconds & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (random >> 62 & 0xFFF) << 64
        | 0b10 << 62
        | random & _RAND_B
    )


@quick_signature
def empty_list() -> list[Any]:
    return []


@quick_signature
def empty_dict() -> dict[str, Any]:
    return {}


quick_signature(utc_now)


def id_field() -> Any:
    return Field(default_factory=new_id, primary_key=True)


def created_at_field(*, index: bool = True) -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=index)


def updated_at_field() -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=True)


def version_field() -> Any:
    return Field(default=1, nullable=False)
