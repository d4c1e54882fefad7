"""The served connections have Nagle's algorithm off, even on a listening socket that uvicorn's
multi-worker mode creates (no protocol number, so asyncio doesn't see it as TCP)."""

from __future__ import annotations

import gc
import http.client
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from app.cli import sqlite_workers_warning
from app.serving import GC_THRESHOLDS, HTTP_PROTOCOL, create_served_app

tiny = FastAPI()


@tiny.get("/ping")
async def ping() -> dict[str, str]:
    return {"pong": "yes"}


def _nodelay_of_served_connections(http_protocol: str) -> list[int]:
    listening = socket.socket(socket.AF_INET)  # like uvicorn's shared socket: proto 0
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        tiny, loop="asyncio", http=http_protocol, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.01)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        client.request("GET", "/ping")
        assert client.getresponse().read() == b'{"pong":"yes"}'
        options = []
        for protocol in server.server_state.connections:
            connection: Any = protocol.transport.get_extra_info("socket")  # type: ignore[attr-defined]
            options.append(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        client.close()
        return options
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()


def test_served_connections_send_without_waiting_for_acks() -> None:
    assert _nodelay_of_served_connections(HTTP_PROTOCOL) == [1]


def test_without_it_asyncio_leaves_nagle_on_for_such_sockets() -> None:
    """The control: the plain protocol on the same socket keeps Nagle (why app/serving.py
    exists); if a future asyncio or uvicorn fixes this, this test says the class can go."""
    assert _nodelay_of_served_connections("httptools") == [0]


def test_the_served_app_keeps_its_start_up_heap_out_of_the_collector(
    monkeypatch: Any, tmp_path: Any
) -> None:
    """A full collection used to walk every object alive since start-up (≈ 157 000, 50–90 ms
    with the loop held); the served app freezes them, so a full collection walks only the
    objects made since."""
    import gc

    from app.serving import create_served_app
    from app.settings import get_settings

    monkeypatch.setenv("ATELIER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'served.db'}")
    get_settings.cache_clear()
    gc.unfreeze()
    try:
        app = create_served_app()
        assert isinstance(app, FastAPI)
        frozen = gc.get_freeze_count()
        assert frozen > 50_000
        # What a full collection still walks: only what was made after the factory returned.
        assert len(gc.get_objects()) < frozen / 100
    finally:
        gc.unfreeze()
        get_settings.cache_clear()


def test_serving_several_workers_on_sqlite_warns_and_postgresql_does_not() -> None:
    warning = sqlite_workers_warning("sqlite:///var/atelier.db", 2)
    assert warning is not None and "One worker is the advice on SQLite" in warning
    assert sqlite_workers_warning("sqlite:///var/atelier.db", 1) is None
    assert sqlite_workers_warning("postgresql+psycopg://u@h/atelier", 4) is None


def test_the_served_app_collects_its_young_objects_less_often() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    gc.set_threshold(700, 10, 10)  # Python's default
    try:
        create_served_app()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
