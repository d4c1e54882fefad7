"""create_app(): routers, error handlers and middleware — nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from app.dispatch import running_dispatcher
from app.domain.clock import Clock, utc_now
from app.errors import install_error_handlers
from app.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.observability import Metrics, configure_logging
from app.openapi import API_TITLE, API_VERSION, build_openapi
from app.routers import (
    api_keys,
    catalog,
    customers,
    health,
    partners,
    quotes,
    repair_orders,
    tracking,
    watches,
    webhooks,
    workshop,
)
from app.routers.common import match_once
from app.runtime import Runtime
from app.settings import Settings, get_settings

# FastAPI's OpenTelemetry off (``Settings.opentelemetry``).
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None, clock: Clock = utc_now) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    runtime = Runtime.from_settings(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if settings.dispatch_in_app:
                await stack.enter_async_context(running_dispatcher(runtime, app.state.metrics))
            yield
        await runtime.db.dispose()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else NO_TELEMETRY,
    )
    app.state.runtime = runtime
    app.state.metrics = Metrics()
    install_error_handlers(app)
    documented = (
        health,
        api_keys,
        partners,
        customers,
        watches,
        repair_orders,
        quotes,
        catalog,
        workshop,
        webhooks,
        tracking,
    )
    # FastAPI tries the included routers one after the other, a few microseconds per router a
    # request passes by (docs/benchmarks.md): the most requested come first. No two routers
    # share a path, so the order changes which router is tried first, never which one answers.
    hottest = (tracking, repair_orders)
    for module in (*hottest, *(m for m in documented if m not in hottest)):
        app.include_router(module.router)
    match_once(app)
    # The contract keeps the documentation's order.
    routers = [module.router for module in documented]
    app.openapi = lambda: build_openapi(app, routers)  # type: ignore[method-assign]

    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    return app
