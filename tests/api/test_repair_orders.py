"""The repair-order lifecycle over HTTP: intake, commands, audit trail, concurrency."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app.domain.roles import Role
from app.models import OrderEvent, RepairOrder
from tests.conftest import KeyFactory, TestClock
from tests.factories import WATCH, create_order, identity_for, replayed_status, transition


@pytest.fixture
async def staff(keys: KeyFactory) -> dict[Role, dict[str, str]]:
    return {
        role: await keys.headers(role, name=f"{role.value} Dupont")
        for role in (Role.COUNTER, Role.TECHNICIAN, Role.MANAGER)
    }


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


async def events_of(client: httpx.AsyncClient, headers: dict[str, str], order_id: str) -> list[Any]:
    response = await client.get(f"/v1/repair-orders/{order_id}/events", headers=headers)
    assert response.status_code == 200
    return list(response.json()["items"])


async def test_counter_intake_records_the_deposit_receipt(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    order = await create_order(
        client,
        staff[Role.COUNTER],
        condition_report=[
            {"part": "crystal", "defects": ["scratches"]},
            {"part": "strap_bracelet", "defects": ["worn"], "note": "leather cracked at holes"},
        ],
        accessories=[{"item": "box"}, {"item": "extra_links", "quantity": 2}],
        accessibility_needs="Hard of hearing",
        promised_date="2099-01-15",
        acknowledgement={"signed_name": "C. Martin", "signed_at": "2026-11-20T09:30:00+01:00"},
    )
    assert order["status"] == "received"
    # Times are answered in UTC, whatever the offset they were sent with.
    assert order["intake_acknowledged_at"] == "2026-11-20T08:30:00Z"
    assert re.fullmatch(r"\d{4}-\d{6}", order["number"])
    assert len(order["tracking_token"]) >= 43
    assert order["deposited_at"] is not None
    assert order["intake_acknowledged_by"] == "C. Martin"
    assert order["condition_report"][1]["note"] == "leather cracked at holes"
    assert order["allowed_actions"] == ["pre_diagnose", "withdraw"]
    assert order["version"] == 1
    technician_view = await client.get(
        f"/v1/repair-orders/{order['id']}", headers=staff[Role.TECHNICIAN]
    )
    assert technician_view.json()["allowed_actions"] == ["start_diagnosis"]


async def test_a_new_order_is_answered_as_it_is_stored_and_logged_once(
    client: httpx.AsyncClient, keys: KeyFactory, staff: dict[Role, dict[str, str]]
) -> None:
    # A creation answers from the values it wrote, without reading the order back: the answer,
    # its ETag and Location must be what a read of the stored order gives.
    boutique = await keys.headers(Role.PARTNER, partner_id=await keys.partner())
    intakes = [
        (staff[Role.COUNTER], {
            "accessories": [{"item": "box"}], "promised_date": "2099-03-01",
            "acknowledgement": {"signed_name": "C. Martin", "signed_at": "2026-11-20T09:30+01:00"},
            "deposit": {"amount": "40.00", "currency": "EUR"},
            "preapproved_ceiling": {"amount": "120.50", "currency": "EUR"},
            "deposited_at": "2026-11-20T08:15:00Z",
        }),
        (staff[Role.MANAGER], {"complaint": None}),
        (boutique, {"accessibility_needs": "Large print"}),
    ]  # fmt: skip
    for headers, fields in intakes:
        payload = {"customer": {"name": "Claire Martin"}, "watch": dict(WATCH), **fields}
        created = await client.post("/v1/repair-orders", json=payload, headers=headers)
        assert created.status_code == 201, created.text
        order = created.json()
        assert created.headers["location"] == f"/v1/repair-orders/{order['id']}"
        read = await client.get(created.headers["location"], headers=headers)
        assert read.json() == order
        assert read.headers["etag"] == created.headers["etag"] == '"1"'
        [event] = await events_of(client, headers, order["id"])
        assert (event["action"], event["from_status"], event["to_status"]) == (
            "create", None, order["status"]
        )  # fmt: skip
    assert order["status"] == "awaiting_arrival"
    assert order["partner_id"] is not None


async def test_intake_can_reuse_an_existing_customer_and_watch(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    customer = (await client.post("/v1/customers", json={"name": "Paul"}, headers=counter)).json()
    watch = (await client.post("/v1/watches", json=WATCH, headers=counter)).json()
    order = await create_order(
        client, counter, customer={"id": customer["id"]}, watch={"id": watch["id"]}
    )
    assert (order["customer_id"], order["watch_id"]) == (customer["id"], watch["id"])
    history = await client.get(f"/v1/repair-orders?watch_id={watch['id']}", headers=counter)
    assert [o["id"] for o in history.json()["items"]] == [order["id"]]
    unknown = await client.post(
        "/v1/repair-orders",
        json={"customer": {"id": "5f0c4d8e-1111-4222-8333-944455556666"}, "watch": WATCH},
        headers=counter,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["pointer"] == "/customer/id"


async def test_order_numbers_are_sequential_and_unique_under_concurrent_intake(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    orders = await asyncio.gather(*(create_order(client, staff[Role.COUNTER]) for _ in range(12)))
    numbers = sorted(o["number"] for o in orders)
    assert len(set(numbers)) == 12
    sequences = [int(n.split("-")[1]) for n in numbers]
    assert sequences == list(range(sequences[0], sequences[0] + 12))


async def test_withdrawn_watch_goes_back_unrepaired_with_a_complete_audit_trail(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter, technician = staff[Role.COUNTER], staff[Role.TECHNICIAN]
    order = await create_order(client, counter)
    oid = order["id"]
    await transition(client, technician, oid, "start_diagnosis")
    diagnosed = await transition(
        client, technician, oid, "complete_diagnosis",
        final_diagnosis="Mainspring broken", findings=["amplitude 150°"],
        parts_required=[{"reference": "ETA 2824 mainspring", "quantity": 1}],
    )  # fmt: skip
    assert diagnosed["diagnosis"]["final_diagnosis"] == "Mainspring broken"
    assert diagnosed["technician_name"] == "technician Dupont"
    no_reason = await client.post(
        f"/v1/repair-orders/{oid}/transitions", json={"action": "withdraw"}, headers=counter
    )
    assert no_reason.status_code == 422
    ready = await transition(client, counter, oid, "withdraw", reason="Too expensive")
    assert (ready["status"], ready["outcome"]) == ("ready", "unrepaired")
    assert ready["ready_at"] is not None
    returned = await transition(
        client, counter, oid, "hand_back",
        collected_by="Claire Martin", identity_check=identity_for(order),
    )  # fmt: skip
    assert returned["status"] == "returned"
    assert returned["warranty_until"] is None
    events = await events_of(client, counter, oid)
    assert [e["action"] for e in events] == [
        "create", "start_diagnosis", "complete_diagnosis", "withdraw", "hand_back",
    ]  # fmt: skip
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5]
    assert events[3]["reason"] == "Too expensive"
    assert events[3]["actor_name"] == "counter Dupont"
    assert events[3]["actor_role"] == "counter"
    assert replayed_status(events) == returned["status"]
    assert returned["version"] == len(events)


async def test_hand_back_needs_the_receipt_and_a_serial_check(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    order = await create_order(client, counter)
    await transition(client, counter, order["id"], "withdraw", reason="Changed mind")
    for check in (
        {**identity_for(order), "presented_reference": "2026-999999"},
        {**identity_for(order), "serial_confirmed": False},
    ):
        refused = await transition(
            client, counter, order["id"], "hand_back", 409, collected_by="X", identity_check=check
        )
        assert refused["reason"] == "identity-not-checked"
    by_token = {"proof": "tracking_link", "presented_reference": order["tracking_token"],
                "serial_confirmed": True}  # fmt: skip
    done = await transition(
        client, counter, order["id"], "hand_back", collected_by="Claire", identity_check=by_token
    )
    assert done["hand_back"]["identity_check"]["proof"] == "tracking_link"


async def test_wrong_state_is_409_with_the_allowed_actions_and_wrong_role_is_403(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], clean_database: Engine
) -> None:
    order = await create_order(client, staff[Role.COUNTER])
    wrong_state = await transition(client, staff[Role.TECHNICIAN], order["id"], "start_repair", 409)
    assert wrong_state["type"] == "/problems/invalid-transition"
    assert wrong_state["current_status"] == "received"
    assert wrong_state["allowed_actions"] == ["start_diagnosis"]
    wrong_role = await transition(client, staff[Role.COUNTER], order["id"], "start_diagnosis", 403)
    assert wrong_role["type"] == "/problems/forbidden"
    assert count(clean_database, OrderEvent) == 1


async def test_partner_order_awaits_arrival_then_is_received_or_cancelled(
    client: httpx.AsyncClient, keys: KeyFactory, staff: dict[Role, dict[str, str]]
) -> None:
    boutique = await keys.headers(Role.PARTNER, partner_id=await keys.partner())
    arriving = await create_order(client, boutique)
    assert arriving["status"] == "awaiting_arrival"
    assert arriving["deposited_at"] is None
    assert arriving["allowed_actions"] == ["cancel"]
    received = await transition(
        client, staff[Role.COUNTER], arriving["id"], "receive",
        condition_report=[{"part": "case", "defects": ["dents"]}],
    )  # fmt: skip
    assert received["status"] == "received"
    assert received["deposited_at"] is not None
    assert received["condition_report"] == [{"part": "case", "defects": ["dents"], "note": None}]
    cancelled_one = await create_order(client, boutique)
    cancelled = await transition(
        client, boutique, cancelled_one["id"], "cancel", reason="Customer collected it in store"
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["allowed_actions"] == []
    other = await keys.headers(Role.PARTNER, partner_id=await keys.partner("Other"))
    hidden = await client.post(
        f"/v1/repair-orders/{arriving['id']}/transitions",
        json={"action": "cancel", "reason": "x"},
        headers=other,
    )
    assert hidden.status_code == 404


async def test_stale_if_match_on_a_transition_is_412_and_changes_nothing(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    order = await create_order(client, staff[Role.COUNTER])
    response = await client.post(
        f"/v1/repair-orders/{order['id']}/transitions",
        json={"action": "start_diagnosis"},
        headers={**staff[Role.TECHNICIAN], "If-Match": '"7"'},
    )
    assert response.status_code == 412
    current = await client.get(f"/v1/repair-orders/{order['id']}", headers=staff[Role.COUNTER])
    assert current.json()["status"] == "received"
    assert current.headers["etag"] == '"1"'


async def test_concurrent_transitions_on_one_order_apply_once(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    order = await create_order(client, staff[Role.COUNTER])
    responses = await asyncio.gather(
        *(
            client.post(
                f"/v1/repair-orders/{order['id']}/transitions",
                json={"action": "start_diagnosis"},
                headers=staff[Role.TECHNICIAN],
            )
            for _ in range(8)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409}
    events = await events_of(client, staff[Role.COUNTER], order["id"])
    assert [e["action"] for e in events] == ["create", "start_diagnosis"]


async def test_a_retried_transition_with_its_key_is_replayed_not_reapplied(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    order = await create_order(client, staff[Role.COUNTER])
    headers = {**staff[Role.TECHNICIAN], "Idempotency-Key": "bench-7-diag"}
    url = f"/v1/repair-orders/{order['id']}/transitions"
    first = await client.post(url, json={"action": "start_diagnosis"}, headers=headers)
    again = await client.post(url, json={"action": "start_diagnosis"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["version"] == 2


async def test_list_filters_by_status_and_searches_number_serial_and_name(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    first = await create_order(client, counter, customer={"name": "Jeanne Dupont"})
    second = await create_order(
        client, counter, watch={**WATCH, "serial": "ZX-9981"}, customer={"name": "Paul"}
    )
    await transition(client, counter, second["id"], "withdraw", reason="No time")
    ready = await client.get("/v1/repair-orders?status=ready", headers=counter)
    assert [o["id"] for o in ready.json()["items"]] == [second["id"]]
    both = await client.get("/v1/repair-orders?status=ready&status=received", headers=counter)
    assert [o["id"] for o in both.json()["items"]] == [second["id"], first["id"]]
    for query, expected in (("dupont", first), ("ZX-99", second), (first["number"], first)):
        found = await client.get("/v1/repair-orders", params={"q": query}, headers=counter)
        assert [o["id"] for o in found.json()["items"]] == [expected["id"]], query
    bad_status = await client.get("/v1/repair-orders?status=lost", headers=counter)
    assert bad_status.status_code == 422


async def test_events_are_append_only_in_the_database(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], clean_database: Engine
) -> None:
    await create_order(client, staff[Role.COUNTER])
    with pytest.raises(DBAPIError), clean_database.begin() as connection:
        connection.execute(text("UPDATE order_events SET reason = 'rewritten'"))
    assert count(clean_database, RepairOrder) == 1


async def test_unclaimed_watch_is_abandoned_only_after_a_year_and_a_reminder(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], clock: TestClock
) -> None:
    counter, manager = staff[Role.COUNTER], staff[Role.MANAGER]
    order = await create_order(client, counter)
    early_reminder = await client.post(
        f"/v1/repair-orders/{order['id']}/reminders", json={"channel": "sms"}, headers=counter
    )
    assert early_reminder.status_code == 409
    await transition(client, counter, order["id"], "withdraw", reason="Will come back later")
    too_soon = await transition(client, manager, order["id"], "abandon", 409, reason="Unclaimed")
    assert too_soon["reason"] == "legal-delay-not-reached"
    clock.pin(datetime.now(UTC) + timedelta(days=400))
    no_reminder = await transition(client, manager, order["id"], "abandon", 409, reason="Unclaimed")
    assert no_reminder["reason"] == "no-reminder"
    reminder = await client.post(
        f"/v1/repair-orders/{order['id']}/reminders",
        json={"channel": "registered_letter", "note": "LRAR 1A 234 567 8901 2"},
        headers=counter,
    )
    assert reminder.status_code == 201
    assert reminder.json()["action"] == "send_reminder"
    notice = await transition(client, manager, order["id"], "abandon", 409, reason="Unclaimed")
    assert notice["reason"] == "notice-period-running"
    clock.advance(timedelta(days=8))
    abandoned = await transition(client, manager, order["id"], "abandon", reason="Unclaimed")
    assert abandoned["status"] == "abandoned"
    events = await events_of(client, counter, order["id"])
    assert [e["action"] for e in events][-2:] == ["send_reminder", "abandon"]
    assert replayed_status(events) == "abandoned"


async def test_partner_records_the_parcel_while_the_watch_is_awaited(
    client: httpx.AsyncClient, keys: KeyFactory, staff: dict[Role, dict[str, str]]
) -> None:
    boutique = await keys.headers(Role.PARTNER, partner_id=await keys.partner())
    order = await create_order(client, boutique)
    shipped = await client.post(
        f"/v1/repair-orders/{order['id']}/shipments",
        json={"carrier": "Colissimo", "tracking_number": "6A12345678901"},
        headers=boutique,
    )
    assert shipped.status_code == 200
    assert shipped.json()["inbound_shipment"]["carrier"] == "Colissimo"
    assert shipped.json()["status"] == "awaiting_arrival"
    await transition(client, staff[Role.COUNTER], order["id"], "receive")
    late = await client.post(
        f"/v1/repair-orders/{order['id']}/shipments",
        json={"carrier": "DHL", "tracking_number": "1"},
        headers=boutique,
    )
    assert late.status_code == 409


async def test_receipt_corrections_are_events_and_the_receipt_stays_as_printed(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    order = await create_order(client, counter, complaint="Stops at night")
    corrected = await client.post(
        f"/v1/repair-orders/{order['id']}/intake-corrections",
        json={"field": "complaint", "correction": "Stops in the morning",
              "reason": "Customer called back"},
        headers=counter,
    )  # fmt: skip
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["action"] == "correct_intake"
    assert corrected.json()["reason"] == "Customer called back"
    again = (await client.get(f"/v1/repair-orders/{order['id']}", headers=counter)).json()
    assert again["complaint"] == "Stops at night"
    assert again["version"] == 2


async def test_a_date_filter_is_text_not_seconds(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    """`promised_before=0` was read as 1970-01-01 (contract fuzzing found such numbers taken)."""
    for value in ("0", "20260101"):
        response = await client.get(
            f"/v1/repair-orders?promised_before={value}", headers=staff[Role.COUNTER]
        )
        assert response.status_code == 422, value
        assert response.json()["errors"][0]["pointer"] == "/query/promised_before"
    fine = await client.get(
        "/v1/repair-orders?promised_before=2026-12-31", headers=staff[Role.COUNTER]
    )
    assert fine.status_code == 200
