"""Quotes over HTTP: drafting, totals, review, the customer's decision, supplement, invoice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app import cli
from app.domain.roles import Role
from app.settings import Settings, get_settings
from tests.conftest import KeyFactory, TestClock
from tests.factories import (
    SERVICE_QUOTE,
    create_order,
    diagnosed_order,
    draft_quote,
    identity_for,
    transition,
)


@pytest.fixture
async def staff(keys: KeyFactory) -> dict[Role, dict[str, str]]:
    return {
        role: await keys.headers(role, name=f"{role.value} Durand")
        for role in (Role.COUNTER, Role.TECHNICIAN, Role.MANAGER)
    }


async def test_catalogue_is_seeded_with_prices_excl_and_incl_vat(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    response = await client.get("/v1/catalog/services", headers=staff[Role.TECHNICIAN])
    assert response.status_code == 200
    services = {s["code"]: s for s in response.json()["items"]}
    assert {"battery", "service_automatic", "water_test", "diagnosis"} <= set(services)
    automatic = services["service_automatic"]
    assert automatic["price_excl_vat"] == {"amount": "225.00", "currency": "EUR"}
    assert automatic["price_incl_vat"] == {"amount": "270.00", "currency": "EUR"}
    assert automatic["vat_rate"] == "0.2"
    assert automatic["warranty_months"] == 24


async def test_manager_edits_the_catalogue_and_others_cannot(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    created = await client.post(
        "/v1/catalog/services",
        json={"code": "bezel_insert", "name_fr": "Insert de lunette", "name_en": "Bezel insert",
              "labour_minutes": 30, "price_excl_vat": {"amount": "40.00"}},
        headers=staff[Role.MANAGER],
    )  # fmt: skip
    assert created.status_code == 201
    duplicate = await client.post(
        "/v1/catalog/services",
        json={"code": "bezel_insert", "name_fr": "x", "name_en": "x", "labour_minutes": 1,
              "price_excl_vat": {"amount": "1"}},
        headers=staff[Role.MANAGER],
    )  # fmt: skip
    assert duplicate.status_code == 409
    changed = await client.patch(
        "/v1/catalog/services/bezel_insert",
        json={"price_excl_vat": {"amount": "45.00"}},
        headers={**staff[Role.MANAGER], "If-Match": '"1"'},
    )
    assert changed.json()["price_incl_vat"]["amount"] == "54.00"
    refused = await client.patch(
        "/v1/catalog/services/bezel_insert",
        json={"active": False},
        headers={**staff[Role.COUNTER], "If-Match": '"2"'},
    )
    assert refused.status_code == 403


async def test_draft_totals_are_exact_per_line_and_per_rate(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    order = await diagnosed_order(client, staff[Role.COUNTER], staff[Role.TECHNICIAN])
    quote = await draft_quote(client, staff[Role.TECHNICIAN], order["id"])
    assert quote["status"] == "draft"
    assert quote["number"] == 1
    assert quote["supplement"] is False
    # 225.00 + 18.50 (mandatory) + 80.00 (optional polishing) excl. VAT at 20 %
    assert quote["totals_mandatory"]["excl_vat"]["amount"] == "243.50"
    assert quote["totals_mandatory"]["vat"]["amount"] == "48.70"
    assert quote["totals_mandatory"]["incl_vat"]["amount"] == "292.20"
    assert quote["totals_all_lines"]["incl_vat"]["amount"] == "388.20"
    assert quote["totals_all_lines"]["vat_breakdown"] == [
        {"rate": "0.2", "base": {"amount": "323.50", "currency": "EUR"},
         "vat": {"amount": "64.70", "currency": "EUR"}},
    ]  # fmt: skip
    assert [line["kind"] for line in quote["lines"]] == ["service", "part", "service"]
    assert quote["lines"][0]["labour_minutes"] == 270


async def test_unknown_service_code_is_refused_with_a_pointer(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    order = await diagnosed_order(client, staff[Role.COUNTER], staff[Role.TECHNICIAN])
    response = await client.post(
        f"/v1/repair-orders/{order['id']}/quotes",
        json={"lines": [{"kind": "service", "code": "teleportation"}]},
        headers=staff[Role.COUNTER],
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/lines/0/code"


async def test_repaired_path_from_quote_to_invoice(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter, technician, manager = staff[Role.COUNTER], staff[Role.TECHNICIAN], staff[Role.MANAGER]
    order = await diagnosed_order(client, counter, technician, deposit={"amount": "50.00"})
    oid = order["id"]
    quote = await draft_quote(client, technician, oid)
    blocked = await transition(client, technician, oid, "start_repair", 409)
    assert blocked["type"] == "/problems/invalid-transition"
    await transition(client, counter, oid, "send_quote")
    sent = (await client.get(f"/v1/repair-orders/{oid}/quotes/1", headers=counter)).json()
    assert sent["status"] == "sent"
    assert sent["valid_until"] == (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    locked = await client.patch(
        f"/v1/repair-orders/{oid}/quotes/1", json={"note": "x"},
        headers={**counter, "If-Match": f'"{sent["version"]}"'},
    )  # fmt: skip
    assert locked.status_code == 409
    assert locked.json()["type"] == "/problems/quote-locked"
    polishing = quote["lines"][2]["id"]
    mandatory = quote["lines"][0]["id"]
    not_optional = await transition(
        client, counter, oid, "approve_quote", 422, accepted_optional_lines=[mandatory]
    )
    assert not_optional["errors"][0]["pointer"] == "/accepted_optional_lines/0"
    approved = await transition(
        client, counter, oid, "approve_quote",
        channel="phone", decided_by="Claire Martin", accepted_optional_lines=[polishing],
    )  # fmt: skip
    assert approved["approved_total"]["amount"] == "388.20"
    assert approved["amount_due"]["amount"] == "338.20"
    decided = (await client.get(f"/v1/repair-orders/{oid}/quotes/1", headers=counter)).json()
    assert decided["decision"]["channel"] == "phone"
    assert decided["decision"]["decided_by"] == "Claire Martin"
    assert decided["decision"]["accepted_optional_lines"] == [polishing]
    await transition(client, technician, oid, "start_repair")
    await transition(client, technician, oid, "submit_for_qc")
    ready = await transition(
        client, manager, oid, "pass_qc", override=True, reason="Timing checked by hand"
    )
    assert (ready["status"], ready["outcome"]) == ("ready", "repaired")
    returned = await transition(
        client, counter, oid, "hand_back", collected_by="Claire Martin",
        identity_check=identity_for(order),
    )  # fmt: skip
    today = datetime.now(UTC).date()
    assert returned["warranty_until"] == today.replace(year=today.year + 2).isoformat()
    invoice = (await client.get(f"/v1/repair-orders/{oid}/invoice", headers=counter)).json()
    document = invoice["document"]
    assert invoice["number"].startswith(f"F-{today.year}-")
    assert document["totals"]["incl_vat"]["amount"] == "388.20"
    assert document["deposit"]["amount"] == "50.00"
    assert document["amount_due"]["amount"] == "338.20"
    assert document["customer"]["name"] == "Claire Martin"
    assert [line["code"] for line in document["lines"]] == [
        "service_automatic", "ETA 2824-2 mainspring", "polishing",
    ]  # fmt: skip
    assert document["lines"][2]["warranty_until"] is None
    assert document["workshop"]["name"]
    assert "mediator" in document
    assert document["compulsory"] is True


async def test_quote_above_threshold_needs_the_managers_approval(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter, manager = staff[Role.COUNTER], staff[Role.MANAGER]
    order = await diagnosed_order(client, counter, staff[Role.TECHNICIAN])
    expensive = {"lines": [{"kind": "part", "reference": "Dial", "description": "Original dial",
                            "unit_price": {"amount": "900.00"}}]}  # fmt: skip
    quote = await draft_quote(client, counter, order["id"], expensive)
    assert quote["needs_manager_review"] is True
    refused = await transition(client, counter, order["id"], "send_quote", 409)
    assert refused["reason"] == "quote-review-required"
    not_manager = await client.post(
        f"/v1/repair-orders/{order['id']}/quotes/1/manager-approval", headers=counter
    )
    assert not_manager.status_code == 403
    reviewed = await client.post(
        f"/v1/repair-orders/{order['id']}/quotes/1/manager-approval", headers=manager
    )
    assert reviewed.json()["manager_approved_by"] == "manager Durand"
    assert (await transition(client, counter, order["id"], "send_quote"))["status"] == "quote_sent"


async def test_declined_quote_returns_the_watch_unrepaired_with_the_fee_due(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    order = await diagnosed_order(client, counter, staff[Role.TECHNICIAN])
    await draft_quote(client, counter, order["id"])
    await transition(client, counter, order["id"], "send_quote")
    declined = await transition(client, counter, order["id"], "decline_quote", reason="Too dear")
    assert (declined["status"], declined["outcome"]) == ("ready", "unrepaired")
    # The fee is announced excl. VAT (25.00) and charged with VAT.
    assert declined["fee_due"]["amount"] == "30.00"
    assert declined["amount_due"]["amount"] == "30.00"
    await transition(
        client, counter, order["id"], "hand_back", collected_by="Claire",
        identity_check=identity_for(order),
    )  # fmt: skip
    invoice = await client.get(f"/v1/repair-orders/{order['id']}/invoice", headers=counter)
    document = invoice.json()["document"]
    assert [line["code"] for line in document["lines"]] == ["diagnosis"]
    assert document["lines"][0]["total_excl_vat"]["amount"] == "25.00"
    assert document["totals"]["vat"]["amount"] == "5.00"
    assert document["totals"]["incl_vat"]["amount"] == "30.00"
    assert invoice.json()["document"]["compulsory"] is True


async def test_expired_quote_cannot_be_approved_and_goes_back_to_diagnosed(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], clock: TestClock
) -> None:
    counter, manager = staff[Role.COUNTER], staff[Role.MANAGER]
    order = await diagnosed_order(client, counter, staff[Role.TECHNICIAN])
    await draft_quote(client, counter, order["id"])
    await transition(client, counter, order["id"], "send_quote")
    still_valid = await transition(client, manager, order["id"], "expire_quote", 409)
    assert still_valid["reason"] == "quote-still-valid"
    clock.pin(datetime.now(UTC) + timedelta(days=31))
    late = await transition(client, counter, order["id"], "approve_quote", 409)
    assert late["reason"] == "quote-expired"
    expired = await transition(client, manager, order["id"], "expire_quote")
    assert expired["status"] == "diagnosed"
    revisions = await client.get(f"/v1/repair-orders/{order['id']}/quotes", headers=counter)
    assert [r["status"] for r in revisions.json()["items"]] == ["expired"]
    second = await draft_quote(client, counter, order["id"])
    assert second["number"] == 2


async def test_quote_within_the_preapproved_ceiling_is_approved_at_once(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    order = await diagnosed_order(
        client, counter, staff[Role.TECHNICIAN], preapproved_ceiling={"amount": "300.00"}
    )
    await draft_quote(client, counter, order["id"])  # mandatory lines: 292.20 incl. VAT
    sent = await transition(client, counter, order["id"], "send_quote")
    assert sent["status"] == "approved"
    quote = (await client.get(f"/v1/repair-orders/{order['id']}/quotes/1", headers=counter)).json()
    assert quote["decision"]["channel"] == "preapproved_ceiling"
    assert quote["decision"]["auto_approved"] is True
    assert quote["approved_total"]["amount"] == "292.20"
    events = (await client.get(f"/v1/repair-orders/{order['id']}/events", headers=counter)).json()
    assert [e["action"] for e in events["items"]][-2:] == ["send_quote", "approve_quote"]
    assert events["items"][-1]["actor_role"] == "system"


async def test_quote_above_the_ceiling_waits_for_the_customer(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    order = await diagnosed_order(
        client, counter, staff[Role.TECHNICIAN], preapproved_ceiling={"amount": "292.19"}
    )
    await draft_quote(client, counter, order["id"])
    assert (await transition(client, counter, order["id"], "send_quote"))["status"] == "quote_sent"


async def test_supplementary_quote_must_be_approved_before_the_repair_resumes(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter, technician = staff[Role.COUNTER], staff[Role.TECHNICIAN]
    order = await diagnosed_order(client, counter, technician)
    oid = order["id"]
    await draft_quote(client, counter, oid)
    await transition(client, counter, oid, "send_quote")
    await transition(client, counter, oid, "approve_quote")
    await transition(client, technician, oid, "start_repair")
    back = await transition(
        client, technician, oid, "request_supplement", reason="Balance staff broken"
    )
    assert back["status"] == "diagnosed"
    supplement = await draft_quote(
        client, technician, oid,
        {"lines": [{"kind": "part", "reference": "Balance staff", "description": "Balance staff",
                    "unit_price": {"amount": "40.00"}}]},
    )  # fmt: skip
    assert (supplement["number"], supplement["supplement"]) == (2, True)
    await transition(client, counter, oid, "send_quote")
    not_yet = await transition(client, technician, oid, "start_repair", 409)
    assert not_yet["type"] == "/problems/invalid-transition"
    approved = await transition(client, counter, oid, "approve_quote")
    assert approved["approved_total"]["amount"] == "340.20"  # 292.20 + 48.00
    assert (await transition(client, technician, oid, "start_repair"))["status"] == "in_repair"
    history = (await client.get(f"/v1/repair-orders/{oid}/quotes", headers=counter)).json()
    assert [(r["number"], r["status"]) for r in history["items"]] == [
        (1, "approved"), (2, "approved"),
    ]  # fmt: skip


async def test_one_draft_at_a_time_and_only_once_diagnosed(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter = staff[Role.COUNTER]
    order = await diagnosed_order(client, counter, staff[Role.TECHNICIAN])
    await draft_quote(client, counter, order["id"])
    second = await client.post(
        f"/v1/repair-orders/{order['id']}/quotes", json=SERVICE_QUOTE, headers=counter
    )
    assert second.status_code == 409
    assert second.json()["type"] == "/problems/quote-draft-exists"


async def test_the_expiry_command_sends_stale_quotes_back_to_diagnosed(
    settings: Settings,
    app: Any,
    clean_database: Engine,
    monkeypatch: pytest.MonkeyPatch,
    clock: TestClock,
) -> None:
    # The quote is sent 40 days ago: its 30-day validity ended 10 days ago.
    clock.pin(datetime.now(UTC) - timedelta(days=40))

    async def prepare() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            factory = KeyFactory(app)
            counter = await factory.headers(Role.COUNTER)
            order = await diagnosed_order(client, counter, await factory.headers(Role.TECHNICIAN))
            await draft_quote(client, counter, order["id"])
            await transition(client, counter, order["id"], "send_quote")
            return str(order["id"])

    order_id = await prepare()
    monkeypatch.setenv("ATELIER_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        assert await asyncio.to_thread(cli.main, ["quotes", "expire"]) == 0
    finally:
        get_settings.cache_clear()
    with clean_database.connect() as connection:
        status = connection.execute(
            text("SELECT status FROM repair_orders WHERE id = :id"),
            {
                "id": uuid.UUID(order_id).hex
                if clean_database.dialect.name == "sqlite"
                else order_id
            },
        ).scalar_one()
    assert status == "diagnosed"


async def returned_repaired(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> dict[str, Any]:
    counter, technician, manager = staff[Role.COUNTER], staff[Role.TECHNICIAN], staff[Role.MANAGER]
    order = await diagnosed_order(client, counter, technician)
    await draft_quote(client, counter, order["id"])
    await transition(client, counter, order["id"], "send_quote")
    await transition(client, counter, order["id"], "approve_quote")
    await transition(client, technician, order["id"], "start_repair")
    await transition(client, technician, order["id"], "submit_for_qc")
    await transition(client, manager, order["id"], "pass_qc", override=True, reason="Checked")
    return await transition(
        client, counter, order["id"], "hand_back", collected_by="Claire",
        identity_check=identity_for(order),
    )  # fmt: skip


async def test_warranty_claim_opens_a_free_linked_order_while_the_warranty_runs(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], clock: TestClock
) -> None:
    counter = staff[Role.COUNTER]
    returned = await returned_repaired(client, staff)
    claim = await client.post(
        f"/v1/repair-orders/{returned['id']}/warranty-claims",
        json={"complaint": "Stops again after two months"},
        headers=counter,
    )
    assert claim.status_code == 201, claim.text
    body = claim.json()
    assert (body["status"], body["warranty_of"], body["free_of_charge"]) == (
        "received", returned["id"], True,
    )  # fmt: skip
    assert body["watch_id"] == returned["watch_id"]
    assert body["number"] != returned["number"]
    events = (await client.get(f"/v1/repair-orders/{body['id']}/events", headers=counter)).json()
    assert events["items"][0]["action"] == "open_warranty_claim"
    clock.pin(datetime.now(UTC) + timedelta(days=800))
    expired = await client.post(
        f"/v1/repair-orders/{returned['id']}/warranty-claims", json={}, headers=counter
    )
    assert expired.status_code == 409
    assert expired.json()["reason"] == "warranty-expired"
    unrepaired = await diagnosed_order(client, counter, staff[Role.TECHNICIAN])
    not_returned = await client.post(
        f"/v1/repair-orders/{unrepaired['id']}/warranty-claims", json={}, headers=counter
    )
    assert not_returned.status_code == 409


async def test_partner_decides_on_the_quote_of_its_own_order(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], keys: KeyFactory
) -> None:
    counter, technician = staff[Role.COUNTER], staff[Role.TECHNICIAN]
    boutique = await keys.headers(Role.PARTNER, name="Bijouterie du Port",
                                  partner_id=await keys.partner())  # fmt: skip
    order = await create_order(client, boutique)
    await transition(client, counter, order["id"], "receive")
    await transition(client, technician, order["id"], "start_diagnosis")
    await transition(client, technician, order["id"], "complete_diagnosis", final_diagnosis="Due")
    await draft_quote(client, counter, order["id"])
    await transition(client, counter, order["id"], "send_quote")
    seen = await client.get(f"/v1/repair-orders/{order['id']}/quotes/1", headers=boutique)
    assert seen.status_code == 200
    approved = await transition(client, boutique, order["id"], "approve_quote", channel="partner")
    assert approved["status"] == "approved"
    decision = (
        await client.get(f"/v1/repair-orders/{order['id']}/quotes/1", headers=boutique)
    ).json()
    assert decision["decision"]["channel"] == "partner"
    assert decision["decision"]["decided_by"] == "Bijouterie du Port"
