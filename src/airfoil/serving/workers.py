"""`airfoil serve --workers N` on Linux: uvicorn's supervisor, each worker on a listening socket of its
own (SO_REUSEPORT) instead of all of them accepting on one.

On one shared socket, the worker whose event loop wakes first accepts every connection waiting: a
client that opens its keep-alive connections together (a load balancer's pool, a benchmark) lands
all or most of them on one worker while the other idles (8 connections to the bare uvicorn app with
2 workers: 8/0 in 39 of 60 tries; 1 of 60 with a socket per worker). With one socket per worker
bound with SO_REUSEPORT, the kernel spreads new connections over the workers by their address hash.
A worker that dies is replaced on the same socket, which the supervisor keeps open, so the
connections hashed to it wait in its queue for the replacement rather than being refused.

Everything else (health checks, SIGHUP restarts, SIGTERM) is uvicorn's `Multiprocess`; the two
methods that start a replacement are uvicorn 0.54's, each giving the replacement its socket.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger("uvicorn.error")


def available() -> bool:
    """SO_REUSEPORT spreads connections over the sockets only on Linux (BSDs give them to one)."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` sockets bound to (host, port) with SO_REUSEPORT; port 0: the first one's port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:  # a port some process listens on, SO_REUSEPORT or not, is refused, not silently shared
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class PerWorkerSockets(Multiprocess):
    """uvicorn's `Multiprocess`, worker i on `sockets[i]` (see the module)."""

    def _spawn(self, index: int) -> Process:
        process = Process(self.config, [self.sockets[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        for index in range(self.processes_num):
            self.processes.append(self._spawn(index))

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: kill it
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # would fail the same way on every restart
                log.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info(f"Child process [{process.pid}] died")
            self.processes[index] = self._spawn(index)

    def restart_all(self) -> None:
        """Each worker replaced by a new one on its socket, the new one ready before the old one goes."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._spawn(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error(
                        f"New child process [{new.pid}] was not ready in time; "
                        f"keeping worker [{old.pid}] and aborting the restart."
                    )
                return
            old.terminate()
            old.join()
            self.processes[index] = new


def run(app: str, *, host: str, port: int, workers: int, **kwargs: Any) -> None:
    """`uvicorn.run(app, workers=workers, ...)` with a socket per worker (Linux, workers > 1)."""
    import uvicorn

    if workers <= 1 or not available():
        uvicorn.run(app, host=host, port=port, workers=workers, **kwargs)
        return
    config = Config(app, host=host, port=port, workers=workers, **kwargs)
    try:
        sockets = bind_sockets(host, port, workers)
    except OSError as exc:
        log.error(exc)
        sys.exit(STARTUP_FAILURE)
    try:
        PerWorkerSockets(config, sockets=sockets).run()
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()
