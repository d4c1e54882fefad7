"""RFC 9457 problem details: the one way every error leaves the service.

Domain errors, HTTP errors raised by the framework (404, 405, 413 …), validation errors and
database outages are all turned into ``application/problem+json`` here, and nowhere else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.domain.errors import (
    ActionForbidden,
    BusinessValidationError,
    Conflict,
    DomainError,
    NotFound,
    VersionMismatch,
)

logger = logging.getLogger("atelier.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"
DB_RETRY_AFTER_SECONDS = 2
# The detail of a request the schema refused (a domain rule's refusal says what the rule is).
SCHEMA_REFUSAL_DETAIL = "{count} invalid value(s) in the request."


class ProblemFieldError(BaseModel):
    """One invalid field, located by a JSON pointer into the request."""

    pointer: str = Field(
        description="JSON pointer (RFC 6901) to the offending value", examples=["/name"]
    )
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="Stable URI of the problem kind", examples=["/problems/not-found"]
    )
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None
    current_status: str | None = None
    allowed_actions: list[str] | None = None
    reason: str | None = None
    retry_after: int | None = None


class ApiError(Exception):
    """An error of the HTTP layer itself (authentication, preconditions, limits, idempotency)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def unauthenticated(detail: str = "A valid API key is required.") -> ApiError:
    return ApiError(
        401, "unauthenticated", "Authentication required", detail,
        headers={"WWW-Authenticate": 'Bearer realm="atelier"'},
    )  # fmt: skip


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", "Your role may not do this", detail)


def precondition_required(detail: str = "Send If-Match with the version you read.") -> ApiError:
    return ApiError(428, "precondition-required", "If-Match header required", detail)


def bad_request(code: str, title: str, detail: str) -> ApiError:
    return ApiError(400, code, title, detail)


# Status for each domain error family; the most specific class wins (checked in MRO order).
_DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    ActionForbidden: 403,
    VersionMismatch: 412,
    BusinessValidationError: 422,
}

_HTTP_TITLES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Resource not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "The request has invalid values"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal error"),
    503: ("service-unavailable", "Service temporarily unavailable"),
}


def domain_status(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in _DOMAIN_STATUS:
            return _DOMAIN_STATUS[cls]
    return 409


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _pointer(loc: Sequence[Any]) -> str:
    # FastAPI locations start with the part of the request ("body", "query", "path", "header").
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    elif parts and parts[0] in ("query", "path", "header", "cookie"):
        return f"/{parts[0]}/" + "/".join(str(p) for p in parts[1:])
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "/" + "/".join(escaped) if escaped else ""


def validation_errors(errors: Iterable[Any]) -> list[dict[str, str]]:
    out = []
    for err in errors:
        message = str(err.get("msg", "Invalid value"))
        out.append({"pointer": _pointer(err.get("loc", ())), "message": message})
    return out


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        domain_status(exc), exc.code, exc.title, exc.detail, request=request, **exc.extensions
    )


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem_response(
        exc.status, exc.code, exc.title, exc.detail,
        request=request, headers=exc.headers, **exc.extensions,
    )  # fmt: skip


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    json_invalid = any(e.get("type") == "json_invalid" for e in exc.errors())
    if json_invalid:
        return problem_response(
            400, "malformed-json", "The body is not valid JSON",
            "The request body could not be parsed as JSON.", request=request, errors=errors,
        )  # fmt: skip
    return problem_response(
        422, "validation-error", "The request has invalid values",
        SCHEMA_REFUSAL_DETAIL.format(count=len(errors)), request=request, errors=errors,
    )  # fmt: skip


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No resource at this address."
    if exc.status_code == 405:
        allowed = _methods_at(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not supported here; use one of: {', '.join(allowed)}."
    return problem_response(exc.status_code, code, title, detail, request=request, headers=headers)


def _methods_at(request: Request) -> list[str]:
    # The contract is the list of what each path supports (Starlette names only one route's).
    path = request.url.path
    methods: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        pattern = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods.update(method.upper() for method in item)
    return sorted(methods)


def database_unavailable(request: Request | None = None) -> JSONResponse:
    return problem_response(
        503, "database-unavailable", "Service temporarily unavailable",
        "The database is unavailable or busy; nothing was changed. Retry shortly.",
        request=request, headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
        retry_after=DB_RETRY_AFTER_SECONDS,
    )  # fmt: skip


async def _on_integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A unique or foreign-key constraint lost a race with another request: nothing was written.
    logger.info("integrity conflict", extra={"error": type(exc).__name__})
    return problem_response(
        409, "conflict", "Conflict with the current state",
        "The change conflicts with another one made at the same time; read again and retry.",
        request=request,
    )  # fmt: skip


async def _on_data_error(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the schema let through: still the client's input, not an outage.
    logger.warning("value refused by the database", extra={"error": type(exc).__name__})
    return problem_response(
        422, "validation-error", "The request has invalid values",
        "A value is not storable (out of range or invalid characters).", request=request,
    )  # fmt: skip


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable", extra={"error": type(exc).__name__})
    return database_unavailable(request)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem_response(
        500, "internal-error", "Internal error",
        "An unexpected error occurred; it has been logged.", request=request,
    )  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping from every error kind to a problem response."""
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(ProgrammingError, _on_unexpected)
    app.add_exception_handler(OperationalError, _on_database_error)
    app.add_exception_handler(PoolTimeoutError, _on_database_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(OSError, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries documenting the problems an operation can return."""
    descriptions = {
        400: "Malformed request (unparsable JSON, invalid cursor)",
        401: "Missing, unknown or revoked API key",
        403: "The caller's role may not do this",
        404: "Unknown id, or not visible to the caller",
        409: "Conflict with the current state (invalid transition, duplicate, concurrent request)",
        412: "If-Match does not match the current version",
        413: "Request body too large",
        422: "Invalid values (with a pointer per field)",
        428: "If-Match header required",
        429: "Too many requests (see Retry-After)",
        503: "Database unavailable; retry after the delay given",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions.get(status, "Problem"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
