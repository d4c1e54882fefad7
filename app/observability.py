"""Structured logs, Prometheus metrics and the request id."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        # Each (method, route, status)'s counter and histogram, looked up once: prometheus'
        # ``labels()`` validates and locks on every call, twice per request otherwise.
        self._request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.requests = Counter(
            "atelier_http_requests_total",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "atelier_http_request_duration_seconds",
            "Time to handle an HTTP request",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
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
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            series = self._request_series[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        series[0].inc()
        series[1].observe(seconds)
