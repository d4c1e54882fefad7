"""Idempotency records: looked up before a POST runs, written in the same transaction."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime

from sqlalchemy import Text, bindparam, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import run_prepared
from app.models import IdempotencyRecord
from app.prepared import Prepared
from app.repositories import order_numbers
from app.repositories.rows import insert_row
from app.repositories.scoping import table_of

_RECORDS = table_of(IdempotencyRecord)

# Built once: every POST carrying an Idempotency-Key looks its key up first.
_BY_KEY = select(IdempotencyRecord).where(
    col(IdempotencyRecord.scope) == bindparam("scope"),
    col(IdempotencyRecord.key) == bindparam("key"),
)


async def find(session: AsyncSession, scope: str, key: str) -> IdempotencyRecord | None:
    return (await session.exec(_BY_KEY, params={"scope": scope, "key": key})).first()


async def purge_older_than(session: AsyncSession, cutoff: datetime) -> int:
    statement = delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff)
    result = await session.exec(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def claim(session: AsyncSession, record: IdempotencyRecord) -> None:
    """Write the key's record, its answer still empty; on PostgreSQL this waits for a concurrent
    request holding the same key, then fails (``IntegrityError``). The session does not track
    it: ``complete`` writes its answer."""
    await insert_row(session, record)


@functools.cache
def _completion(numbered: bool) -> Prepared:
    statement = update(_RECORDS).where(_RECORDS.c.id == bindparam("record_id"))
    if numbered:
        body = order_numbers.numbered_text(bindparam("numbered_body", type_=Text))
        statement = statement.values(response_body=body)
    return Prepared(statement)


async def complete(
    session: AsyncSession,
    record_id: uuid.UUID,
    status_code: int,
    body: str,
    headers: dict[str, str],
    late: order_numbers.LateNumber | None = None,
) -> None:
    """Write the answer to replay, deferred (on PostgreSQL it goes with the COMMIT); ``late``:
    a new order's number the database takes, whose mark the body holds."""
    parameters: dict[str, object] = {
        "record_id": record_id, "status_code": status_code, "response_headers": headers,
    }  # fmt: skip
    if late is None:
        parameters["response_body"] = body
    else:
        parameters.update(numbered_body=body, **late.parameters())
    await run_prepared(session, _completion(late is not None), parameters, deferred=True)
