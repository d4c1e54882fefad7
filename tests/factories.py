"""Small factory functions that build data through the HTTP API, as a client would."""

from __future__ import annotations

from typing import Any

import httpx

WATCH = {"brand": "Omega", "model": "Seamaster", "serial": "56781234", "movement_type": "automatic"}


async def create_order(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "customer": {"name": "Claire Martin", "email": "claire@example.fr"},
        "watch": dict(WATCH),
        "complaint": "Stops at night",
        **fields,
    }
    response = await client.post("/v1/repair-orders", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def transition(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    order_id: str,
    action: str,
    expected: int = 200,
    **payload: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/repair-orders/{order_id}/transitions",
        json={"action": action, **payload},
        headers=headers,
    )
    assert response.status_code == expected, response.text
    return dict(response.json())


def identity_for(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "proof": "deposit_receipt",
        "presented_reference": order["number"],
        "serial_confirmed": True,
    }
