"""The public tracking link: the customer's view, nothing personal, abuse resistance."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from app.domain.roles import Role
from app.main import create_app
from app.schemas.tracking import TrackingView
from app.services import tracking as tracking_service
from app.settings import Settings
from tests.conftest import KeyFactory
from tests.factories import create_order, diagnosed_order, draft_quote, transition

PUBLIC_FIELDS = {
    "order_number",
    "watch",
    "status",
    "status_label",
    "language",
    "timeline",
    "promised_date",
    "outcome",
    "quote",
    "amount_due",
    "workshop",
}


@pytest.fixture
async def counter(keys: KeyFactory) -> dict[str, str]:
    return await keys.headers(Role.COUNTER, name="Sophie (counter)")


async def test_tracking_view_shows_progress_and_no_personal_data(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    order = await create_order(
        client,
        counter,
        customer={"name": "Claire Martin", "email": "claire@example.fr", "phone": "0611223344"},
        promised_date="2099-03-01",
    )
    await transition(client, counter, order["id"], "withdraw", reason="Secret internal note")
    response = await client.get(f"/v1/tracking/{order['tracking_token']}")
    assert response.status_code == 200
    view: dict[str, Any] = response.json()
    assert set(view) == PUBLIC_FIELDS
    assert set(view["watch"]) == {"brand", "model"}
    assert set(view["workshop"]) == {"name", "address", "phone", "email"}
    assert view["order_number"] == order["number"]
    assert view["status"] == "ready"
    assert view["status_label"] == "Prête à être retirée"
    assert [step["status"] for step in view["timeline"]] == ["received", "ready"]
    # Each step at its event's time, written as the event log writes it
    events = (await client.get(f"/v1/repair-orders/{order['id']}/events", headers=counter)).json()
    assert [step["at"] for step in view["timeline"]] == [
        event["occurred_at"] for event in events["items"]
    ]
    text = response.text
    for private in ("claire@example.fr", "0611223344", "Claire Martin", "Sophie", "Secret"):
        assert private not in text


async def test_tracking_labels_follow_accept_language(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    order = await create_order(client, counter)
    url = f"/v1/tracking/{order['tracking_token']}"
    english = await client.get(url, headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert english.json()["status_label"] == "Received at the workshop"
    assert english.json()["language"] == "en"
    weighted = await client.get(url, headers={"Accept-Language": "en;q=0.4, fr-CH;q=0.8"})
    assert weighted.json()["language"] == "fr"
    unknown = await client.get(url, headers={"Accept-Language": "de"})
    assert unknown.json()["language"] == "fr"


async def test_unknown_and_rotated_tokens_get_the_same_404(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    order = await create_order(client, counter)
    never = await client.get(f"/v1/tracking/{secrets.token_urlsafe(32)}")
    rotated = await client.post(f"/v1/repair-orders/{order['id']}/tracking-token", headers=counter)
    assert rotated.status_code == 200
    new_token = rotated.json()["tracking_token"]
    assert new_token != order["tracking_token"]
    old = await client.get(f"/v1/tracking/{order['tracking_token']}")
    assert old.status_code == never.status_code == 404
    assert {k: v for k, v in old.json().items() if k != "instance"} == {
        k: v for k, v in never.json().items() if k != "instance"
    }
    assert (await client.get(f"/v1/tracking/{new_token}")).status_code == 200


async def test_ten_thousand_random_tokens_find_nothing(
    app: Any, client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    for _ in range(20):
        await create_order(client, counter)
    db = app.state.runtime.db
    hits = 0
    async with db.new_session(write=False) as session:
        for _ in range(10_000):
            try:
                await tracking_service.order_for_token(session, secrets.token_urlsafe(32))
                hits += 1
            except Exception:  # NotFound: the expected answer
                pass
    assert hits == 0


async def test_public_endpoints_are_rate_limited_per_address_and_recover(
    settings: Settings, keys: KeyFactory
) -> None:
    limited = create_app(settings.model_copy(update={"tracking_rate_limit_per_minute": 3}))
    limiter = limited.state.runtime.tracking_limiter
    moment = [1000.0]
    limiter.clock = lambda: moment[0]
    transport = httpx.ASGITransport(app=limited, client=("203.0.113.7", 5000))
    other = httpx.ASGITransport(app=limited, client=("203.0.113.8", 5000))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://t") as first,
        httpx.AsyncClient(transport=other, base_url="http://t") as second,
    ):
        statuses = [(await first.get("/v1/tracking/nope")).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        blocked = await first.get("/v1/tracking/nope")
        assert blocked.headers["content-type"] == "application/problem+json"
        assert int(blocked.headers["retry-after"]) >= 1
        assert blocked.json()["retry_after"] >= 1
        assert (await second.get("/v1/tracking/nope")).status_code == 404
        # A minute later the window has slid past the old hits.
        moment[0] += 61
        assert (await first.get("/v1/tracking/nope")).status_code == 404
    await limited.state.runtime.db.dispose()


async def test_customer_approves_from_the_link_choosing_optional_lines(
    client: httpx.AsyncClient, counter: dict[str, str], keys: KeyFactory
) -> None:
    technician = await keys.headers(Role.TECHNICIAN)
    order = await diagnosed_order(client, counter, technician)
    await draft_quote(client, counter, order["id"])
    url = f"/v1/tracking/{order['tracking_token']}"
    assert (await client.get(url)).json()["quote"] is None
    await transition(client, counter, order["id"], "send_quote")
    view = (await client.get(url)).json()
    quote = view["quote"]
    assert quote["total_mandatory_incl_vat"]["amount"] == "292.20"
    assert quote["diagnosis_fee_if_declined"]["amount"] == "30.00"  # 25.00 + VAT
    assert set(quote["lines"][0]) == {
        "id",
        "description",
        "quantity",
        "mandatory",
        "total_incl_vat",
    }
    optional = [line["id"] for line in quote["lines"] if not line["mandatory"]]
    decided = await client.post(
        f"{url}/decision",
        json={"decision": "approve", "accepted_optional_lines": optional, "name": "Claire M."},
        headers={"User-Agent": "Mozilla/5.0 (tracking test)", "Accept-Language": "en"},
    )
    assert decided.status_code == 200
    assert decided.json()["status"] == "approved"
    assert decided.json()["status_label"] == "Quote accepted, repair scheduled"
    assert decided.json()["amount_due"]["amount"] == "388.20"
    revision = (
        await client.get(f"/v1/repair-orders/{order['id']}/quotes/1", headers=counter)
    ).json()
    assert revision["decision"]["channel"] == "online"
    assert revision["decision"]["decided_by"] == "Claire M."
    assert revision["decision"]["actor_role"] == "customer"
    assert revision["decision"]["user_agent"] == "Mozilla/5.0 (tracking test)"
    assert revision["decision"]["client_address"] == "127.0.0.1"
    again = await client.post(f"{url}/decision", json={"decision": "decline"})
    assert again.status_code == 409


async def test_the_page_shows_the_latest_quote_sent_never_a_newer_draft(
    client: httpx.AsyncClient, counter: dict[str, str], keys: KeyFactory
) -> None:
    technician = await keys.headers(Role.TECHNICIAN)
    order = await diagnosed_order(client, counter, technician)
    oid, url = order["id"], f"/v1/tracking/{order['tracking_token']}"
    await draft_quote(client, counter, oid)
    await transition(client, counter, oid, "send_quote")
    await transition(client, counter, oid, "approve_quote")
    await transition(client, technician, oid, "start_repair")
    await transition(client, technician, oid, "request_supplement", reason="Balance staff broken")
    await draft_quote(
        client, technician, oid,
        {"lines": [{"kind": "part", "reference": "Balance staff", "description": "Balance staff",
                    "unit_price": {"amount": "40.00"}, "mandatory": False}]},
    )  # fmt: skip
    first = (await client.get(url)).json()["quote"]
    assert (first["number"], first["status"]) == (1, "approved")
    assert first["total_all_lines_incl_vat"]["amount"] == "388.20"
    drafted = (await client.get(f"/v1/repair-orders/{oid}/quotes/1", headers=counter)).json()
    assert len(drafted["lines"]) > 1
    assert [line["id"] for line in first["lines"]] == [line["id"] for line in drafted["lines"]]
    await transition(client, counter, oid, "send_quote")
    supplement = (await client.get(url)).json()["quote"]
    assert (supplement["number"], supplement["status"]) == (2, "sent")
    assert [line["description"] for line in supplement["lines"]] == ["Balance staff"]
    assert supplement["lines"][0]["mandatory"] is False
    assert supplement["total_all_lines_incl_vat"]["amount"] == "48.00"
    assert supplement["total_mandatory_incl_vat"]["amount"] == "0.00"


async def test_customer_declines_from_the_link(
    client: httpx.AsyncClient, counter: dict[str, str], keys: KeyFactory
) -> None:
    order = await diagnosed_order(client, counter, await keys.headers(Role.TECHNICIAN))
    await draft_quote(client, counter, order["id"])
    await transition(client, counter, order["id"], "send_quote")
    declined = await client.post(
        f"/v1/tracking/{order['tracking_token']}/decision", json={"decision": "decline"}
    )
    assert declined.status_code == 200
    assert (declined.json()["status"], declined.json()["outcome"]) == ("ready", "unrepaired")
    assert declined.json()["amount_due"]["amount"] == "30.00"


async def test_cors_allows_listed_origins_without_credentials(settings: Settings) -> None:
    allowed = create_app(
        settings.model_copy(update={"cors_allow_origins": ["https://suivi.atelier.example"]})
    )
    transport = httpx.ASGITransport(app=allowed)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        listed = await client.get(
            "/v1/tracking/nope", headers={"Origin": "https://suivi.atelier.example"}
        )
        assert listed.headers["access-control-allow-origin"] == "https://suivi.atelier.example"
        assert "access-control-allow-credentials" not in listed.headers
        other = await client.get("/v1/tracking/nope", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    await allowed.state.runtime.db.dispose()


async def test_the_page_is_encoded_as_the_model_would_encode_it(
    client: httpx.AsyncClient, counter: dict[str, str], keys: KeyFactory
) -> None:
    """The GET builds its page from plain values (``view_values``) and skips the model: its
    bytes must be the model's, with and without a quote, in both languages."""
    technician = await keys.headers(Role.TECHNICIAN)
    plain = await create_order(client, counter, promised_date="2099-03-01")
    quoted = await diagnosed_order(client, counter, technician)
    await draft_quote(client, counter, quoted["id"])
    await transition(client, counter, quoted["id"], "send_quote")
    for order in (plain, quoted):
        for language in ("fr", "en"):
            response = await client.get(
                f"/v1/tracking/{order['tracking_token']}", headers={"Accept-Language": language}
            )
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            model = TrackingView.model_validate(response.json())
            assert response.content == model.model_dump_json().encode()
    assert response.json()["quote"]["lines"]
