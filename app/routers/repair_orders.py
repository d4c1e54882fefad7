"""Repair orders: intake, reading, lists, lifecycle commands, events, warranty claims."""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Body, Depends, Query, Response
from pydantic_core import to_json

from app.deps import (
    ClockDep,
    IfMatchHeader,
    SessionDep,
    SettingsDep,
    etag,
    parse_if_match,
    require_roles,
)
from app.domain.actors import Actor
from app.domain.lifecycle import Action, OrderStatus, allowed_action_names
from app.domain.roles import Role
from app.models import RepairOrder
from app.repositories.repair_orders import ACTIONS_MARK, OrderFilters
from app.routers.common import ETAG_HEADER, LOCATION_HEADER, api_router, documented, json_response
from app.schemas.common import AwareDatetime, CursorParam, IsoDate, Limit, SearchText
from app.schemas.measurements import PreDiagnosisReview
from app.schemas.repair_orders import (
    InboundShipment,
    IntakeCorrection,
    IntakeDetails,
    OrderEventPage,
    OrderEventRead,
    ReminderCreate,
    RepairOrderCreate,
    RepairOrderPage,
    RepairOrderRead,
)
from app.schemas.transitions import TransitionCommand
from app.services import repair_orders as order_service
from app.services import tracking as tracking_service
from app.services import transitions as transition_service
from app.services.billing import BILLING_INPUTS, billing
from app.services.order_documents import actions_by_status, presented

router = api_router("/v1/repair-orders", "repair-orders")
OrderReader = Annotated[
    Actor, Depends(require_roles(Role.COUNTER, Role.TECHNICIAN, Role.MANAGER, Role.PARTNER))
]
OrderCreator = Annotated[Actor, Depends(require_roles(Role.COUNTER, Role.MANAGER, Role.PARTNER))]
ManagerOnly = Annotated[Actor, Depends(require_roles(Role.MANAGER))]
ShipmentSender = Annotated[Actor, Depends(require_roles(Role.PARTNER, Role.MANAGER))]
# Counter and manager: warranty claims, reminders, tracking links, receipt corrections.
WarrantyDesk = Annotated[Actor, Depends(require_roles(Role.COUNTER, Role.MANAGER))]


_READ_FIELDS = tuple(RepairOrderRead.model_fields)


