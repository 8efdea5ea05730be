"""`airfoil supervise`: started by `airfoil up` once the stack is healthy, it starts again any component
that exits, as systemd's `Restart=on-failure` or a Kubernetes restart policy would on a cluster.

Airflow's scheduler, dag-processor and triggerer exit when their database goes away (a PostgreSQL
restart) and a killed Celery worker stays dead; the supervisor brings each back with the stack's own
command and environment. A component that dies again within a minute of its restart waits twice as
long before the next one (up to 30 s), so a database that stays down is not hammered. It stops when
`airfoil down` forgets the stack. No Airflow import.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from functools import partial

from airfoil.airflow.stack import Process, Stack

INTERVAL = 2.0  # seconds between two looks at the recorded processes
BACKOFF_MAX = 30.0
STABLE = 60.0  # a component alive this long after its restart starts its backoff again from zero


class Backoff:
    """When each component may be restarted next."""

    def __init__(self) -> None:
        self.delay: dict[str, float] = {}
        self.restarted_at: dict[str, float] = {}

    def due(self, p: Process, now: float) -> bool:
        return now >= self.restarted_at.get(p.name, -1e9) + self.delay.get(p.name, 0.0)

    def restarted(self, name: str, now: float) -> float:
        """Record a restart; the delay before the next one."""
        again_soon = now - self.restarted_at.get(name, -1e9) < STABLE
        self.delay[name] = (
            min(BACKOFF_MAX, max(INTERVAL, 2 * self.delay.get(name, 0.0))) if again_soon else 0.0
        )
        self.restarted_at[name] = now
        return self.delay[name]


def supervise(stack: Stack, interval: float = INTERVAL) -> None:
    """Restart what exits until the stack is gone or no longer records this process."""
    me, backoff = os.getpid(), Backoff()
    deadline = time.monotonic() + 30
    while not _recorded(stack, me):  # `up` records the supervisor right after starting it
        if time.monotonic() > deadline:
            return
        time.sleep(0.1)
    while _recorded(stack, me):
        now = time.monotonic()
        for name in stack.restart_dead(partial(backoff.due, now=now)):
            delay = backoff.restarted(name, now)
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            print(
                f"{stamp} {name} had exited: started it again (next restart after {delay:.0f} s)", flush=True
            )
        time.sleep(interval)


def _recorded(stack: Stack, pid: int) -> bool:
    state = stack.state()
    return state is not None and any(p.pid == pid for p in state.processes)
