"""The public tracking link: no API key, rate-limited per client address."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request, Response

from app.deps import ClockDep, SessionDep, SettingsDep
from app.domain.tracking import negotiate_language
from app.errors import ApiError
from app.routers.common import api_router, documented, json_response
from app.routing import runtime_of
from app.schemas.tracking import TrackingDecision, TrackingView
from app.services import tracking as tracking_service

router = api_router("/v1/tracking", "tracking")

Token = Annotated[str, Path(max_length=128, description="The secret of the tracking link")]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def rate_limited(request: Request) -> None:
    retry_after = runtime_of(request).tracking_limiter.check(client_address(request))
    if retry_after is not None:
        raise ApiError(
            429, "rate-limited", "Too many requests",
            f"Too many requests from this address; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)}, retry_after=retry_after,
        )  # fmt: skip


RateLimited = Depends(rate_limited)


@router.get(
    "/{token}",
    operation_id="getTracking",
    summary="Follow a repair from the link given to the customer",
    response_model=TrackingView,
    dependencies=[RateLimited],
    responses=documented(404, 422, 429, 503),
)
async def get_tracking(
    token: Token,
    session: SessionDep,
    settings: SettingsDep,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    language = negotiate_language(accept_language)
    return json_response(await tracking_service.view_values(session, token, language, settings))


@router.post(
    "/{token}/decision",
    operation_id="decideQuoteFromTracking",
    summary="The customer approves (with chosen optional lines) or declines the quote",
    dependencies=[RateLimited],
    responses=documented(400, 404, 409, 413, 422, 429, 503),
)
async def decide_quote_from_tracking(
    token: Token,
    decision: TrackingDecision,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    user_agent: Annotated[str | None, Header(max_length=500)] = None,
    accept_language: Annotated[str | None, Header(max_length=200)] = None,
) -> TrackingView:
    await tracking_service.decide(
        session, token, decision, client_address(request), user_agent or "", clock(), settings
    )
    return await tracking_service.view(
        session, token, negotiate_language(accept_language), settings
    )
