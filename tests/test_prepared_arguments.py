"""A prepared statement's arguments, worked out from its plan, are SQLAlchemy's own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InvalidRequestError

from app.models.base import UTCDateTime
from app.prepared import Prepared

metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("status", sa.String(20)),
    sa.Column("at", UTCDateTime()),
    sa.Column("payload", sa.JSON),
    sa.Column("version", sa.Integer),
)

AT = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
ROW = {
    "id": uuid.UUID(int=7), "name": "Omega", "status": "received", "at": AT,
    "payload": {"a": [1, 2]}, "version": 1,
}  # fmt: skip

CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("insert", sa.insert(things), ROW),
    (
        "select with a bound literal",  # ``status = 'ready'``: a value of the statement's own
        sa.select(things).where(things.c.status == "ready", things.c.id == sa.bindparam("row_id")),
        {"row_id": uuid.UUID(int=7)},
    ),
    (
        "update with where parameters",
        sa.update(things)
        .where(things.c.id == sa.bindparam("where_id"))
        .where(things.c.version == sa.bindparam("where_version")),
        {"status": "ready", "version": 2, "where_id": uuid.UUID(int=7), "where_version": 1},
    ),
    (
        "a parameter with a default value of its own",
        sa.select(things.c.id).where(things.c.name == sa.bindparam("name", value="Omega")),
        {"other": 1},
    ),
]


def _sqlalchemys(form: Any, parameters: dict[str, Any]) -> Any:
    values = form.compiled.construct_params(parameters)
    for name, process in form.bind_processors.items():
        values[name] = process(values[name])
    return values if form.positions is None else [values[name] for name in form.positions]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
@pytest.mark.parametrize(("label", "statement", "parameters"), CASES, ids=[c[0] for c in CASES])
def test_the_arguments_are_what_sqlalchemy_would_send(
    dialect: Any, label: str, statement: Any, parameters: dict[str, Any]
) -> None:
    form = Prepared(statement).form(dialect, parameters)
    assert form.plan is not None, label  # the plan, not SQLAlchemy's general case
    assert _plain(form.arguments(parameters)) == _plain(_sqlalchemys(form, parameters))


def _plain(arguments: Any) -> Any:
    """The arguments with psycopg's JSON wrappers (compared by identity) unwrapped."""
    if isinstance(arguments, dict):
        return {name: getattr(value, "obj", value) for name, value in arguments.items()}
    return [getattr(value, "obj", value) for value in arguments]


def test_a_missing_value_is_refused_as_sqlalchemy_refuses_it() -> None:
    statement = sa.select(things).where(things.c.id == sa.bindparam("row_id", required=True))
    form = Prepared(statement).form(sqlite.dialect(), {"other": 1})
    with pytest.raises(InvalidRequestError, match="row_id"):
        form.arguments({"other": 1})


def test_values_given_by_params_are_left_to_sqlalchemy() -> None:
    statement = sa.select(things.c.id).where(things.c.name == sa.bindparam("name")).params(name="X")
    form = Prepared(statement).form(sqlite.dialect(), {"other": 1})
    assert form.plan is None
    assert form.arguments({"other": 1}) == ["X"]
