"""Prometheus metrics of the prediction API, in a registry per app (tests run several apps).

The three metrics every answered request moves (`airfoil_requests_total`, `airfoil_rows_predicted_total`,
`airfoil_request_seconds`) are plain numbers that `Answered` turns into Prometheus samples when
scraped: prometheus_client's own counters take a lock and look their labels up on every call, which
costs a one-row prediction more than its model (~7 µs of ~70). They are only written from the event
loop's thread (every prediction route runs there).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class Served:
    """One model version's answers through one protocol: requests, rows, latency histogram."""

    __slots__ = ("answered", "buckets", "created", "labels", "rows", "seconds")

    def __init__(self, labels: tuple[str, str, str]):
        self.labels = labels  # model, version, protocol
        self.answered = 0
        self.rows = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, not cumulative; the last is +Inf
        self.created = time.time()

    def record(self, rows: int, seconds: float) -> None:
        """One answered request of `rows` rows that took `seconds`."""
        self.answered += 1
        self.rows += rows
        self.seconds += seconds
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1


class Answered:
    """The collector of `Served` numbers and refused requests, as Prometheus metric families."""

    def __init__(self) -> None:
        self.served: dict[tuple[str, str, str], Served] = {}
        self.refused: dict[tuple[str, str, str, str], list[float]] = {}  # labels -> [count, created]

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "airfoil_requests",
            "Prediction requests answered",
            labels=["model", "version", "protocol", "code"],
        )
        rows = CounterMetricFamily("airfoil_rows_predicted", "Rows predicted", labels=["model", "version"])
        latency = HistogramMetricFamily(
            "airfoil_request_seconds",
            "Time to answer a prediction request, parse to response",
            labels=["model", "version"],
        )
        by_version: dict[tuple[str, str], list[Served]] = {}
        for s in list(self.served.values()):
            requests.add_metric([*s.labels, "200"], s.answered, created=s.created)
            by_version.setdefault(s.labels[:2], []).append(s)
        for refused, (count, created) in list(self.refused.items()):
            requests.add_metric(list(refused), count, created=created)
        for labels, group in by_version.items():
            rows.add_metric(list(labels), sum(s.rows for s in group), created=min(s.created for s in group))
            counts = [sum(s.buckets[i] for s in group) for i in range(len(BUCKETS) + 1)]
            cumulative = [sum(counts[: i + 1]) for i in range(len(counts))]
            bounds = [floatToGoString(b) for b in BUCKETS] + ["+Inf"]
            latency.add_metric(
                list(labels), list(zip(bounds, cumulative, strict=True)), sum(s.seconds for s in group)
            )
        yield from (requests, rows, latency)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    answered: Answered = field(default_factory=Answered)

    def __post_init__(self) -> None:
        r = self.registry
        r.register(self.answered)
        self.loads = Counter(
            "airfoil_model_loads", "Model version loads by result", ["model", "version", "result"], registry=r
        )
        self.serving = Gauge(
            "airfoil_model_version", "Version each model is answering with", ["model"], registry=r
        )
        self.errors = Counter("airfoil_errors", "Requests answered with an error", ["code"], registry=r)
        self.shed = Counter("airfoil_shed", "Requests refused because the server was at capacity", registry=r)

    def served(self, name: str, version: str, protocol: str) -> Served:
        """The numbers of one model version's answers through `protocol` (one per version served)."""
        key = (name, version, protocol)
        found = self.answered.served.get(key)
        if found is None:
            found = self.answered.served[key] = Served(key)
        return found

    def refused(self, name: str, version: str, protocol: str, status: int) -> None:
        """Count a request a model refused (400, 413)."""
        key = (name, version, protocol, str(status))
        self.answered.refused.setdefault(key, [0, time.time()])[0] += 1
        self.errors.labels(str(status)).inc()
