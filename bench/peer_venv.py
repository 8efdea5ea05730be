"""A venv of its own for a benchmark peer that does not fit airfoil's pins (MLServer, Evidently),
under the system temp dir, created once and reused while its requirements stay the same."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def peer_python(base: Path, requirements: list[str], what: str) -> Path:
    """The interpreter of the venv at `base`/venv, with `requirements` installed (`what`: printed
    while installing, e.g. "MLServer 1.7.1")."""
    venv = base / "venv"
    python = venv / "bin" / "python"
    marker = venv / ".airfoil-installed"
    wanted = "\n".join(requirements)
    if marker.exists() and python.exists() and marker.read_text() == wanted:
        return python
    print(f"installing {what} into {venv} (a few minutes)", file=sys.stderr, flush=True)
    base.mkdir(parents=True, exist_ok=True)
    steps = [[shutil.which("python3.11") or sys.executable, "-m", "venv", "--clear", str(venv)]]
    steps.append([str(python), "-m", "pip", "install", "-q", *requirements])
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-4000:]
            raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{tail}")
    marker.write_text(wanted)
    return python
