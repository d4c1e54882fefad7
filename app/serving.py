"""How uvicorn serves Atelier: the HTTP protocol with Nagle's algorithm off on every connection.

With several workers, uvicorn binds the listening socket itself and hands it to the workers; that
socket is created without an explicit protocol number, so asyncio's event loop does not
recognise accepted connections as TCP and leaves Nagle's algorithm on. Small responses then wait
for the client's delayed ACK: measured with 2 workers on the asyncio loop, the bare endpoint fell
from ~9 000 to ~730 requests/s with a p50 of 44 ms (docs/benchmarks.md). uvloop sets TCP_NODELAY
itself; this protocol does it for any loop.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HTTP_PROTOCOL = "app.serving:NoDelayHttpProtocol"


class NoDelayHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        connection = transport.get_extra_info("socket")
        if connection is not None and connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