def representation(values: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
    """An order as ``RepairOrderRead`` shows it (its fields, in its order) from the order's
    column values, for ``json_response``: the columns' types are the model's, the money and
    the actions the caller may take are worked out here."""
    source = {
        **values,
        **billing(values),
        "allowed_actions": allowed_action_names(values["status"], actor.role),
    }
    return {name: source[name] for name in _READ_FIELDS}


def order_response(
    values: Mapping[str, Any], actor: Actor, *, created: bool = False, documented: bool = False
) -> Response:
    """One order's response: its representation, its version as the ETag, and, when it was
    just created, 201 with its address. ``documented``: the values' ``document`` was written
    from them (``order_documents``), and is the body but for the caller's actions."""
    headers = {"ETag": etag(values["version"])}
    if created:
        headers["Location"] = f"/v1/repair-orders/{values['id']}"
    status_code = 201 if created else 200
    if documented:
        body = presented(values["document"], values["status"], actor.role)
        return Response(
            body.encode(), status_code=status_code, media_type="application/json", headers=headers
        )
    return json_response(representation(values, actor), status_code=status_code, headers=headers)


# A listed order is written by the database (``json_rows``), but for the fields that are no
# column: the caller's actions and the money. RepairOrderRead's fields, in order, fall in runs
# of columns, which the database writes, and runs of those worked out here, spliced between.
_COLUMNS = frozenset(RepairOrder.model_fields)
_SEGMENTS = tuple(
    (is_column, tuple(names))
    for is_column, names in itertools.groupby(_READ_FIELDS, key=_COLUMNS.__contains__)
)
_COLUMN_RUNS = tuple(names for is_column, names in _SEGMENTS if is_column)
_COMPUTED_RUNS = tuple(names for is_column, names in _SEGMENTS if not is_column)
_COMPUTED_FROM = ("status", *BILLING_INPUTS)


@functools.lru_cache(maxsize=4096)
def _computed_fragments(role: Role, *values: Any) -> tuple[str, ...]:
    """The computed runs' ``"name":value`` texts for an order with these ``_COMPUTED_FROM``
    values: pages repeat the same few statuses and amounts."""
    source = dict(zip(_COMPUTED_FROM, values, strict=True))
    computed = {
        **billing(source),
        "allowed_actions": allowed_action_names(source["status"], role),
    }
    return tuple(
        to_json({name: computed[name] for name in names}).decode()[1:-1] for names in _COMPUTED_RUNS
    )


# Where each part of a listed order comes from: (True, i) the i-th column run, (False, j) the
# j-th computed run.
_PLAN = tuple(
    (is_column, sum(1 for earlier, _ in _SEGMENTS[:position] if earlier is is_column))
    for position, (is_column, _) in enumerate(_SEGMENTS)
)


def _listed_order(runs: Sequence[str], computed_from: Sequence[Any], role: Role) -> str:
    """An order from its column runs as the database writes them (``json_fields``) and its
    ``_COMPUTED_FROM`` values."""
    computed = _computed_fragments(role, *computed_from)
    parts = [runs[i][1:-1] if is_column else computed[i] for is_column, i in _PLAN]
    return "{" + ",".join(parts) + "}"


_RUNS = len(_COLUMN_RUNS)


def _from_columns(row: Sequence[Any], role: Role) -> str:
    """A list page's order that has no document, from its columns (``list_documents``)."""
    return _listed_order(row[1 : 1 + _RUNS], row[1 + _RUNS :], role)


# A read by id: a listed order's columns, then the version for its ETag.
_DOCUMENT_EXTRA = (*_COMPUTED_FROM, "version")


def _reply(order: RepairOrder, actor: Actor) -> Response:
    return order_response(order.model_dump(), actor)


@router.post(
    "",
    operation_id="createRepairOrder",
    summary="Take a watch in at the counter, or submit a partner's order",
    status_code=201,
    response_model=RepairOrderRead,
    responses=documented(
        400, 401, 403, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def create_repair_order(
    payload: RepairOrderCreate, actor: OrderCreator, session: SessionDep, clock: ClockDep
) -> Response:
    order = await order_service.create(session, actor, payload, clock())
    return order_response(order, actor, created=True, documented=True)


@router.get(
    "/{order_id}",
    operation_id="getRepairOrder",
    summary="Read a repair order, with the actions the caller may take now",
    response_model=RepairOrderRead,
    responses=documented(401, 403, 404, 422, 503, success=200, **ETAG_HEADER),
)
async def get_repair_order(
    order_id: uuid.UUID, actor: OrderReader, session: SessionDep
) -> Response:
    # Written by the database as a listed order is (``_listed_order``), its version beside.
    row = await order_service.read_document(session, actor, order_id, _COLUMN_RUNS, _DOCUMENT_EXTRA)
    return Response(
        _listed_order(row[:_RUNS], row[_RUNS:-1], actor.role).encode(),
        media_type="application/json",
        headers={"ETag": etag(row[-1])},
    )


@router.get(
    "",
    operation_id="listRepairOrders",
    summary="List repair orders, newest first",
    response_model=RepairOrderPage,
    responses=documented(400, 401, 403, 422, 503),
)
async def list_repair_orders(
    actor: OrderReader,
    session: SessionDep,
    status: Annotated[list[OrderStatus] | None, Query(max_length=14)] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    watch_id: Annotated[uuid.UUID | None, Query()] = None,
    partner_id: Annotated[uuid.UUID | None, Query()] = None,
    technician: Annotated[uuid.UUID | None, Query(description="Technician's key id")] = None,
    created_after: Annotated[AwareDatetime | None, Query()] = None,
    created_before: Annotated[AwareDatetime | None, Query()] = None,
    updated_after: Annotated[AwareDatetime | None, Query()] = None,
    promised_before: Annotated[IsoDate | None, Query()] = None,
    q: Annotated[
        SearchText | None, Query(description="Order number, watch serial or customer name")
    ] = None,
    limit: Annotated[Limit, Query()] = 50,
    cursor: Annotated[CursorParam | None, Query()] = None,
) -> Response:
    filters = OrderFilters(
        statuses=tuple(sorted({s.value for s in status or ()})),
        customer_id=customer_id,
        watch_id=watch_id,
        partner_id=partner_id,
        technician=technician,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        promised_before=promised_before,
        q=q,
    )
    rows, next_cursor = await order_service.list_documents(
        session, actor, filters, _COLUMN_RUNS, _COMPUTED_FROM, limit, cursor
    )
    role = actor.role
    # Each order's document with the caller's actions (``order_documents``); from its columns
    # when it has none.
    actions = actions_by_status(role)
    items = ",".join(
        [
            row[0].replace(ACTIONS_MARK, actions[row[1]], 1)
            if row[0] is not None
            else _from_columns(row, role)
            for row in rows
        ]
    )
    body = f'{{"items":[{items}],"next_cursor":{to_json(next_cursor).decode()}}}'
    return Response(body.encode(), media_type="application/json")


@router.post(
    "/{order_id}/transitions",
    operation_id="transitionRepairOrder",
    summary="Move an order through its lifecycle (one typed payload per action)",
    response_model=RepairOrderRead,
    responses=documented(400, 401, 403, 404, 409, 412, 413, 422, 503, success=200, **ETAG_HEADER),
)
async def transition_repair_order(
    order_id: uuid.UUID,
    command: Annotated[TransitionCommand, Body()],
    actor: OrderReader,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    if_match: IfMatchHeader = None,
) -> Response:
    order = await transition_service.apply(
        session,
        actor,
        order_id,
        Action(command.action),
        command,
        parse_if_match(if_match),
        clock(),
        settings,
    )
    return order_response(order.__dict__, actor, documented=True)


@router.get(
    "/{order_id}/events",
    operation_id="listRepairOrderEvents",
    summary="The order's audit trail, oldest first",
    responses=documented(401, 403, 404, 422, 503),
)
async def list_repair_order_events(
    order_id: uuid.UUID, actor: OrderReader, session: SessionDep
) -> OrderEventPage:
    events = await order_service.events(session, actor, order_id)
    return OrderEventPage(items=[OrderEventRead.model_validate(e) for e in events])


@router.post(
    "/{order_id}/warranty-claims",
    operation_id="openWarrantyClaim",
    summary="Open a free warranty order linked to a returned, repaired one",
    status_code=201,
    response_model=RepairOrderRead,
    responses=documented(
        400, 401, 403, 404, 409, 413, 422, 503, success=201, **LOCATION_HEADER, **ETAG_HEADER
    ),
)
async def open_warranty_claim(
    order_id: uuid.UUID,
    intake: IntakeDetails,
    actor: WarrantyDesk,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    claim = await order_service.open_warranty_claim(session, actor, order_id, intake, clock())
    return order_response(claim.model_dump(), actor, created=True)


@router.post(
    "/{order_id}/reminders",
    operation_id="recordCollectionReminder",
    summary="Record a reminder sent to collect a ready watch (unclaimed-watch procedure)",
    status_code=201,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 503),
)
async def record_collection_reminder(
    order_id: uuid.UUID,
    reminder: ReminderCreate,
    actor: WarrantyDesk,
    session: SessionDep,
    clock: ClockDep,
) -> OrderEventRead:
    event = await order_service.record_reminder(session, actor, order_id, reminder, clock())
    return OrderEventRead.model_validate(event)


@router.post(
    "/{order_id}/tracking-token",
    operation_id="rotateTrackingToken",
    summary="Issue a new tracking link (the old one stops working)",
    response_model=RepairOrderRead,
    responses=documented(400, 401, 403, 404, 409, 422, 503, success=200, **ETAG_HEADER),
)
async def rotate_tracking_token(
    order_id: uuid.UUID,
    actor: WarrantyDesk,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    order = await tracking_service.rotate_token(session, actor, order_id, clock())
    return _reply(order, actor)


@router.post(
    "/{order_id}/shipments",
    operation_id="recordInboundShipment",
    summary="A partner records the parcel carrying the watch to the workshop",
    response_model=RepairOrderRead,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 503, success=200, **ETAG_HEADER),
)
async def record_inbound_shipment(
    order_id: uuid.UUID,
    shipment: InboundShipment,
    actor: ShipmentSender,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    order = await order_service.record_shipment(session, actor, order_id, shipment, clock())
    return _reply(order, actor)


@router.post(
    "/{order_id}/pre-diagnosis/review",
    operation_id="reviewPreDiagnosis",
    summary="The manager reviews a pre-quote the counter sent for review",
    response_model=RepairOrderRead,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 503, success=200, **ETAG_HEADER),
)
async def review_pre_diagnosis(
    order_id: uuid.UUID,
    review: PreDiagnosisReview,
    actor: ManagerOnly,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    order = await order_service.review_pre_diagnosis(session, actor, order_id, review, clock())
    return _reply(order, actor)


@router.post(
    "/{order_id}/intake-corrections",
    operation_id="correctIntake",
    summary="Record a correction of the deposit receipt (the receipt itself stays as printed)",
    status_code=201,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 503),
)
async def correct_intake(
    order_id: uuid.UUID,
    correction: IntakeCorrection,
    actor: WarrantyDesk,
    session: SessionDep,
    clock: ClockDep,
) -> OrderEventRead:
    event = await order_service.correct_intake(session, actor, order_id, correction, clock())
    return OrderEventRead.model_validate(event)
