"""Queries on repair orders and their events (always scoped to the caller's tenant)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import orm_has_changes, run_core, run_prepared
from app.domain.actors import Actor
from app.domain.lifecycle_states import OrderStatus
from app.models import Customer, OrderEvent, OrderNumberCounter, RepairOrder, Watch
from app.pagination import after_cursor, decode_cursor, encode_cursor, filters_fingerprint, trimmed
from app.prepared import Prepared
from app.repositories.counters import next_in_year
from app.repositories.json_rows import json_fields
from app.repositories.rows import as_loaded, insert_values
from app.repositories.scoping import (
    by_id_parameters,
    get_scoped,
    get_scoped_values,
    partner_scope,
    table_of,
)

ORDERS = table_of(RepairOrder)

# Where an order's document (``app/services/order_documents.py``) leaves the caller's actions:
# JSON text never holds a raw control character (a string escapes it), so the mark cannot be
# part of a value.
ACTIONS_MARK = "\x1f"


async def next_order_sequence(session: AsyncSession, year: int) -> int:
    return await next_in_year(session, OrderNumberCounter, year)


async def get(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID, *, for_update: bool = False
) -> RepairOrder | None:
    return await get_scoped(session, RepairOrder, order_id, actor, for_update=for_update)


# A transition's write: the columns it changed, on the row at the version it was read at. The
# version guard is in the SET, not the WHERE: at another version the row's version would be set
# to NULL, which its NOT NULL refuses (an ``IntegrityError``, a 409, nothing written), so the
# database itself refuses a stale write and, on PostgreSQL, the COMMIT goes in the statement's
# round trip instead of waiting to see its row count.
_UPDATE_CHANGED = Prepared(
    sa.update(ORDERS)
    .where(ORDERS.c.id == sa.bindparam("where_id"))
    .values(
        version=sa.case(
            (ORDERS.c.version == sa.bindparam("where_version"), sa.bindparam("new_version")),
            else_=sa.null(),
        )
    )
)


class OrderForChange:
    """An order loaded to be changed by a lifecycle command.

    ``order`` is the table model the rules and effects work on, built from its row read by a
    prepared statement (``rows.as_loaded``) and tracked by no session: the ORM's loading and
    its unit of work were a third of a served transition's CPU (docs/benchmarks.md, eighth
    round). ``write`` sends the columns changed since the order was read (or last written) as
    one UPDATE, on the row at the version it was read at. As with the ORM, a change is an
    assignment: a JSON value changed in place is not seen.
    """

    __slots__ = ("order", "_written")

    def __init__(self, order: RepairOrder, values: dict[str, Any]) -> None:
        self.order = order
        self._written = values

    async def write(self, session: AsyncSession) -> None:
        current = self.order.__dict__
        changed = {
            name: current[name] for name, value in self._written.items() if current[name] != value
        }
        if not changed:
            return
        new_version = changed.pop("version", self._written["version"])
        parameters = {
            **changed,
            "new_version": new_version,
            "where_id": self.order.id,
            "where_version": self._written["version"],
        }
        # Deferred on PostgreSQL: sent with the event, the message and its deliveries that
        # follow, and the COMMIT. No row count to check: the order was read in this
        # transaction (locked on PostgreSQL, SQLite's one writer on SQLite) and orders are never
        # deleted; were it gone, its event's foreign key would refuse the transaction.
        await run_prepared(session, _UPDATE_CHANGED, parameters, deferred=True)
        self._written = {**self._written, **changed, "version": new_version}


async def get_for_change(
    session: AsyncSession, actor: Actor, order_id: uuid.UUID
) -> OrderForChange | None:
    """The order the actor may see, locked until the transaction ends (PostgreSQL), to change."""
    values = await get_scoped_values(session, RepairOrder, order_id, actor, for_update=True)
    if values is None:
        return None
    return OrderForChange(as_loaded(RepairOrder, dict(values)), values)


async def append_event(session: AsyncSession, event: dict[str, Any]) -> dict[str, Any]:
    """Write the pending change the event records, then the event from its column values
    (``rows.new_values``): the log is append-only and nothing needs to track it. The flush
    is skipped when the ORM holds nothing to write (the hot writes hold nothing there): on
    PostgreSQL even an empty one crosses the asyncio bridge."""
    if orm_has_changes(session):
        await session.flush()
    await insert_values(session, OrderEvent, event, deferred=True)
    return event


async def events_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[OrderEvent]:
    statement = (
        select(OrderEvent)
        .where(col(OrderEvent.order_id) == order_id)
        .order_by(col(OrderEvent.sequence))
    )
    return (await session.exec(statement)).all()


@dataclass(frozen=True)
class OrderFilters:
    statuses: tuple[str, ...] = field(default_factory=tuple)
    customer_id: uuid.UUID | None = None
    watch_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    technician: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    promised_before: date | None = None
    q: str | None = None


# The list's conditions, each on its own bind parameters; ``q`` matches the order number,
# the customer's name or the watch's serial.
def _search() -> sa.ColumnElement[bool]:
    pattern = sa.bindparam("q", type_=sa.String())
    customers, watches = table_of(Customer).c, table_of(Watch).c
    return or_(
        ORDERS.c.number.ilike(pattern),
        ORDERS.c.customer_id.in_(select(customers.id).where(customers.name.ilike(pattern))),
        ORDERS.c.watch_id.in_(select(watches.id).where(watches.serial.ilike(pattern))),
    )


_CONDITIONS: dict[str, Callable[[], sa.ColumnElement[bool]]] = {
    "customer_id": lambda: ORDERS.c.customer_id == sa.bindparam("customer_id"),
    "watch_id": lambda: ORDERS.c.watch_id == sa.bindparam("watch_id"),
    "partner_id": lambda: ORDERS.c.partner_id == sa.bindparam("partner_id"),
    "technician": lambda: ORDERS.c.technician_key_id == sa.bindparam("technician"),
    "created_after": lambda: ORDERS.c.created_at > sa.bindparam("created_after"),
    "created_before": lambda: ORDERS.c.created_at < sa.bindparam("created_before"),
    "updated_after": lambda: ORDERS.c.updated_at > sa.bindparam("updated_after"),
    "promised_before": lambda: ORDERS.c.promised_date < sa.bindparam("promised_before"),
    "q": _search,
}


def _documents(runs: Sequence[Sequence[str]], extra: Sequence[str]) -> sa.Select[Any]:
    """Orders as documents: each run of columns in ``runs`` written as one JSON object by the
    database (``json_fields``, labelled ``fields_<i>``), then the ``extra`` columns' values."""
    orders = ORDERS.c
    columns: list[sa.ColumnElement[Any]] = [
        json_fields(*(orders[name] for name in run)).label(f"fields_{index}")
        for index, run in enumerate(runs)
    ]
    return sa.select(*columns, *(orders[name] for name in extra))


