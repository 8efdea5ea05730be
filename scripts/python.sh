#!/usr/bin/env bash
# The Python `make` builds the venv with (README "Quickstart"): PYTHON=/path/to/python3.x if given,
# else the newest of python3.13, python3.12 and python3.11 on PATH that runs and can make a venv.
#
#   scripts/python.sh VENV
#
# prints one line naming the Python, creates VENV with it if VENV is missing, and says so when an
# existing VENV was made by another Python (it is kept: `make clean-venv` removes it). With no
# usable Python it says what to install and exits 1.
set -uo pipefail

venv=${1:-.venv}
candidates=(python3.13 python3.12 python3.11)
supported="3.11, 3.12 or 3.13"

fail() {
  printf 'error: %s\n' "$@" >&2
  exit 1
}

# "3.13 3.13.5 /real/path/of/python3.13", or nothing when $1 does not run (e.g. a pyenv shim of a
# version pyenv does not select).
describe() {
  "$1" -c 'import os, sys; v = sys.version_info
print("%d.%d" % v[:2], "%d.%d.%d" % v[:3], os.path.realpath(sys.executable))' 2>/dev/null
}

# Debian and Ubuntu ship `venv` without `ensurepip` until python3.X-venv is installed.
venv_usable() { "$1" -c 'import venv, ensurepip' >/dev/null 2>&1; }

install_help() {
  cat >&2 <<'EOF'
Install one of them, then run make again:
  Debian 13, Ubuntu 24.10 and later:  sudo apt install python3.13 python3.13-venv
  Ubuntu 24.04:                       sudo apt install python3.12 python3.12-venv
  Debian 12:                          sudo apt install python3.11 python3.11-venv
  elsewhere:                          https://www.python.org/downloads/ (or `pyenv install 3.13`)
or name one that is not on PATH:      PYTHON=/path/to/python3.x make demo
EOF
}

venv_help() { # $1 = X.Y
  cat >&2 <<EOF
error: Python $1 has no usable venv module (Debian and Ubuntu ship it apart). Install it:
  sudo apt install python$1-venv
or name another Python 3.11-3.13:  PYTHON=/path/to/python3.x make demo
EOF
}

python=""
info=""
how=""
if [ -n "${PYTHON:-}" ]; then
  info=$(describe "$PYTHON") \
    || fail "PYTHON=$PYTHON does not run (not found, or not a Python). Name a Python $supported."
  read -r minor full real <<<"$info"
  case " 3.11 3.12 3.13 " in
    *" $minor "*) ;;
    *) fail "PYTHON=$PYTHON is Python $full; airfoil supports Python $supported." ;;
  esac
  venv_usable "$PYTHON" || { venv_help "$minor"; exit 1; }
  python=$PYTHON
  how="PYTHON=$PYTHON"
else
  tried=()
  no_venv=()
  for c in "${candidates[@]}"; do
    path=$(command -v "$c") || continue
    if ! info=$(describe "$c"); then
      tried+=("$c at $path does not run")
      continue
    fi
    read -r minor full real <<<"$info"
    if [ "python$minor" != "$c" ]; then
      tried+=("$c at $path is Python $full")
      continue
    fi
    if ! venv_usable "$c"; then
      no_venv+=("$minor")
      continue
    fi
    python=$c
    how="the newest of python3.13/3.12/3.11 on PATH"
    break
  done
  if [ -z "$python" ]; then
    if [ -x "$venv/bin/python" ] && info=$(describe "$venv/bin/python"); then
      read -r minor full real <<<"$info"
      echo "Python $full from the existing $venv (no python3.13/3.12/3.11 with a venv module on PATH)"
      exit 0
    fi
    if [ ${#no_venv[@]} -gt 0 ]; then
      venv_help "${no_venv[0]}"
      exit 1
    fi
    echo "error: airfoil needs Python $supported, and none of python3.13, python3.12, python3.11 on PATH runs." >&2
    for t in "${tried[@]}"; do echo "  ($t)" >&2; done
    install_help
    exit 1
  fi
  for m in "${no_venv[@]}"; do
    echo "note: python$m has no venv module (sudo apt install python$m-venv to use it)"
  done
fi
read -r minor full real <<<"$info"

if [ -e "$venv/bin/python" ]; then
  if ! vinfo=$(describe "$venv/bin/python"); then
    fail "$venv does not run (was the Python it was made with removed?)." \
      "Run \`make clean-venv\`, then make again to rebuild it with $python ($full)."
  fi
  read -r vminor vfull vreal <<<"$vinfo"
  if [ "$vfull" != "$full" ]; then
    echo "Python $vfull in $venv, kept: the chosen Python is $full ($how, $real)."
    echo "  To rebuild $venv with $full: make clean-venv, then make again."
  else
    echo "Python $full in $venv ($how: $real)"
  fi
  exit 0
fi

echo "Python $full ($how: $real): creating $venv"
if ! "$python" -m venv "$venv"; then
  rm -rf "$venv"
  venv_help "$minor"
  exit 1
fi
"$venv/bin/python" -m pip install -q --upgrade pip || fail "could not upgrade pip in $venv."
