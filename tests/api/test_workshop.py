"""Diagnosis and quality control over HTTP: pre-diagnosis, measurements, work log, QC gate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.domain.roles import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import KeyFactory
from tests.factories import WATCH, create_order, draft_quote, transition

POSITIONS = ["dial_up", "dial_down", "crown_up", "crown_down", "crown_left", "crown_right"]


def timing(rates: list[float], amplitudes: list[float], beat_error: float = 0.3,
           hours: float = 0) -> dict[str, Any]:  # fmt: skip
    return {
        "beat_rate": 28800,
        "lift_angle": 52,
        "hours_after_full_wind": hours,
        "machine": "Witschi",
        "readings": [
            {"position": p, "rate": r, "amplitude": a, "beat_error": beat_error}
            for p, r, a in zip(POSITIONS, rates, amplitudes, strict=False)
        ],
    }


WORN = timing([-45, -40, -52, -48, -50, -47], [190, 188, 160, 158, 162, 161], 1.2)
SERVICED = timing([3, 4, 1, 2, 5, 3], [285, 282, 262, 258, 260, 259], 0.2)
SLOW_AFTER_SERVICE = timing([-9, -8, -10, -12, -9, -11], [285, 282, 262, 258, 260, 259], 0.2)


@pytest.fixture
async def staff(keys: KeyFactory) -> dict[Role, dict[str, str]]:
    return {
        role: await keys.headers(role, name=f"{role.value} Petit")
        for role in (Role.COUNTER, Role.TECHNICIAN, Role.MANAGER)
    }


async def measure(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str, phase: str,
    expected: int = 201, **readings: Any,
) -> dict[str, Any]:  # fmt: skip
    response = await client.post(
        f"/v1/repair-orders/{order_id}/measurements",
        json={"phase": phase, "instrument": "Witschi Chronoscope", "readings": readings},
        headers=headers,
    )
    assert response.status_code == expected, response.text
    return dict(response.json())


async def repaired_to_qc(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], watch: dict[str, Any]
) -> dict[str, Any]:
    counter, technician = staff[Role.COUNTER], staff[Role.TECHNICIAN]
    order = await create_order(client, counter, watch=watch)
    await transition(client, technician, order["id"], "start_diagnosis")
    await transition(client, technician, order["id"], "complete_diagnosis", final_diagnosis="Due")
    await draft_quote(
        client, counter, order["id"], {"lines": [{"kind": "service", "code": "water_test"}]}
    )
    await transition(client, counter, order["id"], "send_quote")
    await transition(client, counter, order["id"], "approve_quote")
    await transition(client, technician, order["id"], "start_repair")
    await transition(client, technician, order["id"], "submit_for_qc")
    return order


async def test_pre_diagnosis_records_symptoms_suggests_services_and_goes_to_review(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter, manager = staff[Role.COUNTER], staff[Role.MANAGER]
    order = await create_order(client, counter, watch={**WATCH, "movement_type": "automatic"})
    unknown = await transition(
        client, counter, order["id"], "pre_diagnose", 422,
        symptoms=["loses_time"], proposed_services=["time_travel"],
    )  # fmt: skip
    assert unknown["errors"][0]["pointer"] == "/proposed_services/0"
    diagnosed = await transition(
        client, counter, order["id"], "pre_diagnose",
        symptoms=["loses_time", "fogging"], description="Loses 5 minutes a day, fog under glass",
        trigger="water", last_service_on="2019-05-01", crown_screwed_down=False,
        intended_use="swimming", proposed_services=["service_automatic", "gaskets"],
        estimate={"low": {"amount": "180"}, "high": {"amount": "320"}},
        manager_review_requested=True,
    )  # fmt: skip
    pre = diagnosed["pre_diagnosis"]
    assert pre["urgent"] is True
    assert pre["suggested_services"] == ["service_automatic", "gaskets", "water_test"]
    assert pre["review"] is None
    reviewed = await client.post(
        f"/v1/repair-orders/{order['id']}/pre-diagnosis/review",
        json={"approved": True, "note": "OK, add water test"},
        headers=manager,
    )
    assert reviewed.status_code == 200
    assert reviewed.json()["pre_diagnosis"]["review"]["reviewed_by"] == "manager Petit"
    not_manager = await client.post(
        f"/v1/repair-orders/{order['id']}/pre-diagnosis/review", json={"approved": True},
        headers=counter,
    )  # fmt: skip
    assert not_manager.status_code == 403


async def test_mechanical_watch_diagnosis_qc_gate_and_comparison(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    counter, technician, manager = staff[Role.COUNTER], staff[Role.TECHNICIAN], staff[Role.MANAGER]
    order = await create_order(client, counter, watch={**WATCH, "movement_type": "automatic"})
    oid = order["id"]
    await transition(client, technician, oid, "start_diagnosis")
    before = await measure(client, technician, oid, "before_uncasing", timing=[WORN])
    assert before["profiles"] == {"timing": "workshop_after_service"}
    assert before["passed"] is False
    failed = {v["criterion"] for v in before["verdict"] if not v["passed"]}
    assert {"mean_rate_min", "amplitude_dial_up", "beat_error"} <= failed
    figures = before["derived"]["timing"][0]
    assert figures["mean_rate"] == "-47.0"
    assert figures["delta"] == "12.0"
    assert figures["amplitude_drop"] == "29"
    await transition(client, technician, oid, "complete_diagnosis", final_diagnosis="Dry oils",
                     findings=["low amplitude"])  # fmt: skip
    await draft_quote(
        client, counter, oid, {"lines": [{"kind": "service", "code": "service_automatic"}]}
    )
    await transition(client, counter, oid, "send_quote")
    await transition(client, counter, oid, "approve_quote")
    await transition(client, technician, oid, "start_repair")
    log = await client.post(
        f"/v1/repair-orders/{oid}/work-log",
        json={"step": "disassembly", "minutes_spent": 40, "anomaly": True, "alert_manager": True,
              "note": "Rust on the keyless works",
              "parts_used": [{"reference": "Mainspring", "quantity": 1}]},
        headers=technician,
    )  # fmt: skip
    assert log.status_code == 201
    alerts = (await client.get("/v1/work-log/alerts", headers=manager)).json()["items"]
    assert [a["id"] for a in alerts] == [log.json()["id"]]
    resolved = await client.post(
        f"/v1/work-log/alerts/{log.json()['id']}/resolution", json={"note": "Replace the stem"},
        headers=manager,
    )  # fmt: skip
    assert resolved.json()["alert_resolved_by"] == "manager Petit"
    assert (await client.get("/v1/work-log/alerts", headers=manager)).json()["items"] == []
    sheet = (await client.get(f"/v1/repair-orders/{oid}/work-log", headers=counter)).json()
    assert sheet["total_minutes"] == 40
    early_qc = await client.post(
        f"/v1/repair-orders/{oid}/measurements",
        json={"phase": "qc", "readings": {"timing": [SERVICED]}}, headers=technician,
    )  # fmt: skip
    assert early_qc.status_code == 409
    await transition(client, technician, oid, "submit_for_qc")
    never = await transition(client, technician, oid, "pass_qc", 409)
    assert never["reason"] == "qc-not-passed"
    slow = await measure(client, technician, oid, "qc", timing=[SLOW_AFTER_SERVICE])
    assert slow["passed"] is False
    refused = await transition(client, technician, oid, "pass_qc", 409)
    assert refused["reason"] == "qc-not-passed"
    assert refused["failed_criteria"] == ["mean_rate_min"]
    await transition(client, technician, oid, "fail_qc", failed_criteria=["mean_rate_min"])
    await transition(client, technician, oid, "submit_for_qc")
    good = await measure(client, technician, oid, "qc", timing=[SERVICED])
    assert good["passed"] is True
    ready = await transition(client, technician, oid, "pass_qc")
    assert (ready["status"], ready["outcome"]) == ("ready", "repaired")
    listing = (await client.get(f"/v1/repair-orders/{oid}/measurements", headers=counter)).json()
    assert [s["phase"] for s in listing["items"]] == ["before_uncasing", "qc", "qc"]
    comparison = listing["comparison"]
    assert comparison["before_session_id"] == before["id"]
    assert comparison["after_session_id"] == good["id"]
    assert "rate -47.0 s/d → +3.0 s/d" in comparison["summary"]
    assert "amplitude 190° → 285°" in comparison["summary"]


async def test_failed_qc_passes_only_by_a_managers_reasoned_override(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    technician, manager = staff[Role.TECHNICIAN], staff[Role.MANAGER]
    order = await repaired_to_qc(client, staff, {**WATCH, "movement_type": "automatic"})
    await measure(client, technician, order["id"], "qc", timing=[SLOW_AFTER_SERVICE])
    no_reason = await transition(client, manager, order["id"], "pass_qc", 409, override=True)
    assert no_reason["reason"] == "override-reason-required"
    technician_override = await transition(
        client, technician, order["id"], "pass_qc", 409, override=True, reason="trust me"
    )
    assert technician_override["reason"] == "override-not-allowed"
    ready = await transition(
        client, manager, order["id"], "pass_qc", override=True,
        reason="Customer leaves abroad tomorrow; −10 s/d accepted in writing",
    )  # fmt: skip
    assert ready["status"] == "ready"
    events = (await client.get(f"/v1/repair-orders/{order['id']}/events", headers=manager)).json()
    last = events["items"][-1]
    assert last["payload"]["override"] is True
    assert last["reason"].startswith("Customer leaves abroad")


async def test_quartz_watch_qc_against_the_quartz_profile(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    technician = staff[Role.TECHNICIAN]
    quartz_watch = {"brand": "Seiko", "movement_type": "quartz", "caliber": "ETA 976.001"}
    order = await repaired_to_qc(client, staff, quartz_watch)
    weak = await measure(
        client, technician, order["id"], "qc",
        quartz={"battery_type": "sr", "battery_voltage": 1.55, "consumption_ua": 0.8,
                "coil_resistance_kohm": 2.2, "insulation_mohm": 50, "monthly_rate": 4},
    )  # fmt: skip
    assert weak["profiles"] == {"quartz": "eta_976_001"}
    assert [v["criterion"] for v in weak["verdict"] if not v["passed"]] == ["consumption"]
    good = await measure(
        client, technician, order["id"], "qc",
        quartz={"battery_type": "sr", "battery_voltage": 1.56, "consumption_ua": 0.45,
                "coil_resistance_kohm": 2.25, "insulation_mohm": 50, "monthly_rate": -3},
        water=[{"method": "dry", "stage": "after_closing", "rated_pressure_bar": 5,
                "test_pressure_bar": 5, "leak_rate": 12, "condensation": False}],
    )  # fmt: skip
    assert good["passed"] is True
    assert good["profiles"] == {"water": "iso22810", "quartz": "eta_976_001"}
    assert (await transition(client, technician, order["id"], "pass_qc"))["status"] == "ready"


@pytest.mark.parametrize(
    ("readings", "pointer"),
    [
        ({"timing": [timing([0], [900])]}, "/readings/timing/0/readings/0/amplitude"),
        ({"timing": [timing([0], [250], beat_error=-0.1)]},
         "/readings/timing/0/readings/0/beat_error"),
        ({"quartz": {"battery_voltage": -1.5}}, "/readings/quartz/battery_voltage"),
        ({"timing": [{**timing([0], [250]), "readings": [{"position": "sideways", "rate": 0,
          "amplitude": 250, "beat_error": 0.1}]}]}, "/readings/timing/0/readings/0/position"),
        ({"timing": [{**timing([0], [250]), "readings": [
            {"position": "dial_up", "rate": 0, "amplitude": 250, "beat_error": 0.1},
            {"position": "dial_up", "rate": 1, "amplitude": 250, "beat_error": 0.1}]}]},
         "/readings/timing/0/readings/1/position"),
        ({"water": [{"method": "dry", "stage": "before_opening", "rated_pressure_bar": 10,
                     "test_pressure_bar": 10}]}, "/readings/water/0/leak_rate"),
        ({}, "/readings"),
    ],
)  # fmt: skip
async def test_physically_impossible_readings_are_refused_with_a_pointer(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]], readings: dict[str, Any],
    pointer: str,
) -> None:  # fmt: skip
    order = await create_order(client, staff[Role.COUNTER])
    response = await client.post(
        f"/v1/repair-orders/{order['id']}/measurements",
        json={"phase": "intake", "readings": readings}, headers=staff[Role.TECHNICIAN],
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    listing = await client.get(
        f"/v1/repair-orders/{order['id']}/measurements", headers=staff[Role.COUNTER]
    )
    assert listing.json()["items"] == []


async def test_four_eyes_qc_keeps_the_repairer_from_passing_it(
    settings: Settings, keys: KeyFactory
) -> None:
    strict = create_app(settings.model_copy(update={"four_eyes_qc": True}))
    factory = KeyFactory(strict)
    staff = {
        Role.COUNTER: await factory.headers(Role.COUNTER),
        Role.TECHNICIAN: await factory.headers(Role.TECHNICIAN, name="repairer"),
        Role.MANAGER: await factory.headers(Role.MANAGER),
    }
    colleague = await factory.headers(Role.TECHNICIAN, name="colleague")
    transport = httpx.ASGITransport(app=strict)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        order = await repaired_to_qc(client, staff, {**WATCH, "movement_type": "automatic"})
        await measure(client, staff[Role.TECHNICIAN], order["id"], "qc", timing=[SERVICED])
        own = await transition(client, staff[Role.TECHNICIAN], order["id"], "pass_qc", 409)
        assert own["reason"] == "four-eyes"
        assert (await transition(client, colleague, order["id"], "pass_qc"))["status"] == "ready"
    await strict.state.runtime.db.dispose()


async def test_tolerance_profiles_are_data_managers_edit(
    client: httpx.AsyncClient, staff: dict[Role, dict[str, str]]
) -> None:
    manager, technician = staff[Role.MANAGER], staff[Role.TECHNICIAN]
    seeded = (await client.get("/v1/tolerance-profiles", headers=technician)).json()["items"]
    codes = {p["code"] for p in seeded}
    expected = {"iso3159_over_20mm", "iso3159_20mm_or_less", "metas_master_chronometer",
                "workshop_after_service", "quartz_standard", "iso22810", "iso6425"}  # fmt: skip
    assert expected <= codes
    cosc = next(p for p in seeded if p["code"] == "iso3159_over_20mm")
    assert (cosc["limits"]["mean_rate_min"], cosc["limits"]["mean_rate_max"]) == ("-4", "6")
    omega = {"code": "omega_8500", "name": "Omega 8500 after service", "kind": "timing",
             "movement_types": ["automatic"], "brand": "Omega", "caliber": "8500",
             "limits": {"mean_rate_min": 0, "mean_rate_max": 5,
                        "amplitude_dial_up_min": 260}}  # fmt: skip
    created = await client.post("/v1/tolerance-profiles", json=omega, headers=manager)
    assert created.status_code == 201
    assert (
        await client.post("/v1/tolerance-profiles", json=omega, headers=technician)
    ).status_code == 403
    replaced = await client.put(
        "/v1/tolerance-profiles/omega_8500",
        json={k: v for k, v in omega.items() if k != "code"} | {"limits": {"mean_rate_max": 4}},
        headers={**manager, "If-Match": '"1"'},
    )
    assert replaced.json()["limits"] == {"mean_rate_max": "4"}
    order = await create_order(
        client, staff[Role.COUNTER],
        watch={"brand": "Omega", "movement_type": "automatic", "caliber": "8500"},
    )  # fmt: skip
    chosen = await measure(client, technician, order["id"], "intake", timing=[SERVICED])
    assert chosen["profiles"] == {"timing": "omega_8500"}
    named = await client.post(
        f"/v1/repair-orders/{order['id']}/measurements",
        json={"phase": "intake", "readings": {"timing": [SERVICED]},
              "profiles": {"timing": "iso3159_over_20mm"}},
        headers=technician,
    )  # fmt: skip
    assert named.json()["profiles"] == {"timing": "iso3159_over_20mm"}
    wrong_kind = await client.post(
        f"/v1/repair-orders/{order['id']}/measurements",
        json={"phase": "intake", "readings": {"timing": [SERVICED]},
              "profiles": {"timing": "iso22810"}},
        headers=technician,
    )  # fmt: skip
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["errors"][0]["pointer"] == "/profiles/timing"


async def test_partners_do_not_see_internal_work_log_notes(
    client: httpx.AsyncClient, keys: KeyFactory, staff: dict[Role, dict[str, str]]
) -> None:
    boutique = await keys.headers(Role.PARTNER, partner_id=await keys.partner())
    order = await create_order(client, boutique)
    await transition(client, staff[Role.COUNTER], order["id"], "receive")
    await client.post(
        f"/v1/repair-orders/{order['id']}/work-log",
        json={"step": "inspection", "note": "Customer probably dropped it"},
        headers=staff[Role.TECHNICIAN],
    )
    seen = (await client.get(f"/v1/repair-orders/{order['id']}/work-log", headers=boutique)).json()
    assert seen["items"][0]["step"] == "inspection"
    assert seen["items"][0]["note"] is None
