"""The served contract: FastAPI's schema, with problem responses under their own media type."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import PROBLEM_MEDIA_TYPE

API_TITLE = "Atelier"
API_VERSION = "1.0.0"
API_DESCRIPTION = (
    "After-sales service of a watch workshop: reception, diagnosis, quotes, repair, quality "
    "control and hand-back. Errors are RFC 9457 problem documents; every POST accepts an "
    "`Idempotency-Key`; mutable resources carry an ETag and honour `If-Match`."
)


def _move_problems_to_problem_media_type(schema: dict[str, Any]) -> None:
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                json_body = content.get("application/json")
                if status.isdigit() and int(status) >= 400 and json_body is not None:
                    content.setdefault(PROBLEM_MEDIA_TYPE, json_body)
                    del content["application/json"]


def _require_if_match_on_patch_and_delete(schema: dict[str, Any]) -> None:
    # The endpoints answer a missing If-Match with 428 themselves (not FastAPI's 422), so the
    # parameter is optional to the framework but required by the contract.
    for path_item in schema.get("paths", {}).values():
        for method in ("patch", "delete"):
            for parameter in path_item.get(method, {}).get("parameters", []):
                if parameter["in"] == "header" and parameter["name"] == "If-Match":
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "maxLength": 40}


def _drop_framework_validation_schemas(schema: dict[str, Any]) -> None:
    # Every validation error is a Problem; FastAPI's own models are never served.
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=API_TITLE,
            version=API_VERSION,
            description=API_DESCRIPTION,
            routes=app.routes,
            tags=[
                {"name": "operations", "description": "Health, readiness and metrics"},
                {"name": "api-keys", "description": "Credentials of machine clients (admin)"},
                {"name": "partners", "description": "Partner boutiques (managers, admins)"},
                {"name": "customers", "description": "The workshop's and partners' customers"},
                {"name": "watches", "description": "Watches and their identity"},
                {"name": "repair-orders", "description": "Intake, lifecycle, audit trail"},
                {"name": "quotes", "description": "Quote revisions and the invoice"},
                {"name": "catalog", "description": "The workshop's service catalogue"},
                {"name": "workshop", "description": "Measurements, tolerances, work log"},
                {"name": "webhooks", "description": "Signed notifications from the outbox"},
                {"name": "tracking", "description": "The customer's public tracking link"},
            ],
        )
        _move_problems_to_problem_media_type(schema)
        _drop_framework_validation_schemas(schema)
        _require_if_match_on_patch_and_delete(schema)
        app.openapi_schema = schema
    return app.openapi_schema
