"""The requests the fast protocol (`serving.fast_protocol`) answers itself, and their answers.

It takes only a POST to a prediction route — `/v1/models/{name}/invocations`,
`/v2/models/{name}/infer`, `/v2/models/{name}/versions/{v}/infer` — that the guard would let
through (the token, a Content-Length within the limit, a free slot) for a model already loaded.
Everything else, including every refusal of the guard, an unknown model and a version still to load,
goes to the ASGI app, which answers it as it always has. The answer itself comes from the same
`Inference` the FastAPI routes use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

import orjson

from airfoil.registry.loaded import LoadedModel
from airfoil.serving.champions import Champions
from airfoil.serving.guard import Guard
from airfoil.serving.inference import MLFLOW, OIP, Answer, Checked, Inference

log = logging.getLogger("airfoil.serving")


class Pending:
    """A prediction request taken by the fast path, its body still arriving."""

    __slots__ = ("chunks", "keep_alive", "model", "protocol", "started")

    def __init__(self, model: LoadedModel, protocol: str):
        self.model = model
        self.protocol = protocol
        self.started = time.perf_counter()
        self.chunks: list[bytes] = []
        self.keep_alive = True


class Connection(Protocol):
    """What an answer is delivered to (the fast protocol, one per connection)."""

    def deliver(self, answer: Answer) -> None: ...


class FastRoutes:
    """Admission to the fast path (holding one of the guard's slots until answered), and the answers:
    requests checked as they arrive, predicted together at the event loop's next turn."""

    def __init__(self, guard: Guard, champions: Champions, inference: Inference):
        self.guard = guard
        self.champions = champions
        self.inference = inference
        self.queue: list[tuple[Checked, Connection]] = []  # checked, waiting for `flush`

    def admit(self, path: str, headers: list[tuple[bytes, bytes]]) -> Pending | None:
        """A POST to `path`: the request to answer here, holding a slot; None when the ASGI app
        should answer it."""
        found = route(path)
        if found is None:
            return None
        authorization = length = None
        for name, value in headers:  # the last of repeated headers counts, as in the guard
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                return None
        guard = self.guard
        if authorization is None or length is None or not guard.authorized(authorization):
            return None
        if not guard.admits(length) or guard.inflight >= guard.max_inflight:
            return None
        model_name, version, protocol = found
        if version is None:
            model = self.champions.champions.get(model_name)
        else:
            model = self.champions.cached(model_name, int(version))
        if model is None:
            return None
        guard.inflight += 1
        return Pending(model, protocol)

    def submit(self, pending: Pending, connection: Connection, loop: asyncio.AbstractEventLoop) -> None:
        """A request whose body has arrived: refused at once, or predicted with the others that
        arrive before the event loop's next turn; `connection.deliver` gets the answer."""
        raw = pending.chunks[0] if len(pending.chunks) == 1 else b"".join(pending.chunks)
        try:
            checked = self.inference.check(pending.model, pending.protocol, raw, pending.started)
        except Exception as exc:
            checked = self._unexpected(exc)
        if isinstance(checked, Answer):
            self.guard.inflight -= 1
            connection.deliver(checked)
            return
        self.queue.append((checked, connection))
        if len(self.queue) == 1:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Predict what is queued, one call per model, and deliver every answer."""
        queue, self.queue = self.queue, []
        by_model: dict[int, list[tuple[Checked, Connection]]] = {}
        for item in queue:
            by_model.setdefault(id(item[0].model), []).append(item)
        for items in by_model.values():
            try:
                answers = self.inference.answer_all([checked for checked, _ in items])
            except Exception as exc:
                answers = [self._unexpected(exc)] * len(items)
            for (_, connection), answer in zip(items, answers, strict=True):
                self.guard.inflight -= 1
                connection.deliver(answer)

    def _unexpected(self, exc: Exception) -> Answer:
        """As the app's handler of unexpected errors answers: logged, counted, 500."""
        log.exception("airfoil: unexpected error", exc_info=exc)
        self.inference.metrics.errors.labels("500").inc()
        message = f"internal error ({type(exc).__name__}); see the server log"
        return Answer(500, orjson.dumps({"error": message}), None)

    def release(self) -> None:
        """A request given up before its body arrived (the client left): its slot is free again."""
        self.guard.inflight -= 1


def route(path: str) -> tuple[str, str | None, str] | None:
    """(model name, version or None, protocol) of a prediction route's path, else None."""
    parts = path.split("/")
    if len(parts) == 5 and parts[0] == "" and parts[2] == "models" and parts[3]:
        if parts[1] == "v1" and parts[4] == "invocations":
            return parts[3], None, MLFLOW
        if parts[1] == "v2" and parts[4] == "infer":
            return parts[3], None, OIP
    elif len(parts) == 7 and parts[0] == "" and parts[1] == "v2" and parts[2] == "models" and parts[3]:
        version = parts[5]
        if parts[4] == "versions" and parts[6] == "infer" and version.isascii() and version.isdigit():
            return parts[3], version, OIP
    return None
