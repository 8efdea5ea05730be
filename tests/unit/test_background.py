"""cli.background: a warm-up runs beside the foreground and never breaks it."""

from __future__ import annotations

import threading

from airfoil.cli.background import Warmup


def test_a_warmup_runs_its_job_in_another_thread_and_wait_joins_it() -> None:
    ran: list[str] = []
    warm = Warmup("test", lambda: ran.append(threading.current_thread().name))
    warm.wait()
    assert ran == ["airfoil-warmup-test"]


def test_a_failing_warmup_changes_nothing() -> None:
    def job() -> None:
        raise RuntimeError("no Airflow here")

    Warmup("broken", job).wait()  # no exception reaches the caller: the foreground does the work itself
