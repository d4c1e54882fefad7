"""An order's representation is encoded from its column values, not validated into the model.

``RepairOrderRead`` stays the contract; the commands' answers build its fields from the stored
values and encode them with pydantic-core directly (``app.routers.common.json_response``), and
a read by id and a list page's orders are written as JSON by the database itself
(``app/repositories/json_rows.py``), but for the caller's actions and the money. These tests
hold both shortcuts to what the model would have written: for orders in many shapes (partner
orders, a parcel on its way, a diagnosis, a pre-approved ceiling, a quote, a hand-back, money
owed and refunded), as each role sees them, the encoding's bytes are the model's, a read by id
is the model's representation, and every representation of an order (read, listed, answered
by a command) is the same one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from app.db import Database
from app.domain.actors import Actor
from app.domain.roles import Role
from app.models import RepairOrder
from app.repositories.scoping import get_scoped_values
from app.routers.common import json_response
from app.routers.repair_orders import representation
from app.schemas.repair_orders import RepairOrderRead
from tests.conftest import KeyFactory
from tests.factories import (
    create_order,
    diagnosed_order,
    draft_quote,
    identity_for,
    transition,
)


@pytest.fixture
async def orders(client: httpx.AsyncClient, keys: KeyFactory) -> dict[str, Any]:
    """Orders in as many shapes as the representation has, and the answers that made them."""
    partner_id = await keys.partner()
    partner = await keys.headers(Role.PARTNER, partner_id=partner_id)
    counter, technician = await keys.headers(Role.COUNTER), await keys.headers(Role.TECHNICIAN)
    manager = await keys.headers(Role.MANAGER)
    answers = []
    plain = await create_order(
        client,
        counter,
        promised_date="2031-02-03",
        condition_report=[{"part": "case", "defects": ["scratches"], "note": "left side"}],
        accessories=[{"item": "box"}, {"item": "extra_links", "quantity": 2}],
        deposit={"amount": "40.00"},
        preapproved_ceiling={"amount": "150.00"},
    )
    answers.append(plain)
    shipped = await create_order(client, partner)
    answers.append(
        (
            await client.post(
                f"/v1/repair-orders/{shipped['id']}/shipments",
                json={"carrier": "Colissimo", "tracking_number": "8R000000001"},
                headers=partner,
            )
        ).json()
    )
    quoted = await diagnosed_order(client, counter, technician)
    answers.append(quoted)
    await draft_quote(client, technician, quoted["id"])
    walked = await diagnosed_order(client, counter, technician)
    answers.append(await transition(client, counter, walked["id"], "withdraw", reason="Too dear"))
    answers.append(
        await transition(
            client, counter, walked["id"], "hand_back",
            collected_by="Claire Martin", identity_check=identity_for(walked),
        )
    )  # fmt: skip
    return {
        "answers": answers,
        "headers": {
            Role.COUNTER: counter,
            Role.TECHNICIAN: technician,
            Role.MANAGER: manager,
            Role.PARTNER: partner,
        },
        "partner_id": partner_id,
    }


def _actor(role: Role, partner_id: Any) -> Actor:
    return Actor(
        key_id=None,
        name=f"{role.value} test",
        role=role,
        partner_id=partner_id if role is Role.PARTNER else None,
    )


async def test_the_encoded_representation_is_the_models_byte_for_byte(
    app: Any, orders: dict[str, Any]
) -> None:
    db: Database = app.state.runtime.db
    ids = {uuid.UUID(answer["id"]) for answer in orders["answers"]}
    for role in (Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.PARTNER):
        actor = _actor(role, orders["partner_id"])
        items = []
        session = db.new_session(write=False)
        try:
            for order_id in ids:
                values = await get_scoped_values(session, RepairOrder, order_id, actor)
                if values is None:
                    assert role is Role.PARTNER
                else:
                    items.append(representation(values, actor))
        finally:
            await session.close()
        assert len(items) == (1 if role is Role.PARTNER else 4)
        for item in items:
            ours = json_response(item).body
            theirs = RepairOrderRead.model_validate(item).model_dump_json().encode()
            assert ours == theirs


async def test_an_order_reads_the_same_however_it_is_reached(
    client: httpx.AsyncClient, orders: dict[str, Any]
) -> None:
    """A command's answer is the order as a read gives it afterwards, and as the list shows it."""
    for role, headers in orders["headers"].items():
        listed = await client.get("/v1/repair-orders?limit=200", headers=headers)
        assert listed.status_code == 200
        assert listed.headers["content-type"] == "application/json"
        by_id = {item["id"]: item for item in listed.json()["items"]}
        for item in by_id.values():
            read = await client.get(f"/v1/repair-orders/{item['id']}", headers=headers)
            assert read.status_code == 200
            assert read.json() == item
            assert read.headers["etag"] == f'"{item["version"]}"'
        assert len(by_id) == (1 if role is Role.PARTNER else 4)
    counter = orders["headers"][Role.COUNTER]
    for answer in orders["answers"]:
        read = await client.get(f"/v1/repair-orders/{answer['id']}", headers=counter)
        if read.json()["version"] == answer["version"]:
            assert read.json() == {**answer, "allowed_actions": read.json()["allowed_actions"]}


async def test_a_read_by_id_is_the_models_representation(
    app: Any, client: httpx.AsyncClient, orders: dict[str, Any]
) -> None:
    """A read by id is written by the database as a listed order is: it is what the model
    writes from the order's column values, for each shape and each role."""
    db: Database = app.state.runtime.db
    for role, headers in orders["headers"].items():
        actor = _actor(role, orders["partner_id"])
        listed = (await client.get("/v1/repair-orders?limit=200", headers=headers)).json()
        assert len(listed["items"]) == (1 if role is Role.PARTNER else 4)
        for item in listed["items"]:
            response = await client.get(f"/v1/repair-orders/{item['id']}", headers=headers)
            assert response.status_code == 200
            session = db.new_session(write=False)
            try:
                values = await get_scoped_values(session, RepairOrder, uuid.UUID(item["id"]), actor)
            finally:
                await session.close()
            assert values is not None
            model = RepairOrderRead.model_validate(representation(values, actor))
            # The same values, strings compared as written (times, UUIDs, amounts), in the
            # model's field order; PostgreSQL's JSON text only spaces its separators.
            written, expected = json.loads(response.content), json.loads(model.model_dump_json())
            assert written == expected
            assert list(written) == list(expected)
            assert response.headers["etag"] == f'"{values["version"]}"'
            assert response.headers["content-type"] == "application/json"
