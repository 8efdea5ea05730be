"""A PostgreSQL server of the test's own, from the machine's PostgreSQL installation (initdb + pg_ctl):
a test may restart it without disturbing the tests that share the machine's server on :5432."""

from __future__ import annotations

import contextlib
import getpass
import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return Path(dirs[-1]) if dirs and Path(dirs[-1], "initdb").exists() else None


@dataclass
class PrivatePostgres:
    """A server on `port` with its data under `root`; trust auth for user postgres on 127.0.0.1."""

    root: Path
    port: int
    bindir: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        # PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
            "-E", "UTF8",
        )  # fmt: skip
        self.start()

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        opts += " -c max_connections=300"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", opts, "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text()[-3000:]
        return ""


def private_postgres(port: int) -> PrivatePostgres:
    """A started server of the test's own, or a loud skip saying what is missing. Its data lives in
    a directory of its own under the system's temp dir (pytest's are private to root, and the
    server runs as `postgres`); `remove()` stops it and deletes that directory."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("SKIPPED LOUDLY: no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    if os.geteuid() == 0 and shutil.which("runuser") is None:  # pragma: no cover - depends on the machine
        pytest.skip("SKIPPED LOUDLY: running as root without runuser: cannot start a private PostgreSQL")
    pg = PrivatePostgres(Path(tempfile.mkdtemp(prefix="airfoil-pg-")), port, bindir)
    try:
        pg.init()
    except subprocess.CalledProcessError as exc:  # pragma: no cover - depends on the machine
        pg.remove()
        pytest.skip(
            f"SKIPPED LOUDLY: cannot start a private PostgreSQL as {getpass.getuser()}: "
            f"{exc.stderr.decode(errors='replace')[-500:]}"
        )
    return pg
