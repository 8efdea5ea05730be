"""The one place that reads configuration: environment variables, then `airfoil.toml`.

Nothing here runs at import time; call `load_settings()` where configuration is needed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from airfoil.errors import AirfoilError

_N = TypeVar("_N", int, float)

_TOML_KEYS = {
    "home": "AIRFOIL_HOME",
    "artifact_root": "AIRFOIL_ARTIFACT_ROOT",
    "tracking_uri": "AIRFOIL_TRACKING_URI",
    "registry_uri": "AIRFOIL_REGISTRY_URI",
    "pipelines": "AIRFOIL_PIPELINES",
    "airflow_home": "AIRFOIL_AIRFLOW_HOME",
    "allow_pickle": "AIRFOIL_ALLOW_PICKLE",
    "api_token": "AIRFOIL_API_TOKEN",
    "poll_seconds": "AIRFOIL_POLL_SECONDS",
    "max_body_bytes": "AIRFOIL_MAX_BODY_BYTES",
    "max_rows": "AIRFOIL_MAX_ROWS",
    "max_inflight": "AIRFOIL_MAX_INFLIGHT",
    "store_url": "AIRFOIL_STORE_URL",
    "monitor_flush_seconds": "AIRFOIL_MONITOR_FLUSH_SECONDS",
    "api_profiles": "AIRFOIL_API_PROFILES",
    "airflow_api_url": "AIRFOIL_AIRFLOW_API_URL",
    "airflow_api_user": "AIRFOIL_AIRFLOW_API_USER",
    "airflow_api_password": "AIRFOIL_AIRFLOW_API_PASSWORD",
    "mlflow_ui_url": "AIRFOIL_MLFLOW_UI_URL",
    "airflow_ui_url": "AIRFOIL_AIRFLOW_UI_URL",
    "airflow_db_url": "AIRFOIL_AIRFLOW_DB_URL",
    "mlflow_db_url": "AIRFOIL_MLFLOW_DB_URL",
    "broker_url": "AIRFOIL_BROKER_URL",
}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Everything defaults to a directory under `home`."""

    home: Path
    artifact_root: str
    tracking_uri: str
    registry_uri: str
    pipelines: tuple[Path, ...]
    airflow_home: Path
    allow_pickle: bool = False
    # Prediction API (`airfoil serve`)
    api_token: str | None = None
    poll_seconds: float = 2.0
    max_body_bytes: int = 16 * 1024 * 1024
    max_rows: int = 100_000
    max_inflight: int = 64
    # Prediction store (SQLAlchemy URL); default: SQLite under home
    store_url: str = ""
    # How often each API worker stores the profile of the rows it scored
    monitor_flush_seconds: float = 5.0
    api_profiles: bool = True  # off: the API keeps no profiles (its rows are not monitored)
    # An Airflow api-server to trigger transient DAG runs on; unset: run them in-process
    airflow_api_url: str | None = None
    airflow_api_user: str | None = None
    airflow_api_password: str | None = None
    # Where the report and the Airflow Models view link to (None: MLflow's tracking URI if it is a
    # server; the Airflow api-server's URL)
    mlflow_ui_url: str | None = None
    airflow_ui_url: str | None = None
    # `airfoil up`: Airflow's metadata DB and the MLflow server's store (SQLAlchemy URLs; default:
    # SQLite under home), and the Celery broker (required by `--executor celery`)
    airflow_db_url: str = ""
    mlflow_db_url: str = ""
    broker_url: str | None = None

    @property
    def dags_folder(self) -> Path:
        """The folder airfoil's own DAG file lives in when airfoil drives Airflow itself."""
        return self.home / "dags"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def mlflow_artifacts(self) -> str:
        """Where MLflow keeps run artifacts: next to airfoil's artifacts (used when creating experiments)."""
        root = self.artifact_root if "://" in self.artifact_root else Path(self.artifact_root).as_uri()
        return root.rstrip("/") + "/mlflow"


