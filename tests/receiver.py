"""A webhook receiver for tests: a tiny ASGI app that verifies signatures independently."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.types import Receive, Scope, Send


@dataclass
class Received:
    webhook_id: str
    event_type: str
    data: dict[str, Any]
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Accepts messages signed with ``secret``; ``answer`` sets the status code it replies."""

    secret: str = ""
    answer: int = 204
    extra_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused: list[bytes] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        status = self.answer
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.refused.append(body)
            status = 400
        else:
            if 200 <= self.answer < 300:
                parsed = json.loads(body)
                with self._lock:
                    self.received.append(
                        Received(
                            headers["webhook-id"], parsed["type"], parsed["data"], headers, body
                        )
                    )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in self.extra_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.event_type == event_type]
