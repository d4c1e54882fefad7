"""The orders' documents: a list page's orders as they were written, never stale.

Every write of an order writes its document (``app/services/order_documents.py``); conftest's
``clean_database`` holds every document to what its order's columns make after every test of
the suite. These tests hold the rest: the writes of each kind leave a document (so list pages
read them), a write that does not write it empties it (the database's trigger), an order
without one is listed from its columns, pages mix both kinds, and ``atelier documents
refresh`` writes the missing ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.db import Database
from app.domain.actors import Actor
from app.domain.roles import Role
from app.models import RepairOrder
from app.repositories import repair_orders as order_repository
from app.repositories.scoping import get_scoped_values
from app.routers.common import json_response
from app.routers.repair_orders import representation
from app.services.order_documents import document_of, presented, refresh
from tests.api.test_quotes import returned_repaired
from tests.conftest import KeyFactory, stale_documents
from tests.factories import (
    WATCH,
    create_order,
    transition,
)

ROOT = Path(__file__).resolve().parents[2]


def _documents(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, document FROM repair_orders")).all()
    return {str(uuid.UUID(str(row[0]))): row[1] for row in rows}


async def _listed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every order the caller may see, page after page of one order (each page's cursor made
    from its last row)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = await client.get(f"/v1/repair-orders?{query}", headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def _listed_as_read(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """Each listed order is the order a read by id (from its columns) gives; how many."""
    items = await _listed(client, headers)
    for item in items:
        read = await client.get(f"/v1/repair-orders/{item['id']}", headers=headers)
        assert read.json() == item
        assert list(read.json()) == list(item)
    return len(items)


async def test_every_kind_of_write_leaves_the_order_its_document(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    partner_id = await keys.partner()
    partner = await keys.headers(Role.PARTNER, partner_id=partner_id)
    counter, technician = await keys.headers(Role.COUNTER), await keys.headers(Role.TECHNICIAN)
    manager = await keys.headers(Role.MANAGER)
    # Creations, a partner's parcel, a receipt correction, a new tracking link.
    plain = await create_order(client, counter, deposit={"amount": "30.00"})
    shipped = await create_order(client, partner)
    sent = await client.post(
        f"/v1/repair-orders/{shipped['id']}/shipments",
        json={"carrier": "Colissimo", "tracking_number": "8R000000002"},
        headers=partner,
    )
    assert sent.status_code == 200, sent.text
    corrected = await client.post(
        f"/v1/repair-orders/{plain['id']}/intake-corrections",
        json={"field": "complaint", "correction": "Stops in the morning", "reason": "Called"},
        headers=counter,
    )
    assert corrected.status_code == 201, corrected.text
    rotated = await client.post(f"/v1/repair-orders/{plain['id']}/tracking-token", headers=counter)
    assert rotated.status_code == 200, rotated.text
    # A pre-diagnosis the manager reviews.
    pre = await create_order(client, counter, watch={**WATCH, "movement_type": "automatic"})
    await transition(
        client, counter, pre["id"], "pre_diagnose",
        symptoms=["loses_time"], proposed_services=["service_automatic"],
        manager_review_requested=True,
    )  # fmt: skip
    reviewed = await client.post(
        f"/v1/repair-orders/{pre['id']}/pre-diagnosis/review",
        json={"approved": True, "note": "Go ahead"},
        headers=manager,
    )
    assert reviewed.status_code == 200, reviewed.text
    # The whole lifecycle, quotes included, then a warranty claim on the returned watch.
    staff = {Role.COUNTER: counter, Role.TECHNICIAN: technician, Role.MANAGER: manager}
    order = await returned_repaired(client, staff)
    claim = await client.post(
        f"/v1/repair-orders/{order['id']}/warranty-claims",
        json={"complaint": "Stops again"},
        headers=counter,
    )
    assert claim.status_code == 201, claim.text

    documents = _documents(clean_database)
    assert len(documents) == 5
    assert all(document is not None for document in documents.values())
    assert stale_documents(clean_database) == []
    assert await _listed_as_read(client, counter) == 5
    assert await _listed_as_read(client, partner) == 1


async def test_a_write_that_skips_the_document_empties_it_and_the_list_reads_the_columns(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    counter = await keys.headers(Role.COUNTER)
    first = await create_order(client, counter)
    second = await create_order(client, counter)
    third = await create_order(client, counter)
    written = _documents(clean_database)
    # A write of another path (a statement by hand): the trigger empties that order's document.
    with clean_database.begin() as connection:
        connection.execute(
            text("UPDATE repair_orders SET complaint = 'Fixed by hand' WHERE number = :number"),
            {"number": second["number"]},
        )
    documents = _documents(clean_database)
    assert documents[second["id"]] is None
    assert documents[first["id"]] == written[first["id"]]
    assert documents[third["id"]] == written[third["id"]]
    # Pages of one order each, their cursors made from rows with and without a document.
    items = await _listed(client, counter)
    assert [item["id"] for item in items] == [third["id"], second["id"], first["id"]]
    assert items[1]["complaint"] == "Fixed by hand"
    assert await _listed_as_read(client, counter) == 3
    # A page of several, mixed.
    page = (await client.get("/v1/repair-orders", headers=counter)).json()
    assert page["items"] == items

    db: Database = app.state.runtime.db
    assert await refresh(db) == 1
    assert await refresh(db) == 0
    refreshed = _documents(clean_database)
    assert refreshed[second["id"]] is not None
    assert refreshed[first["id"]] == written[first["id"]]
    assert (await client.get("/v1/repair-orders", headers=counter)).json() == page


async def test_writing_only_the_document_keeps_it(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    """The trigger empties a document a write left as it was, not one it wrote."""
    counter = await keys.headers(Role.COUNTER)
    order = await create_order(client, counter)
    with clean_database.begin() as connection:
        connection.execute(
            text("UPDATE repair_orders SET document = :document WHERE number = :number"),
            {"document": "{}", "number": order["number"]},
        )
    assert _documents(clean_database)[order["id"]] == "{}"
    with clean_database.begin() as connection:
        connection.execute(text("UPDATE repair_orders SET document = NULL"))


async def test_a_document_with_the_roles_actions_is_the_answers_bytes(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    counter = await keys.headers(Role.COUNTER)
    order = await create_order(
        client, counter, deposit={"amount": "40.00"}, preapproved_ceiling={"amount": "150.00"},
        condition_report=[{"part": "case", "defects": ["scratches"]}],
    )  # fmt: skip
    db: Database = app.state.runtime.db
    for role in (Role.COUNTER, Role.TECHNICIAN, Role.MANAGER):
        actor = Actor(key_id=None, name="test", role=role)
        session = db.new_session(write=False)
        try:
            values = await get_scoped_values(session, RepairOrder, uuid.UUID(order["id"]), actor)
        finally:
            await session.close()
        assert values is not None
        # What the creation wrote is what the order's columns make, read back.
        assert values["document"] == document_of(values)
        answer = json_response(representation(values, actor)).body
        assert presented(values["document"], values["status"], role).encode() == answer


async def test_a_page_cursor_reads_the_orders_own_creation_time_and_id_off_its_document(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    counter = await keys.headers(Role.COUNTER)
    order = await create_order(client, counter, complaint='Stops. "created_at":"1999-01-01"')
    db: Database = app.state.runtime.db
    session = db.new_session(write=False)
    try:
        actor = Actor(key_id=None, name="test", role=Role.MANAGER)
        values = await get_scoped_values(session, RepairOrder, uuid.UUID(order["id"]), actor)
    finally:
        await session.close()
    assert values is not None
    key = (values["created_at"], values["id"])
    assert order_repository.document_key(values["document"]) == key
    # Nested objects and free text holding the same key, before and after it, are not read.
    nested = {"created_at": "1999-01-01T00:00:00Z", "note": ',"created_at":"2001-01-01'}
    values = {**values, "diagnosis": nested, "hand_back": nested, "inbound_shipment": nested}
    assert order_repository.document_key(document_of(values)) == key


@pytest.mark.parametrize("missing", [0, 2])
async def test_the_refresh_command_writes_the_missing_documents(
    missing: int,
    client: httpx.AsyncClient,
    keys: KeyFactory,
    database_url: str,
    clean_database: Engine,
) -> None:
    counter = await keys.headers(Role.COUNTER)
    orders = [await create_order(client, counter) for _ in range(3)]
    written = _documents(clean_database)
    with clean_database.begin() as connection:
        for order in orders[:missing]:
            connection.execute(
                text("UPDATE repair_orders SET document = NULL WHERE number = :number"),
                {"number": order["number"]},
            )
    environment = {**os.environ, "ATELIER_DATABASE_URL": database_url}
    finished = subprocess.run(
        [sys.executable, "-m", "app.cli", "documents", "refresh"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert f"{missing} order document(s) written" in finished.stderr
    assert _documents(clean_database) == written


async def test_a_refresh_writes_no_document_on_an_order_that_changed_since_its_read(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    counter = await keys.headers(Role.COUNTER)
    order = await create_order(client, counter)
    written = _documents(clean_database)[order["id"]]
    with clean_database.begin() as connection:
        connection.execute(
            text("UPDATE repair_orders SET document = NULL WHERE number = :number"),
            {"number": order["number"]},
        )
    db: Database = app.state.runtime.db
    for version, count in ((order["version"] - 1, 0), (order["version"], 1)):
        async with db.new_session(write=True) as session:
            changes = [
                {"order_id": uuid.UUID(order["id"]), "order_version": version,
                 "new_document": written},
            ]  # fmt: skip
            assert await order_repository.write_documents(session, changes) == count
            await session.commit()
        assert _documents(clean_database)[order["id"]] == (written if count else None)
