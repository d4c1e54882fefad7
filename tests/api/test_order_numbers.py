"""A new order's number: the same wherever the order is written, on both databases; on
PostgreSQL taken by the order's INSERT, in the COMMIT's round trip (``order_numbers``)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database
from app.domain.actors import Actor
from app.domain.roles import Role
from app.models import RepairOrder
from app.repositories import order_numbers
from app.schemas.repair_orders import RepairOrderCreate
from app.services import repair_orders as order_service
from app.services.repair_orders import format_order_number
from app.settings import Settings
from tests.conftest import KeyFactory, is_postgresql
from tests.factories import WATCH, create_order

ORDERS = RepairOrder.__table__  # type: ignore[attr-defined]


_MARK = re.compile(r"number-[0-9a-f]{16}")


def _stored_texts(engine: Engine) -> list[str]:
    """The texts the creations wrote: documents, messages, stored answers."""
    with engine.connect() as connection:
        return [
            row[0]
            for query in (
                "SELECT document FROM repair_orders",
                "SELECT CAST(payload AS TEXT) FROM outbox_messages",
                "SELECT response_body FROM idempotency_records",
            )
            for row in connection.execute(text(query))
        ]


async def test_the_number_is_the_same_in_the_answer_the_row_the_page_the_message_and_a_replay(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    manager = await keys.headers(Role.MANAGER)
    counter = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "pos-7-intake-1"}
    body = {"customer": {"name": "Claire"}, "watch": WATCH, "complaint": "number-0 stops"}
    first = await client.post("/v1/repair-orders", json=body, headers=counter)
    assert first.status_code == 201, first.text
    order = first.json()
    number = order["number"]
    year = datetime.now(UTC).year
    assert number.startswith(f"{year}-") and len(number) == len(format_order_number(year, 1))
    assert int(first.headers["content-length"]) == len(first.content)

    again = await client.post("/v1/repair-orders", json=body, headers=counter)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content

    read = (await client.get(f"/v1/repair-orders/{order['id']}", headers=manager)).json()
    page = (await client.get("/v1/repair-orders", headers=manager)).json()
    assert read["number"] == page["items"][0]["number"] == number
    with clean_database.connect() as connection:
        row = connection.execute(
            select(ORDERS.c.number, ORDERS.c.document).where(ORDERS.c.id == uuid.UUID(order["id"]))
        ).one()
        payloads = connection.execute(
            text("SELECT CAST(payload AS TEXT) FROM outbox_messages WHERE event_type = :t"),
            {"t": "repair_order.created"},
        ).scalars()
        messages = [payload for payload in payloads if order["id"] in payload]
    assert row.number == number and f'"number":"{number}"' in row.document
    assert len(messages) == 1 and f'"{number}"' in messages[0]
    # No mark is left anywhere the creation wrote; the customer's own text is as written.
    texts = _stored_texts(clean_database)
    assert len(texts) == 3 and not any(_MARK.search(stored) for stored in texts)
    assert all("number-0 stops" in stored for stored in (row.document, texts[-1]))


@pytest.mark.parametrize("last", [41, 999_998])
async def test_the_database_formats_the_number_as_the_api_does(
    last: int, client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    counter = await keys.headers(Role.COUNTER)
    year = int((await create_order(client, counter))["number"][:4])
    with clean_database.begin() as connection:
        connection.execute(
            text("UPDATE order_number_counters SET last_value = :v WHERE year = :y"),
            {"v": last, "y": year},
        )
    numbers = [(await create_order(client, counter))["number"] for _ in range(2)]
    assert numbers == [format_order_number(year, last + 1), format_order_number(year, last + 2)]


async def _created(database: Database) -> tuple[AsyncSession, dict[str, Any]]:
    """A counter's creation, done but not committed, in a writer session of its own."""
    session = database.new_session(write=True)
    actor = Actor(key_id=None, name="Counter", role=Role.COUNTER)
    payload = RepairOrderCreate.model_validate({"customer": {"name": "A"}, "watch": WATCH})
    return session, await order_service.create(session, actor, payload, datetime.now(UTC))


async def test_postgresql_locks_the_years_counter_only_in_the_commits_round_trip(
    settings: Settings, clean_database: Engine
) -> None:
    if not is_postgresql(settings.database_url):
        pytest.skip("SQLite's writer holds the file's lock: there the number is taken first")
    # One connection, whose statements the first creation prepares (a statement's first use
    # on a connection reads what waits before it).
    database = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        session, _ = await _created(database)
        first = order_numbers.late_number(session)
        await session.commit()
        await session.close()
        assert first is not None
        year = int((await first.returned.rows())[0].number[:4])
        session, values = await _created(database)
        late = order_numbers.late_number(session)
        assert late is not None and values["number"] == late.mark
        # The creation's work is done and only its commit is left: the year's row is free.
        with psycopg.connect(url, autocommit=False) as other:
            other.execute(
                "SELECT last_value FROM order_number_counters WHERE year = %s FOR UPDATE NOWAIT",
                (year,),
            )
            other.rollback()
        await session.commit()
        await session.close()
        [row] = await late.returned.rows()
        assert row.number == format_order_number(year, 2)
    finally:
        await database.dispose()