def _listed() -> sa.Select[Any]:
    """Orders as a list page reads them: the order's document (a JSON object's text) or, when
    it has none, its id's text; then its status. Text alone: no value to convert."""
    orders = ORDERS.c
    document = sa.func.coalesce(orders.document, sa.cast(orders.id, sa.String()))
    return sa.select(document.label("document"), orders.status.label("document_status"))


@functools.lru_cache(maxsize=1024)
def _shape(filters: OrderFilters) -> tuple[str, tuple[str, ...]]:
    """The filters' fingerprint (their cursors' binding) and the conditions they set: worked
    out once for filters a client asks for again and again (the next pages, a poll)."""
    fingerprint = filters_fingerprint({**vars(filters), "statuses": sorted(filters.statuses)})
    conditions = tuple(name for name in _CONDITIONS if getattr(filters, name) not in (None, ""))
    return fingerprint, conditions


# A list page's statuses and row count are written into its SQL, not sent as parameters: with
# them PostgreSQL knows how many orders a status has and how many rows a page takes, so the
# statement's plan is made once per connection and kept. Sent as parameters, a plan for any
# status and any count would scan the orders by creation time (a rare status's page through
# most of the table), so PostgreSQL planned each page again: ≈ 0.06 ms of its CPU, a quarter
# of what a page cost it (docs/benchmarks.md, twenty-fourth round). A connection keeps its
# statements' plans up to ``app/libpq.py``'s ``MOST_STATEMENTS``.
_STATUSES = frozenset(OrderStatus)


def _status_literal(status: str) -> sa.ColumnElement[Any]:
    if status not in _STATUSES:  # an order status, not text from a client, goes into the SQL
        raise ValueError(f"not an order status: {status!r}")
    return sa.literal_column(f"'{status}'", ORDERS.c.status.type)


@functools.lru_cache(maxsize=1024)
def _page_statement(
    runs: tuple[tuple[str, ...], ...],
    extra: tuple[str, ...],
    *,
    scoped: bool,
    statuses: tuple[str, ...],
    conditions: tuple[str, ...],
    after: bool,
    rows: int,
) -> Prepared:
    """A list page's statement for one shape of request (which filters it has, its statuses,
    a cursor or not, how many rows it reads), built and compiled once (``app/prepared.py``)."""
    orders = ORDERS.c
    statement = _listed()
    if scoped:
        statement = statement.where(orders.partner_id == sa.bindparam("scope_partner_id"))
    if statuses:
        statement = statement.where(orders.status.in_([_status_literal(s) for s in statuses]))
    for name in conditions:
        statement = statement.where(_CONDITIONS[name]())
    if after:
        statement = statement.where(
            after_cursor(
                orders.created_at,
                orders.id,
                sa.bindparam("after_created", type_=orders.created_at.type),
                sa.bindparam("after_id", type_=orders.id.type),
            )
        )
    statement = statement.order_by(orders.created_at.desc(), orders.id.desc())
    limit = sa.literal_column(str(int(rows)), sa.Integer())
    return Prepared(statement.limit(limit), plain_rows=True)


