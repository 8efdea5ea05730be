"""The champion's version and its card without importing MLflow (1-2 s of a process's start).

`airfoil predict` needs two facts from the registry: which version holds `champion`, and where its
files are. For an http(s) registry they come from MLflow's REST API (urllib); for an SQLite or
PostgreSQL registry from three of MLflow's own tables, read only when the database's schema revision
is the one those queries were written for (`MLFLOW_SCHEMA`). Anything else, or a version without a
card (pickled, registered before serving metadata), goes through `MlflowClient` as before.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airfoil.registry.card import card_from
from airfoil.registry.client import CHAMPION
from airfoil.registry.versions import no_champion, no_model

if TYPE_CHECKING:
    from airfoil.settings import Settings

# The head of the installed MLflow's schema migrations (tests/unit/registry/test_lookup.py checks
# it against mlflow/store/db_migrations): the revision whose tables the queries below read.
MLFLOW_SCHEMA = "dc11669786a5"
WORKSPACE = "default"  # MLflow's default workspace, the one a registry without workspaces uses


class _Unknown(Exception):
    """The registry cannot be read without MLflow: ask MlflowClient instead."""


def champion(settings: Settings, name: str) -> tuple[int, dict[str, Any] | None]:
    """The champion version of `name` and its card (None: load it through the registry).

    Raises the same errors as `versions.require_champion` (no such model, no champion)."""
    uri = settings.registry_uri
    try:
        if uri.startswith(("http://", "https://")):
            version, location, tags = _rest(uri, name)
        elif uri.startswith(("sqlite:", "postgresql:", "postgresql+")):
            version, location, tags = _sql(uri, name)
        else:
            raise _Unknown(uri)
    except _Unknown:
        from airfoil.registry.card import model_card
        from airfoil.registry.versions import require_champion

        version = require_champion(settings, name)
        return version, model_card(settings, name, version)
    return version, card_from(name, version, location, tags)


# ------------------------------------------------------------------------------------------- SQL


def _sql(uri: str, name: str) -> tuple[int, str, dict[str, str]]:
    """(version, artifact location, tags) from MLflow's tables."""
    if uri.startswith("sqlite:"):
        path = uri.split(":///", 1)[1] if ":///" in uri else ""
        if not path or path == ":memory:":
            raise _Unknown(uri)
        if not Path(path).exists():  # MLflow would create an empty registry: nothing is registered
            raise no_model(name)
        conn: Any = sqlite3.connect(path, timeout=30)
        mark = "?"
    else:
        import psycopg

        try:
            conn = psycopg.connect(_libpq(uri), connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise _Unknown(str(exc)) from None  # MlflowClient says it in its words
        mark = "%s"
    try:
        return _read(conn, mark, name)
    finally:
        conn.close()


def _read(conn: Any, mark: str, name: str) -> tuple[int, str, dict[str, str]]:
    def rows(sql: str, *args: Any) -> list[Any]:
        return list(conn.execute(sql.replace("?", mark), args).fetchall())

    try:
        revision = rows("SELECT version_num FROM alembic_version")
    except Exception:  # no such table: not a registry this module knows
        raise _Unknown("no alembic_version") from None
    if [r[0] for r in revision] != [MLFLOW_SCHEMA]:
        raise _Unknown(f"MLflow schema {revision}")
    where = "workspace = ? AND name = ?"
    if not rows(f"SELECT 1 FROM registered_models WHERE {where}", WORKSPACE, name):
        raise no_model(name)
    alias = rows(
        f"SELECT version FROM registered_model_aliases WHERE {where} AND alias = ?", WORKSPACE, name, CHAMPION
    )
    if not alias:
        raise no_champion(name)
    version = int(alias[0][0])
    found = rows(
        f"SELECT storage_location, source FROM model_versions WHERE {where} AND version = ? "
        "AND current_stage <> 'Deleted_Internal'",
        WORKSPACE,
        name,
        version,
    )
    if not found:
        raise _Unknown(f"{name} v{version} is not in model_versions")
    tags = rows(
        f"SELECT key, value FROM model_version_tags WHERE {where} AND version = ?", WORKSPACE, name, version
    )
    return version, str(found[0][0] or found[0][1]), {str(k): str(v) for k, v in tags}


def _libpq(uri: str) -> str:
    """A SQLAlchemy URL as libpq takes it: without the `+driver` part."""
    scheme, rest = uri.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


# ------------------------------------------------------------------------------------------ REST


def _rest(uri: str, name: str) -> tuple[int, str, dict[str, str]]:
    """(version, artifact location, tags) from MLflow's REST API."""
    base = uri.rstrip("/") + "/api/2.0/mlflow"
    try:
        found = _get(f"{base}/registered-models/alias", name=name, alias=CHAMPION)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise _Unknown(f"HTTP {exc.code}") from None
        try:
            _get(f"{base}/registered-models/get", name=name)
        except urllib.error.HTTPError as again:
            if again.code == 404:
                raise no_model(name) from None
            raise _Unknown(f"HTTP {again.code}") from None
        raise no_champion(name) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _Unknown(str(exc)) from None
    mv = found["model_version"]
    version = int(mv["version"])
    try:
        location = _get(f"{base}/model-versions/get-download-uri", name=name, version=str(version))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _Unknown(str(exc)) from None
    tags = {t["key"]: t.get("value", "") for t in mv.get("tags", [])}
    return version, str(location["artifact_uri"]), tags


def _get(url: str, **query: str) -> Any:
    with urllib.request.urlopen(f"{url}?{urllib.parse.urlencode(query)}", timeout=30) as response:
        return json.loads(response.read())
