"""Prepared statements (``app/prepared.py``) give what SQLAlchemy's execution gives.

Each prepared statement of the hot paths runs twice on the same data, in the same kind of
session the API opens: on the driver's cursor, as the API runs it, and through SQLAlchemy's
``Connection.execute``. The keys, the values and their types must be the same. A row the
prepared INSERT writes must read back as the same row written by SQLAlchemy's INSERT, and a
driver error must come out as SQLAlchemy's exception class, which the problem mapping expects.
Runs on SQLite and on PostgreSQL, as the whole suite does.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from app.db import run_core, run_prepared
from app.domain.roles import Role
from app.models import (
    Customer,
    OrderEvent,
    OrderNumberCounter,
    OutboxMessage,
    RepairOrder,
    Watch,
    WebhookDelivery,
    WebhookSubscription,
)
from app.prepared import Prepared
from app.repositories import repair_orders, tracking, webhooks
from app.repositories.counters import _increment, next_in_year
from app.repositories.rows import _insert_into, new_values
from app.repositories.scoping import _row_by_id, table_of
from tests.conftest import KeyFactory
from tests.factories import create_order, diagnosed_order, draft_quote, transition


async def _both(
    app: Any, prepared: Prepared, parameters: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows as the API reads them, and as SQLAlchemy reads them, each as dicts."""
    db = app.state.runtime.db
    session = db.new_session(write=False)
    try:
        fast = await run_prepared(session, prepared, parameters)
        slow = await run_core(session, prepared.statement, parameters)
        slow_keys = tuple(slow.keys())
        slow_rows = [dict(zip(slow_keys, row, strict=True)) for row in slow]
    finally:
        await session.close()
    assert fast.keys == slow_keys
    fast_rows = [dict(zip(fast.keys, row, strict=True)) for row in fast]
    # The rows are also read by attribute, as SQLAlchemy's are.
    for row in fast:
        assert [getattr(row, key) for key in fast.keys] == list(row)
    return fast_rows, slow_rows


def _typed(rows: list[dict[str, Any]]) -> list[dict[str, tuple[type, Any]]]:
    return [{key: (type(value), value) for key, value in row.items()} for row in rows]


@pytest.fixture
async def world(client: httpx.AsyncClient, keys: KeyFactory, sync_engine: Engine) -> dict[str, Any]:
    """An order of a partner with a quote sent, a plain order, and webhook subscriptions."""
    partner_id = await keys.partner()
    partner = await keys.headers(Role.PARTNER, partner_id=partner_id)
    counter, technician = await keys.headers(Role.COUNTER), await keys.headers(Role.TECHNICIAN)
    plain = await create_order(client, counter)
    quoted = await diagnosed_order(client, counter, technician)
    await draft_quote(client, counter, quoted["id"])
    await transition(client, counter, quoted["id"], "send_quote")
    partners = await client.post(
        "/v1/repair-orders",
        json={
            "customer": {"name": "Boutique client"},
            "watch": {"brand": "Tudor", "movement_type": "automatic"},
        },
        headers=partner,
    )
    assert partners.status_code == 201, partners.text
    subscriptions = [
        new_values(WebhookSubscription, url="https://staff.example/hook", secret="s1"),
        new_values(
            WebhookSubscription,
            url="https://boutique.example/hook",
            secret="s2",
            partner_id=partner_id,
            event_types=["order.status_changed"],
        ),
        new_values(WebhookSubscription, url="https://off.example", secret="s3", active=False),
    ]
    with sync_engine.begin() as connection:
        connection.execute(sa.insert(table_of(WebhookSubscription)), subscriptions)
    return {
        "plain": plain,
        "quoted": quoted,
        "partners": partners.json(),
        "partner_id": partner_id,
    }


async def test_every_prepared_read_gives_what_sqlalchemy_gives(
    app: Any, world: dict[str, Any]
) -> None:
    orders = table_of(RepairOrder)
    quoted, partners = world["quoted"], world["partners"]
    tracked = await _both(app, tracking._TRACKED_ORDER, {"token": quoted["tracking_token"]})
    assert tracked[0][0]["quote_id"] is not None  # the page carries the quote sent
    # ... with the order's events and the quote's lines, written as JSON by the database
    assert len(json.loads(tracked[0][0]["events"])) == 4
    assert len(json.loads(tracked[0][0]["quote_lines"])) == 3
    cases: list[tuple[Prepared, dict[str, Any] | None, int]] = [
        (_row_by_id(orders, False), {"row_id": uuid.UUID(quoted["id"])}, 1),
        (
            _row_by_id(orders, True),
            {"row_id": uuid.UUID(partners["id"]), "partner_id": world["partner_id"]},
            1,
        ),
        (
            _row_by_id(orders, True),
            {"row_id": uuid.UUID(quoted["id"]), "partner_id": uuid.uuid4()},
            0,
        ),
        (tracking._TRACKED_ORDER, {"token": quoted["tracking_token"]}, 1),
        (tracking._TRACKED_ORDER, {"token": world["plain"]["tracking_token"]}, 1),
        (tracking._TRACKED_ORDER, {"token": "unknown"}, 0),
    ]
    for prepared, parameters, count in cases:
        fast, slow = await _both(app, prepared, parameters)
        assert len(fast) == count, (prepared.statement, parameters)
        assert _typed(fast) == _typed(slow), (prepared.statement, parameters)


