"""`airfoil serve --workers 2`: each worker on a listening socket of its own (SO_REUSEPORT), the
kernel spreading new connections over them; a worker killed is replaced on the same socket."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Airfoil, champions_registry, serving
from tests.integration.serving.support import BC_ROWS, INVOKE, records

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="one socket per worker on Linux only")
__all__ = ["champions_registry"]


def workers_of(pid: int) -> set[int]:
    """The serving processes uvicorn's supervisor (pid) started (not multiprocessing's tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = set()
    for child in map(int, children):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.add(child)
    return found


def listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on 127.0.0.1:port (/proc/net/tcp, state 0A)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {r[9] for r in rows if r[1].endswith(f":{port:04X}") and r[3] == "0A"}


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process pid holds open."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:port (/proc/net/tcp, state 0A)."""
    hex_port = f"{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1].endswith(f":{hex_port}") and line.split()[3] == "0A")


def test_two_workers_each_on_a_socket_and_a_killed_one_replaced(
    champions_registry: Airfoil, tmp_path: Path
) -> None:
    af = Airfoil(home=champions_registry.home, workdir=tmp_path)
    body = {"dataframe_records": records(BC_ROWS[:1])}
    with serving(af, workers=2) as server:
        port = int(server.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 90  # ready = one worker ready; the other may still be loading
        while listening_sockets(port) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = workers_of(server.proc.pid)
        assert len(workers) == 2, server.output()
        assert listening_sockets(port) == 2  # one per worker, not one shared

        listening = listening_inodes(port)
        held = {pid: socket_inodes(pid) & listening for pid in workers}
        assert all(len(h) == 1 for h in held.values()) and len(set.union(*held.values())) == 2

        def answered_on_fresh_connections(n: int, timeout: float = 30) -> int:
            ok = 0
            for _ in range(n):  # a new connection each time: the kernel picks the socket by its hash
                with httpx.Client(base_url=server.url, headers=server.auth, timeout=timeout) as c:
                    ok += c.post(INVOKE, json=body).status_code == 200
            return ok

        assert answered_on_fresh_connections(16) == 16

        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            now = workers_of(server.proc.pid)
            if len(now) == 2 and victim not in now and listening_sockets(port) == 2:
                break
            time.sleep(0.2)
        now = workers_of(server.proc.pid)
        assert victim not in now and len(now) == 2
        assert listening_sockets(port) == 2  # the supervisor kept the dead worker's socket
        (replacement,) = now - workers
        assert socket_inodes(replacement) & listening == held[victim]  # and gave it to the replacement
        # Connections hashed to that socket wait for the replacement to load (never refused).
        assert answered_on_fresh_connections(16, timeout=300) == 16
