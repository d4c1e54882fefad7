"""Small factory functions that build data through the HTTP API, as a client would."""

from __future__ import annotations

from typing import Any

import httpx

from app.domain.lifecycle import OrderStatus, RecordedEvent, replay

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


SERVICE_QUOTE = {
    "lines": [
        {"kind": "service", "code": "service_automatic"},
        {"kind": "part", "reference": "ETA 2824-2 mainspring", "description": "Mainspring",
         "unit_price": {"amount": "18.50"}},
        {"kind": "service", "code": "polishing", "mandatory": False},
    ],
    "diagnosis_fee": {"amount": "25.00"},
}  # fmt: skip


async def diagnosed_order(
    client: httpx.AsyncClient,
    counter: dict[str, str],
    technician: dict[str, str],
    **fields: Any,
) -> dict[str, Any]:
    order = await create_order(client, counter, **fields)
    await transition(client, technician, order["id"], "start_diagnosis")
    return await transition(
        client, technician, order["id"], "complete_diagnosis", final_diagnosis="Service due"
    )


async def draft_quote(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str, quote: Any = None
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/repair-orders/{order_id}/quotes", json=quote or SERVICE_QUOTE, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def replayed_status(events: list[dict[str, Any]]) -> str:
    """Fold an order's event list (as the API returns it) with the domain's replay."""
    recorded = [
        RecordedEvent(
            e["sequence"],
            e["action"],
            OrderStatus(e["from_status"]) if e["from_status"] else None,
            OrderStatus(e["to_status"]),
        )
        for e in events
    ]
    return replay(recorded).value
