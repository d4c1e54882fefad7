"""Column types and conventions shared by every table."""

from __future__ import annotations

import inspect
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


@quick_signature
def new_id() -> uuid.UUID:
    """The one id generator for resources."""
    return uuid.uuid4()


@quick_signature
def empty_list() -> list[Any]:
    return []


@quick_signature
def empty_dict() -> dict[str, Any]:
    return {}


quick_signature(utc_now)


def id_field() -> Any:
    return Field(default_factory=new_id, primary_key=True)


def created_at_field() -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=True)


def updated_at_field() -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=True)


def version_field() -> Any:
    return Field(default=1, nullable=False)
