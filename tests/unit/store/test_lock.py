"""store.lock.pipeline_lock: one holder at a time per pipeline, on SQLite (flock) and PostgreSQL
(advisory lock); another pipeline is not held up; a holder that dies releases it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from airfoil.errors import AirfoilError
from airfoil.store.lock import pipeline_lock


def _hold(store_url: str, name: str, events: list[str], label: str, seconds: float) -> None:
    with pipeline_lock(store_url, name):
        events.append(f"{label} in")
        time.sleep(seconds)
        events.append(f"{label} out")


def _holding(store_url: str, name: str, events: list[str], seconds: float) -> threading.Thread:
    """A thread that holds the lock ("a") for `seconds`; it holds it when this returns."""
    first = threading.Thread(target=_hold, args=(store_url, name, events, "a", seconds))
    first.start()
    while not events:
        time.sleep(0.01)
    return first


def test_two_holders_of_one_pipeline_take_turns(store_url: str, pipeline: str) -> None:
    events: list[str] = []
    first = _holding(store_url, pipeline, events, 0.5)
    _hold(store_url, pipeline, events, "b", 0)
    first.join()
    assert events == ["a in", "a out", "b in", "b out"]


def test_another_pipeline_is_not_held_up(store_url: str, pipeline: str) -> None:
    events: list[str] = []
    first = _holding(store_url, pipeline, events, 0.5)
    _hold(store_url, pipeline + "_other", events, "b", 0)
    first.join()
    assert events == ["a in", "b in", "b out", "a out"]


def test_a_killed_holder_releases_the_lock(store_url: str, pipeline: str) -> None:
    code = (
        "import sys, time\n"
        "from airfoil.store.lock import pipeline_lock\n"
        "with pipeline_lock(sys.argv[1], sys.argv[2]):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, store_url, pipeline], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait()
        with pipeline_lock(store_url, pipeline, timeout=20):  # raises if still held after 20 s
            pass
    finally:
        holder.kill()


def test_waiting_too_long_is_a_clear_error(store_url: str, pipeline: str) -> None:
    events: list[str] = []
    first = _holding(store_url, pipeline, events, 1.5)
    too_long = pytest.raises(AirfoilError, match=r"waited 0\.2 s for its lock")
    with too_long, pipeline_lock(store_url, pipeline, 0.2):
        pass
    first.join()