def _read_toml(env: Mapping[str, str]) -> dict[str, object]:
    if env.get("AIRFOIL_CONFIG") and not Path(env["AIRFOIL_CONFIG"]).is_file():
        raise AirfoilError(f"AIRFOIL_CONFIG={env['AIRFOIL_CONFIG']} is not a file; fix the path or unset it")
    candidates = [Path(env["AIRFOIL_CONFIG"])] if env.get("AIRFOIL_CONFIG") else [Path("airfoil.toml")]
    for path in candidates:
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise AirfoilError(f"{path}: not valid TOML ({exc}); fix the file or remove it.") from exc
            section = data.get("airfoil", data)
            unknown = sorted(set(section) - set(_TOML_KEYS))
            if unknown:
                raise AirfoilError(
                    f"{path}: unknown key(s) {unknown} under [airfoil]; known keys: {sorted(_TOML_KEYS)}"
                )
            return dict(section)
    return {}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings: environment variables win over `airfoil.toml`, which wins over defaults."""
    env = os.environ if env is None else env
    toml = _read_toml(env)

    def get(key: str) -> str | None:
        value = env.get(_TOML_KEYS[key])
        if value not in (None, ""):
            return value
        raw = toml.get(key)
        if isinstance(raw, list):
            return os.pathsep.join(str(x) for x in raw)
        return None if raw is None else str(raw)

    home = Path(get("home") or ".airfoil").expanduser().resolve()
    artifact_root = get("artifact_root") or str(home / "artifacts")
    tracking_uri = get("tracking_uri") or f"sqlite:///{home / 'mlflow.db'}"
    pipelines = tuple(Path(p).expanduser().resolve() for p in (get("pipelines") or "").split(os.pathsep) if p)
    airflow_home = Path(get("airflow_home") or home / "airflow").expanduser().resolve()
    return Settings(
        home=home,
        artifact_root=artifact_root,
        tracking_uri=tracking_uri,
        registry_uri=get("registry_uri") or tracking_uri,
        pipelines=pipelines,
        airflow_home=airflow_home,
        allow_pickle=(get("allow_pickle") or "0").lower() in ("1", "true", "yes"),
        api_token=get("api_token"),
        poll_seconds=_number(get, "poll_seconds", float, 2.0),
        max_body_bytes=_number(get, "max_body_bytes", int, 16 * 1024 * 1024),
        max_rows=_number(get, "max_rows", int, 100_000),
        max_inflight=_number(get, "max_inflight", int, 64),
        store_url=get("store_url") or f"sqlite:///{home / 'predictions.db'}",
        monitor_flush_seconds=_number(get, "monitor_flush_seconds", float, 5.0),
        api_profiles=(get("api_profiles") or "1").lower() in ("1", "true", "yes"),
        airflow_api_url=(get("airflow_api_url") or "").rstrip("/") or None,
        airflow_api_user=get("airflow_api_user"),
        airflow_api_password=get("airflow_api_password"),
        mlflow_ui_url=get("mlflow_ui_url"),
        airflow_ui_url=get("airflow_ui_url") or get("airflow_api_url"),
        airflow_db_url=get("airflow_db_url") or f"sqlite:///{airflow_home / 'airflow.db'}",
        mlflow_db_url=get("mlflow_db_url") or f"sqlite:///{home / 'mlflow.db'}",
        broker_url=get("broker_url"),
    )


def _number(get: Callable[[str], str | None], key: str, kind: type[_N], default: _N) -> _N:
    raw = get(key)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise AirfoilError(f"{_TOML_KEYS[key]}={raw!r} is not a valid {kind.__name__}") from None
    if value <= 0:
        raise AirfoilError(f"{_TOML_KEYS[key]}={raw!r} must be positive")
    return value


def airflow_environment(settings: Settings) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata DB and airfoil's DAG folder under home.

    Values already set by the user (an existing AIRFLOW__* variable) are kept: production
    configures Airflow itself and airfoil does not override it.
    """
    wanted = {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_db_url,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.airflow_home / "logs"),
        "AIRFOIL_HOME": str(settings.home),
        "AIRFOIL_PIPELINES": os.pathsep.join(str(p) for p in settings.pipelines),
    }
    return {k: v for k, v in wanted.items() if k.startswith("AIRFOIL_") or k not in os.environ}
