"""The channel between `airfoil serve` and its `airfoil transient worker`: one JSON line per message.

The server writes a `Run` to the worker's stdin; the worker answers every `Run` with an `Outcome` on
its stdout, after saying `Ready` once when it starts. Both ends use these types, so the protocol is
written once; a line that is not a message of the expected type reads as None (a broken worker).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

import orjson


@dataclass(frozen=True)
class Ready:
    """The worker is up; Airflow's output goes to `log`."""

    type: ClassVar[str] = "ready"
    log: str


@dataclass(frozen=True)
class Run:
    """Run one request: `DAG.test()` of the spec's transient DAG with the conf in `conf_file`."""

    type: ClassVar[str] = "run"
    spec: str
    conf_file: str


@dataclass(frozen=True)
class Outcome:
    """How a DAG run ended (also what `airfoil transient run` prints)."""

    type: ClassVar[str] = "outcome"
    state: str  # Airflow's DAG run state: success, failed, ...
    dag_id: str | None = None
    run_id: str | None = None
    result: Any = None  # the train_predict task's result
    error: str | None = None
    log: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "success"


Message = Ready | Run | Outcome
M = TypeVar("M", Ready, Run, Outcome)


def encode(message: Message) -> bytes:
    """One line: the message's fields and its type."""
    return orjson.dumps({"type": message.type, **asdict(message)}, default=str) + b"\n"


def decode(line: bytes | str, kind: type[M]) -> M | None:
    """The message of type `kind` on this line, or None if the line is not one."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("type") != kind.type:
        return None
    try:
        return kind(**{f.name: data[f.name] for f in fields(kind) if f.name in data})
    except TypeError:  # a required field is missing
        return None
