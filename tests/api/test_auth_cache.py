"""Authentication costs no database round trip on the hot path, and revocation still bites fast.

Two service instances share one database, as behind a load balancer: a key revoked through one
stops working there at once, and on the other within ``api_key_cache_seconds``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.roles import Role
from app.main import create_app
from app.models import ApiKey
from app.security import ApiKeyAuthenticator
from app.settings import Settings
from tests.conftest import KeyFactory


async def test_a_known_key_is_checked_once_then_served_from_memory(
    client: httpx.AsyncClient, keys: KeyFactory, sent_sql: list[tuple[str, Any]]
) -> None:
    counter = await keys.headers(Role.COUNTER)
    for _ in range(20):
        assert (await client.get("/v1/customers", headers=counter)).status_code == 200
    key_lookups = [statement for statement, _ in sent_sql if "FROM api_keys" in statement]
    assert len(key_lookups) == 1


async def test_a_revoked_key_stops_everywhere_within_the_cache_time(
    settings: Settings, clean_database: Engine
) -> None:
    ttl = 0.5
    one = create_app(settings.model_copy(update={"api_key_cache_seconds": ttl}))
    other = create_app(settings.model_copy(update={"api_key_cache_seconds": ttl}))
    admin = await KeyFactory(one).headers(Role.ADMIN)
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        for app in (one, other)
    ]
    try:
        via_one, via_other = clients
        issued = await via_one.post(
            "/v1/api-keys", json={"name": "POS 2", "role": "counter"}, headers=admin
        )
        assert issued.status_code == 201
        counter = {"Authorization": f"Bearer {issued.json()['key']}"}
        for client in clients:  # both instances now hold the key in memory
            assert (await client.get("/v1/customers", headers=counter)).status_code == 200

        revoked = await via_one.post(f"/v1/api-keys/{issued.json()['id']}/revoke", headers=admin)
        assert revoked.status_code == 200
        assert (await via_one.get("/v1/customers", headers=counter)).status_code == 401
        # The other instance may still accept it from memory, but not past the cache time.
        await asyncio.sleep(ttl + 0.1)
        refused = await via_other.get("/v1/customers", headers=counter)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
    finally:
        for client in clients:
            await client.aclose()
        await one.state.runtime.db.dispose()
        await other.state.runtime.db.dispose()


class CountingAuthenticator(ApiKeyAuthenticator):
    """Counts the lookups that reach the database; optionally lets a revocation land while
    one is in flight (what a concurrent request on the same instance would do)."""

    def __init__(self, *, revoke_during_lookup: bool = False) -> None:
        super().__init__(ttl_seconds=60)
        self.lookups = 0
        self.revoke_during_lookup = revoke_during_lookup

    async def _lookup(self, session: AsyncSession, key_hash: str) -> Actor | None:
        self.lookups += 1
        actor = await super()._lookup(session, key_hash)
        if self.revoke_during_lookup:
            self.forget_all()
        return actor


async def test_an_answer_read_before_a_revocation_is_not_kept(app: Any, keys: KeyFactory) -> None:
    secret = (await keys.headers(Role.COUNTER))["Authorization"].removeprefix("Bearer ")
    db = app.state.runtime.db
    for revoke_during_lookup, lookups in ((False, 1), (True, 2)):
        authenticator = CountingAuthenticator(revoke_during_lookup=revoke_during_lookup)
        for _ in range(2):
            async with db.new_session(write=False) as session:
                assert await authenticator.authenticate(session, secret) is not None
        assert authenticator.lookups == lookups


async def test_the_cache_is_forgotten_again_when_the_revocation_commits(
    app: Any, keys: KeyFactory
) -> None:
    secret = (await keys.headers(Role.COUNTER))["Authorization"].removeprefix("Bearer ")
    db = app.state.runtime.db
    authenticator = CountingAuthenticator()
    async with db.new_session(write=True) as revoking:
        await revoking.exec(select(ApiKey.id))
        authenticator.forget_all_when_committed(revoking)
        async with db.new_session(write=False) as meanwhile:  # reads before the commit
            await authenticator.authenticate(meanwhile, secret)
        await revoking.commit()
    async with db.new_session(write=False) as after:
        await authenticator.authenticate(after, secret)
    assert authenticator.lookups == 2
