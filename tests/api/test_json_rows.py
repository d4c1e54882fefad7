"""``json_fields`` (``app/repositories/json_rows.py``): what the database writes is what the
response models write.

A scratch table holds a column of every type a representation shows; hypothesis fills it
with values of every shape (missing ones, times with and without microseconds, nested JSON
documents, text beyond ASCII and with characters JSON escapes), the database writes the row as
JSON, and it must parse to what pydantic writes for the same values, strings included (so a
UUID, a time or a date in another format fails). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json
from sqlalchemy.engine import Engine

from app.models.base import UTCDateTime
from app.repositories.json_rows import MAX_FIELDS, json_field_rows, json_fields

METADATA = sa.MetaData()
PROBE = sa.Table(
    "json_fields_probe",
    METADATA,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("other_id", sa.Uuid(), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=True),
    sa.Column("on", sa.Date(), nullable=True),
    sa.Column("document", sa.JSON(), nullable=True),
    sa.Column("listing", sa.JSON(), nullable=True),
    sa.Column("flag", sa.Boolean(), nullable=True),
    sa.Column("count", sa.Integer(), nullable=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
)

# PostgreSQL's text holds no NUL character; the API's text fields refuse control characters.
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
rows = st.fixed_dictionaries(
    {
        "id": st.uuids(),
        "other_id": st.none() | st.uuids(),
        "at": st.none() | times | times.map(lambda t: t.replace(microsecond=0)),
        "on": st.none() | st.dates(min_value=date(1970, 1, 1), max_value=date(2200, 1, 1)),
        "document": st.dictionaries(text, json_values, max_size=5),
        "listing": st.none() | st.lists(json_values, max_size=5),
        "flag": st.none() | st.booleans(),
        "count": st.none() | st.integers(-(2**31), 2**31 - 1),
        "label": st.none() | text,
        "note": st.none() | text,
    }
)


@pytest.fixture(scope="module")
def probe(sync_engine: Engine) -> Iterator[Engine]:
    METADATA.create_all(sync_engine)
    yield sync_engine
    METADATA.drop_all(sync_engine)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(row=rows)
def test_the_database_writes_each_value_as_the_model_does(
    probe: Engine, row: dict[str, Any]
) -> None:
    with probe.begin() as connection:
        connection.execute(PROBE.insert(), row)
        try:
            written = connection.execute(
                sa.select(json_fields(*PROBE.c)).where(PROBE.c.id == row["id"])
            ).scalar_one()
        finally:
            connection.execute(PROBE.delete())
    assert isinstance(written, str)
    assert json.loads(written) == json.loads(to_json(row))
    assert list(json.loads(written)) == list(PROBE.c.keys())


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(written_rows=st.lists(rows, max_size=4, unique_by=lambda row: row["id"]))
def test_the_database_writes_selected_rows_as_one_array_of_them(
    probe: Engine, written_rows: list[dict[str, Any]]
) -> None:
    with probe.begin() as connection:
        if written_rows:
            connection.execute(PROBE.insert(), written_rows)
        try:
            written = connection.execute(sa.select(json_field_rows(*PROBE.c))).scalar_one()
        finally:
            connection.execute(PROBE.delete())
    assert isinstance(written, str)
    expected = json.loads(to_json(written_rows))
    assert sorted(json.loads(written), key=lambda row: row["id"]) == sorted(
        expected, key=lambda row: row["id"]
    )


def test_times_show_their_microseconds_only_when_there_are_some(probe: Engine) -> None:
    exact = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    with probe.begin() as connection:
        for moment in (exact, exact.replace(microsecond=1), exact.replace(microsecond=120000)):
            connection.execute(PROBE.insert(), {"id": uuid.uuid4(), "at": moment})
        written = connection.execute(
            sa.select(json_fields(PROBE.c.at)).order_by(PROBE.c.at)
        ).scalars()
        assert [json.loads(value)["at"] for value in written] == [
            "2026-11-24T09:30:00Z",
            "2026-11-24T09:30:00.000001Z",
            "2026-11-24T09:30:00.120000Z",
        ]
        connection.execute(PROBE.delete())


def test_a_json_object_takes_no_more_fields_than_a_function_takes_arguments() -> None:
    with pytest.raises(ValueError):
        json_fields()
    with pytest.raises(ValueError):
        json_fields(*[sa.column(f"c{i}") for i in range(MAX_FIELDS + 1)])
