"""Typed domain errors.

Each error carries a stable machine-readable ``code`` (it becomes the problem ``type``
``/problems/<code>``), a human title and optional extension members. The mapping to
HTTP statuses lives in one place, ``app/errors.py``; the domain never knows about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error the domain or the services raise on purpose."""

    code: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "The request breaks a business rule"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions: dict[str, Any] = extensions


class NotFound(DomainError):
    """The resource does not exist, or belongs to another tenant (never confirm which)."""

    code = "not-found"
    title = "Resource not found"


class Conflict(DomainError):
    """The request conflicts with the current state of the resource."""

    code = "conflict"
    title = "Conflict with the current state"


class InvalidTransition(Conflict):
    """The action is not possible from the order's current status."""

    code = "invalid-transition"
    title = "Action not allowed in the current status"


class GuardFailed(Conflict):
    """The action exists from this status but a business guard refused it."""

    code = "guard-failed"
    title = "A business rule prevents this action"


class ActionForbidden(DomainError):
    """The caller's role may not take this action."""

    code = "forbidden"
    title = "Your role may not do this"


class VersionMismatch(DomainError):
    """The client's ``If-Match`` version is stale."""

    code = "version-mismatch"
    title = "The resource has changed since you read it"


class BusinessValidationError(DomainError):
    """A payload is well-formed but its values break a domain rule (maps to 422)."""

    code = "validation-error"
    title = "The request has invalid values"

    def __init__(self, detail: str, pointer: str = "", **extensions: Any) -> None:
        errors = extensions.pop("errors", None) or [{"pointer": pointer, "message": detail}]
        super().__init__(detail, errors=errors, **extensions)
