"""How uvicorn serves Atelier: the app factory, and the HTTP protocol with Nagle's algorithm off.

The factory builds the app and then moves every object alive at that point (the imported modules,
FastAPI's routes and models, SQLAlchemy's mappers: ≈ 157 000 objects) out of the garbage
collector's sight with ``gc.freeze()``. They live as long as the process, and a full collection
walked all of them: 50–90 ms with the event loop held, every few seconds under load, which was
the p99 of the lighter requests (docs/benchmarks.md). Objects created later are collected as
usual, the young ones less often than Python's default (``GC_THRESHOLDS``).

With several workers, uvicorn binds the listening socket itself and hands it to the workers; that
socket is created without an explicit protocol number, so asyncio's event loop does not
recognise accepted connections as TCP and leaves Nagle's algorithm on. Small responses then wait
for the client's delayed ACK: measured with 2 workers on the asyncio loop, the bare endpoint fell
from ~9 000 to ~730 requests/s with a p50 of 44 ms (docs/benchmarks.md). uvloop sets TCP_NODELAY
itself; this protocol does it for any loop.
"""

from __future__ import annotations

import asyncio
import gc
import socket

from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.main import create_app

APP_FACTORY = "app.serving:create_served_app"
# A young collection every 20 000 allocations, not 700: most of a request's objects die by
# their count before then, and a collection walks the ones alive, so rarer collections walk
# fewer objects in all. Under 32 clients the collector took 8 % of a PostgreSQL write's CPU
# (0.15–0.19 ms), 3–4 % with these thresholds (docs/benchmarks.md, eighteenth round).
GC_THRESHOLDS = (20_000, 20, 100)
HTTP_PROTOCOL = "app.serving:NoDelayHttpProtocol"


def create_served_app() -> FastAPI:
    """The app as ``atelier serve`` runs it (one per worker), its start-up heap frozen."""
    app = create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return app


class NoDelayHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        connection = transport.get_extra_info("socket")
        if connection is not None and connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
