"""The order's document: its representation kept with its row, for the list pages.

A list page presents fifty orders. Formatting each one's forty values as JSON, whether in Python
or by the database (``app/repositories/json_rows.py``), was most of a page's CPU
(docs/benchmarks.md, fifteenth round). ``repair_orders.document`` holds the order as
``RepairOrderRead`` presents it, written when the order is written, with one hole: the actions
the caller may take, which depend on the caller's role. ``presented`` fills it.

Who writes it:

- a new order's INSERT (``document_of`` its values, ``app/services/repair_orders.py``);
- a lifecycle command's UPDATE (``app/services/transitions.py``);
- every flush of a ``RepairOrder`` table model, through the mapper events below (quotes,
  measurements, facts, receipt corrections, warranty claims).

A write that changes the row without writing its document (a statement of another path, a
hand-made fix) leaves it to a database trigger, which empties it (migration
``5d0c7a3e9b21``): an order without a document is presented from its columns, as a read by id
always is, so a stale document is never served. ``refresh`` writes the missing ones
(``atelier documents refresh``). ``tests/api/test_order_documents.py`` holds a listed order to
a read of it after each kind of write.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pydantic_core import to_json
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper

from app.db import Database
from app.domain.lifecycle import OrderStatus, allowed_action_names
from app.domain.roles import Role
from app.models import RepairOrder
from app.repositories import repair_orders as order_repository
from app.repositories.repair_orders import ACTIONS_MARK
from app.schemas.repair_orders import RepairOrderRead
from app.services.billing import billing

_ACTIONS = "allowed_actions"
_FIELDS = tuple(RepairOrderRead.model_fields)
_HEAD = _FIELDS[: _FIELDS.index(_ACTIONS)]
_TAIL = _FIELDS[_FIELDS.index(_ACTIONS) + 1 :]
# ``order_repository.document_key`` reads a page's cursor off the document's ends: the id first,
# the creation time last but one (only a timestamp after it).
if _FIELDS[0] != "id" or _FIELDS[-2:] != ("created_at", "updated_at"):
    raise RuntimeError("RepairOrderRead's first and last fields moved: see document_key")
# The columns a document is made from.
_INPUTS = frozenset(RepairOrder.model_fields) - {"document"}


def document_of(values: Mapping[str, Any]) -> str:
    """The order with these column values as ``RepairOrderRead`` presents it (the same text a
    response holds), its actions left as ``ACTIONS_MARK``."""
    source = {**values, **billing(values)}
    head = to_json({name: source[name] for name in _HEAD})
    tail = to_json({name: source[name] for name in _TAIL})
    return f'{head[:-1].decode()},"{_ACTIONS}":{ACTIONS_MARK},{tail[1:].decode()}'


@functools.cache
def actions_by_status(role: Role) -> dict[str, str]:
    """The JSON text of the actions the role may take, by status: what fills a document's
    hole (a list page looks it up for each of its fifty orders)."""
    return {
        status.value: to_json(allowed_action_names(status.value, role)).decode()
        for status in OrderStatus
    }


def presented(document: str, status: str, role: Role) -> str:
    """The document with the actions the role may take on an order in ``status``."""
    return document.replace(ACTIONS_MARK, actions_by_status(role)[status], 1)


async def refresh(database: Database, batch: int = 1000) -> int:
    """Write the document of every order without one, ``batch`` orders a transaction, in one
    pass; returns how many it wrote. Safe beside a running service: a document is written only
    on the order's row at the version it was read at (an order changed meanwhile has the
    document its change wrote, or none until the next run)."""
    written, after = 0, None
    while True:
        async with database.new_session(write=True) as session:
            orders = await order_repository.without_document(session, after, batch)
            if not orders:
                return written
            written += await order_repository.write_documents(
                session,
                [
                    {
                        "order_id": values["id"],
                        "order_version": values["version"],
                        "new_document": document_of(values),
                    }
                    for values in orders
                ],
            )
            await session.commit()
        after = orders[-1]["id"]


def _write_document(_mapper: Mapper[Any], _connection: Connection, order: RepairOrder) -> None:
    # Mapper events: a table model's flush writes the document of the values it writes. A
    # value not loaded (expired) cannot be read here without a query: the document is then
    # left empty, and the order presented from its columns until its next write.
    values = order.__dict__
    if _INPUTS.issubset(values) and not inspect(order).expired_attributes:
        order.document = document_of(values)
    else:
        order.document = None


event.listen(RepairOrder, "before_insert", _write_document)
event.listen(RepairOrder, "before_update", _write_document)
