"""A client that sends its body slowly does not hold up other clients' writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from app.domain.roles import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import KeyFactory
from tests.live_server import LiveServer


@pytest.fixture
def server(settings: Settings, clean_database: Engine) -> Iterator[LiveServer]:
    live = LiveServer(create_app(settings)).start()
    yield live
    live.stop()


async def test_a_slow_body_does_not_block_other_writes(server: LiveServer) -> None:
    headers = await KeyFactory(create_app(server.app.state.runtime.settings)).headers(Role.COUNTER)
    body = b'{"name": "Slow Customer"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /v1/customers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        + f"Authorization: {headers['Authorization']}\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:5]
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the slow request is now in the server, its body incomplete
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
        started = time.monotonic()
        fast = await client.post("/v1/customers", json={"name": "Quick Customer"})
        elapsed = time.monotonic() - started
    assert fast.status_code == 201
    assert elapsed < 2, f"a fast write waited {elapsed:.1f}s behind a slow client"
    writer.write(body[5:])
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    assert b" 201 " in status_line
    writer.close()
