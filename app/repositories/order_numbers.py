"""A new order's number, taken by PostgreSQL with the order's INSERT, in the COMMIT's round trip.

Order numbers have no gaps and never repeat, so the year's counter row stays locked from the
number's taking to the commit: creations queue on it. Taken by an upsert of its own that waits
for its result (``counters.next_in_year``), the number held the row for a round trip, the
making of the answer, the request's wait for the event loop and the commit's round trip:
sampled during a served run, four PostgreSQL backends in five were waiting for that lock
(docs/benchmarks.md, "Where PostgreSQL's writes wait").

Here the database takes it. The order's INSERT upserts the counter in a common table
expression and writes the number it gets; that INSERT is deferred into the libpq pipeline that
ends with the COMMIT (``app/libpq.py``), so the row is locked for the server's own work on the
rest of the transaction only. Until then the API does not know the number: what it writes before
(the order's document, its ``order.created`` message, the idempotency record, the answer) holds a
mark instead, random for each creation, which the statements that write them replace with the
number as the order's row holds it. The answer gets the number from the INSERT's ``RETURNING``,
read with the COMMIT.

SQLite locks its whole file for a writer anyway: there the number is taken first, as before.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, cast, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response

from app.db import dialect_name, run_prepared, send_prepared
from app.libpq import Pending
from app.models import OrderNumberCounter, RepairOrder
from app.orm_on_demand import OrmOnDemand
from app.prepared import Prepared
from app.repositories.scoping import table_of

_ORDERS = table_of(RepairOrder)
_COUNTERS = table_of(OrderNumberCounter)
_KEY = "atelier.late_number"


def taken_by_database(session: AsyncSession) -> bool:
    """Whether a new order's number is taken by its INSERT (``insert_order``): on PostgreSQL."""
    return dialect_name(session) == "postgresql"


def new_mark() -> str:
    """What stands for a new order's number until the database takes it: JSON writes it as it
    is (letters and digits), and no one can guess it to put it in a value of their own."""
    return f"number-{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class LateNumber:
    """A new order's number, taken by its INSERT: the mark standing for it, the order, and the
    INSERT's ``RETURNING`` (read with the COMMIT)."""

    mark: str
    order_id: uuid.UUID
    returned: Pending

    def parameters(self) -> dict[str, Any]:
        """The parameters of ``numbered_text``'s expression."""
        return {"number_mark": self.mark, "numbered_order": self.order_id}

    async def answered(self, response: Response) -> Response:
        """``response`` with the number in place of the mark (once the transaction is read)."""
        [row] = await self.returned.rows()
        body = bytes(response.body).replace(self.mark.encode(), row.number.encode())
        response.body = body
        response.headers["content-length"] = str(len(body))
        return response


def _number_of(order_id: Any) -> Any:
    return select(_ORDERS.c.number).where(_ORDERS.c.id == order_id).scalar_subquery()


def numbered_text(text: ColumnElement[str]) -> ColumnElement[str]:
    """``text`` as a statement after the order's INSERT writes it: its mark replaced by the
    order's number, read from the order's row (parameters: ``LateNumber.parameters``)."""
    number = _number_of(bindparam("numbered_order", type_=_ORDERS.c.id.type))
    return func.replace(text, bindparam("number_mark", type_=Text), number)


@functools.cache
def _numbered_insert() -> Prepared:
    # The counter's upsert, as ``counters.next_in_year`` runs it, in a common table expression
    # (run once however often it is read), its number formatted as ``format_order_number``
    # does; the order's other columns come from the parameters, as ``rows.insert_values``'.
    digits = cast(_COUNTERS.c.last_value, Text)
    padded = func.lpad(digits, func.greatest(6, func.length(digits)), "0")
    number = cast(_COUNTERS.c.year, Text) + "-" + padded
    taken = (
        pg_insert(_COUNTERS)
        .values(year=bindparam("number_year"), last_value=1)
        .on_conflict_do_update(
            index_elements=[_COUNTERS.c.year], set_={"last_value": _COUNTERS.c.last_value + 1}
        )
        .returning(number.label("number"))
        .cte("taken")
    )
    value = select(taken.c.number).scalar_subquery()
    document = bindparam("numbered_document", type_=Text)
    return Prepared(
        insert(_ORDERS)
        .values(
            number=value,
            document=func.replace(document, bindparam("number_mark", type_=Text), value),
        )
        .add_cte(taken)
        .returning(_ORDERS.c.number)
    )


async def insert_order(session: AsyncSession, values: dict[str, Any], year: int) -> LateNumber:
    """Write a new order whose ``number`` is a mark (``new_mark``), with ``year``'s next
    number in its place, in the number column and in its document. Deferred on a PostgreSQL
    writer's connection: sent with the transaction's next statement that waits, or its
    COMMIT. The number is ``late_number(session)``'s from then on."""
    parameters = {name: value for name, value in values.items() if name not in _WRITTEN}
    parameters.update(
        number_year=year, number_mark=values["number"], numbered_document=values["document"]
    )
    returned = await send_prepared(session, _numbered_insert(), parameters, with_commit=True)
    late = LateNumber(values["number"], values["id"], returned)
    session.info[_KEY] = late
    return late


_WRITTEN = frozenset({"number", "document"})


def late_number(session: AsyncSession) -> LateNumber | None:
    """The number a new order of the transaction is to get from the database, if any."""
    if isinstance(session, OrmOnDemand) and not session.orm_used:
        return None  # its ``info`` was never made, so nothing was put there
    late: LateNumber | None = session.info.get(_KEY)
    return late


@functools.cache
def _insert_written(model: type[SQLModel], column: str) -> Prepared:
    table = table_of(model)
    kind = table.c[column].type
    written = numbered_text(cast(bindparam("numbered_text", type_=kind), Text))
    return Prepared(insert(table).values({column: cast(written, kind)}))


async def insert_numbered(
    session: AsyncSession,
    model: type[SQLModel],
    column: str,
    values: dict[str, Any],
    late: LateNumber,
) -> None:
    """Write a row of ``model`` from its column values (deferred, as ``rows.insert_values``
    does), its ``column`` (JSON) written with the order's number in place of ``late``'s mark."""
    parameters = {name: value for name, value in values.items() if name != column}
    parameters.update(numbered_text=values[column], **late.parameters())
    await run_prepared(session, _insert_written(model, column), parameters, deferred=True)