@pytest.mark.parametrize(
    ("partner", "event_type", "reached"),
    [
        (False, "order.status_changed", {"https://staff.example/hook"}),
        (
            True,
            "order.status_changed",
            {"https://staff.example/hook", "https://boutique.example/hook"},
        ),
        (True, "repair_order.created", {"https://staff.example/hook"}),
    ],
)
async def test_a_fan_out_queues_what_a_delivery_of_known_values_would_be(
    app: Any, world: dict[str, Any], partner: bool, event_type: str, reached: set[str]
) -> None:
    """The deliveries' INSERT … SELECT (``webhooks.fan_out``) queues one delivery for each
    active subscription that takes the event and sees the order's partner (the staff's always,
    a partner's for its own orders), each row as ``add_delivery`` writes one from known values,
    its id the database's: the message id's first half (its time), then random bits."""
    partner_id = world["partner_id"] if partner else None
    order_id = uuid.UUID(world["plain"]["id"])
    now = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    message = new_values(
        OutboxMessage, event_type=event_type, order_id=order_id, partner_id=partner_id,
        order_version=1, payload={}, created_at=now,
    )  # fmt: skip
    other = {**message, "id": uuid.uuid4()}
    subscriptions = table_of(WebhookSubscription)
    db = app.state.runtime.db
    session = db.new_session(write=True)
    try:
        staff = (await run_core(session, sa.select(subscriptions.c.id).where(
            subscriptions.c.url == "https://staff.example/hook"))).scalar_one()  # fmt: skip
        for values in (message, other):
            await run_prepared(session, _insert_into(OutboxMessage), values)
        await webhooks.fan_out(session, message["id"], event_type, order_id, partner_id, now)
        await webhooks.add_delivery(session, other["id"], order_id, staff, now)
        await session.commit()
    finally:
        await session.close()
    rows = await _deliveries(app, message["id"])
    assert {row.pop("url") for row in rows} == reached
    assert len(rows) == len(reached)
    ids = [row.pop("id") for row in rows]
    assert len(set(ids)) == len(ids)
    for delivery_id in ids:
        assert isinstance(delivery_id, uuid.UUID)
        assert delivery_id.bytes[:8] == message["id"].bytes[:8]
        assert delivery_id.variant == uuid.RFC_4122
        assert delivery_id.version == 7
    [known] = await _deliveries(app, other["id"])
    written = next(row for row in rows if row["subscription_id"] == staff)
    for row in (written, known):
        row.pop("id", None)
        row.pop("url", None)
        row.pop("message_id")
    assert _typed([written]) == _typed([known])


async def _deliveries(app: Any, message_id: uuid.UUID) -> list[dict[str, Any]]:
    """A message's deliveries, each with its subscription's URL, read through SQLAlchemy."""
    deliveries, subscriptions = table_of(WebhookDelivery), table_of(WebhookSubscription)
    read = sa.select(deliveries, subscriptions.c.url).join(subscriptions)
    session = app.state.runtime.db.new_session(write=False)
    try:
        result = await run_core(session, read.where(deliveries.c.message_id == message_id))
        return [dict(row) for row in result.mappings()]
    finally:
        await session.close()


@pytest.mark.parametrize("model", [Customer, Watch, RepairOrder, OrderEvent, OutboxMessage])
async def test_a_prepared_insert_writes_what_sqlalchemy_writes(
    app: Any, world: dict[str, Any], model: type[SQLModel]
) -> None:
    table = table_of(model)
    template = await _existing_values(app, model)
    ours = {**template, "id": uuid.uuid4()}
    theirs = {**template, "id": uuid.uuid4()}
    for unique in ("number", "tracking_token", "sequence"):
        if unique in template:  # columns that must differ from the existing row's
            ours[unique], theirs[unique] = _other(template[unique], 1), _other(template[unique], 2)
    if "document" in template:  # the copied order's document is not the copies'
        ours["document"] = theirs["document"] = None
    db = app.state.runtime.db
    session = db.new_session(write=True)
    try:
        await run_prepared(session, _insert_into(model), ours)
        await run_core(session, sa.insert(table), theirs)
        await session.commit()
    finally:
        await session.close()
    # Each row read back through SQLAlchemy: the columns that had to differ aside, the same.
    _, [written] = await _both(app, _row_by_id(table, False), {"row_id": ours["id"]})
    _, [reference] = await _both(app, _row_by_id(table, False), {"row_id": theirs["id"]})
    for column in ("id", "number", "tracking_token", "sequence"):
        written.pop(column, None)
        reference.pop(column, None)
    assert _typed([written]) == _typed([reference])


