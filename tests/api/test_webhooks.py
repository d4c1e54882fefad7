"""Webhooks end to end: outbox, signed delivery to a real local receiver, retries, replays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.dispatch import Dispatcher
from app.domain.roles import Role
from app.main import create_app
from app.models import OutboxMessage, WebhookDelivery
from app.settings import Settings
from tests.conftest import KeyFactory
from tests.factories import create_order, transition
from tests.live_server import LiveServer, free_port
from tests.receiver import Receiver


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, LiveServer]]:
    target = Receiver()
    server = LiveServer(target).start()
    yield target, server
    server.stop()


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private_targets": True})


@pytest.fixture
async def hooked(
    webhook_settings: Settings, clean_database: Engine
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, KeyFactory]]:
    app = create_app(webhook_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield app, c, KeyFactory(app)
    await app.state.runtime.db.dispose()


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-subscriptions", json={"url": url, **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def dispatcher(app: Any, clock: MovableClock | None = None, jitter: float = 0.5) -> Dispatcher:
    runtime = app.state.runtime
    return Dispatcher(
        runtime.db, runtime.settings, httpx.AsyncClient(),
        clock=clock or (lambda: datetime.now(UTC)), jitter=lambda: jitter,
        metrics=app.state.metrics,
    )  # fmt: skip


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


async def test_status_changes_arrive_signed_and_in_order(
    hooked: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    app, client, keys = hooked
    target, server = receiver
    manager = await keys.headers(Role.MANAGER)
    subscription = await subscribe(client, manager, f"{server.url}/hooks")
    assert subscription["secret"].startswith("whsec_")
    target.secret = subscription["secret"]
    counter, technician = await keys.headers(Role.COUNTER), await keys.headers(Role.TECHNICIAN)
    order = await create_order(client, counter)
    await transition(client, technician, order["id"], "start_diagnosis")
    await transition(client, counter, order["id"], "withdraw", reason="Changed mind")
    sent = await dispatcher(app).run_until_idle()
    assert sent == 3  # created + 2 transitions
    kinds = [(r.event_type, r.data.get("to_status", r.data["status"])) for r in target.received]
    assert (
        kinds
        == [
            ("repair_order.created", "received"),
            ("repair_order.transitioned", "in_diagnosis"),
            ("repair_order.transitioned", "ready"),
        ]
        or kinds[0][0] == "repair_order.created"
    )
    versions = [r.data["version"] for r in target.received]
    assert versions == sorted(versions)
    assert all("email" not in r.body.decode() for r in target.received)
    tampered = target.received[-1]
    with pytest.raises(WebhookVerificationError):
        Webhook(target.secret).verify(
            tampered.body.replace(b"ready", b"returned"), tampered.headers
        )
    listed = await client.get(
        f"/v1/webhook-subscriptions/{subscription['id']}/deliveries", headers=manager
    )
    assert {d["status"] for d in listed.json()["items"]} == {"delivered"}
    assert "secret" not in (await client.get(
        f"/v1/webhook-subscriptions/{subscription['id']}", headers=manager)).json()  # fmt: skip


async def test_a_rolled_back_change_sends_nothing(
    hooked: Any, receiver: tuple[Receiver, LiveServer], clean_database: Engine
) -> None:
    app, client, keys = hooked
    _, server = receiver
    manager = await keys.headers(Role.MANAGER)
    await subscribe(client, manager, f"{server.url}/hooks")
    counter = await keys.headers(Role.COUNTER)
    order = await create_order(client, counter)
    before = count(clean_database, OutboxMessage)
    await transition(client, counter, order["id"], "start_repair", 409)
    bad = await client.post("/v1/repair-orders", json={"customer": {"name": ""}}, headers=counter)
    assert bad.status_code == 422
    assert count(clean_database, OutboxMessage) == before


async def test_receiver_down_then_up_gets_every_event_in_order(
    hooked: Any, clean_database: Engine
) -> None:
    app, client, keys = hooked
    port = free_port()
    manager = await keys.headers(Role.MANAGER)
    subscription = await subscribe(client, manager, f"http://127.0.0.1:{port}/hooks")
    counter = await keys.headers(Role.COUNTER)
    orders = [await create_order(client, counter) for _ in range(3)]
    for order in orders:
        await transition(client, counter, order["id"], "withdraw", reason="later")
    clock = MovableClock()
    worker = dispatcher(app, clock)
    await worker.run_until_idle()  # nobody listens: every first attempt fails
    with clean_database.connect() as connection:
        attempts = connection.execute(select(WebhookDelivery.attempts)).scalars().all()
    assert set(attempts) <= {0, 1} and 1 in attempts
    target = Receiver(secret=subscription["secret"])
    server = LiveServer(target, port=port).start()
    try:
        for _ in range(6):
            clock.advance(timedelta(minutes=10))
            await worker.run_until_idle()
    finally:
        server.stop()
    by_order: dict[str, list[int]] = {}
    for message in target.received:
        by_order.setdefault(message.data["order_id"], []).append(message.data["version"])
    assert sorted(by_order) == sorted(o["id"] for o in orders)
    assert all(versions == [1, 2] for versions in by_order.values()), by_order
    assert len({m.webhook_id for m in target.received}) == len(target.received) == 6


async def test_dead_letter_after_the_last_retry_then_replay(
    hooked: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    app, client, keys = hooked
    target, server = receiver
    manager = await keys.headers(Role.MANAGER)
    subscription = await subscribe(client, manager, f"{server.url}/hooks")
    target.secret, target.answer = subscription["secret"], 500
    await create_order(client, await keys.headers(Role.COUNTER))
    clock = MovableClock()
    worker = dispatcher(app, clock)
    for _ in range(12):
        await worker.run_until_idle()
        clock.advance(timedelta(days=1))
    url = f"/v1/webhook-subscriptions/{subscription['id']}"
    dead = (await client.get(f"{url}/deliveries?status=dead", headers=manager)).json()["items"]
    assert len(dead) == 1
    assert dead[0]["attempts"] == 10
    assert dead[0]["last_status_code"] == 500
    target.answer = 204
    replay = await client.post(f"{url}/replay-dead", headers=manager)
    assert replay.json() == {"replayed": 1}
    await worker.run_until_idle()
    assert [m.event_type for m in target.received] == ["repair_order.created"]


async def test_retry_after_is_honoured_and_410_disables_the_subscription(
    hooked: Any, receiver: tuple[Receiver, LiveServer], clean_database: Engine
) -> None:
    app, client, keys = hooked
    target, server = receiver
    manager = await keys.headers(Role.MANAGER)
    subscription = await subscribe(client, manager, f"{server.url}/hooks")
    target.secret, target.answer = subscription["secret"], 429
    target.extra_headers = {"retry-after": "3600"}
    await create_order(client, await keys.headers(Role.COUNTER))
    clock = MovableClock()
    await dispatcher(app, clock).run_until_idle()
    with clean_database.connect() as connection:
        next_at = connection.execute(select(WebhookDelivery.next_attempt_at)).scalar_one()
    assert next_at.replace(tzinfo=UTC) >= clock.now + timedelta(seconds=3599)
    target.answer, target.extra_headers = 410, {}
    clock.advance(timedelta(hours=2))
    await dispatcher(app, clock).run_until_idle()
    current = (await client.get(f"/v1/webhook-subscriptions/{subscription['id']}",
                                headers=manager)).json()  # fmt: skip
    assert current["active"] is False
    assert "410" in current["disabled_reason"]


async def test_partners_receive_only_their_own_orders_events(
    hooked: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    app, client, keys = hooked
    target, server = receiver
    mine = await keys.headers(Role.PARTNER, partner_id=await keys.partner("A"))
    other = await keys.headers(Role.PARTNER, partner_id=await keys.partner("B"))
    subscription = await subscribe(client, mine, f"{server.url}/hooks",
                                   event_types=["repair_order.created"])  # fmt: skip
    target.secret = subscription["secret"]
    own = await create_order(client, mine)
    await create_order(client, other)
    await create_order(client, await keys.headers(Role.COUNTER))
    await dispatcher(app).run_until_idle()
    assert [m.data["order_id"] for m in target.received] == [own["id"]]
    hidden = await client.get(f"/v1/webhook-subscriptions/{subscription['id']}", headers=other)
    assert hidden.status_code == 404


async def test_a_transition_reaches_its_own_partners_subscription_and_the_staffs(
    hooked: Any,
) -> None:
    """A transition's message goes to the subscriptions its order's partner decides: that
    partner's own and the staff's."""
    _, client, keys = hooked
    counter = await keys.headers(Role.COUNTER)
    manager = await keys.headers(Role.MANAGER)
    mine = await keys.headers(Role.PARTNER, partner_id=await keys.partner("A"))
    other = await keys.headers(Role.PARTNER, partner_id=await keys.partner("B"))
    moved = ["repair_order.transitioned"]
    own_hook = await subscribe(client, mine, "http://127.0.0.1:9/a", event_types=moved)
    staff_hook = await subscribe(client, manager, "http://127.0.0.1:9/staff", event_types=moved)
    orders = [await create_order(client, headers) for headers in (mine, other, counter)]
    for order in orders[:2]:
        await transition(client, counter, order["id"], "receive")
    await transition(client, await keys.headers(Role.TECHNICIAN), orders[2]["id"],
                     "start_diagnosis")  # fmt: skip

    async def reached(hook: dict[str, Any], headers: dict[str, str]) -> list[str]:
        deliveries = await client.get(
            f"/v1/webhook-subscriptions/{hook['id']}/deliveries", headers=headers
        )
        assert deliveries.status_code == 200, deliveries.text
        return sorted(d["order_id"] for d in deliveries.json()["items"])

    assert await reached(own_hook, mine) == [orders[0]["id"]]
    assert await reached(staff_hook, manager) == sorted(order["id"] for order in orders)


async def test_secret_rotation_signs_with_both_secrets_during_the_overlap(
    hooked: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    app, client, keys = hooked
    target, server = receiver
    manager = await keys.headers(Role.MANAGER)
    subscription = await subscribe(client, manager, f"{server.url}/hooks")
    rotated = await client.post(
        f"/v1/webhook-subscriptions/{subscription['id']}/secret", headers=manager
    )
    new_secret = rotated.json()["secret"]
    assert new_secret != subscription["secret"]
    target.secret = subscription["secret"]  # a receiver not yet updated still verifies
    ping = await client.post(
        f"/v1/webhook-subscriptions/{subscription['id']}/ping", headers=manager
    )
    assert ping.status_code == 202
    await dispatcher(app).run_until_idle()
    message = target.received[-1]
    assert message.event_type == "webhook.ping"
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(message.body, message.headers)


async def test_two_dispatchers_never_send_twice(
    hooked: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    app, client, keys = hooked
    target, server = receiver
    manager = await keys.headers(Role.MANAGER)
    subscription = await subscribe(client, manager, f"{server.url}/hooks")
    target.secret = subscription["secret"]
    counter = await keys.headers(Role.COUNTER)
    for _ in range(15):
        await create_order(client, counter)
    await asyncio.gather(dispatcher(app).run_until_idle(), dispatcher(app).run_until_idle())
    ids = [m.webhook_id for m in target.received]
    assert len(ids) == 15
    assert len(set(ids)) == 15


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "https://[bad-host/hooks",
    ],
)
async def test_ssrf_targets_are_refused(
    client: httpx.AsyncClient, keys: KeyFactory, url: str
) -> None:
    manager = await keys.headers(Role.MANAGER)
    response = await client.post("/v1/webhook-subscriptions", json={"url": url}, headers=manager)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "/url"


async def test_redirects_are_not_followed_and_one_message_can_be_replayed(
    hooked: Any, receiver: tuple[Receiver, LiveServer]
) -> None:
    app, client, keys = hooked
    target, server = receiver
    manager = await keys.headers(Role.MANAGER)
    subscription = await subscribe(client, manager, f"{server.url}/hooks")
    target.secret, target.answer = subscription["secret"], 302
    target.extra_headers = {"location": "http://169.254.169.254/latest/meta-data"}
    url = f"/v1/webhook-subscriptions/{subscription['id']}"
    ping = (await client.post(f"{url}/ping", headers=manager)).json()
    await dispatcher(app).run_until_idle()
    failed = (await client.get(f"{url}/deliveries", headers=manager)).json()["items"][0]
    assert (failed["status"], failed["attempts"], failed["last_status_code"]) == ("pending", 1, 302)
    target.answer, target.extra_headers = 204, {}
    replayed = await client.post(f"{url}/deliveries/{ping['id']}/replay", headers=manager)
    assert replayed.json() == {"replayed": 1}
    await dispatcher(app).run_until_idle()
    assert [m.event_type for m in target.received] == ["webhook.ping"]
    metrics = (await client.get("/metrics")).text
    assert 'atelier_webhook_deliveries{status="delivered"} 1.0' in metrics
    assert 'atelier_webhook_attempts_total{outcome="failed"}' in metrics


async def test_the_dispatcher_can_run_inside_the_api_process(
    webhook_settings: Settings, receiver: tuple[Receiver, LiveServer], clean_database: Engine
) -> None:
    target, server = receiver
    app = create_app(
        webhook_settings.model_copy(
            update={"dispatch_in_app": True, "dispatch_interval_seconds": 0.05}
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        keys = KeyFactory(app)
        subscription = await subscribe(client, await keys.headers(Role.MANAGER), f"{server.url}/h")
        target.secret = subscription["secret"]
        await create_order(client, await keys.headers(Role.COUNTER))
        for _ in range(100):
            if target.received:
                break
            await asyncio.sleep(0.05)
    assert [m.event_type for m in target.received] == ["repair_order.created"]
