"""Operations endpoints, problem documents, authentication and API keys."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from app.deps import parse_if_match
from app.domain.roles import Role
from app.errors import ApiError
from tests.conftest import KeyFactory

PROBLEM = "application/problem+json"


async def test_healthz_answers_without_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_and_migrations_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migrations": "at_head"}


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert (
        'atelier_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    )


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "pos-42-abc"})
    assert echoed.headers["x-request-id"] == "pos-42-abc"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


async def test_missing_key_is_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/customers")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "/problems/unauthenticated"
    assert body["status"] == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Bearer {key}", 200),
        ("bearer {key}", 200),  # the scheme's case does not matter (RFC 9110)
        ("BEARER   {key}  ", 200),  # nor spaces around the key
        ("Basic {key}", 401),
        ("Bearer", 401),
        ("Bearer    ", 401),
        ("{key}", 401),
        (" Bearer {key}", 401),
        ("", 401),
    ],
)
async def test_the_authorization_header_as_it_is_read(
    client: httpx.AsyncClient, keys: KeyFactory, header: str, status: int
) -> None:
    key = (await keys.headers(Role.COUNTER))["Authorization"].removeprefix("Bearer ")
    response = await client.get("/v1/customers", headers={"Authorization": header.format(key=key)})
    assert response.status_code == status
    if status == 401:
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "/problems/unauthenticated"


async def test_unknown_key_is_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/customers", headers={"Authorization": "Bearer atl_not-a-real-key"}
    )
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_unknown_path_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    wrong_method = await client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == PROBLEM
    assert "GET" in wrong_method.headers["allow"]


async def test_routes_are_found_under_a_parameterised_prefix_and_behind_a_proxy_prefix(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    # Each router only looks at paths under its prefix; the quotes router's prefix holds a
    # parameter (/v1/repair-orders/{order_id}), and a proxy may mount the API under a root path.
    counter = await keys.headers(Role.COUNTER)
    missing_order = "/v1/repair-orders/00000000-0000-4000-8000-000000000000/quotes"
    found = await client.get(missing_order, headers=counter)
    assert found.status_code == 404
    assert "No repair order" in found.json()["detail"]  # the order is missing, not the route
    proxied = httpx.ASGITransport(app=app, root_path="/atelier")
    async with httpx.AsyncClient(transport=proxied, base_url="http://testserver") as behind:
        listed = await behind.get("/atelier/v1/customers", headers=counter)
        assert listed.status_code == 200
        nothing = await behind.get("/atelier/v1/nothing", headers=counter)
        assert nothing.json()["detail"] == "No resource at this address."
    unmounted = await client.get("/atelier/v1/customers", headers=counter)
    assert unmounted.json()["detail"] == "No resource at this address."
    # A router whose prefix is only /v1 looks at its own paths beginnings, and a path of a
    # router with another method is still a 405, not a 404.
    manager = await keys.headers(Role.MANAGER)
    profiles = await client.get("/v1/tolerance-profiles", headers=manager)
    assert profiles.status_code == 200
    assert (await client.delete("/v1/tracking/anything")).status_code == 405
    assert (await client.get("/v1/tolerance-profiles-x", headers=manager)).status_code == 404


async def test_admin_issues_a_key_shown_once_and_it_works(
    client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    admin = await keys.headers(Role.ADMIN)
    created = await client.post(
        "/v1/api-keys", json={"name": "Counter POS 1", "role": "counter"}, headers=admin
    )
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("atl_")
    assert body["key_prefix"] == body["key"][:12]
    assert created.headers["location"] == f"/v1/api-keys/{body['id']}"
    listed = await client.get("/v1/api-keys", headers=admin)
    assert all("key" not in item for item in listed.json()["items"])
    assert body["id"] in [item["id"] for item in listed.json()["items"]]
    counter = {"Authorization": f"Bearer {body['key']}"}
    assert (await client.get("/v1/customers", headers=counter)).status_code == 200


async def test_revoked_key_stops_working(client: httpx.AsyncClient, keys: KeyFactory) -> None:
    admin = await keys.headers(Role.ADMIN)
    created = (
        await client.post("/v1/api-keys", json={"name": "tmp", "role": "counter"}, headers=admin)
    ).json()
    counter = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/v1/customers", headers=counter)).status_code == 200
    revoked = await client.post(f"/v1/api-keys/{created['id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/v1/customers", headers=counter)).status_code == 401
    active = await client.get("/v1/api-keys", headers=admin)
    assert created["id"] not in [item["id"] for item in active.json()["items"]]
    everything = await client.get("/v1/api-keys?include_revoked=true", headers=admin)
    assert created["id"] in [item["id"] for item in everything.json()["items"]]


async def test_only_admins_manage_keys(client: httpx.AsyncClient, keys: KeyFactory) -> None:
    manager = await keys.headers(Role.MANAGER)
    response = await client.post(
        "/v1/api-keys", json={"name": "x", "role": "admin"}, headers=manager
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


async def test_partner_key_requires_an_existing_partner(
    client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    admin = await keys.headers(Role.ADMIN)
    without = await client.post(
        "/v1/api-keys", json={"name": "b", "role": "partner"}, headers=admin
    )
    assert without.status_code == 422
    assert without.json()["errors"][0]["pointer"] == "/partner_id"
    partner_id = await keys.partner()
    with_partner = await client.post(
        "/v1/api-keys",
        json={"name": "b", "role": "partner", "partner_id": str(partner_id)},
        headers=admin,
    )
    assert with_partner.status_code == 201
    assert with_partner.json()["partner_id"] == str(partner_id)


async def test_key_roles_outside_the_list_are_refused(
    client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    admin = await keys.headers(Role.ADMIN)
    response = await client.post(
        "/v1/api-keys", json={"name": "x", "role": "customer"}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/role"


async def test_unknown_key_id_on_revoke_is_404(client: httpx.AsyncClient, keys: KeyFactory) -> None:
    admin = await keys.headers(Role.ADMIN)
    response = await client.post(
        "/v1/api-keys/00000000-0000-4000-8000-000000000000/revoke", headers=admin
    )
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


async def test_text_and_numbers_are_checked_as_the_contract_reads_them(
    client: httpx.AsyncClient, keys: KeyFactory
) -> None:
    """Characters on which ECMA-262's and Python's patterns part: U+0085 and U+FEFF are blank
    to both readers of the contract's patterns, and other scripts' digits are no amount
    (tests/contract: no ambiguous escape in any pattern)."""
    counter = await keys.headers(Role.COUNTER)
    for blank in ("\x85", "\ufeff", " \x1c "):
        refused = await client.post("/v1/customers", json={"name": blank}, headers=counter)
        assert refused.status_code == 422, blank
    created = await client.post("/v1/customers", json={"name": "Zoé\x85"}, headers=counter)
    assert created.status_code == 201
    customer = created.json()
    order = {
        "customer": {"id": customer["id"]},
        "watch": {"brand": "Lip", "movement_type": "quartz"},
        "deposit": {"amount": "١٢"},  # Arabic-Indic digits: Decimal() would read them as 12
    }
    refused = await client.post("/v1/repair-orders", json=order, headers=counter)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/deposit/amount"


def test_an_if_match_version_is_ascii_digits() -> None:
    """Behind the header's pattern, the parser too: ``"²"`` is a digit to ``str.isdigit`` but
    no number to ``int`` (a 500 if it got through)."""
    assert parse_if_match('W/"12"') == 12
    with pytest.raises(ApiError):
        parse_if_match('"²"')


async def test_every_request_is_counted_timed_and_logged(client: httpx.AsyncClient) -> None:
    """Each request adds to its series (a series is looked up once, then reused), and the access
    log has a line per request whenever its level lets it through."""
    lines: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record)

    access, keep = logging.getLogger("atelier.access"), Keep()
    access.addHandler(keep)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        for _ in range(3):
            assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/v1/nowhere")).status_code == 404
    finally:
        access.setLevel(level)
        access.removeHandler(keep)
    metrics = (await client.get("/metrics")).text
    counted = re.search(
        r'atelier_http_requests_total\{method="GET",route="/readyz",status="200"\} (\S+)', metrics
    )
    timed = re.search(
        r'atelier_http_request_duration_seconds_count\{method="GET",route="/readyz"\} (\S+)',
        metrics,
    )
    assert counted and timed
    assert float(counted.group(1)) == float(timed.group(1)) >= 3
    assert [(r.route, r.status) for r in lines] == [("/readyz", 200)] * 3 + [("unmatched", 404)]  # type: ignore[attr-defined]