async def test_a_prepared_update_changes_what_sqlalchemys_changes(
    app: Any, world: dict[str, Any]
) -> None:
    """A transition's UPDATE (``OrderForChange.write``), prepared, on one order; SQLAlchemy's,
    with the same columns, on another: the rows read back alike, both count one changed row at
    the version read, and both are refused at a stale one (the guard that turns into a 409),
    which leaves the row as it was."""
    orders = table_of(RepairOrder)
    update = repair_orders._UPDATE_CHANGED
    first, second = await _two_orders(app)
    moment = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    changes = {
        "status": "on_hold",
        "diagnosis": {"findings": "worn mainspring", "parts": ["mainspring"]},
        "ready_at": moment,
        "technician_key_id": uuid.uuid4(),
        "updated_at": moment,
    }
    counts = []
    for prepared, order in ((True, first), (False, second)):
        parameters = {
            **changes, "new_version": order["version"] + 1,
            "where_id": order["id"], "where_version": order["version"],
        }  # fmt: skip
        for stale in (False, True):  # the second time, the version read is stale
            session = app.state.runtime.db.new_session(write=True)
            try:
                written = {**parameters, "status": "refused"} if stale else parameters
                if prepared:
                    rows = await run_prepared(session, update, written)
                else:
                    rows = await run_core(session, update.statement, written)
                await session.commit()
                counts.append(rows.rowcount)
            except IntegrityError:  # at once, or, deferred on PostgreSQL, with the commit
                counts.append(None)
                await session.rollback()
            finally:
                await session.close()
    assert counts == [1, None, 1, None]
    _, [ours] = await _both(app, _row_by_id(orders, False), {"row_id": first["id"]})
    _, [theirs] = await _both(app, _row_by_id(orders, False), {"row_id": second["id"]})
    assert {name: ours[name] for name in changes} == changes
    assert _typed([{name: ours[name] for name in changes}]) == _typed(
        [{name: theirs[name] for name in changes}]
    )
    assert (ours["version"], theirs["version"]) == (first["version"] + 1, second["version"] + 1)


async def _two_orders(app: Any) -> list[dict[str, Any]]:
    session = app.state.runtime.db.new_session(write=False)
    try:
        orders = table_of(RepairOrder)
        result = await run_core(session, sa.select(orders).order_by(orders.c.id).limit(2))
        rows = [dict(row) for row in result.mappings()]
    finally:
        await session.close()
    assert len(rows) == 2
    return rows


async def _existing_values(app: Any, model: type[SQLModel]) -> dict[str, Any]:
    """The column values of a row of ``model`` the fixture's requests wrote."""
    table = table_of(model)
    session = app.state.runtime.db.new_session(write=False)
    try:
        row = (await run_core(session, sa.select(table).limit(1))).mappings().first()
    finally:
        await session.close()
    assert row is not None
    return dict(row)


def _other(value: Any, offset: int) -> Any:
    if isinstance(value, int):
        return value + 1000 * offset
    return f"{value}-{offset}"


async def test_a_driver_error_is_sqlalchemys_exception(app: Any, world: dict[str, Any]) -> None:
    """A duplicate key on the prepared INSERT is an ``IntegrityError`` (a 409 for the API),
    and the session is left to roll back, as after any failed statement."""
    values = await _existing_values(app, Customer)
    session = app.state.runtime.db.new_session(write=True)
    try:
        with pytest.raises(IntegrityError):
            await run_prepared(session, _insert_into(Customer), values)
        await session.rollback()
    finally:
        await session.close()


def test_only_a_select_an_insert_or_an_update_can_be_prepared() -> None:
    customers = table_of(Customer)
    with pytest.raises(TypeError, match="SELECT, an INSERT or an UPDATE"):
        Prepared(sa.delete(customers))  # type: ignore[arg-type]
    dialect = sa.create_engine("sqlite://").dialect
    expanding = Prepared(sa.select(customers).where(customers.c.name.in_(["a", "b"])))
    with pytest.raises(TypeError, match="expanding"):
        expanding.form(dialect, None)


async def test_the_prepared_number_upsert_counts_with_sqlalchemys(app: Any) -> None:
    """The year's counter, incremented in turn by the prepared upsert (as a creation runs it)
    and by SQLAlchemy: one sequence, read back as the same key and type."""
    session = app.state.runtime.db.new_session(write=True)
    try:
        bind = session.sync_session.bind
        assert bind is not None
        upsert = _increment(OrderNumberCounter, bind.dialect.name)
        handed_out = []
        for _ in range(2):
            handed_out.append(await next_in_year(session, OrderNumberCounter, 1999))
            [row] = (await run_core(session, upsert.statement, {"year": 1999})).all()
            handed_out.append(row.last_value)
        assert handed_out == [1, 2, 3, 4]
        fast, slow = (
            await run_prepared(session, upsert, {"year": 1999}),
            await run_core(session, upsert.statement, {"year": 1999}),
        )
        assert (fast.keys, list(fast)) == (tuple(slow.keys()), [(5,)])
        assert [tuple(row) for row in slow] == [(6,)]
        assert type(fast[0].last_value) is int
        await session.rollback()
    finally:
        await session.close()
