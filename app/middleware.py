"""Pure ASGI middleware: request id, access log and metrics, and the request size limit."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response
from app.observability import Metrics, request_id_var

access_log = logging.getLogger("atelier.access")
_REQUEST_ID_HEADER = b"x-request-id"


def _header(scope: Scope, name: bytes) -> bytes | None:
    """A request header's first value (``name`` in lower case), found without building a dict
    of every header."""
    for key, value in scope.get("headers") or ():
        if key == name:
            return bytes(value)
    return None


class _RequestIds:
    """Request ids of 32 hex digits, read from the system's random source 4 KiB at a time.

    ``secrets.token_hex(16)`` asks the kernel for each id (a ``getrandom`` call: 1.0 µs a
    request, 0.3 µs from the buffer; docs/benchmarks.md, twenty-sixth round). The bytes are
    the same kernel's randomness, each used once. A process forked from this one starts with
    a buffer of its own, so that two processes never hand out the same ids.
    """

    SIZE = 4096

    def __init__(self) -> None:
        self.buffer = b""
        self.used = self.SIZE
        os.register_at_fork(after_in_child=self.forget)

    def forget(self) -> None:
        self.buffer, self.used = b"", self.SIZE

    def next(self) -> str:
        used = self.used
        if used >= self.SIZE:
            self.buffer, used = os.urandom(self.SIZE), 0
        self.used = used + 16
        return self.buffer[used : used + 16].hex()


_request_ids = _RequestIds()


def _valid_request_id(value: bytes) -> str | None:
    text = value.decode("latin-1")
    if 0 < len(text) <= 128 and all(c.isalnum() or c in "-_.:" for c in text):
        return text
    return None


class RequestContextMiddleware:
    """Echo or generate ``X-Request-ID``, log each request and count it in the metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, _REQUEST_ID_HEADER)
        request_id = (given and _valid_request_id(given)) or _request_ids.next()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (_REQUEST_ID_HEADER, request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            status = status_holder["status"]
            self.metrics.observe_request(method, template, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):  # off in production's WARNING level
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit with 413, whether announced or streamed (OWASP API4)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the endpoint's body read: the problem handler answers 413.
                    raise HTTPException(413, f"The request body exceeds {self.max_bytes} bytes.")
            return message

        await self.app(scope, limited_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, "payload-too-large", "Request body too large",
            f"The request body exceeds {self.max_bytes} bytes.",
        )  # fmt: skip
        await response(scope, receive, send)
