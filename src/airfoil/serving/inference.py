"""Prediction requests, from their body's bytes to the answer's: parse, check every value against
the model's schema, predict, count (live profiles, Prometheus), encode. The FastAPI routes
(`serving.predict`) and the fast protocol (`serving.fast_protocol`) both answer through `Inference`,
so the two paths give the same status, body and headers for the same request.

`answer_all` predicts several checked requests to one model in one call: the model's fixed cost per
call (ONNX Runtime: ~25 µs for a one-row request, more than parsing and checking it) is paid once
for requests that arrived together. Each row's prediction does not depend on the other rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from airfoil.artifacts.features import Features
from airfoil.registry.loaded import LoadedModel
from airfoil.serving import mlflow_format, oip
from airfoil.serving.http import BadInput, loads
from airfoil.serving.metrics import Metrics
from airfoil.serving.profiles import LiveProfiles

OIP, MLFLOW = "oip", "mlflow"  # the protocols, as the metrics label them


class Answer(NamedTuple):
    """An answer to send: status, JSON body, and the version that gave it (`X-Model-Version`)."""

    status: int
    body: bytes
    version: int | None


class Checked(NamedTuple):
    """A request whose values passed every check: ready to predict."""

    model: LoadedModel
    protocol: str
    body: Any  # the parsed JSON (OIP answers echo its id)
    values: Features
    wanted: list[str] | None  # OIP: the outputs asked for
    started: float  # perf_counter() when the request arrived


class Inference:
    """Answers prediction requests to loaded models."""

    def __init__(self, max_rows: int, metrics: Metrics, profiles: LiveProfiles):
        self.max_rows = max_rows
        self.metrics = metrics
        self.profiles = profiles

    def answer(self, model: LoadedModel, protocol: str, raw: bytes, started: float) -> Answer:
        """The answer to `raw` (a request body of `protocol`), counted; `started`: perf_counter() when
        the request arrived, for the latency histogram."""
        checked = self.check(model, protocol, raw, started)
        if isinstance(checked, Answer):
            return checked
        return self.answer_all([checked])[0]

    def check(self, model: LoadedModel, protocol: str, raw: bytes, started: float) -> Checked | Answer:
        """The request parsed and checked, or the answer refusing it (400, 413), counted."""
        try:
            body = loads(raw)
            if protocol == OIP:
                values = oip.parse(body, model, self.max_rows)
                wanted = oip.requested_outputs(body, model)
            else:
                values, wanted = mlflow_format.parse_for_model(body, model, self.max_rows), None
        except BadInput as exc:
            return self.refuse(model, protocol, exc)
        return Checked(model, protocol, body, values, wanted, started)

    def answer_all(self, requests: Sequence[Checked]) -> list[Answer]:
        """The answers to checked requests to one model, predicted in one call."""
        model = requests[0].model
        if len(requests) == 1:
            labels, proba = model.predict_arrays(requests[0].values)
            return [self._answer(requests[0], labels, proba)]
        labels, proba = model.predict_arrays(Features.concat([r.values for r in requests]))
        answers, start = [], 0
        for r in requests:
            end = start + r.values.rows
            answers.append(self._answer(r, labels[start:end], None if proba is None else proba[start:end]))
            start = end
        return answers

    def _answer(self, request: Checked, labels_array: Any, proba: Any) -> Answer:
        """The answer with these predictions, counted in the live profiles and the metrics."""
        model = request.model
        labels = labels_array.tolist()
        self.profiles.add(model, request.values, labels)
        out: dict[str, Any]
        if request.protocol == OIP:
            out = oip.response(model, request.body, labels, proba, request.wanted or [])
        else:
            out = {"predictions": labels, "model_version": model.version}
        encoded = orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)
        self.metrics.served(model.name, str(model.version), request.protocol).record(
            len(labels), time.perf_counter() - request.started
        )
        return Answer(200, encoded, model.version)

    def refuse(self, model: LoadedModel, protocol: str, exc: BadInput) -> Answer:
        """A request the model refused (400, 413), counted, with the version that refused it."""
        self.metrics.refused(model.name, str(model.version), protocol, exc.status)
        return Answer(
            exc.status, orjson.dumps({"error": str(exc), "model_version": model.version}), model.version
        )
