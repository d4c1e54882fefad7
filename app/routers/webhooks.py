"""Webhook subscriptions: partners manage their own (their orders only), staff subscribe to all."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, Query, Response

from app.deps import (
    ClockDep,
    IfMatchHeader,
    SessionDep,
    SettingsDep,
    require_roles,
    required_version,
)
from app.domain.actors import Actor
from app.domain.roles import Role
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, with_etag
from app.schemas.webhooks import (
    ReplayResult,
    WebhookDeliveryList,
    WebhookDeliveryRead,
    WebhookSubscriptionCreate,
    WebhookSubscriptionList,
    WebhookSubscriptionRead,
    WebhookSubscriptionUpdate,
    WebhookSubscriptionWithSecret,
)
from app.services import webhooks as webhook_service

router = api_router("/v1/webhook-subscriptions", "webhooks")
Subscriber = Annotated[Actor, Depends(require_roles(Role.PARTNER, Role.MANAGER, Role.ADMIN))]


def _with_secret(row: object) -> WebhookSubscriptionWithSecret:
    return WebhookSubscriptionWithSecret.model_validate(row, from_attributes=True)


@router.post(
    "",
    operation_id="createWebhookSubscription",
    summary="Subscribe a URL to events (the signing secret is shown once)",
    status_code=201,
    responses=documented(
        400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_webhook_subscription(
    payload: WebhookSubscriptionCreate,
    actor: Subscriber,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> WebhookSubscriptionWithSecret:
    row = await webhook_service.create(session, actor, payload, clock(), settings)
    response.headers["Location"] = f"/v1/webhook-subscriptions/{row.id}"
    with_etag(response, row.version)
    return _with_secret(row)


@router.get(
    "",
    operation_id="listWebhookSubscriptions",
    summary="The caller's subscriptions (a partner sees only its own)",
    responses=documented(401, 403, 422, 503),
)
async def list_webhook_subscriptions(
    actor: Subscriber, session: SessionDep
) -> WebhookSubscriptionList:
    return await webhook_service.listing(session, actor)


@router.get(
    "/{subscription_id}",
    operation_id="getWebhookSubscription",
    summary="Read a subscription (never its secret)",
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_webhook_subscription(
    subscription_id: uuid.UUID, actor: Subscriber, session: SessionDep, response: Response
) -> WebhookSubscriptionRead:
    row = await webhook_service.get(session, actor, subscription_id)
    with_etag(response, row.version)
    return webhook_service.present(row)


@router.patch(
    "/{subscription_id}",
    operation_id="updateWebhookSubscription",
    summary="Change a subscription's URL, event types or active flag (If-Match required)",
    responses=documented(
        400, 401, 403, 404, 409, 412, 413, 422, 428, 503, success=200, **ETAG_HEADER
    ),
)
async def update_webhook_subscription(
    subscription_id: uuid.UUID,
    changes: WebhookSubscriptionUpdate,
    actor: Subscriber,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> WebhookSubscriptionRead:
    row = await webhook_service.update(
        session, actor, subscription_id, changes, required_version(if_match), clock(), settings
    )
    with_etag(response, row.version)
    return webhook_service.present(row)


@router.post(
    "/{subscription_id}/secret",
    operation_id="rotateWebhookSecret",
    summary="Rotate the signing secret; both are used for signing during the overlap window",
    responses=documented(400, 401, 403, 404, 409, 422, 503),
)
async def rotate_webhook_secret(
    subscription_id: uuid.UUID,
    actor: Subscriber,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> WebhookSubscriptionWithSecret:
    row = await webhook_service.rotate_secret(session, actor, subscription_id, clock(), settings)
    return _with_secret(row)


@router.get(
    "/{subscription_id}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="Deliveries with their attempts and last error, newest first",
    responses=documented(401, 403, 404, 422, 503),
)
async def list_webhook_deliveries(
    subscription_id: uuid.UUID,
    actor: Subscriber,
    session: SessionDep,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> WebhookDeliveryList:
    return await webhook_service.deliveries(session, actor, subscription_id, status, limit)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    operation_id="replayWebhookDelivery",
    summary="Send one message again",
    responses=documented(400, 401, 403, 404, 409, 422, 503),
)
async def replay_webhook_delivery(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    actor: Subscriber,
    session: SessionDep,
    clock: ClockDep,
) -> ReplayResult:
    await webhook_service.replay_delivery(session, actor, subscription_id, delivery_id, clock())
    return ReplayResult(replayed=1)


@router.post(
    "/{subscription_id}/replay-dead",
    operation_id="replayDeadWebhookDeliveries",
    summary="Send again every dead-lettered message of the subscription",
    responses=documented(400, 401, 403, 404, 409, 422, 503),
)
async def replay_dead_webhook_deliveries(
    subscription_id: uuid.UUID, actor: Subscriber, session: SessionDep, clock: ClockDep
) -> ReplayResult:
    return ReplayResult(
        replayed=await webhook_service.replay_dead(session, actor, subscription_id, clock())
    )


@router.post(
    "/{subscription_id}/ping",
    operation_id="pingWebhookSubscription",
    summary="Queue a test message to this subscription only",
    status_code=202,
    responses=documented(400, 401, 403, 404, 409, 422, 503),
)
async def ping_webhook_subscription(
    subscription_id: uuid.UUID, actor: Subscriber, session: SessionDep, clock: ClockDep
) -> WebhookDeliveryRead:
    delivery = await webhook_service.ping(session, actor, subscription_id, clock())
    found = await webhook_service.deliveries(session, actor, subscription_id, None, limit=200)
    return next(item for item in found.items if item.id == delivery.id)
