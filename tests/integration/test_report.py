"""The model report and the Models view: `airfoil report`, the API's report route, and airfoil's Airflow
plugin on a real `airflow api-server`, each opened in a real headless Chromium (Debian's, driven by
Playwright). Screenshots land in build/test-artifacts/ (docs/ui.md shows them)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.integration.airflow_support import USER, airflow_deployment
from tests.integration.conftest import Airfoil, home_copy, serving

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "build" / "test-artifacts"
SECTIONS = ("summary", "metrics", "evaluation", "importance", "history", "drift", "live")


@pytest.fixture(scope="module")
def reported(champions_registry: Airfoil, tmp_path_factory: pytest.TempPathFactory) -> Airfoil:
    """The session's registry (champions of breast_cancer, cars and cars_sklearn), copied with its
    prediction store: breast_cancer's blocks scored and monitored with labels as its example ships;
    here cars' blocks are scored and monitored with labels too: every section has data."""
    base = tmp_path_factory.mktemp("report")
    af = Airfoil(home=home_copy(champions_registry, base / "home", store=True), workdir=base)
    cars = str(_monitored_cars(base / "cars"))
    af("run", cars, "--only", "batch_predict")
    af("run", cars, "--only", "monitor")
    return af


def _monitored_cars(dest: Path) -> Path:
    """The cars example with a batch block keyed by id, labels for it, and a monitor."""
    import shutil

    shutil.copytree(EXAMPLES / "cars", dest)
    (dest / "incoming").mkdir()
    (dest / "labels").mkdir()
    rows = list(csv.DictReader((dest / "data" / "cars.csv").open()))
    features = [k for k in rows[0] if k not in ("Miles_per_Gallon", "Name")]
    with (dest / "incoming" / "cars-1.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", *features])
        # scored rows carry what the model takes: the model year as a number (the prepare step's output)
        w.writerows([i, *(r[k][:4] if k == "Year" else r[k] for k in features)] for i, r in enumerate(rows))
    with (dest / "labels" / "cars-1.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "Miles_per_Gallon"])
        w.writerows([i, r["Miles_per_Gallon"]] for i, r in enumerate(rows) if r["Miles_per_Gallon"])
    spec = dest / "pipeline.yaml"
    spec.write_text(
        spec.read_text()
        + 'deploy:\n  batch: {schedule: "@daily", input: "incoming/*.csv", key: id}\n'
        + 'monitor:\n  schedule: "@daily"\n  labels: {path: "labels/*.csv", key: id}\n'
    )
    return spec


def _sections(html: str) -> dict[str, str]:
    """Each section's HTML by id."""
    found = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', html, flags=re.S))
    assert tuple(found) == SECTIONS, list(found)
    return found


@pytest.mark.parametrize("name", ["breast_cancer", "cars"])
def test_the_report_has_every_section_with_data(reported: Airfoil, name: str) -> None:
    out = reported("report", name)
    path = Path(re.search(r": (\S+\.html) \(", out.stdout).group(1))  # type: ignore[union-attr]
    html = path.read_text()
    sections = _sections(html)
    for sid, body in sections.items():
        assert "class='muted'>no " not in body, f"{name}: section {sid} has no data:\n{body[:400]}"
    if name == "breast_cancer":
        assert "confusion matrix" in sections["evaluation"] and "ROC curve" in sections["evaluation"]
        assert "precision-recall curve" in sections["evaluation"]
    else:
        assert "residuals vs predicted" in sections["evaluation"]
        assert "actual vs predicted" in sections["evaluation"]
    # permutation importance names the model's inputs, most important first
    assert "permutation importance" in sections["importance"]
    assert "passed the gate" in sections["summary"]
    assert "<script" not in html and "http://" not in html.split("</style>", 1)[1].replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    _open_in_browser(path, f"report-{name}.png")


def test_a_report_stays_under_2_mb_with_100_monitor_windows(reported: Airfoil, tmp_path: Path) -> None:
    """100 stored verdicts of breast_cancer (each the real last one, in its own window): all drawn."""
    from airfoil.settings import load_settings
    from airfoil.store import open_store
    from airfoil.store.monitoring import monitor_history, save_monitor_run

    settings = load_settings({"AIRFOIL_HOME": str(reported.home)})
    store = open_store(settings)
    last = monitor_history(store, "breast_cancer", 1, limit=1)[0]
    for i in range(100):
        verdict = json.loads(json.dumps(last))
        verdict["window"]["end_s"] = last["window"]["end_s"] + 86400 * (i + 1)
        for f in verdict["features"]:
            f["psi"] = f["psi"] * (1 + i / 25)
            f["drifted"] = f["psi"] > 0.5
        verdict["drifted_features"] = [f["name"] for f in verdict["features"] if f["drifted"]]
        verdict["drift_share"] = len(verdict["drifted_features"]) / len(verdict["features"])
        save_monitor_run(store, "breast_cancer", f"size-test-{i}", verdict)
    out = tmp_path / "big.html"
    reported("report", "breast_cancer", "--output", str(out))
    size = out.stat().st_size
    assert size < 2 * 1024 * 1024, f"{size} bytes"
    drift = _sections(out.read_text())["drift"]
    assert "100 monitor windows" in drift
    _open_in_browser(out, "report-breast_cancer-100-windows.png")


def test_the_api_serves_the_report_behind_its_token(reported: Airfoil) -> None:
    with serving(reported) as server:
        with server.client() as c:
            ok = c.get("/v1/models/cars/report")
            assert ok.status_code == 200, ok.text
            assert ok.headers["content-type"].startswith("text/html")
            assert set(_sections(ok.text)) == set(SECTIONS)
            older = c.get("/v1/models/cars/report", params={"version": 7})
            assert older.status_code == 404 and "no version 7" in older.json()["error"]
            assert c.get("/v1/models/nope/report").status_code == 404
        assert httpx.get(f"{server.url}/v1/models/cars/report").status_code == 401


def test_the_plugin_loads_without_heavy_imports() -> None:
    """Airflow imports the plugin in the scheduler and the DAG processor: it must stay light."""
    code = (
        "import sys, json; from airflow import plugins_manager as pm;"
        "before = set(sys.modules); plugins, errors = pm._get_plugins();"
        "new = sorted(set(sys.modules) - before);"
        "print(json.dumps({'plugins': [p.name for p in plugins], 'errors': errors, 'new': new}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "airfoil" in got["plugins"] and not got["errors"], got
    heavy = [m for m in got["new"] if m.split(".")[0] in {"mlflow", "sklearn", "pandas", "fastapi", "numpy"}]
    assert not heavy and "airfoil.report" not in got["new"], heavy


@pytest.fixture(scope="module")
def airflow_ui(reported: Airfoil) -> Iterator[Any]:
    pipelines = str(EXAMPLES / "breast_cancer" / "pipeline.yaml")
    with airflow_deployment(
        reported.workdir / "airflow",
        ["breast_cancer__train"],
        AIRFOIL_HOME=str(reported.home),
        AIRFOIL_PIPELINES=pipelines,
    ) as airflow:
        yield airflow


def test_the_models_view_refuses_requests_without_an_airflow_login(airflow_ui: Any) -> None:
    for path in ("/airfoil/models", "/airfoil/api/models", "/airfoil/models/cars/report"):
        anonymous = httpx.get(airflow_ui.url + path, timeout=30)
        assert anonymous.status_code == 401, (path, anonymous.text)
        forged = httpx.get(airflow_ui.url + path, headers={"Authorization": "Bearer forged"}, timeout=30)
        assert forged.status_code == 403, (path, forged.text)
    with airflow_ui.client() as c:
        models = c.get("/airfoil/api/models").json()["models"]
    # every registered model of the registry, each with its champion
    assert {m["name"]: m["champion"] for m in models} == {"breast_cancer": 1, "cars": 1, "cars_sklearn": 1}


def test_the_models_view_opens_in_the_airflow_ui_and_links_to_the_report(airflow_ui: Any) -> None:
    play = _playwright()
    with play() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = _watch(page)
        page.goto(airflow_ui.url)
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", airflow_ui.password)
        page.keyboard.press("Enter")
        page.get_by_role("link", name="Models").first.click()
        view = page.frame_locator("iframe").first
        card = view.locator("#model-breast_cancer")
        card.wait_for(timeout=30_000)
        assert "champion v1" in card.inner_text()
        assert re.search(r"f1 0\.\d{4}", card.inner_text())
        assert "rmse" in view.locator("#model-cars").inner_text()
        # every registered model has its card (cars_sklearn: the session's registry's third model)
        assert view.locator("[id^=model-]").count() == 3
        sk = view.locator("#model-cars_sklearn").inner_text()
        assert "champion v1" in sk and "rmse" in sk, sk
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "airflow-models-view.png"))
        view.locator("#model-cars a.report").click()
        view.locator("section#importance").wait_for(timeout=30_000)
        assert "cars v1" in view.locator("header").inner_text()
        page.screenshot(path=str(ARTIFACTS / "airflow-models-view-report.png"))
        browser.close()
    # before the login the UI asks who is signed in and hears 401: that is Airflow's, not ours
    assert not [e for e in errors if "401" not in e], errors


_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]


def _playwright() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(
            "SKIPPED LOUDLY: no /usr/bin/chromium for the browser tests; .ci/services.sh installs "
            "Debian's chromium (apt-get install -y chromium), which failed on this machine"
        )
    from playwright.sync_api import sync_playwright

    return sync_playwright


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _open_in_browser(path: Path, shot: str) -> None:
    """Open a report file: every section visible, no console error, no request but the file itself."""
    play = _playwright()
    with play() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = _watch(page)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        for sid in SECTIONS:
            section = page.locator(f"section#{sid}")
            assert section.is_visible(), sid
            assert section.locator("h2").inner_text()
        assert page.locator("svg.chart").count() >= 5
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        browser.close()
    assert errors == [], errors
    assert requests == [path.as_uri()], requests
