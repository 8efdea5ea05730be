"""airfoil.airflow.supervisor with a real process and no Airflow: what exits is started again with its
recorded command, a component that keeps dying waits longer each time, and the supervisor stops when
the stack is forgotten."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

from airfoil.airflow.processes import alive
from airfoil.airflow.stack import SUPERVISOR, Ports, Process, Stack, StackState
from airfoil.airflow.supervisor import BACKOFF_MAX, INTERVAL, Backoff, supervise
from airfoil.settings import load_settings

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _component(stack: Stack) -> Process:
    state = stack.state()
    assert state is not None
    return next(p for p in state.processes if p.name == "sleeper")


def test_what_exits_is_started_again_until_the_stack_is_forgotten(tmp_path) -> None:
    stack = Stack(load_settings({"AIRFOIL_HOME": str(tmp_path / "home")}))
    (stack.dir / "logs").mkdir(parents=True)
    first = stack._spawn("sleeper", SLEEP, dict(os.environ))
    # this test's own process stands in for `airfoil supervise`, recorded with its own command line
    own = [a.decode() for a in Path("/proc/self/cmdline").read_bytes().split(b"\0") if a]
    me = Process(SUPERVISOR, os.getpid(), own, "log")
    assert alive(me)
    stack._save(StackState("local", 1, Ports(), [first, me]))
    watcher = threading.Thread(target=supervise, args=(stack, 0.1))
    watcher.start()
    started = [first.pid]
    try:
        os.killpg(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _component(stack).pid == first.pid:
            assert time.monotonic() < deadline, "the killed component was not started again"
            time.sleep(0.05)
        second = _component(stack)
        started.append(second.pid)
        assert second.cmd == SLEEP and alive(second)
    finally:
        stack.state_file.unlink()  # what `airfoil down` does last
        watcher.join(5)
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    assert not watcher.is_alive()


def test_a_component_that_keeps_dying_waits_longer_each_time() -> None:
    backoff, p = Backoff(), Process("scheduler", 1, ["airflow"], "log")
    assert backoff.due(p, 0.0)
    delays = [backoff.restarted("scheduler", float(t)) for t in (0, 1, 2, 3, 4, 5, 6)]
    assert delays[0] == 0.0  # the first restart is immediate
    assert delays[1:4] == [INTERVAL, 2 * INTERVAL, 4 * INTERVAL]
    assert max(delays) == BACKOFF_MAX
    assert not backoff.due(p, 6.5) and backoff.due(p, 6 + BACKOFF_MAX)
    assert backoff.restarted("scheduler", 1000.0) == 0.0  # alive for a minute: from zero again
