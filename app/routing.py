"""The request-scoped unit of work, and idempotent POSTs, as a FastAPI route class.

Every route of the API runs inside one database session. Reads roll back. Writes commit only when
the endpoint produced a success response; any error (raised or returned) rolls everything back,
so a failed request leaves the database as it was. A POST carrying ``Idempotency-Key`` stores its
response in the same transaction as the change, and a retry replays it without running again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import problem_response
from app.lean_handler import effective_route, lean_handler
from app.models import IdempotencyRecord
from app.repositories import idempotency as idempotency_repository
from app.repositories import order_numbers
from app.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_HEADER = "idempotency-key"
_REPLAYED_HEADERS = ("content-type", "location", "etag")
_MAX_KEY_LENGTH = 255

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def session_of(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session
    return session


def _canonical_body(body: bytes) -> bytes:
    # A POS that re-serialises the same JSON with other spacing or key order is the same request.
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        return body


def request_fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.url.path.encode())
    digest.update(b"\0" + request.url.query.encode())
    digest.update(b"\0" + _canonical_body(body))
    return digest.hexdigest()


async def _idempotency_scope(request: Request, session: AsyncSession) -> str:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        actor = await runtime_of(request).authenticator.authenticate(session, token.strip())
        if actor is not None:
            return f"key:{actor.key_id}"
    return f"public:{request.url.path}"


def _replay(record: IdempotencyRecord) -> Response:
    headers = dict(record.response_headers)
    headers["Idempotent-Replayed"] = "true"
    return Response(
        content=record.response_body.encode(), status_code=record.status_code, headers=headers
    )


class TransactionalRoute(APIRoute):
    """An APIRoute whose endpoint runs in a unit of work (and is idempotent for POST)."""

    def get_route_handler(self) -> Handler:
        general_handler = super().get_route_handler()
        route = effective_route(self)
        lean = lean_handler(route)
        # The application, once included: overriding a dependency (in a test) needs FastAPI's
        # general handler, which looks the overrides up on every request.
        overrides = route.dependency_overrides_provider

        async def endpoint_handler(request: Request) -> Response:
            if lean is None or (overrides is not None and overrides.dependency_overrides):
                return await general_handler(request)
            return await lean(request)

        async def handle(request: Request) -> Response:
            runtime = runtime_of(request)
            if request.method in SAFE_METHODS:
                session = runtime.db.new_session(write=False)
                request.state.session = session
                try:
                    return await endpoint_handler(request)
                finally:
                    await session.close()
            # Read the whole body before queueing for the write slot: a client sending its
            # body slowly must not hold up every other writer.
            await request.body()
            async with runtime.db.writer_slot():
                return await _run_write(request, runtime, endpoint_handler)

        return handle


async def _run_write(request: Request, runtime: Runtime, endpoint_handler: Handler) -> Response:
    session = runtime.db.new_session(write=True)
    request.state.session = session
    try:
        record: IdempotencyRecord | None = None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and request.method == "POST":
            outcome = await _claim_idempotency_key(request, session, key, runtime)
            if isinstance(outcome, Response):
                await session.rollback()
                return outcome
            record = outcome
        response = await endpoint_handler(request)
        if response.status_code >= 400:
            await session.rollback()
            return response
        # A new order's number taken by the database: the answer holds a mark for it until
        # the commit (``order_numbers``).
        late = order_numbers.late_number(session)
        if record is not None:
            await idempotency_repository.complete(
                session,
                record.id,
                response.status_code,
                bytes(response.body).decode(),
                {
                    name: response.headers[name]
                    for name in _REPLAYED_HEADERS
                    if name in response.headers
                },
                late,
            )
        await session.commit()
        return response if late is None else await late.answered(response)
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


async def _claim_idempotency_key(
    request: Request, session: AsyncSession, key: str, runtime: Runtime
) -> IdempotencyRecord | Response:
    if not key or len(key) > _MAX_KEY_LENGTH or not key.isprintable():
        return problem_response(
            400, "invalid-idempotency-key", "Invalid Idempotency-Key",
            f"Idempotency-Key must be 1 to {_MAX_KEY_LENGTH} printable characters.",
            request=request,
        )  # fmt: skip
    body = await request.body()
    fingerprint = request_fingerprint(request, body)
    scope = await _idempotency_scope(request, session)
    existing = await idempotency_repository.find(session, scope, key)
    if existing is not None:
        return _existing_key_response(request, existing, fingerprint)
    record = IdempotencyRecord(
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        method=request.method,
        path=request.url.path,
        status_code=0,
        response_body="",
        created_at=runtime.clock(),
    )
    try:
        # On PostgreSQL this waits for a concurrent request holding the same key, then fails.
        await idempotency_repository.claim(session, record)
    except IntegrityError:
        return problem_response(
            409, "idempotency-key-in-use", "Request already in progress",
            "Another request with this Idempotency-Key is being processed; retry shortly.",
            request=request,
        )  # fmt: skip
    return record


def _existing_key_response(
    request: Request, existing: IdempotencyRecord, fingerprint: str
) -> Response:
    if existing.fingerprint != fingerprint:
        return problem_response(
            422, "idempotency-key-reused", "Idempotency-Key reused with another request",
            "This Idempotency-Key was used for a different request; use a new key.",
            request=request,
        )  # fmt: skip
    return _replay(existing)
