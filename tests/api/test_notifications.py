"""Customer notifications: through the outbox, in the customer's language, only with consent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.domain.roles import Role
from app.main import create_app
from app.models import CustomerNotification
from app.services.notifications import notifier_for
from app.settings import Settings
from tests.api.test_webhooks import dispatcher
from tests.conftest import KeyFactory
from tests.factories import create_order, diagnosed_order, draft_quote, transition
from tests.live_server import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
async def mailing(
    settings: Settings, smtp: tuple[Inbox, int], clean_database: Engine
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, KeyFactory]]:
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1],
                "tracking_page_url": "https://suivi.atelier.example/{token}"}
    )  # fmt: skip
    app = create_app(configured)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield app, c, KeyFactory(app)
    await app.state.runtime.db.dispose()


async def test_quote_and_ready_notify_the_consenting_customer_in_their_language(
    mailing: Any, smtp: tuple[Inbox, int]
) -> None:
    app, client, keys = mailing
    inbox, _ = smtp
    counter, technician = await keys.headers(Role.COUNTER), await keys.headers(Role.TECHNICIAN)
    customer = {"name": "John Smith", "email": "john@example.co.uk", "preferred_language": "en",
                "contact_consent": True}  # fmt: skip
    order = await diagnosed_order(client, counter, technician, customer=customer)
    await draft_quote(client, counter, order["id"])
    await transition(client, counter, order["id"], "send_quote")
    await transition(client, counter, order["id"], "decline_quote")
    worker = dispatcher(app)
    worker.notifier = notifier_for(app.state.runtime.settings)
    await worker.run_until_idle()
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == [f"Your quote for order {order['number']}",
                        f"Your watch is ready (order {order['number']})"]  # fmt: skip
    assert all(m["To"] == "john@example.co.uk" for m in inbox.messages)
    body = inbox.messages[0].get_content()
    assert f"https://suivi.atelier.example/{order['tracking_token']}" in body


async def test_no_consent_or_unlisted_status_sends_nothing(
    mailing: Any, smtp: tuple[Inbox, int], clean_database: Engine
) -> None:
    app, client, keys = mailing
    counter, technician = await keys.headers(Role.COUNTER), await keys.headers(Role.TECHNICIAN)
    silent = await create_order(
        client, counter, customer={"name": "Anne", "email": "anne@example.fr"}
    )
    await transition(client, counter, silent["id"], "withdraw", reason="later")
    consenting = await create_order(
        client, counter,
        customer={"name": "Paul", "email": "paul@example.fr", "contact_consent": True},
    )  # fmt: skip
    await transition(client, technician, consenting["id"], "start_diagnosis")
    with clean_database.connect() as connection:
        queued = connection.execute(select(CustomerNotification.order_id)).scalars().all()
    assert queued == []
    worker = dispatcher(app)
    worker.notifier = notifier_for(app.state.runtime.settings)
    await worker.run_until_idle()
    assert smtp[0].messages == []


async def test_a_french_customer_reads_french(mailing: Any, smtp: tuple[Inbox, int]) -> None:
    app, client, keys = mailing
    counter = await keys.headers(Role.COUNTER)
    order = await create_order(
        client, counter,
        customer={"name": "Léa", "email": "lea@example.fr", "contact_consent": True},
    )  # fmt: skip
    await transition(client, counter, order["id"], "withdraw", reason="Pas le temps")
    worker = dispatcher(app)
    worker.notifier = notifier_for(app.state.runtime.settings)
    await worker.run_until_idle()
    assert smtp[0].messages[0]["Subject"] == f"Votre montre est prête (commande {order['number']})"
