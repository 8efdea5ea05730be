"""MLServer with its scikit-learn runtime, for bench/serve.py: a peer that does not fit our pins.

MLServer 1.7.1 cannot live in airfoil's venv, so `mlserver_python` keeps a venv of its own under
`<tempfile.gettempdir()>/airfoil-bench-mlserver/venv` (python3.11 -m venv, then pip install
mlserver, mlserver-sklearn and the scikit-learn of our pins, which the dumped pipeline needs; a marker
file makes later runs skip the install). As set up last time (shared/design/reference/serving-peers.md):
the same sklearn Pipeline dumped with joblib, `parallel_workers` 0 (inference in the server process),
OIP v2 requests with one input per column and `content_type: pd`, because the pipeline selects its
columns by name.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from peer_venv import peer_python

MLSERVER_VERSION = "1.7.1"


def requirements() -> list[str]:
    import sklearn

    return [
        f"mlserver=={MLSERVER_VERSION}",
        f"mlserver-sklearn=={MLSERVER_VERSION}",
        f"scikit-learn=={sklearn.__version__}",
    ]


def mlserver_python() -> Path:
    """The venv's interpreter, creating the venv and installing MLServer into it if not done yet."""
    base = Path(tempfile.gettempdir()) / "airfoil-bench-mlserver"
    return peer_python(base, requirements(), f"MLServer {MLSERVER_VERSION}")


def model_dir(root: Path, name: str, joblib_file: Path, port: int) -> Path:
    """A model repository for `mlserver start`: settings (ports, parallel workers) and one model."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": port + 1,
        "metrics_port": port + 2,
        # 0: inference in the server process. MLServer 1.7.1's parallel workers do not start with
        # uvloop on Python 3.11 ("There is no current event loop"), so every worker count runs this.
        "parallel_workers": 0,
        "debug": False,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    model = root / name
    model.mkdir(exist_ok=True)
    shutil.copy(joblib_file, model / "model.joblib")
    settings_model = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
    }
    (model / "model-settings.json").write_text(json.dumps(settings_model))
    return root


def oip_body(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    """An OIP v2 request with one FP64 input per column, decoded by MLServer as a DataFrame."""
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": [r[j] for r in rows]}
            for j, c in enumerate(columns)
        ],
    }
