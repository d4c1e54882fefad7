"""Writers queued on a SQLite file share one transaction and its commit (``WriteGroup``).

Each writer runs in a savepoint of the group's transaction and answers only once the group
has committed. These tests hold the promises that make that safe: every writer's work is
committed and answered as its own; a writer that fails leaves nothing behind and takes nobody
else's work with it; when the shared commit fails, every writer of the group fails and nothing
is written; a group left open for a writer that gave up waiting is still committed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from app.db import run_core
from app.domain.roles import Role
from app.main import create_app
from app.models import Customer, OrderEvent, RepairOrder, Watch
from app.repositories.rows import insert_new
from app.settings import Settings
from tests.conftest import KeyFactory
from tests.factories import WATCH

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _sqlite_file(settings: Settings) -> None:
    if make_url(settings.database_url).get_backend_name() != "sqlite":
        pytest.skip("write groups are how a SQLite file shares its one writer")


def count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> httpx.Response:
    payload = {"customer": {"name": "Claire Martin"}, "watch": dict(WATCH), **fields}
    return await client.post("/v1/repair-orders", json=payload, headers=headers)


async def _write(db: Any, work: Callable[[Any], Awaitable[Any]]) -> None:
    """``work`` in a write session of ``db``, then its commit."""
    session = db.new_session(write=True)
    try:
        await work(session)
        await session.commit()
    finally:
        await session.close()


async def _write_then_hold(
    db: Any, work: Callable[[Any], Awaitable[Any]], inside: asyncio.Event, leave: asyncio.Event
) -> None:
    """A writer that does ``work`` and keeps the write slot until ``leave`` is set."""
    async with db.writer_slot():
        await _write(db, work)
        inside.set()
        await leave.wait()


async def _break_a_deferred_key(session: Any) -> None:
    # SQLite checks a deferred foreign key only when the transaction commits: the savepoint
    # is released, and the COMMIT is what fails.
    await run_core(session, sa.text("PRAGMA defer_foreign_keys = ON"))
    orphan = {"brand": "Orphan", "movement_type": "quartz", "customer_id": uuid.uuid4()}
    await insert_new(session, Watch, **orphan)


async def queued(db: Any, requests: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``requests`` with all of them queued for the write slot before the first gets it
    (as under load; one after another, in-process requests would never queue)."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold_the_slot() -> None:
        async with db.writer_slot():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_slot())
    await holding.wait()
    tasks = [asyncio.create_task(request) for request in requests]
    for _ in range(1000):
        if db._writers_waiting == len(tasks):
            break
        await asyncio.sleep(0.001)
    assert db._writers_waiting == len(tasks)
    release.set()
    await holder
    return list(await asyncio.gather(*tasks))


async def test_queued_writers_share_a_commit_and_each_gets_its_own_answer(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    db = app.state.runtime.db
    counter = await keys.headers(Role.COUNTER)
    commits, orders_before = db.group_commits, count(clean_database, RepairOrder)
    writers = db.grouped_writers
    answers = await queued(db, [_create(client, counter) for _ in range(24)])
    assert [a.status_code for a in answers] == [201] * 24
    # Two commits: the first sixteen writers (the most a group holds), then the other eight.
    assert db.group_commits - commits == 2
    # Operators see them: the mean group size is the ratio of the two counters.
    metrics = (await client.get("/metrics")).text
    assert f"atelier_sqlite_write_groups_total {float(db.group_commits)}" in metrics
    assert f"atelier_sqlite_grouped_writers_total {float(db.grouped_writers)}" in metrics
    assert db.grouped_writers - writers == 24
    numbers = sorted(int(a.json()["number"].split("-")[1]) for a in answers)
    assert numbers == list(range(numbers[0], numbers[0] + 24))
    assert count(clean_database, RepairOrder) == orders_before + 24
    # Each answer is its own order, committed and readable by anyone now.
    for answer in answers:
        read = await client.get(answer.headers["location"], headers=counter)
        assert read.json() == answer.json()


async def test_a_writer_that_fails_in_a_group_leaves_nothing_and_takes_nothing(
    app: Any, client: httpx.AsyncClient, keys: KeyFactory, clean_database: Engine
) -> None:
    db = app.state.runtime.db
    commits = db.group_commits
    counter = await keys.headers(Role.COUNTER)
    customers, watches = count(clean_database, Customer), count(clean_database, Watch)
    events = count(clean_database, OrderEvent)
    # A past promised date is refused after the customer, the watch and the order number
    # were written: the writer's savepoint must take all three back, and only them.
    fields = [{} if i % 3 else {"promised_date": "2001-01-01"} for i in range(12)]
    answers = await queued(db, [_create(client, counter, **f) for f in fields])
    assert db.group_commits - commits == 1
    statuses = [a.status_code for a in answers]
    assert statuses == [422 if i % 3 == 0 else 201 for i in range(12)]
    created = [a.json() for a in answers if a.status_code == 201]
    numbers = sorted(int(o["number"].split("-")[1]) for o in created)
    assert numbers == list(range(numbers[0], numbers[0] + 8))  # no number lost to a failure
    assert count(clean_database, Customer) == customers + 8
    assert count(clean_database, Watch) == watches + 8
    assert count(clean_database, OrderEvent) == events + 8


async def test_a_failed_shared_commit_fails_every_writer_and_writes_nothing(
    app: Any, clean_database: Engine
) -> None:
    db = app.state.runtime.db
    customers, watches = count(clean_database, Customer), count(clean_database, Watch)
    first_in, first_may_leave = asyncio.Event(), asyncio.Event()

    async def writes_a_good_row() -> None:
        async with db.writer_slot():
            await _write(db, lambda session: insert_new(session, Customer, name="Bystander"))

    first = asyncio.create_task(
        _write_then_hold(db, _break_a_deferred_key, first_in, first_may_leave)
    )
    await first_in.wait()
    second = asyncio.create_task(writes_a_good_row())
    await asyncio.sleep(0)  # the second writer is now waiting for the slot
    first_may_leave.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    assert count(clean_database, Customer) == customers
    assert count(clean_database, Watch) == watches


async def test_a_group_left_open_for_a_writer_that_gave_up_is_still_committed(
    app: Any, clean_database: Engine
) -> None:
    db = app.state.runtime.db
    customers = count(clean_database, Customer)
    first_in, first_may_leave = asyncio.Event(), asyncio.Event()

    async def gives_up() -> None:
        async with db.writer_slot():
            raise AssertionError("this writer was to give up before its turn")

    keep = lambda session: insert_new(session, Customer, name="Kept")  # noqa: E731
    first = asyncio.create_task(_write_then_hold(db, keep, first_in, first_may_leave))
    await first_in.wait()
    second = asyncio.create_task(gives_up())
    await asyncio.sleep(0)  # waiting for the slot: the first writer leaves the group open
    first_may_leave.set()
    await asyncio.sleep(0)  # the first writer leaves the slot and waits for the commit
    assert db._group is not None and not first.done()
    second.cancel()
    await asyncio.wait_for(first, timeout=5)
    with pytest.raises(asyncio.CancelledError):
        await second
    assert db._group is None
    assert count(clean_database, Customer) == customers + 1


async def test_without_group_commit_every_writer_commits_alone(
    settings: Settings, clean_database: Engine
) -> None:
    alone = create_app(settings.model_copy(update={"sqlite_group_commit": False}))
    db = alone.state.runtime.db
    headers = await KeyFactory(alone).headers(Role.COUNTER)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=alone), base_url="http://t"
        ) as client:
            answers = await asyncio.gather(*(_create(client, headers) for _ in range(6)))
    finally:
        await db.dispose()
    assert [a.status_code for a in answers] == [201] * 6
    assert db.group_commits == 0


async def test_a_commit_that_failed_gives_the_write_lock_back(
    settings: Settings, clean_database: Engine
) -> None:
    """Alone or in a group, a COMMIT that SQLite refuses must not leave its transaction open
    on the pooled connection, holding the file's write lock for the next writers."""
    customers = count(clean_database, Customer)
    for grouped in (False, True):
        app = create_app(
            settings.model_copy(
                update={"sqlite_group_commit": grouped, "sqlite_busy_timeout_seconds": 0.2}
            )
        )
        db = app.state.runtime.db
        try:
            try:
                async with db.writer_slot():
                    if grouped:
                        await _write(db, _break_a_deferred_key)
                    else:
                        with pytest.raises(sa.exc.IntegrityError):
                            await _write(db, _break_a_deferred_key)
            except OperationalError:
                assert grouped
            else:
                assert not grouped
            async with db.writer_slot():
                await _write(db, lambda session: insert_new(session, Customer, name="Next writer"))
        finally:
            await db.dispose()  # a lock left with a pooled connection goes with it
    assert count(clean_database, Customer) == customers + 2  # each next writer's row


