"""A per-client sliding-window rate limit for the public endpoints (in process).

One API instance keeps its own counters; several instances behind a load balancer each apply
the limit (see docs/deployment.md for the shared-store option).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

_MAX_TRACKED_CLIENTS = 50_000


@dataclass
class SlidingWindowLimiter:
    limit: int
    window_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def check(self, client: str) -> int | None:
        """Count a hit; None when allowed, else the seconds to wait before retrying."""
        moment = self.clock()
        hits = self._hits.get(client)
        if hits is None:
            if len(self._hits) >= _MAX_TRACKED_CLIENTS:
                self._forget_idle(moment)
            hits = self._hits[client] = deque()
        while hits and hits[0] <= moment - self.window_seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window_seconds - moment))
        hits.append(moment)
        return None

    def _forget_idle(self, moment: float) -> None:
        idle = [c for c, h in self._hits.items() if not h or h[-1] <= moment - self.window_seconds]
        for client in idle:
            del self._hits[client]
        if len(self._hits) >= _MAX_TRACKED_CLIENTS:
            self._hits.clear()
