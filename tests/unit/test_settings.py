"""settings.load_settings: defaults under AIRFOIL_HOME, environment over airfoil.toml, strict keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.errors import AirfoilError
from airfoil.settings import airflow_environment, load_settings


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # load_settings looks for ./airfoil.toml; run from a folder that has none.
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = load_settings({"AIRFOIL_HOME": str(tmp_path / "h")})
    home = (tmp_path / "h").resolve()
    assert s.home == home
    assert s.artifact_root == str(home / "artifacts")
    assert s.tracking_uri == f"sqlite:///{home / 'mlflow.db'}"
    assert s.registry_uri == s.tracking_uri
    assert s.airflow_home == home / "airflow"
    assert s.pipelines == ()
    assert s.allow_pickle is False
    assert s.dags_folder == home / "dags"
    assert s.mlflow_artifacts == (home / "artifacts" / "mlflow").as_uri()


def test_home_defaults_to_dot_airfoil_in_the_working_directory() -> None:
    s = load_settings({})
    assert s.home == (Path.cwd() / ".airfoil").resolve()


def test_environment_beats_toml(tmp_path: Path) -> None:
    toml = tmp_path / "airfoil.toml"
    toml.write_text(
        "[airfoil]\n"
        f'home = "{tmp_path / "from_toml"}"\n'
        'tracking_uri = "postgresql://toml/mlflow"\n'
        'artifact_root = "s3://bucket/artifacts"\n'
        f'pipelines = ["{tmp_path / "a.yaml"}", "{tmp_path / "b.yaml"}"]\n'
        "allow_pickle = true\n"
    )
    s = load_settings(
        {"AIRFOIL_CONFIG": str(toml), "AIRFOIL_TRACKING_URI": "postgresql://env/mlflow", "AIRFOIL_HOME": ""}
    )
    assert s.tracking_uri == "postgresql://env/mlflow"  # env wins
    assert s.registry_uri == "postgresql://env/mlflow"
    assert s.home == (tmp_path / "from_toml").resolve()  # empty env value does not override
    assert s.artifact_root == "s3://bucket/artifacts"
    assert s.mlflow_artifacts == "s3://bucket/artifacts/mlflow"
    assert s.pipelines == ((tmp_path / "a.yaml").resolve(), (tmp_path / "b.yaml").resolve())
    assert s.allow_pickle is True


def test_toml_in_working_directory_is_read(tmp_path: Path) -> None:
    Path("airfoil.toml").write_text('home = "here"\n')  # a top-level table works without [airfoil]
    assert load_settings({}).home == (Path.cwd() / "here").resolve()


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    toml = tmp_path / "airfoil.toml"
    toml.write_text('[airfoil]\ntraking_uri = "sqlite:///x.db"\n')
    with pytest.raises(
        AirfoilError, match=r"unknown key\(s\) \['traking_uri'\].*known keys:.*'tracking_uri'"
    ):
        load_settings({"AIRFOIL_CONFIG": str(toml)})


def test_invalid_toml_is_an_error(tmp_path: Path) -> None:
    toml = tmp_path / "airfoil.toml"
    toml.write_text("[airfoil\n")
    with pytest.raises(AirfoilError, match="not valid TOML"):
        load_settings({"AIRFOIL_CONFIG": str(toml)})


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("TRUE", True), ("yes", True), ("0", False), ("no", False)]
)
def test_allow_pickle_from_env(tmp_path: Path, value: str, expected: bool) -> None:
    s = load_settings({"AIRFOIL_HOME": str(tmp_path), "AIRFOIL_ALLOW_PICKLE": value})
    assert s.allow_pickle is expected


def test_airflow_environment_points_at_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__CORE__DAGS_FOLDER", raising=False)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://prod/airflow")
    s = load_settings({"AIRFOIL_HOME": str(tmp_path)})
    env = airflow_environment(s)
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(s.dags_folder)
    assert env["AIRFOIL_HOME"] == str(s.home)
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env  # the user's own setting is kept
