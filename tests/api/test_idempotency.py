"""Idempotency-Key on POST: replays, conflicts, scoping, and failures that store nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app import cli
from app.domain.roles import Role
from app.models import Customer, IdempotencyRecord
from app.settings import Settings, get_settings
from tests.conftest import KeyFactory, TestClock


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


async def test_retry_with_same_key_replays_the_first_response(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    counter = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "pos-1-order-77"}
    first = await client.post("/v1/customers", json={"name": "Claire"}, headers=counter)
    again = await client.post("/v1/customers", json={"name": "Claire"}, headers=counter)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    assert count(clean_database, Customer) == 1


async def test_same_json_with_other_spacing_is_the_same_request(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    headers = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "k-spacing"}
    headers["Content-Type"] = "application/json"
    first = await client.post(
        "/v1/customers", content=b'{"name":"A","phone":"0611"}', headers=headers
    )
    again = await client.post(
        "/v1/customers", content=b'{ "phone": "0611",  "name": "A" }', headers=headers
    )
    assert first.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert count(clean_database, Customer) == 1


async def test_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    headers = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "k-1"}
    await client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
    other = await client.post("/v1/customers", json={"name": "Paul"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert count(clean_database, Customer) == 1


async def test_keys_are_scoped_to_the_calling_api_key(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    pos_one = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "shared"}
    pos_two = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "shared"}
    first = await client.post("/v1/customers", json={"name": "Claire"}, headers=pos_one)
    second = await client.post("/v1/customers", json={"name": "Claire"}, headers=pos_two)
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    assert count(clean_database, Customer) == 2


async def test_a_failed_request_stores_no_key_so_a_corrected_retry_runs(
    client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    headers = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "k-fix"}
    bad = await client.post("/v1/customers", json={"name": ""}, headers=headers)
    assert bad.status_code == 422
    assert count(clean_database, IdempotencyRecord) == 0
    good = await client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
    assert good.status_code == 201
    assert count(clean_database, IdempotencyRecord) == 1


async def test_an_unusable_key_is_a_400(client: httpx.AsyncClient, keys: KeyFactory) -> None:
    headers = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "x" * 256}
    response = await client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-idempotency-key"


async def test_records_past_the_retention_are_purged_and_recent_ones_kept(
    settings: Settings, app: Any, clean_database: Engine, monkeypatch: pytest.MonkeyPatch,
    clock: TestClock,
) -> None:  # fmt: skip
    async def two_requests() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = await KeyFactory(app).headers(Role.COUNTER)
            clock.pin(datetime.now(UTC) - timedelta(hours=25))
            await client.post("/v1/customers", json={"name": "Old"},
                              headers={**headers, "Idempotency-Key": "old"})  # fmt: skip
            clock.release()
            await client.post("/v1/customers", json={"name": "New"},
                              headers={**headers, "Idempotency-Key": "new"})  # fmt: skip

    await two_requests()
    monkeypatch.setenv("ATELIER_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        assert await asyncio.to_thread(cli.main, ["idempotency", "purge"]) == 0
    finally:
        get_settings.cache_clear()
    with clean_database.connect() as connection:
        keys = connection.execute(select(IdempotencyRecord.key)).scalars().all()
    assert keys == ["new"]
