"""Structured logs, Prometheus metrics and the request id."""

from __future__ import annotations

import bisect
import contextvars
import itertools
import json
import logging
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", 0, "x", 0, "x", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        line = f"{record.levelname:<7} {record.name} [{request_id_var.get()}] {record.getMessage()}"
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("atelier")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class Metrics:
    """The service's Prometheus collectors, on a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Handled requests and their durations, counted on the event loop and handed to the
        # registry at each scrape (``RequestSeries``).
        self.requests = RequestSeries(_REQUEST_BUCKETS)
        self.registry.register(self.requests)
        self.webhook_attempts = Counter(
            "atelier_webhook_attempts_total",
            "Webhook delivery attempts by outcome (delivered, failed, dead)",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "atelier_webhook_delivery_seconds",
            "Time for a receiver to answer a webhook",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        # SQLite: transactions shared by queued writers, and the writers they held (their ratio
        # is the mean group size; app/sqlite_session.py ``WriteGroup``).
        self.write_groups = Counter(
            "atelier_sqlite_write_groups",
            "SQLite transactions committed for a group of queued writers",
            registry=self.registry,
        )
        self.grouped_writers = Counter(
            "atelier_sqlite_grouped_writers",
            "Writers whose work a SQLite group transaction committed",
            registry=self.registry,
        )
        self.write_hand_overs = Counter(
            "atelier_sqlite_write_hand_overs",
            "Pauses between two SQLite write groups left for another process's writer",
            registry=self.registry,
        )
        self._write_groups_seen = (0, 0, 0)
        self.webhook_queue = Gauge(
            "atelier_webhook_deliveries",
            "Webhook deliveries by status (pending, delivered, dead)",
            ["status"],
            registry=self.registry,
        )

    def observe_write_groups(self, commits: int, writers: int, hand_overs: int) -> None:
        """Bring the SQLite write groups' counters up to the database's running totals."""
        self.write_groups.inc(commits - self._write_groups_seen[0])
        self.grouped_writers.inc(writers - self._write_groups_seen[1])
        self.write_hand_overs.inc(hand_overs - self._write_groups_seen[2])
        self._write_groups_seen = (commits, writers, hand_overs)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a handled request and its duration, by method, route template and status."""
        self.requests.observe(method, route, status, seconds)


_REQUEST_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestSeries:
    """``atelier_http_requests_total`` and ``atelier_http_request_duration_seconds``: plain
    numbers, added to on the event loop, and a Prometheus collector that hands them to the
    registry at each scrape, in the families a ``Counter`` and a ``Histogram`` would expose
    (``tests/test_request_metrics.py`` compares the two expositions).

    ``prometheus_client``'s own counter and histogram take a lock for every increment and
    observation, for threads this service does not have: 1.4 µs a request, against 0.4 µs
    here (docs/benchmarks.md, twenty-sixth round). Every request passes through the middleware
    on the event loop, and the scrape runs on it too, so no two of them interleave.
    """

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        # (method, route, status): [requests, created]
        self.counts: dict[tuple[str, str, int], list[float]] = {}
        # (method, route): [one count per bound, the count over the last, the sum, created]
        self.durations: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counted = self.counts.get((method, route, status))
        if counted is None:
            counted = self.counts[(method, route, status)] = [0, time.time()]
        counted[0] += 1
        timed = self.durations.get((method, route))
        if timed is None:
            timed = self.durations[(method, route)] = [0] * (len(self.bounds) + 2) + [time.time()]
        timed[bisect.bisect_left(self.bounds, seconds)] += 1
        timed[-2] += seconds

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> list[Metric]:
        return list(self._families(with_samples=True))

    def _families(self, with_samples: bool = False) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "atelier_http_requests", "HTTP requests handled", labels=("method", "route", "status")
        )
        # Built sample by sample: ``HistogramMetricFamily`` takes no creation time.
        name = "atelier_http_request_duration_seconds"
        durations = Metric(name, "Time to handle an HTTP request", "histogram")
        if with_samples:
            for (method, route, status), (count, created) in self.counts.items():
                requests.add_metric((method, route, str(status)), count, created=created)
            bounds = [repr(float(bound)) for bound in self.bounds] + ["+Inf"]
            for (method, route), timed in self.durations.items():
                labels = {"method": method, "route": route}
                cumulative = list(itertools.accumulate(timed[: len(bounds)]))
                for bound, below in zip(bounds, cumulative, strict=True):
                    durations.add_sample(f"{name}_bucket", {**labels, "le": bound}, below)
                durations.add_sample(f"{name}_count", labels, cumulative[-1])
                durations.add_sample(f"{name}_sum", labels, timed[-2])
                durations.add_sample(f"{name}_created", labels, timed[-1])
        yield requests
        yield durations
