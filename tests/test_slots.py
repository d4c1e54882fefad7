"""Slots handed out in order of arrival, every wait bounded by one timer (``app.slots``):
the PostgreSQL readers' connections and writers' turns. Pure asyncio, no database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.slots import Slots


async def _holder(slots: Slots, name: str, order: list[str], release: asyncio.Event) -> None:
    await slots.acquire()
    order.append(name)
    await release.wait()
    slots.release()


async def test_waiters_get_the_slots_in_their_order_of_arrival() -> None:
    slots = Slots(2, 5.0, "slot")
    release = asyncio.Event()
    order: list[str] = []
    tasks = [asyncio.create_task(_holder(slots, str(n), order, release)) for n in range(6)]
    await asyncio.sleep(0)
    assert order == ["0", "1"] and slots.locked()
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["0", "1", "2", "3", "4", "5"]
    assert slots.free == 2 and not slots.waiters


async def test_a_slot_given_back_goes_to_a_waiter_not_to_one_arriving_after() -> None:
    slots = Slots(1, 5.0, "slot")
    await slots.acquire()
    waiting = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # handed to the waiter, not freed
    assert slots.free == 0
    late = asyncio.create_task(slots.acquire())
    await waiting
    await asyncio.sleep(0)
    assert not late.done()
    slots.release()
    await late
    slots.release()
    assert slots.free == 1


async def test_a_wait_past_its_deadline_fails_as_the_pool_s_timeout_and_holds_nothing() -> None:
    slots = Slots(1, 0.05, "write slot")
    await slots.acquire()
    first = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0.02)
    second = asyncio.create_task(slots.acquire())  # its deadline 20 ms after the first's
    with pytest.raises(PoolTimeoutError, match="No write slot free within 0.05 s"):
        await first
    await asyncio.sleep(0)
    assert not second.done()  # still within its own time
    slots.release()
    await second  # the slot the first never had went to the second
    slots.release()
    assert slots.free == 1 and not slots.waiters


async def test_one_timer_serves_every_waiter() -> None:
    slots = Slots(1, 5.0, "slot")
    await slots.acquire()
    waiters = [asyncio.create_task(slots.acquire()) for _ in range(20)]
    await asyncio.sleep(0)
    timer = slots.timer
    assert timer is not None
    for _ in waiters:  # each handed the slot in turn, the timer untouched
        slots.release()
        await asyncio.sleep(0)
    assert slots.timer is timer and all(w.done() for w in waiters)
    slots.release()
    assert slots.free == 1


async def test_a_cancelled_wait_leaves_the_queue_and_a_slot_handed_to_it_moves_on() -> None:
    slots = Slots(1, 5.0, "slot")
    await slots.acquire()
    cancelled = asyncio.create_task(slots.acquire())
    handed = asyncio.create_task(slots.acquire())
    behind = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    slots.release()  # skips the cancelled wait: to ``handed``
    handed.cancel()  # cancelled after the slot was handed to it, before it ran
    with pytest.raises(asyncio.CancelledError):
        await handed
    await behind  # the slot went on
    assert cancelled.cancelled()
    slots.release()
    assert slots.free == 1 and not slots.waiters


async def test_releasing_a_slot_nobody_holds_is_a_bug() -> None:
    slots = Slots(1, 5.0, "slot")
    with pytest.raises(AssertionError):
        slots.release()


def test_the_timer_is_set_again_on_another_event_loop() -> None:
    slots = Slots(1, 0.05, "slot")

    async def handed_over() -> None:  # leaves its timer set on this loop
        await slots.acquire()
        waiting = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        slots.release()
        await waiting
        slots.release()
        assert slots.timer is not None

    async def timed_out() -> None:
        await slots.acquire()
        try:
            async with asyncio.timeout(2):  # the first loop's timer would never fire here
                with pytest.raises(PoolTimeoutError):
                    await slots.acquire()
        finally:
            slots.release()

    asyncio.run(handed_over())
    asyncio.run(timed_out())
