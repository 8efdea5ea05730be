"""A pipeline reading its data with SQL: from SQLite and from the machine's PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import EXAMPLES, POSTGRES, require_postgres
from tests.integration.conftest import Airfoil

pytestmark = pytest.mark.integration


def _spec(folder: Path, conn: str, table: str) -> Path:
    text = (EXAMPLES / "breast_cancer" / "pipeline.yaml").read_text()
    text = text.replace(
        "source: {path: data/breast_cancer.csv}", f'source: {{sql: "select * from {table}", conn: "{conn}"}}'
    )
    spec = folder / "pipeline.yaml"
    spec.write_text(text)
    return spec


def _run_prepare(airfoil: Airfoil, spec: Path) -> dict:
    proc = airfoil("run", str(spec), "--only", "prepare")
    assert "breast_cancer__prepare success" in proc.stdout
    return json.loads((airfoil.home / "artifacts/breast_cancer/dataset/latest.json").read_text())


def test_sqlite_source(airfoil: Airfoil, tmp_path: Path) -> None:
    db = tmp_path / "source.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    pd.read_csv(EXAMPLES / "breast_cancer/data/breast_cancer.csv").to_sql("patients", engine, index=False)
    engine.dispose()
    latest = _run_prepare(airfoil, _spec(tmp_path, f"sqlite:///{db}", "patients"))
    assert latest["train"]["rows"] + latest["test"]["rows"] == 569


def test_postgres_source(airfoil: Airfoil, tmp_path: Path) -> None:
    require_postgres()
    engine = sa.create_engine(POSTGRES)
    table = f"patients_{uuid.uuid4().hex[:8]}"
    pd.read_csv(EXAMPLES / "breast_cancer/data/breast_cancer.csv").to_sql(table, engine, index=False)
    try:
        latest = _run_prepare(airfoil, _spec(tmp_path, POSTGRES, table))
        assert latest["train"]["rows"] + latest["test"]["rows"] == 569
        # The same rows as from the CSV: the same fingerprint as a file-sourced run.
        csv_home = Airfoil(home=tmp_path / "csv-home", workdir=tmp_path)
        from_csv = _run_prepare(csv_home, EXAMPLES / "breast_cancer" / "pipeline.yaml")
        assert latest["train"]["rows"] == from_csv["train"]["rows"]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop table if exists "{table}"'))
        engine.dispose()


def test_bad_query_names_the_database_without_its_password(airfoil: Airfoil, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "postgresql+psycopg2://postgres:secret@127.0.0.1:5432/test", "no_such_table")
    proc = airfoil("run", str(spec), "--only", "prepare", check=False)
    assert proc.returncode == 1
    assert "source.sql failed" in proc.stdout and "no_such_table" in proc.stdout
    assert "secret" not in proc.stdout
