"""The one cursor-pagination helper: newest first, keyset on (created_at, id).

The cursor is opaque to clients, bound to the filters it was issued with (reusing it with other
filters is a 400), and stable while rows are inserted: new rows sort before the cursor, so a
client walking the pages sees no duplicate and skips nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.errors import bad_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

ItemT = TypeVar("ItemT")
RowT = TypeVar("RowT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, and the cursor of the next one (null on the last page)."""

    items: list[ItemT]
    next_cursor: str | None = Field(
        default=None, description="Opaque cursor for the next page; null when there is none"
    )


def filters_fingerprint(filters: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {k: v for k, v in sorted(filters.items()) if v not in (None, [], ())},
        default=str,
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(created_at: datetime, row_id: uuid.UUID, fingerprint: str) -> str:
    # json.dumps' text for these three strings, none of which has a character to escape.
    raw = f'["{created_at.isoformat()}", "{row_id}", "{fingerprint}"]'.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[datetime, uuid.UUID]:
    invalid = bad_request(
        "invalid-cursor",
        "Invalid cursor",
        "The cursor is malformed or was issued for other filters.",
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at_text, id_text, bound_to = json.loads(base64.urlsafe_b64decode(padded))
        created_at = datetime.fromisoformat(created_at_text)
        row_id = uuid.UUID(id_text)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise invalid from None
    if bound_to != fingerprint or created_at.tzinfo is None:
        raise invalid
    return created_at, row_id


def after_cursor(
    created_at_column: Any, id_column: Any, after_created: Any, after_id: Any
) -> ColumnElement[bool]:
    """The rows after a cursor's ``(created_at, id)``, newest first (values or bind
    parameters)."""
    # The leading `created_at <= …` is what lets both databases seek the index to the
    # cursor; the OR alone was applied as a filter, scanning every row before it
    # (a page half-way down 1M orders cost 4× the first one, docs/benchmarks.md).
    return and_(
        created_at_column <= after_created,
        or_(
            created_at_column < after_created,
            and_(created_at_column == after_created, id_column < after_id),
        ),
    )


def _seek(
    statement: Any,
    created_at_column: Any,
    id_column: Any,
    cursor: str | None,
    fingerprint: str,
    limit: int,
) -> Any:
    """``statement`` positioned after the cursor, newest first, one row more than a page."""
    if cursor:
        after_created, after_id = decode_cursor(cursor, fingerprint)
        statement = statement.where(
            after_cursor(created_at_column, id_column, after_created, after_id)
        )
    return statement.order_by(created_at_column.desc(), id_column.desc()).limit(limit + 1)


async def fetch_page(
    session: AsyncSession,
    statement: SelectOfScalar[RowT],
    *,
    created_at_column: Any,
    id_column: Any,
    limit: int,
    cursor: str | None,
    filters: Mapping[str, Any],
) -> tuple[Sequence[RowT], str | None]:
    """Run ``statement`` for one page; the rows must expose ``created_at`` and ``id``."""
    fingerprint = filters_fingerprint(filters)
    statement = _seek(statement, created_at_column, id_column, cursor, fingerprint, limit)
    rows, last = trimmed((await session.exec(statement)).all(), limit)
    if last is None:
        return rows, None
    return rows, encode_cursor(last.created_at, last.id, fingerprint)  # type: ignore[attr-defined]


def trimmed(rows: Sequence[ItemT], limit: int) -> tuple[Sequence[ItemT], ItemT | None]:
    """The page out of ``limit + 1`` fetched rows, and its last row when another page follows."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], rows[limit - 1]
