"""Customers over HTTP: create, read, update with If-Match, list with cursors and filters."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.domain.roles import Role
from app.models import Customer
from tests.conftest import KeyFactory

PROBLEM = "application/problem+json"


@pytest.fixture
async def counter(keys: KeyFactory) -> dict[str, str]:
    return await keys.headers(Role.COUNTER)


def customer_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Customer)).scalar_one())


async def create_customer(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: object
) -> dict[str, object]:
    payload = {"name": "Claire Martin", "email": "claire@example.fr", **fields}
    response = await client.post("/v1/customers", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_created_customer_is_readable_with_its_etag(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/customers",
        json={
            "name": "Claire Martin",
            "email": "claire@example.fr",
            "phone": "+33 6 12 34 56 78",
            "preferred_language": "en",
            "accessibility_needs": "Low vision: large print receipt",
            "contact_consent": True,
        },
        headers=counter,
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/customers/{body['id']}"
    assert body["version"] == 1
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")
    read = await client.get(f"/v1/customers/{body['id']}", headers=counter)
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == '"1"'


async def test_update_needs_if_match_and_refuses_a_stale_version(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    customer = await create_customer(client, counter)
    url = f"/v1/customers/{customer['id']}"
    missing = await client.patch(url, json={"phone": "0612345678"}, headers=counter)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == PROBLEM
    updated = await client.patch(
        url, json={"phone": "0612345678"}, headers={**counter, "If-Match": '"1"'}
    )
    assert updated.status_code == 200
    assert updated.json()["phone"] == "0612345678"
    assert updated.json()["version"] == 2
    assert updated.headers["etag"] == '"2"'
    stale = await client.patch(
        url, json={"phone": "0700000000"}, headers={**counter, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/version-mismatch"
    assert (await client.get(url, headers=counter)).json()["phone"] == "0612345678"


async def test_update_refuses_null_for_a_required_field(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    customer = await create_customer(client, counter)
    response = await client.patch(
        f"/v1/customers/{customer['id']}",
        json={"name": None},
        headers={**counter, "If-Match": '"1"'},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/name"


async def test_invalid_input_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, counter: dict[str, str], clean_database: Engine
) -> None:
    cases = [
        ({"name": "A", "unknown_field": 1}, "/unknown_field"),
        ({"name": 42}, "/name"),
        ({"name": "   "}, "/name"),
        ({"name": "x" * 201}, "/name"),
        ({"name": "A", "email": "not-an-email"}, "/email"),
        ({"name": "A", "preferred_language": "de"}, "/preferred_language"),
        ({"name": "nul\u0000byte"}, "/name"),
        # A JSON boolean only, as the contract says: not 0, 1 or a word (contract fuzzing).
        ({"name": "A", "contact_consent": 0}, "/contact_consent"),
        ({"name": "A", "contact_consent": 1}, "/contact_consent"),
        ({"name": "A", "contact_consent": "yes"}, "/contact_consent"),
    ]
    for payload, pointer in cases:
        response = await client.post("/v1/customers", json=payload, headers=counter)
        assert response.status_code == 422, payload
        assert response.headers["content-type"] == PROBLEM
        assert pointer in [error["pointer"] for error in response.json()["errors"]], payload
    malformed = await client.post(
        "/v1/customers",
        content=b'{"name": ',
        headers={**counter, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["type"] == "/problems/malformed-json"
    assert customer_count(clean_database) == 0


async def test_huge_body_is_refused_with_413(
    client: httpx.AsyncClient, counter: dict[str, str], clean_database: Engine
) -> None:
    payload = {"name": "A", "accessibility_needs": "x" * 100_000}
    response = await client.post("/v1/customers", json=payload, headers=counter)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert customer_count(clean_database) == 0


async def test_unknown_id_and_malformed_id(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    unknown = await client.get(
        "/v1/customers/6f1c2a9e-0000-4000-8000-000000000000", headers=counter
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/not-found"
    malformed = await client.get("/v1/customers/not-a-uuid", headers=counter)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["pointer"] == "/path/customer_id"


async def test_list_walks_pages_newest_first_without_duplicates_while_rows_are_added(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    created = [(await create_customer(client, counter, name=f"Client {i}"))["id"] for i in range(7)]
    first = await client.get("/v1/customers?limit=3", headers=counter)
    assert first.status_code == 200
    page = first.json()
    seen = [item["id"] for item in page["items"]]
    assert seen == list(reversed(created))[:3]
    # A customer created while paging appears on no later page and shifts nothing.
    await create_customer(client, counter, name="Late arrival")
    cursor = page["next_cursor"]
    while cursor:
        response = await client.get(f"/v1/customers?limit=3&cursor={cursor}", headers=counter)
        assert response.status_code == 200
        seen += [item["id"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
    assert seen == list(reversed(created))


async def test_cursor_is_bound_to_its_filters_and_garbage_is_refused(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    for i in range(3):
        await create_customer(client, counter, name=f"Martin {i}")
    page = (await client.get("/v1/customers?limit=1&q=Martin", headers=counter)).json()
    other_filter = await client.get(
        f"/v1/customers?limit=1&q=Dupont&cursor={page['next_cursor']}", headers=counter
    )
    assert other_filter.status_code == 400
    assert other_filter.json()["type"] == "/problems/invalid-cursor"
    garbage = await client.get("/v1/customers?cursor=%%%not-base64", headers=counter)
    assert garbage.status_code == 400
    too_many = await client.get("/v1/customers?limit=201", headers=counter)
    assert too_many.status_code == 422


async def test_search_matches_name_email_and_phone(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    await create_customer(client, counter, name="Jeanne Dupont", email="jd@example.fr")
    await create_customer(client, counter, name="Paul Leroy", email="paul@atelier.fr", phone="0611")
    by_name = (await client.get("/v1/customers?q=dupont", headers=counter)).json()["items"]
    assert [c["name"] for c in by_name] == ["Jeanne Dupont"]
    by_mail = (await client.get("/v1/customers?q=atelier.fr", headers=counter)).json()["items"]
    assert [c["name"] for c in by_mail] == ["Paul Leroy"]
    exact = (await client.get("/v1/customers?email=jd@example.fr", headers=counter)).json()
    assert [c["name"] for c in exact["items"]] == ["Jeanne Dupont"]


async def test_updated_after_supports_incremental_sync(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    first = await create_customer(client, counter, name="Ancien")
    mark = first["updated_at"]
    second = await create_customer(client, counter, name="Nouveau")
    response = await client.get("/v1/customers", params={"updated_after": mark}, headers=counter)
    assert [c["id"] for c in response.json()["items"]] == [second["id"]]
    naive = await client.get(
        "/v1/customers", params={"updated_after": "2026-01-01T00:00:00"}, headers=counter
    )
    assert naive.status_code == 422


async def test_technician_reads_but_cannot_create_customers(
    client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    technician = await keys.headers(Role.TECHNICIAN)
    assert (await client.get("/v1/customers", headers=technician)).status_code == 200
    refused = await client.post("/v1/customers", json={"name": "X"}, headers=technician)
    assert refused.status_code == 403


async def test_partner_sees_only_its_own_customers(
    client: httpx.AsyncClient, keys: KeyFactory, counter: dict[str, str]
) -> None:
    boutique_a = await keys.headers(Role.PARTNER, partner_id=await keys.partner("A"))
    boutique_b = await keys.headers(Role.PARTNER, partner_id=await keys.partner("B"))
    mine = await create_customer(client, boutique_a, name="Client de A")
    await create_customer(client, counter, name="Client de l'atelier")
    assert mine["partner_id"] is not None
    listed = (await client.get("/v1/customers", headers=boutique_a)).json()["items"]
    assert [c["id"] for c in listed] == [mine["id"]]
    assert (await client.get(f"/v1/customers/{mine['id']}", headers=boutique_b)).status_code == 404
    assert (await client.get("/v1/customers", headers=boutique_b)).json()["items"] == []
    staff_view = (await client.get("/v1/customers", headers=counter)).json()["items"]
    assert len(staff_view) == 2


async def test_a_time_filter_is_text_not_seconds(
    client: httpx.AsyncClient, counter: dict[str, str]
) -> None:
    """`updated_after=0.5` was read as half a second after 1970 (contract fuzzing)."""
    for value in ("0.5", "20260101"):
        response = await client.get(f"/v1/customers?updated_after={value}", headers=counter)
        assert response.status_code == 422, value
        assert response.headers["content-type"] == PROBLEM
    fine = await client.get("/v1/customers?updated_after=2026-01-01T00:00:00Z", headers=counter)
    assert fine.status_code == 200
