"""Operations endpoints: liveness, readiness, metrics. No key needed."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.errors import database_unavailable, problem_responses
from app.migrate import current_revision_matches_head
from app.routing import runtime_of
from app.services import webhooks as webhook_service

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    migrations: Literal["at_head"]


@router.get("/healthz", operation_id="getHealth", summary="Process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Database reachable and migrations at head",
    response_model=Readiness,
    responses=problem_responses(503),
)
async def readyz(request: Request) -> Readiness | Response:
    runtime = runtime_of(request)
    try:
        at_head = await current_revision_matches_head(runtime.db.engine)
    except Exception:  # any failure to reach the database means "not ready"
        return database_unavailable(request)
    if not at_head:
        return database_unavailable(request)
    return Readiness(status="ready", database="ok", migrations="at_head")


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}
    },
)
async def metrics(request: Request) -> Response:
    collectors = request.app.state.metrics
    db = runtime_of(request).db
    try:
        async with db.new_session(write=False) as session:
            counts = await webhook_service.queue_counts(session)
    except Exception:  # metrics stay available while the database is not
        counts = {}
    for status in ("pending", "delivered", "dead"):
        collectors.webhook_queue.labels(status).set(counts.get(status, 0))
    collectors.observe_write_groups(db.group_commits, db.grouped_writers, db.hand_overs)
    return Response(generate_latest(collectors.registry), media_type=CONTENT_TYPE_LATEST)
