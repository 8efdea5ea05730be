"""Prometheus metrics of the prediction API, in a registry per app (tests run several apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "airfoil_requests",
            "Prediction requests answered",
            ["model", "version", "protocol", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "airfoil_request_seconds",
            "Time to answer a prediction request, parse to response",
            ["model", "version"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=r,
        )
        self.rows = Counter("airfoil_rows_predicted", "Rows predicted", ["model", "version"], registry=r)
        self.loads = Counter(
            "airfoil_model_loads", "Model version loads by result", ["model", "version", "result"], registry=r
        )
        self.serving = Gauge(
            "airfoil_model_version", "Version each model is answering with", ["model"], registry=r
        )
        self.errors = Counter("airfoil_errors", "Requests answered with an error", ["code"], registry=r)
        self.shed = Counter("airfoil_shed", "Requests refused because the server was at capacity", registry=r)
