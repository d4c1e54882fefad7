"""Partner boutiques: managed by managers and admins, invisible to everyone else."""

from __future__ import annotations

import httpx

from app.domain.roles import Role
from tests.conftest import KeyFactory

BOUTIQUE = {
    "name": "Bijouterie du Port",
    "address": "3 quai de la Fosse, 44000 Nantes",
    "contact_name": "Léa Roux",
    "contact_email": "sav@bijouterie-port.fr",
    "return_shipping_address": "3 quai de la Fosse, 44000 Nantes",
    "default_language": "fr",
}


async def test_manager_registers_and_updates_a_partner(
    client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    manager = await keys.headers(Role.MANAGER)
    created = await client.post("/v1/partners", json=BOUTIQUE, headers=manager)
    assert created.status_code == 201
    partner = created.json()
    assert partner["active"] is True
    updated = await client.patch(
        f"/v1/partners/{partner['id']}",
        json={"active": False},
        headers={**manager, "If-Match": created.headers["etag"]},
    )
    assert updated.status_code == 200
    assert updated.json()["active"] is False
    listed = await client.get("/v1/partners?q=port", headers=manager)
    assert [p["id"] for p in listed.json()["items"]] == [partner["id"]]


async def test_counter_and_partners_cannot_manage_partners(
    client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    counter = await keys.headers(Role.COUNTER)
    boutique = await keys.headers(Role.PARTNER, partner_id=await keys.partner())
    for headers in (counter, boutique):
        assert (await client.get("/v1/partners", headers=headers)).status_code == 403
        assert (
            await client.post("/v1/partners", json=BOUTIQUE, headers=headers)
        ).status_code == 403
