"""FastAPI's own OpenTelemetry is opt-in (``ATELIER_OPENTELEMETRY``): off, a request does not
look the global providers up."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from opentelemetry import trace

from app.main import create_app
from app.settings import Settings
from tests.conftest import TestClock


async def _provider_lookups(app: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    lookups = 0
    original = trace.get_tracer_provider

    def counted() -> trace.TracerProvider:
        nonlocal lookups
        lookups += 1
        return original()

    monkeypatch.setattr(trace, "get_tracer_provider", counted)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/healthz")).status_code == 200
    return lookups


async def test_requests_skip_opentelemetry_by_default(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await _provider_lookups(app, monkeypatch) == 0


async def test_opentelemetry_on_looks_the_providers_up(
    settings: Settings, clock: TestClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings.model_copy(update={"opentelemetry": True}), clock=clock)
    try:
        assert await _provider_lookups(app, monkeypatch) > 0
    finally:
        await app.state.runtime.db.dispose()
