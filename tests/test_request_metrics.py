"""The handled requests' counter and histogram (``app.observability.RequestSeries``): plain
numbers handed to Prometheus at each scrape, exposed as a ``Counter`` and a ``Histogram``
of ``prometheus_client`` would be."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.observability import _REQUEST_BUCKETS, Metrics

OBSERVED = [
    ("GET", "/healthz", 200, 0.001),
    ("GET", "/healthz", 200, 0.002),  # on a bound: counted in that bucket (le)
    ("GET", "/v1/repair-orders", 200, 0.0049),
    ("GET", "/v1/repair-orders", 422, 0.0101),
    ("POST", "/v1/repair-orders", 201, 0.05),
    ("POST", "/v1/repair-orders", 201, 7.0),  # over the last bound: +Inf only
    ("GET", "unmatched", 404, 0.25),
]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_the_exposition_is_the_one_prometheus_client_s_own_collectors_give() -> None:
    metrics = Metrics()
    reference = CollectorRegistry()
    counter = Counter(
        "atelier_http_requests_total",
        "HTTP requests handled",
        ["method", "route", "status"],
        registry=reference,
    )
    histogram = Histogram(
        "atelier_http_request_duration_seconds",
        "Time to handle an HTTP request",
        ["method", "route"],
        buckets=_REQUEST_BUCKETS,
        registry=reference,
    )
    for method, route, status, seconds in OBSERVED:
        metrics.observe_request(method, route, status, seconds)
        counter.labels(method, route, str(status)).inc()
        histogram.labels(method, route).observe(seconds)
    ours = _samples(generate_latest(metrics.registry).decode())
    theirs = _samples(generate_latest(reference).decode())
    assert theirs
    assert {key: ours[key] for key in theirs} == theirs
    posted = (("method", "POST"), ("route", "/v1/repair-orders"), ("status", "201"))
    assert ours[("atelier_http_requests_total", posted)] == 2
    healthz = (("le", "0.002"), ("method", "GET"), ("route", "/healthz"))
    assert ours[("atelier_http_request_duration_seconds_bucket", healthz)] == 2


def test_every_series_has_its_creation_time_and_the_families_their_types() -> None:
    metrics = Metrics()
    metrics.observe_request("GET", "/healthz", 200, 0.003)
    families = {f.name: f for f in text_string_to_metric_families(
        generate_latest(metrics.registry).decode()
    )}  # fmt: skip
    assert families["atelier_http_requests"].type == "counter"
    assert families["atelier_http_request_duration_seconds"].type == "histogram"
    created = [
        sample
        for family in families.values()
        for sample in family.samples
        if sample.name.startswith("atelier_http_request") and sample.name.endswith("_created")
    ]
    assert len(created) == 2 and all(sample.value > 1.7e9 for sample in created)


def test_nothing_observed_exposes_the_families_without_series() -> None:
    text = generate_latest(Metrics().registry).decode()
    assert "# TYPE atelier_http_requests_total counter" in text
    assert "atelier_http_requests_total{" not in text
