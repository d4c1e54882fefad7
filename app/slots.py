"""Slots handed out in order of arrival, the waits' deadlines kept by one timer."""

from __future__ import annotations

import asyncio
from collections import deque

from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class Slots:
    """At most ``size`` holders at once; the others wait in their order of arrival, each up to
    ``timeout_seconds``, then fail as a wait for SQLAlchemy's pool does (``PoolTimeoutError``:
    a 503 with Retry-After). The PostgreSQL readers' connections and writers' turns
    (``app/psycopg_readers.py``, ``Database.writer_slot``).

    ``asyncio.Semaphore`` with a timer for each wait (``asyncio.timeout``) made a wait for a
    slot cost the loop a timer of its own, set and cancelled: under 32 clients most reads and
    nearly every write wait (docs/benchmarks.md, twenty-sixth round). Every waiter here has the
    same timeout, so the deadlines come in the waiters' order of arrival and one timer, set for
    the oldest waiter's, serves them all. A slot given back goes straight to the oldest waiter
    still waiting: no one arriving meanwhile takes it first.
    """

    __slots__ = ("size", "free", "timeout_seconds", "what", "waiters", "timer", "timer_loop")

    def __init__(self, size: int, timeout_seconds: float, what: str) -> None:
        self.size = size
        self.free = size
        self.timeout_seconds = timeout_seconds
        self.what = what
        self.waiters: deque[tuple[asyncio.Future[None], float]] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_loop: asyncio.AbstractEventLoop | None = None

    def locked(self) -> bool:
        """Every slot is held."""
        return self.free == 0

    async def acquire(self) -> None:
        if self.free > 0:  # nobody waits while a slot is free (``release`` hands it over)
            self.free -= 1
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        deadline = loop.time() + self.timeout_seconds
        self.waiters.append((waiter, deadline))
        if self.timer is None or self.timer_loop is not loop:
            self.timer = loop.call_at(deadline, self._expire)
            self.timer_loop = loop
        try:
            await waiter
        except asyncio.CancelledError:
            # Handed a slot just as the wait was cancelled: it goes to the next one.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()
            raise

    def release(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter, _ = waiters.popleft()
            if not waiter.done():  # not cancelled nor timed out
                waiter.set_result(None)
                return
        assert self.free < self.size, "a slot released that was not held"
        self.free += 1

    def _expire(self) -> None:
        """Fail the waits past their deadline; set the timer for the next one's."""
        self.timer = None
        loop, waiters = self.timer_loop, self.waiters
        assert loop is not None
        now = loop.time()
        while waiters:
            waiter, deadline = waiters[0]
            if waiter.done():
                waiters.popleft()
            elif deadline > now:
                self.timer = loop.call_at(deadline, self._expire)
                return
            else:
                waiters.popleft()
                waiter.set_exception(
                    PoolTimeoutError(f"No {self.what} free within {self.timeout_seconds:g} s.")
                )