@functools.lru_cache(maxsize=16)
def _document_statement(
    runs: tuple[tuple[str, ...], ...], extra: tuple[str, ...], *, scoped: bool
) -> Prepared:
    """One order's row as ``list_documents`` writes a page's (built and compiled once)."""
    orders = ORDERS.c
    statement = _documents(runs, extra).where(orders.id == sa.bindparam("row_id"))
    if scoped:
        statement = statement.where(orders.partner_id == sa.bindparam("partner_id"))
    return Prepared(statement)


async def get_document(
    session: AsyncSession,
    actor: Actor,
    order_id: uuid.UUID,
    *,
    runs: Sequence[Sequence[str]],
    extra: Sequence[str],
) -> Sequence[Any] | None:
    """The order the actor may see, as one row of ``list_documents``: for each run of column
    names in ``runs``, those columns written as one JSON object by the database, then the
    values of the ``extra`` columns; None when there is no such order."""
    parameters = by_id_parameters(order_id, actor)
    statement = _document_statement(
        tuple(tuple(run) for run in runs), tuple(extra), scoped="partner_id" in parameters
    )
    rows = await run_prepared(session, statement, parameters)
    return rows[0] if rows else None


async def list_documents(
    session: AsyncSession,
    actor: Actor,
    filters: OrderFilters,
    *,
    runs: Sequence[Sequence[str]],
    extra: Sequence[str],
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Sequence[Any]], str | None]:
    """One page of the caller's orders that pass ``filters``, newest first. A row is the
    order's document (``app/services/order_documents.py``) and status; for an order without a
    document, None, then what ``get_document`` reads: for each run of column names in
    ``runs``, those columns written as one JSON object by the database (``json_fields``), then
    the values of the ``extra`` columns. ``id`` and ``created_at`` must be in a run."""
    fingerprint, conditions = _shape(filters)
    parameters: dict[str, Any] = {}
    parameters.update((name, getattr(filters, name)) for name in conditions)
    if filters.q:
        parameters["q"] = f"%{filters.q}%"
    scope = partner_scope(actor)
    if scope is not None:
        parameters["scope_partner_id"] = scope
    if cursor:
        parameters["after_created"], parameters["after_id"] = decode_cursor(cursor, fingerprint)
    statement = _page_statement(
        tuple(tuple(run) for run in runs),
        tuple(extra),
        scoped=scope is not None,
        statuses=filters.statuses,
        conditions=conditions,
        after=bool(cursor),
        rows=limit + 1,
    )
    page, last = trimmed(await run_prepared(session, statement, parameters), limit)
    rows: list[Sequence[Any]] = []
    for row in page:
        if row[0][0] == "{":
            rows.append(row)
            continue
        # An order without a document (not yet refreshed, or written by another path): read as
        # a read by id reads it, from its columns.
        columns = await get_document(session, actor, uuid.UUID(row[0]), runs=runs, extra=extra)
        if columns is not None:
            rows.append((None, *columns))
    if last is None:
        return rows, None
    # The last order's creation time and id, from its document or its columns' runs.
    if rows[-1][0] is not None:
        created_at, order_id = document_key(rows[-1][0])
    else:
        fields: dict[str, Any] = {}
        for text in rows[-1][1 : 1 + len(runs)]:
            fields.update(json.loads(text))
        created_at, order_id = datetime.fromisoformat(fields["created_at"]), uuid.UUID(fields["id"])
    return rows, encode_cursor(created_at, order_id, fingerprint)


# A document's first field is the order's id, and its last but one the order's creation time,
# a plain string after which no nested object comes (``RepairOrderRead``'s order of fields,
# which ``app/services/order_documents.py`` checks).
_ID_START = len('{"id":"')
_CREATED_AT = ',"created_at":"'


def document_key(document: str) -> tuple[datetime, uuid.UUID]:
    """An order's creation time and id, read off its document, for a page's cursor: two
    slices, 3 µs, where parsing the whole document took 16 µs (docs/benchmarks.md, sixteenth
    round)."""
    start = document.rindex(_CREATED_AT) + len(_CREATED_AT)
    created_at = datetime.fromisoformat(document[start : document.index('"', start)])
    return created_at, uuid.UUID(document[_ID_START : _ID_START + 36])


async def without_document(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` orders without a document, in id order after ``after``: column values."""
    statement = sa.select(ORDERS).where(ORDERS.c.document.is_(None))
    if after is not None:
        statement = statement.where(ORDERS.c.id > after)
    result = await run_core(session, statement.order_by(ORDERS.c.id).limit(limit))
    return [dict(row._mapping) for row in result]


_WRITE_DOCUMENT = (
    sa.update(ORDERS)
    .where(ORDERS.c.id == sa.bindparam("order_id"))
    .where(ORDERS.c.version == sa.bindparam("order_version"))
    .where(ORDERS.c.document.is_(None))
    .values(document=sa.bindparam("new_document"))
)


async def write_documents(session: AsyncSession, documents: Sequence[dict[str, Any]]) -> int:
    """Each ``{"order_id", "order_version", "new_document"}``: the order's document, unless
    the order changed since it was read (its own write then wrote one, or left it empty).
    Returns how many were written."""
    if not documents:
        return 0
    result = await run_core(session, _WRITE_DOCUMENT, list(documents))
    return result.rowcount
