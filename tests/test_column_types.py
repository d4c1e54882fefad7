"""The shared column types write on SQLite exactly what SQLAlchemy's own types would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from app.models.base import UTCDateTime

EAST = timezone(timedelta(hours=2))
WEST = timezone(-timedelta(hours=5, minutes=30))

MOMENTS = [
    datetime(2026, 12, 6, 20, 0, 0, tzinfo=UTC),  # no microseconds: still written, six zeros
    datetime(2026, 12, 6, 20, 0, 0, 5, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, 0, 250000, tzinfo=EAST),  # the day before in UTC
    datetime(2026, 12, 31, 22, 45, 59, 999999, tzinfo=WEST),  # the next year in UTC
    datetime(999, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),  # a year of three digits, zero-padded
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_a_moment_is_written_as_sqlalchemys_sqlite_datetime_writes_it(moment: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
    assert ours(moment) == theirs(naive_utc)
    assert ours(None) is None


def test_a_naive_moment_is_refused_on_sqlite_too() -> None:
    dialect = sqlite.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 12, 6, 20, 0))  # noqa: DTZ001 (the naive value is the point)


def test_a_moment_comes_back_from_sqlite_as_the_same_instant_in_utc() -> None:
    metadata = sa.MetaData()
    table = sa.Table("moments", metadata, sa.Column("at", UTCDateTime()))
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"at": moment} for moment in MOMENTS])
        read = connection.execute(sa.select(table.c.at)).scalars().all()
    assert read == MOMENTS
    assert all(moment.tzinfo is UTC for moment in read)
