"""Per-year sequences (order numbers, invoice numbers) that never hand out a number twice."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import dialect_name, run_prepared
from app.prepared import Prepared


@functools.cache
def _increment(counter: type[SQLModel], dialect: str) -> Prepared:
    # Built and compiled once per counter and dialect, and run on the driver's cursor
    # (app/prepared.py): every creation runs it, with the counter's row locked from here on.
    insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
    table = counter.__table__  # type: ignore[attr-defined]
    return Prepared(
        insert(table)
        .values(year=bindparam("year"), last_value=1)
        .on_conflict_do_update(
            index_elements=[table.c.year], set_={"last_value": table.c.last_value + 1}
        )
        .returning(table.c.last_value)
    )


async def next_in_year(session: AsyncSession, counter: type[SQLModel], year: int) -> int:
    """Allocate the next value of ``year`` atomically: an upsert that holds the counter's row
    until the transaction ends, so concurrent requests queue and none reuses a value."""
    [row] = await run_prepared(session, _increment(counter, dialect_name(session)), {"year": year})
    return int(row.last_value)
