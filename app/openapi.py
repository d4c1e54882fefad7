"""The served contract: FastAPI's schema, with problem responses under their own media type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from app.deps import IF_MATCH_PATTERN
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


def _require_if_match_where_428(schema: dict[str, Any]) -> None:
    # The endpoints answer a missing If-Match with 428 themselves (not FastAPI's 422), so the
    # parameter is optional to the framework but required by the contract: on every PATCH,
    # PUT and DELETE (the PUT of a tolerance profile was left out until contract fuzzing
    # found its 428 to an If-Match the contract called optional).
    for path_item in schema.get("paths", {}).values():
        for method in ("patch", "put", "delete"):
            for parameter in path_item.get(method, {}).get("parameters", []):
                if parameter["in"] == "header" and parameter["name"] == "If-Match":
                    parameter["required"] = True
                    parameter["schema"] = {
                        "type": "string",
                        "maxLength": 40,
                        "pattern": IF_MATCH_PATTERN,
                    }


def _headers_are_never_null(schema: dict[str, Any]) -> None:
    # An optional header is absent, never null: FastAPI's `anyOf [string, null]` would invite
    # clients (and fuzzers) to send the text "null".
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "header":
                    continue
                options = parameter.get("schema", {}).get("anyOf")
                if options:
                    concrete = [option for option in options if option.get("type") != "null"]
                    if len(concrete) == 1:
                        title = parameter["schema"].get("title")
                        parameter["schema"] = {**concrete[0], **({"title": title} if title else {})}


def _drop_framework_validation_schemas(schema: dict[str, Any]) -> None:
    # Every validation error is a Problem; FastAPI's own models are never served.
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


# Where a created or changed resource leads next: OpenAPI links let a client (and schemathesis'
# stateful phase) walk the lifecycle from an order's creation through its transitions.
_ORDER_FOLLOW_UPS = (
    "getRepairOrder",
    "transitionRepairOrder",
    "listRepairOrderEvents",
    "listQuoteRevisions",
    "createQuoteRevision",
    "listMeasurementSessions",
    "recordMeasurementSession",
    "listWorkLog",
    "addWorkLogEntry",
)
LINKS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("createRepairOrder", "201"): ("order_id", _ORDER_FOLLOW_UPS),
    ("transitionRepairOrder", "200"): ("order_id", _ORDER_FOLLOW_UPS),
    ("createCustomer", "201"): ("customer_id", ("getCustomer", "updateCustomer")),
    ("createWatch", "201"): ("watch_id", ("getWatch", "updateWatch")),
    ("createPartner", "201"): ("partner_id", ("getPartner", "updatePartner")),
    ("createWebhookSubscription", "201"): (
        "subscription_id",
        ("getWebhookSubscription", "listWebhookDeliveries", "pingWebhookSubscription"),
    ),
}


def _add_links(schema: dict[str, Any]) -> None:
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                target = LINKS.get((operation.get("operationId", ""), status))
                if target is None:
                    continue
                parameter, follow_ups = target
                response["links"] = {
                    follow_up: {
                        "operationId": follow_up,
                        "parameters": {parameter: "$response.body#/id"},
                    }
                    for follow_up in follow_ups
                }


def build_openapi(app: FastAPI, routers: Sequence[APIRouter]) -> dict[str, Any]:
    """The contract, its operations in the order of ``routers`` (the documentation's order, not
    necessarily the order the application tries them in)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=API_TITLE,
            version=API_VERSION,
            description=API_DESCRIPTION,
            routes=[route for router in routers for route in router.routes],
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
        _headers_are_never_null(schema)
        _require_if_match_where_428(schema)
        _add_links(schema)
        app.openapi_schema = schema
    return app.openapi_schema
