"""Database faults: a 503 problem with Retry-After, nothing half-written, and recovery."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url

from app.domain.roles import Role
from app.main import create_app
from app.migrate import upgrade_to_head
from app.models import Customer
from app.settings import Settings
from tests.conftest import KeyFactory


async def test_an_unreachable_database_is_a_503_and_liveness_stays_up(settings: Settings) -> None:
    down = create_app(
        settings.model_copy(
            update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:9/unreachable"}
        )
    )
    transport = httpx.ASGITransport(app=down)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        refused = await client.get("/v1/customers", headers={"Authorization": "Bearer atl_any-key"})
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "2"
        assert refused.json()["type"] == "/problems/database-unavailable"
        assert "psycopg" not in refused.text and "127.0.0.1" not in refused.text
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
    await down.state.runtime.db.dispose()


async def test_a_locked_sqlite_database_is_a_503_then_the_retry_succeeds(
    settings: Settings, clean_database: Engine
) -> None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the SQLite write lock only exists on SQLite")
    patient = create_app(settings.model_copy(update={"sqlite_busy_timeout_seconds": 0.2}))
    headers = {**(await KeyFactory(patient).headers(Role.COUNTER)), "Idempotency-Key": "locked"}
    other_process = sqlite3.connect(str(url.database), isolation_level=None)
    other_process.execute("BEGIN EXCLUSIVE")
    transport = httpx.ASGITransport(app=patient)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            busy = await client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "2"
            other_process.execute("ROLLBACK")
            retried = await client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
            assert retried.status_code == 201
    finally:
        other_process.close()
        await patient.state.runtime.db.dispose()
    with clean_database.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Customer)).scalar_one() == 1


async def test_a_writer_waiting_for_another_process_does_not_hold_up_readers(
    settings: Settings, clean_database: Engine
) -> None:
    """SQLite runs on the event loop's thread, so waiting for another process's write lock must
    happen in the loop (asyncio.sleep), never inside SQLite's busy handler: meanwhile the
    service keeps answering reads, and the write goes through once the lock is released."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the SQLite write lock only exists on SQLite")
    app = create_app(settings.model_copy(update={"sqlite_busy_timeout_seconds": 10}))
    headers = await KeyFactory(app).headers(Role.COUNTER)
    other_process = sqlite3.connect(str(url.database), isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # holds the write lock; readers still read (WAL)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            write = asyncio.create_task(
                client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
            )
            await asyncio.sleep(0.1)
            started = time.monotonic()
            for _ in range(5):
                listed = await client.get("/v1/customers", headers=headers)
                assert listed.status_code == 200
            assert time.monotonic() - started < 1
            assert not write.done()  # still waiting for the lock, without blocking anyone
            other_process.execute("ROLLBACK")
            created = await asyncio.wait_for(write, timeout=5)
            assert created.status_code == 201
    finally:
        other_process.close()
        await app.state.runtime.db.dispose()
    with clean_database.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Customer)).scalar_one() == 1


async def test_a_reader_locked_out_by_another_process_waits_in_the_loop_then_reads(
    settings: Settings, tmp_path: Path
) -> None:
    """Readers never wait in WAL mode, except while another connection holds the file
    exclusively (WAL recovery, or a tool in exclusive locking mode). A read then waits in the
    loop like a writer does: the service keeps answering, and the read completes once the file
    is free; past the timeout it is the same 503 as a write."""
    if make_url(settings.database_url).get_backend_name() != "sqlite":
        pytest.skip("exclusive file locks only exist on SQLite")
    # A file of its own: an exclusive lock in WAL mode needs every other connection closed.
    database = tmp_path / "exclusive.db"
    url = make_url(f"sqlite+aiosqlite:///{database}")
    upgrade_to_head(url.render_as_string())
    own = settings.model_copy(update={"database_url": url.render_as_string()})
    app = create_app(own.model_copy(update={"sqlite_busy_timeout_seconds": 10}))
    impatient = create_app(own.model_copy(update={"sqlite_busy_timeout_seconds": 0.2}))
    headers = await KeyFactory(app).headers(Role.COUNTER)
    await app.state.runtime.db.dispose()
    other_process = sqlite3.connect(str(url.database), isolation_level=None)
    other_process.execute("PRAGMA locking_mode=EXCLUSIVE")
    other_process.execute("BEGIN EXCLUSIVE")
    other_process.execute("COMMIT")  # the exclusive lock stays until this connection closes
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=impatient), base_url="http://t"
            ) as hurried,
        ):
            refused = await hurried.get("/v1/customers", headers=headers)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "2"
            started = time.monotonic()
            read = asyncio.create_task(client.get("/v1/customers", headers=headers))
            await asyncio.sleep(0.1)
            assert (await client.get("/healthz")).status_code == 200
            assert time.monotonic() - started < 1  # the loop was never held
            assert not read.done()
            other_process.close()
            listed = await asyncio.wait_for(read, timeout=5)
            assert listed.status_code == 200
    finally:
        other_process.close()
        await app.state.runtime.db.dispose()
        await impatient.state.runtime.db.dispose()


async def test_a_response_lost_after_commit_is_replayed_on_retry(
    app: Any, keys: KeyFactory, clean_database: Engine
) -> None:
    """The connection drops after the change is committed: the POS retries with its key and
    gets the first answer back, and nothing is created twice."""
    lost: list[bool] = []

    async def drops_first_response(scope: Any, receive: Any, send: Any) -> None:
        if lost:
            await app(scope, receive, send)
            return
        lost.append(True)

        async def discard(_message: Any) -> None:
            return None

        await app(scope, receive, discard)  # the server commits and answers into the void
        raise ConnectionResetError("client went away")

    headers = {**(await keys.headers(Role.COUNTER)), "Idempotency-Key": "pos-7-crash"}
    transport = httpx.ASGITransport(app=drops_first_response)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(ConnectionResetError):
            await client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
        retried = await client.post("/v1/customers", json={"name": "Claire"}, headers=headers)
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    with clean_database.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Customer)).scalar_one() == 1
