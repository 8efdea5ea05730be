"""The processes `airfoil up` started, read from /proc: is one still alive (and still ours), and
what else runs in its session."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Started(Protocol):
    pid: int
    cmd: list[str]


def alive(p: Started) -> bool:
    """Is pid `p.pid` alive and still running the command `up` started (not a reused pid)?"""
    try:
        cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{p.pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    if not any(cmdline):  # read in the middle of its exec: alive, its command not visible yet
        return True
    # Loose on purpose: Celery and Airflow retitle their processes ("[celeryd: worker1@host...]").
    marks = [Path(p.cmd[0]).name.encode(), *(a.encode() for a in p.cmd[1:2])]
    return any(mark in part for mark in marks for part in cmdline)


def session(sid: int) -> list[int]:
    """Every live (not zombie) process of session `sid`: what `up` started there and its descendants."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found
