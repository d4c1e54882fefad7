"""Seed a benchmark database quickly: customers, watches and orders in bulk, plus API keys."""

from __future__ import annotations

import asyncio
import secrets
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from app.db import Database, sync_database_url
from app.domain.roles import Role
from app.migrate import upgrade_to_head
from app.models import Customer, OrderEvent, RepairOrder, Watch
from app.repositories.rows import new_values
from app.services import api_keys, order_documents
from app.settings import Settings

BATCH = 5_000


@dataclass
class Seeded:
    order_ids: list[str]
    received_ids: list[str]
    tokens: list[str]
    counter_key: str
    technician_key: str


def _rows(
    count: int, start: datetime, year: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    customers, watches, orders, events = [], [], [], []
    others = ("in_diagnosis", "diagnosed", "returned")
    for index in range(count):
        created = start + timedelta(seconds=index)
        customer_id, watch_id, order_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        # Three quarters of the orders wait in `received`, so every repeat of the transition
        # benchmark moves orders of its own (15 000 a repeat of five on 100 000 orders: enough
        # for 2 500 transitions a second); an eighth are ready (the list's filter), the last
        # eighth spread over the other statuses.
        slot = index % 8
        if slot < 6:
            status = "received"
        elif slot == 6:
            status = "ready"
        else:
            status = others[(index // 8) % len(others)]
        customers.append(
            {
                "id": customer_id,
                "name": f"Client {index}",
                "preferred_language": "fr",
                "contact_consent": False,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        watches.append(
            {
                "id": watch_id,
                "customer_id": customer_id,
                "brand": "Omega",
                "serial": f"SN{index:08d}",
                "movement_type": "automatic",
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        orders.append(
            {
                "id": order_id,
                "number": f"{year}-{index + 1:06d}",
                "tracking_token": secrets.token_urlsafe(32),
                "status": status,
                "customer_id": customer_id,
                "watch_id": watch_id,
                "free_of_charge": False,
                "condition_report": [],
                "accessories": [],
                "deposited_at": created,
                "currency": "EUR",
                "deposit_cents": 0,
                "approved_total_cents": 0,
                "fee_due_cents": 0,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        events.append(
            {
                "id": uuid.uuid4(),
                "order_id": order_id,
                "sequence": 1,
                "action": "create",
                "from_status": None,
                "to_status": status,
                "actor_name": "bench",
                "actor_role": "counter",
                "occurred_at": created,
                "payload": {},
            }
        )
    return customers, watches, orders, events


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A throwaway database on the given PostgreSQL server, dropped afterwards."""
    name = f"atelier_bench_{secrets.token_hex(4)}"
    admin = create_engine(sync_database_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def seed(settings: Settings, orders: int, start: int = 0) -> Seeded:
    """Migrate the database and insert ``orders`` orders with their customers and watches.

    ``start`` is how many orders an earlier call already inserted (to grow a database in steps).
    """
    upgrade_to_head(settings.database_url)
    engine = create_engine(sync_database_url(settings.database_url))
    origin = datetime.now(UTC) - timedelta(days=400)
    order_ids: list[str] = []
    received: list[str] = []
    tokens: list[str] = []
    with engine.begin() as connection:
        for offset in range(start, start + orders, BATCH):
            size = min(BATCH, start + orders - offset)
            customers, watches, rows, events = _rows(
                size, origin + timedelta(seconds=offset), 1900 + offset // 1_000_000
            )
            for row in rows:
                row["number"] = f"B{offset:07d}-{row['number']}"
                # Its document, as the API writes it with each order (list pages read them).
                row["document"] = order_documents.document_of(new_values(RepairOrder, **row))
            connection.execute(insert(Customer.__table__), customers)  # type: ignore[attr-defined]
            connection.execute(insert(Watch.__table__), watches)  # type: ignore[attr-defined]
            connection.execute(insert(RepairOrder.__table__), rows)  # type: ignore[attr-defined]
            connection.execute(insert(OrderEvent.__table__), events)  # type: ignore[attr-defined]
            order_ids += [str(r["id"]) for r in rows]
            received += [str(r["id"]) for r in rows if r["status"] == "received"]
            tokens += [r["tracking_token"] for r in rows[:50]]
    settle(engine)
    engine.dispose()
    return Seeded(order_ids, received, tokens, *asyncio.run(_keys(settings)))


def settle(engine: Engine) -> None:
    """Leave nothing of the bulk load on PostgreSQL for the measured runs to pay for: the
    planner's statistics, the rows' visibility (hint bits, visibility map) and a checkpoint, so
    that neither autovacuum nor a checkpoint started by the load's WAL (spread over minutes,
    every page's first change after it writing a full page to the WAL) runs beside them (the
    first run after a seed had its p99 two to three times the others'). SQLite copies its WAL
    into the database file when the load's last connection closes."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
        try:
            connection.exec_driver_sql("CHECKPOINT")
        except DBAPIError as error:  # a role without pg_checkpoint: said, not fatal
            print(f"no checkpoint after the seed: {error.orig}", file=sys.stderr)


async def _keys(settings: Settings) -> tuple[str, str]:
    db = Database.from_settings(settings)
    secrets_out = []
    async with db.new_session(write=True) as session:
        for role in (Role.COUNTER, Role.TECHNICIAN):
            issued = await api_keys.issue(
                session,
                name=f"bench {role.value}",
                role=role,
                partner_id=None,
                created_by=None,
                now=datetime.now(UTC),
            )
            secrets_out.append(issued.secret)
        await session.commit()
    await db.dispose()
    return secrets_out[0], secrets_out[1]
