"""Helpers every router shares: the transactional router factory and response documentation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.deps import etag
from app.errors import problem_responses
from app.routing import TransactionalRoute

ETAG_HEADER = {
    "ETag": {"description": 'The version of the resource, e.g. "3"', "schema": {"type": "string"}}
}
LOCATION_HEADER = {
    "Location": {"description": "Address of the created resource", "schema": {"type": "string"}}
}


def api_router(prefix: str, tag: str) -> APIRouter:
    return APIRouter(prefix=prefix, tags=[tag], route_class=TransactionalRoute)


def documented(*statuses: int, success: int | None = None, **headers: Any) -> dict[int | str, Any]:
    """Problem responses for ``statuses`` plus the success response's headers."""
    responses = problem_responses(*statuses)
    if success is not None and headers:
        responses[success] = {"headers": dict(headers)}
    return responses


def with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)