async def _customer_in_the_slot(db: Any, name: str) -> None:
    async with db.writer_slot():
        await _write(db, lambda session: insert_new(session, Customer, name=name))


async def test_a_group_that_meets_another_processs_lock_notes_it(
    app: Any, settings: Settings, clean_database: Engine
) -> None:
    """Another process (here a connection of the test's own) holds the file's write lock: the
    group's BEGIN IMMEDIATE waits for it, polling, and the process remembers for a while that
    it is not alone writing to the file. A group that meets no lock notes nothing."""
    db = app.state.runtime.db
    db._contended_until = 0.0  # the runtime may have met another test's lock
    await _customer_in_the_slot(db, "Alone")
    assert db._contended_until == 0.0
    other = sqlite3.connect(str(make_url(settings.database_url).database), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        waiting = asyncio.create_task(_customer_in_the_slot(db, "After the other process"))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        assert db._contended_until > time.monotonic()
        other.rollback()
        await waiting
    finally:
        other.close()
    assert count(clean_database, Customer) >= 2


async def test_while_another_process_writes_a_committed_group_holds_the_next_one_back(
    app: Any, client: httpx.AsyncClient, clean_database: Engine
) -> None:
    """After a group commits, the process pauses before its next group while it has met
    another process's lock lately: the other's writer, polling every millisecond, takes the
    lock instead of waiting for every group of this process (docs/benchmarks.md, ninth round).
    Alone on the file, it never pauses."""
    db = app.state.runtime.db
    customers = count(clean_database, Customer)
    db._contended_until = 0.0  # the runtime may have met another test's lock
    hand_overs = db.hand_overs
    await queued(db, [_customer_in_the_slot(db, f"Alone {i}") for i in range(32)])
    assert db.hand_overs == hand_overs
    db._note_contention()
    commits = db.group_commits
    await queued(db, [_customer_in_the_slot(db, f"Shared {i}") for i in range(32)])
    assert db.group_commits - commits == 2
    assert db.hand_overs == hand_overs + 1  # between the two groups; none after the last
    assert count(clean_database, Customer) == customers + 64
    metrics = (await client.get("/metrics")).text
    assert f"atelier_sqlite_write_hand_overs_total {float(db.hand_overs)}" in metrics


def _named(engine: Engine, prefix: str) -> list[str]:
    with engine.connect() as connection:
        names = connection.execute(
            select(Customer.name).where(Customer.name.startswith(prefix))  # type: ignore[attr-defined]
        )
        return sorted(names.scalars())


async def _in_the_slot(db: Any, work: Callable[[Any], Awaitable[Any]], *, fail: bool) -> str:
    """A writer of the current group: ``work``, then its commit, or its rollback if ``fail``."""
    async with db.writer_slot():
        session = db.new_session(write=True)
        try:
            await work(session)
            if fail:
                await session.rollback()
                return "rolled back"
            await session.commit()
            return "committed"
        finally:
            await session.close()


async def test_a_writer_of_prepared_statements_only_makes_no_orm_session(
    app: Any, clean_database: Engine
) -> None:
    db = app.state.runtime.db
    sessions: list[Any] = []

    async def prepared_only(session: Any) -> None:
        sessions.append(session)
        await insert_new(session, Customer, name="Prepared only")

    assert await queued(db, [_in_the_slot(db, prepared_only, fail=False)]) == ["committed"]
    # Its savepoint was the writer's own, on the driver: no ORM session was begun for it.
    assert not sessions[0].orm_used
    assert _named(clean_database, "Prepared only") == ["Prepared only"]


async def test_a_writer_that_turns_to_the_orm_midway_keeps_or_undoes_both_parts_together(
    app: Any, clean_database: Engine
) -> None:
    db = app.state.runtime.db
    commits = db.group_commits

    def mixed(name: str) -> Callable[[Any], Awaitable[None]]:
        async def work(session: Any) -> None:
            # First a prepared statement (the writer's own savepoint, taken on the driver),
            # then the ORM, whose savepoint nests inside it.
            await insert_new(session, Customer, name=f"{name} prepared")
            session.add(Customer(name=f"{name} orm"))
            await session.flush()
            assert session.orm_used

        return work

    outcomes = await queued(
        db,
        [
            _in_the_slot(db, mixed("Mixed A"), fail=False),
            _in_the_slot(db, mixed("Mixed B"), fail=True),
            _in_the_slot(db, mixed("Mixed C"), fail=False),
        ],
    )
    assert outcomes == ["committed", "rolled back", "committed"]
    assert db.group_commits - commits == 1  # one shared transaction for the three
    assert _named(clean_database, "Mixed ") == [
        "Mixed A orm", "Mixed A prepared", "Mixed C orm", "Mixed C prepared",
    ]  # fmt: skip


async def test_a_writer_whose_orm_flush_fails_at_commit_leaves_nothing_of_either_part(
    app: Any, clean_database: Engine
) -> None:
    db = app.state.runtime.db

    async def breaks_at_commit(session: Any) -> None:
        await insert_new(session, Customer, name="Broken prepared")
        # A NOT NULL column left empty: the INSERT fails in the commit's flush.
        session.add(Customer(name=None))  # type: ignore[arg-type]

    async def fine(session: Any) -> None:
        await insert_new(session, Customer, name="Broken neighbour")

    async def attempt() -> str:
        try:
            return await _in_the_slot(db, breaks_at_commit, fail=False)
        except sa.exc.IntegrityError:
            return "refused"

    outcomes = await queued(db, [attempt(), _in_the_slot(db, fine, fail=False)])
    assert outcomes == ["refused", "committed"]
    assert _named(clean_database, "Broken ") == ["Broken neighbour"]
