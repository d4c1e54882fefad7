"""A PostgreSQL on the API's own host is reached through its Unix socket (docs/deployment.md):
the writers, the readers' own connections and the ORM all connect with the URL's ``host``
query parameter, a socket folder."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine, make_url

from app.domain.roles import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import KeyFactory, is_postgresql
from tests.factories import create_order, transition

_SOCKET_FOLDER = Path("/var/run/postgresql")


async def test_orders_are_taken_in_moved_and_read_through_the_unix_socket(
    settings: Settings, clean_database: Engine
) -> None:
    if not is_postgresql(settings.database_url):
        pytest.skip("a PostgreSQL server's socket")
    url = make_url(settings.database_url)
    if not (_SOCKET_FOLDER / f".s.PGSQL.{url.port or 5432}").exists():
        pytest.skip(f"no PostgreSQL socket in {_SOCKET_FOLDER} on this machine")
    through_socket = url.set(host=None, port=None).update_query_dict(
        {"host": str(_SOCKET_FOLDER), "port": str(url.port or 5432)}
    )
    app = create_app(
        settings.model_copy(
            update={"database_url": through_socket.render_as_string(hide_password=False)}
        )
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            keys = KeyFactory(app)
            order = await create_order(client, await keys.headers(Role.COUNTER))
            technician = await keys.headers(Role.TECHNICIAN)
            moved = await transition(client, technician, order["id"], "start_diagnosis")
            read = await client.get(f"/v1/repair-orders/{order['id']}", headers=technician)
            tracked = await client.get(f"/v1/tracking/{order['tracking_token']}")
            async with app.state.runtime.db.engine.connect() as connection:
                # No server address: the connection is a Unix socket's, not TCP's.
                address = (await connection.exec_driver_sql("SELECT inet_server_addr()")).scalar()
    finally:
        await app.state.runtime.db.dispose()
    assert read.status_code == 200, read.text
    assert read.json()["status"] == moved["status"] == "in_diagnosis"
    assert tracked.status_code == 200, tracked.text
    assert address is None
