"""Watch the registry's `champion` aliases from a child process.

Asking MLflow is 5-20 ms of pure-Python work; done in the serving process it holds the GIL and
shows up in request latency every poll. The child does the asking and sends the aliases to the
server only when they change; the server's thread waits on the queue without holding the GIL.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from airfoil.registry.client import CHAMPION, client
from airfoil.settings import Settings

log = logging.getLogger("airfoil.serving")


def champion_aliases(settings: Settings) -> dict[str, int]:
    """{model name: champion version} for every registered model that has a champion."""
    return {
        rm.name: int(rm.aliases[CHAMPION])
        for rm in client(settings).search_registered_models()
        if CHAMPION in (rm.aliases or {})
    }


def watch(settings: Settings, queue: Any, parent: int, last: dict[str, int]) -> None:
    """Child process: poll every `poll_seconds`, put the aliases on `queue` when they change.

    Exits when the serving process is gone (its pid is no longer our parent).
    """
    while os.getppid() == parent:
        time.sleep(settings.poll_seconds)
        try:
            aliases = champion_aliases(settings)
        except Exception:  # the registry may be briefly unreachable; the server keeps what it has
            log.exception("airfoil: polling the registry failed; the server keeps its loaded versions")
            continue
        if aliases != last:
            queue.put(aliases)
            last = aliases
