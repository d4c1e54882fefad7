"""Authorisation matrices over every operation of the contract.

- no key, an unknown key, a revoked key → 401 everywhere but health and tracking;
- a partner reaching another partner's resource → 404 (never 403: existence is not confirmed);
- list endpoints return only the caller's rows.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from app.contract import CONTRACT_PATH
from app.domain.roles import Role
from tests.conftest import KeyFactory
from tests.factories import create_order

CONTRACT = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
PUBLIC = ("/healthz", "/readyz", "/metrics", "/v1/tracking/")
OPERATIONS = [
    (method.upper(), path, operation["operationId"])
    for path, item in CONTRACT["paths"].items()
    for method, operation in item.items()
]
PROTECTED = [op for op in OPERATIONS if not op[1].startswith(PUBLIC)]
# A body each operation accepts, so that validation never answers before authorisation.
BODIES: dict[str, Any] = {
    "transitionRepairOrder": {"action": "cancel", "reason": "test"},
    "openWarrantyClaim": {},
    "recordCollectionReminder": {"channel": "sms"},
    "recordInboundShipment": {"carrier": "Colissimo", "tracking_number": "1"},
    "reviewPreDiagnosis": {"approved": True},
    "createQuoteRevision": {"lines": [{"kind": "service", "code": "battery"}]},
    "updateQuoteRevision": {"note": "x"},
    "recordMeasurementSession": {"phase": "intake", "readings": {"quartz": {"monthly_rate": 1}}},
    "addWorkLogEntry": {"step": "inspection"},
    "updateCustomer": {"name": "Renamed"},
    "updateWatch": {"brand": "Renamed"},
    "resolveAlert": {},
}


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(
        r"\{(\w+)\}", lambda m: ids.get(m.group(1), "00000000-0000-4000-8000-000000000000"), path
    )


async def call(
    client: httpx.AsyncClient, method: str, path: str, operation_id: str, headers: dict[str, str]
) -> httpx.Response:
    body = BODIES.get(operation_id, {}) if method in ("POST", "PATCH", "PUT") else None
    return await client.request(method, path, json=body, headers={**headers, "If-Match": '"1"'})


DUMMY_IDS = {"code": "battery", "number": "1"}


@pytest.mark.parametrize(
    ("method", "path", "operation_id"), PROTECTED, ids=[o[2] for o in PROTECTED]
)
async def test_every_protected_operation_refuses_missing_bad_and_revoked_keys(
    client: httpx.AsyncClient, keys: KeyFactory, method: str, path: str, operation_id: str
) -> None:
    admin = await keys.headers(Role.ADMIN)
    issued = (await client.post("/v1/api-keys", json={"name": "tmp", "role": "manager"},
                                headers=admin)).json()  # fmt: skip
    await client.post(f"/v1/api-keys/{issued['id']}/revoke", headers=admin)
    url = fill(path, DUMMY_IDS)
    for headers in ({}, {"Authorization": "Bearer atl_unknown"},
                    {"Authorization": f"Bearer {issued['key']}"}):  # fmt: skip
        response = await call(client, method, url, operation_id, headers)
        assert response.status_code == 401, (operation_id, headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def tenants(client: httpx.AsyncClient, keys: KeyFactory) -> dict[str, Any]:
    mine = await keys.headers(Role.PARTNER, partner_id=await keys.partner("A"))
    other = await keys.headers(Role.PARTNER, partner_id=await keys.partner("B"))
    order = await create_order(client, mine)
    return {
        "mine": mine,
        "other": other,
        "ids": {
            "order_id": order["id"],
            "customer_id": order["customer_id"],
            "watch_id": order["watch_id"],
            **DUMMY_IDS,
        },
    }


TENANT_PATHS = [op for op in PROTECTED if re.search(r"\{(order|customer|watch)_id\}", op[1])]


@pytest.mark.parametrize(
    ("method", "path", "operation_id"), TENANT_PATHS, ids=[o[2] for o in TENANT_PATHS]
)
async def test_another_partners_resource_is_not_found(
    client: httpx.AsyncClient, tenants: dict[str, Any], method: str, path: str, operation_id: str
) -> None:
    url = fill(path, tenants["ids"])
    owner = await call(client, method, url, operation_id, tenants["mine"])
    stranger = await call(client, method, url, operation_id, tenants["other"])
    if owner.status_code == 403:
        # A role matter, the same for every partner: no tenant's existence is revealed.
        assert stranger.status_code == 403, operation_id
    else:
        assert stranger.status_code == 404, (operation_id, stranger.text)
        assert stranger.json()["type"] == "/problems/not-found"


async def test_lists_contain_only_the_callers_rows(
    client: httpx.AsyncClient, tenants: dict[str, Any], keys: KeyFactory
) -> None:
    counter = await keys.headers(Role.COUNTER)
    await create_order(client, counter)
    await create_order(client, tenants["other"])
    for url in ("/v1/repair-orders", "/v1/customers", "/v1/watches"):
        mine = (await client.get(url, headers=tenants["mine"])).json()["items"]
        assert len(mine) == 1, url
        assert all(row["partner_id"] == mine[0]["partner_id"] for row in mine)
        everyone = (await client.get(url, headers=counter)).json()["items"]
        assert len(everyone) == 3, url
    theirs = (await client.get("/v1/repair-orders", headers=tenants["other"])).json()["items"]
    foreign = await client.get(
        "/v1/repair-orders", params={"partner_id": theirs[0]["partner_id"]}, headers=tenants["mine"]
    )
    assert foreign.json()["items"] == []


async def test_a_partner_cannot_choose_its_partner_id(
    client: httpx.AsyncClient, tenants: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/customers", json={"name": "X", "partner_id": "00000000-0000-4000-8000-000000000000"},
        headers=tenants["mine"],
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/partner_id"


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        (Role.TECHNICIAN, "GET", "/v1/api-keys", False),
        (Role.MANAGER, "GET", "/v1/api-keys", False),
        (Role.COUNTER, "GET", "/v1/partners", False),
        (Role.PARTNER, "GET", "/v1/tolerance-profiles", False),
        (Role.PARTNER, "GET", "/v1/work-log/alerts", False),
        (Role.COUNTER, "GET", "/v1/work-log/alerts", False),
        (Role.ADMIN, "GET", "/v1/repair-orders", False),
        (Role.TECHNICIAN, "GET", "/v1/catalog/services", True),
        (Role.MANAGER, "GET", "/v1/work-log/alerts", True),
    ],
)
async def test_role_matrix(
    client: httpx.AsyncClient, keys: KeyFactory, role: Role, method: str, path: str, allowed: bool
) -> None:
    partner_id = await keys.partner() if role is Role.PARTNER else None
    headers = await keys.headers(role, partner_id=partner_id)
    response = await client.request(method, path, headers=headers)
    assert (response.status_code == 200) is allowed, response.text
    if not allowed:
        assert response.status_code == 403
