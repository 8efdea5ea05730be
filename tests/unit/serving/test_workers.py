"""serving.workers: the sockets `airfoil serve --workers N` gives its workers, one each."""

from __future__ import annotations

import socket
import sys

import pytest

from airfoil.serving.workers import available, bind_sockets

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT spreads connections on Linux")


def test_one_socket_per_worker_on_one_port() -> None:
    assert available()
    sockets = bind_sockets("127.0.0.1", 0, 3)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(sockets) == 3 and len(ports) == 1  # port 0: the first socket's port for all
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in sockets)
        assert all(s.get_inheritable() for s in sockets)  # handed to the spawned workers
        for s in sockets:
            s.listen()
        # Each listens: a connection is accepted by one of them.
        with socket.create_connection(("127.0.0.1", ports.pop()), timeout=5):
            pass
    finally:
        for s in sockets:
            s.close()


def test_a_port_taken_without_reuseport_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            bind_sockets("127.0.0.1", taken.getsockname()[1], 2)


def test_a_port_another_server_holds_with_reuseport_is_refused_not_shared() -> None:
    """A second `airfoil serve --workers 2` on the port of a running one fails to start; the kernel would
    otherwise split the first server's connections with it."""
    first = bind_sockets("127.0.0.1", 0, 2)
    try:
        for s in first:
            s.listen()
        with pytest.raises(OSError):
            bind_sockets("127.0.0.1", first[0].getsockname()[1], 2)
    finally:
        for s in first:
            s.close()
