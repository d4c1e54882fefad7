"""Every list filter and the cursor are served by an index range, never by a scan or a sort;
the public tracking page, the most requested read, by index searches only.

The list requests go through the API; the SELECT each one sends is captured and explained by the
database itself. A plan that sorts the matching rows (SQLite's "USE TEMP B-TREE FOR ORDER BY",
PostgreSQL's Sort node) or scans the table would make list latency grow with the table
(docs/benchmarks.md measures it from 10 000 to 1 000 000 orders).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from app.domain.roles import Role
from app.pagination import encode_cursor, filters_fingerprint
from app.repositories.repair_orders import OrderFilters
from tests.conftest import KeyFactory, is_postgresql
from tests.factories import create_order


def _selects(sent_sql: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [sent for sent in sent_sql if sent[0].lstrip().upper().startswith("SELECT")]


def _last_order_select(sent_sql: list[tuple[str, Any]]) -> tuple[str, Any]:
    selects = [sent for sent in _selects(sent_sql) if "FROM repair_orders" in sent[0]]
    assert selects, "the list sent no SELECT on repair_orders"
    return selects[-1]


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as connection:
        if is_postgresql(str(engine.url)):
            # With a few test rows the planner would rightly prefer a scan, or a bitmap scan
            # whose rows it then sorts; it is told to avoid both and sorting, so the plan shows
            # whether an index can deliver the rows already in order (it still sorts when none
            # can: these settings only make the other ways look dear).
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                connection.exec_driver_sql(f"SET {setting} = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
            return "\n".join(row[0] for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(str(row[-1]) for row in rows)


CUSTOMER, WATCH, PARTNER, TECHNICIAN = (uuid.uuid4() for _ in range(4))
SINCE, UNTIL = datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
LISTS: dict[str, tuple[str, OrderFilters]] = {
    "no filter": ("", OrderFilters()),
    "status": ("status=ready", OrderFilters(statuses=("ready",))),
    "customer": (f"customer_id={CUSTOMER}", OrderFilters(customer_id=CUSTOMER)),
    "watch": (f"watch_id={WATCH}", OrderFilters(watch_id=WATCH)),
    "partner": (f"partner_id={PARTNER}", OrderFilters(partner_id=PARTNER)),
    "technician": (f"technician={TECHNICIAN}", OrderFilters(technician=TECHNICIAN)),
    "created range": (
        "created_after=2020-01-01T00:00:00Z&created_before=2100-01-01T00:00:00Z",
        OrderFilters(created_after=SINCE, created_before=UNTIL),
    ),
}


def _cursor_for(filters: OrderFilters) -> str:
    """A cursor as the API issues it for these filters (the row it names need not exist)."""
    bound = filters_fingerprint({**vars(filters), "statuses": sorted(filters.statuses)})
    return encode_cursor(datetime.now(UTC), uuid.uuid4(), bound)


def _assert_index_range(plan: str) -> None:
    assert "TEMP B-TREE" not in plan, plan  # SQLite sorting the matching rows
    assert not re.search(r"SCAN repair_orders(?! USING (COVERING )?INDEX)", plan), plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan  # PostgreSQL


@pytest.mark.parametrize("name", sorted(LISTS))
@pytest.mark.parametrize("with_cursor", [False, True], ids=["first page", "next page"])
async def test_list_pages_come_from_an_index_range(
    name: str,
    with_cursor: bool,
    client: httpx.AsyncClient,
    keys: KeyFactory,
    sent_sql: list[tuple[str, Any]],
    clean_database: Engine,
) -> None:
    manager = await keys.headers(Role.MANAGER)
    for _ in range(2):
        await create_order(client, manager)
    query, filters = LISTS[name]
    path = f"/v1/repair-orders?limit=1&{query}"
    if with_cursor:
        path += f"&cursor={_cursor_for(filters)}"
    sent_sql.clear()
    response = await client.get(path, headers=manager)
    assert response.status_code == 200, response.text
    plan = _plan(clean_database, *_last_order_select(sent_sql))
    _assert_index_range(plan)
    if with_cursor and name != "created range":
        # The cursor must position the index seek, not filter the rows before it.
        seek = [line for line in plan.splitlines() if "INDEX" in line or "Index Cond" in line]
        assert any("created_at<" in line or "created_at <" in line for line in seek), plan


async def test_a_partner_s_list_comes_from_an_index_range(
    client: httpx.AsyncClient,
    keys: KeyFactory,
    sent_sql: list[tuple[str, Any]],
    clean_database: Engine,
) -> None:
    partner_id = await keys.partner()
    boutique = await keys.headers(Role.PARTNER, partner_id=partner_id)
    for _ in range(2):
        await create_order(client, boutique)
    sent_sql.clear()
    response = await client.get("/v1/repair-orders?limit=1", headers=boutique)
    assert response.status_code == 200, response.text
    _assert_index_range(_plan(clean_database, *_last_order_select(sent_sql)))


async def test_an_order_s_audit_trail_comes_in_order_from_the_unique_index(
    client: httpx.AsyncClient,
    keys: KeyFactory,
    sent_sql: list[tuple[str, Any]],
    clean_database: Engine,
) -> None:
    """The events have no index on ``order_id`` alone (every write adds one, so each index is
    paid for by every write): the unique (order_id, sequence) one finds an order's events and
    gives them in order, without a sort."""
    manager = await keys.headers(Role.MANAGER)
    order = await create_order(client, manager)
    await create_order(client, manager)
    sent_sql.clear()
    response = await client.get(f"/v1/repair-orders/{order['id']}/events", headers=manager)
    assert response.status_code == 200, response.text
    [(statement, parameters)] = [
        sent for sent in _selects(sent_sql) if "FROM order_events" in sent[0]
    ]
    plan = _plan(clean_database, statement, parameters)
    # SQLite names a unique constraint's index itself.
    unique_index = r"uq_order_events_order_id_sequence|sqlite_autoindex_order_events_\d"
    assert re.search(unique_index, plan), plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


async def test_the_tracking_page_reads_by_index_searches_only(
    client: httpx.AsyncClient,
    keys: KeyFactory,
    sent_sql: list[tuple[str, Any]],
    clean_database: Engine,
) -> None:
    """One statement: the order with its watch and the latest quote sent (joined through a
    subquery), its events and the quote's lines (each a subquery the database writes as JSON).
    No part of it scans a table, whatever the number of orders."""
    manager = await keys.headers(Role.MANAGER)
    order = await create_order(client, manager)
    await create_order(client, manager)
    sent_sql.clear()
    response = await client.get(f"/v1/tracking/{order['tracking_token']}")
    assert response.status_code == 200, response.text
    selects = _selects(sent_sql)
    assert len(selects) == 1, selects
    for statement, parameters in selects:
        plan = _plan(clean_database, statement, parameters)
        assert not re.search(r"\bSCAN\b", plan), plan  # SQLite: SEARCH is an index lookup
        assert "Seq Scan" not in plan, plan  # PostgreSQL
