"""FastAPI dependencies: the session, the caller, role checks and preconditions.

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool,
a thread hop per dependency per request (measured, docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.clock import Clock
from app.domain.roles import Role
from app.errors import ApiError, forbidden, precondition_required, unauthenticated
from app.routing import runtime_of, session_of
from app.runtime import Runtime
from app.settings import Settings


async def get_session(request: Request) -> AsyncSession:
    return session_of(request)


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def get_settings_dep(request: Request) -> Settings:
    return runtime_of(request).settings


async def get_clock(request: Request) -> Clock:
    return runtime_of(request).clock


SessionDep = Annotated[AsyncSession, Depends(get_session)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClockDep = Annotated[Clock, Depends(get_clock)]


class ApiKeyBearer(HTTPBearer):
    """The ``ApiKey`` security scheme as a dependency that authenticates the caller and, when
    given roles, lets only those through (403 for the others).

    One dependency rather than a chain (credentials → actor → role check): FastAPI pays a
    resolution pass per level on every request (docs/benchmarks.md)."""

    def __init__(self, roles: frozenset[Role] | None = None) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="ApiKey",
            description="An Atelier API key: `Authorization: Bearer atl_…`",
        )
        self.roles = roles
        names = ", ".join(sorted(r.value for r in roles or ()))
        self.refusal = f"This operation needs one of the roles: {names}."

    async def __call__(self, request: Request) -> Actor:  # type: ignore[override]
        # ``HTTPBearer``'s reading of the header, without the credentials' pydantic model it
        # makes for every request (2 % of a profiled list page's samples, docs/benchmarks.md,
        # twentieth round); ``HTTPBearer`` still describes the scheme in the contract.
        scheme, _, key = (request.headers.get("authorization") or "").partition(" ")
        key = key.strip()
        if not key or scheme.lower() != "bearer":
            raise unauthenticated()
        actor = await runtime_of(request).authenticator.authenticate(session_of(request), key)
        if actor is None:
            raise unauthenticated("The API key is unknown or has been revoked.")
        request.state.actor = actor
        if self.roles is not None and actor.role not in self.roles:
            raise forbidden(self.refusal)
        return actor


CurrentActor = Annotated[Actor, Depends(ApiKeyBearer())]


def require_roles(*roles: Role) -> ApiKeyBearer:
    """A dependency that lets through only the given roles (403 for the others)."""
    return ApiKeyBearer(frozenset(roles))


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header names (``"3"`` or ``W/"3"``); None when absent or
    ``*`` (RFC 9110: any current version)."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ApiError(
            412, "version-mismatch", "The resource has changed since you read it",
            "If-Match must carry the ETag you read, e.g. \"3\".",
        )  # fmt: skip
    return int(text)


# An ETag the API issued ("3", or weak: W/"3"), or * for any version; ASCII digits only.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}")$'

# A plain header parameter, parsed inside the endpoint: the body is validated first (422),
# then the precondition (428/412), whatever order the client's mistakes come in.
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag you read (e.g. "3"), or * for any version. Missing → 428, '
        "stale → 412.",
        max_length=40,
        pattern=IF_MATCH_PATTERN,
    ),
]


def required_version(if_match: str | None) -> int | None:
    """The version a change must find; a missing header is a 428 (``*`` accepts any)."""
    if if_match is None:
        raise precondition_required()
    return parse_if_match(if_match)


def etag(version: int) -> str:
    return f'"{version}"'
