"""Watches over HTTP, and concurrent writers on one resource."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.domain.roles import Role
from tests.conftest import KeyFactory


@pytest.fixture
async def counter(keys: KeyFactory) -> dict[str, str]:
    return await keys.headers(Role.COUNTER)


WATCH = {
    "brand": "Omega",
    "model": "Seamaster 300",
    "reference": "2254.50",
    "serial": "56781234",
    "caliber": "1120",
    "movement_type": "automatic",
    "beat_rate": 28800,
    "lift_angle": "52",
}


async def test_watch_identity_round_trips(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    owner = (await client.post("/v1/customers", json={"name": "Claire"}, headers=counter)).json()
    created = await client.post(
        "/v1/watches", json={**WATCH, "customer_id": owner["id"]}, headers=counter
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["lift_angle"] == "52.0"
    assert body["customer_id"] == owner["id"]
    read = await client.get(f"/v1/watches/{body['id']}", headers=counter)
    assert read.json() == body


async def test_implausible_watch_data_is_refused(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    for field, value in [
        ("movement_type", "solar"),
        ("beat_rate", 1_000_000),
        ("lift_angle", "90"),
        ("lift_angle", 1e27),  # once a 500: quantized before its bounds were checked
        ("lift_angle", "NaN"),
        # As text, what the contract's pattern takes and nothing else (contract fuzzing).
        ("lift_angle", " 52"),
        ("lift_angle", "5.2e1"),
        ("lift_angle", "60.5"),
        ("brand", ""),
    ]:
        response = await client.post("/v1/watches", json={**WATCH, field: value}, headers=counter)
        assert response.status_code == 422, field
        assert response.json()["errors"][0]["pointer"] == f"/{field}"


async def test_a_lift_angle_in_any_precision_is_kept_to_a_tenth_of_a_degree(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    """The contract's number takes any precision: a measured 49.732… was once refused by a
    four-digit limit the contract did not state (contract fuzzing)."""
    for sent, kept in [(49.73259835234628, "49.7"), (52.25, "52.2"), ("59.96", "60.0")]:
        created = await client.post(
            "/v1/watches", json={**WATCH, "lift_angle": sent}, headers=counter
        )
        assert created.status_code == 201, (sent, created.text)
        assert created.json()["lift_angle"] == kept


async def test_unknown_owner_is_refused_with_a_pointer(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/watches",
        json={**WATCH, "customer_id": "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"},
        headers=counter,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/customer_id"


async def test_filters_by_serial_customer_and_movement(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    owner = (await client.post("/v1/customers", json={"name": "Paul"}, headers=counter)).json()
    await client.post("/v1/watches", json={**WATCH, "customer_id": owner["id"]}, headers=counter)
    await client.post(
        "/v1/watches",
        json={"brand": "Seiko", "movement_type": "quartz", "serial": "Q1"},
        headers=counter,
    )
    by_serial = (await client.get("/v1/watches?serial=Q1", headers=counter)).json()["items"]
    assert [w["brand"] for w in by_serial] == ["Seiko"]
    by_owner = (await client.get(f"/v1/watches?customer_id={owner['id']}", headers=counter)).json()[
        "items"
    ]
    assert [w["brand"] for w in by_owner] == ["Omega"]
    quartz = (await client.get("/v1/watches?movement_type=quartz", headers=counter)).json()
    assert [w["brand"] for w in quartz["items"]] == ["Seiko"]
    searched = (await client.get("/v1/watches?q=seamaster", headers=counter)).json()["items"]
    assert [w["brand"] for w in searched] == ["Omega"]


async def test_concurrent_updates_with_the_same_version_one_wins(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    watch = (await client.post("/v1/watches", json=WATCH, headers=counter)).json()
    url = f"/v1/watches/{watch['id']}"
    headers = {**counter, "If-Match": '"1"'}
    responses = await asyncio.gather(
        *(client.patch(url, json={"caliber": f"11{i:02d}"}, headers=headers) for i in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert all(s == 412 for s in statuses if s != 200)
    final = (await client.get(url, headers=counter)).json()
    assert final["version"] == 2


async def test_concurrent_posts_with_one_idempotency_key_create_one_watch(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    headers = {**counter, "Idempotency-Key": "pos-retry-storm"}
    responses = await asyncio.gather(
        *(client.post("/v1/watches", json=WATCH, headers=headers) for _ in range(6))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created_ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created_ids) == 1
    listed = (await client.get("/v1/watches", headers=counter)).json()["items"]
    assert len(listed) == 1
