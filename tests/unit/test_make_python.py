"""scripts/python.sh: which Python `make` builds .venv with, and what it says when there is none.

Every case runs the script with a PATH of our own (fake interpreters that are shell scripts), so no
venv is created: only the choice and the messages are checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "python.sh"
MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"
FULL = "{}.{}.{}".format(*sys.version_info[:3])


def _run(path: Path, venv: Path, python: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(path), "PYTHON": python, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        ["/bin/bash", str(SCRIPT), str(venv)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _bin(tmp_path: Path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    (d / "cat").symlink_to("/bin/cat")
    return d


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _fake_venv(tmp_path: Path, full: str) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    _script(venv / "bin" / "python", f"echo '{full[:4]} {full} /elsewhere/python{full[:4]}'")
    return venv


def test_no_python_on_path_says_what_to_install(tmp_path: Path) -> None:
    done = _run(_bin(tmp_path), tmp_path / "venv")
    assert done.returncode == 1
    assert "airfoil needs Python 3.11, 3.12 or 3.13" in done.stderr
    assert "sudo apt install python3.13 python3.13-venv" in done.stderr
    assert "https://www.python.org/downloads/" in done.stderr
    assert "PYTHON=/path/to/python3.x make demo" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_a_command_on_path_that_does_not_run_is_skipped_and_named(tmp_path: Path) -> None:
    # a pyenv shim of a version pyenv does not select: on PATH, but exits 127
    path = _bin(tmp_path)
    _script(path / "python3.13", "echo 'pyenv: python3.13: command not found' >&2; exit 127")
    done = _run(path, tmp_path / "venv")
    assert done.returncode == 1
    assert f"python3.13 at {path}/python3.13 does not run" in done.stderr


def test_the_newest_that_runs_is_chosen_and_an_existing_venv_of_another_python_is_kept(
    tmp_path: Path,
) -> None:
    path = _bin(tmp_path)
    _script(path / "python3.13", "exit 127")
    _script(path / f"python{MINOR}", f'exec {sys.executable} "$@"')
    venv = _fake_venv(tmp_path, "3.99.1")
    done = _run(path, venv)
    assert done.returncode == 0, done.stderr
    assert f"Python 3.99.1 in {venv}, kept: the chosen Python is {FULL}" in done.stdout
    assert "make clean-venv" in done.stdout
    assert len(done.stdout.splitlines()) == 2


def test_an_existing_venv_of_the_chosen_python_is_one_line(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path, FULL)
    done = _run(_bin(tmp_path), venv, python=sys.executable)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Python {FULL} in {venv} (PYTHON={sys.executable}: {os.path.realpath(sys.executable)})"
    ]


def test_a_python_without_its_venv_module_says_which_package_to_install(tmp_path: Path) -> None:
    # Debian and Ubuntu: python3.X without python3.X-venv has no ensurepip
    shadow = tmp_path / "no_ensurepip"
    shadow.mkdir()
    (shadow / "ensurepip.py").write_text("raise ImportError('not installed')\n")
    path = _bin(tmp_path)
    _script(path / f"python{MINOR}", f'PYTHONPATH={shadow} exec {sys.executable} "$@"')
    done = _run(path, tmp_path / "venv")
    assert done.returncode == 1
    assert f"Python {MINOR} has no usable venv module" in done.stderr
    assert f"sudo apt install python{MINOR}-venv" in done.stderr
    assert not (tmp_path / "venv").exists()


def test_python_names_one_that_is_not_supported_or_does_not_run(tmp_path: Path) -> None:
    path = _bin(tmp_path)
    old = _script(path / "python3.10", "echo '3.10 3.10.13 /usr/bin/python3.10'")
    done = _run(path, tmp_path / "venv", python=str(old))
    assert done.returncode == 1
    assert f"PYTHON={old} is Python 3.10.13; airfoil supports Python 3.11, 3.12 or 3.13." in done.stderr
    done = _run(path, tmp_path / "venv", python="python3.99")
    assert done.returncode == 1
    assert "PYTHON=python3.99 does not run" in done.stderr
