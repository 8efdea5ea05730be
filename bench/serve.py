"""Benchmark: the prediction API (`airfoil serve`) against the floor of a bare ASGI app, MLServer,
`mlflow models serve` and raw in-process predict, in one run.

Builds a fresh registry in a temp AIRFOIL_HOME with two champions of the breast_cancer data: the
example pipeline (a LogisticRegression with a verified ONNX export) and breast_cancer_rf (a 200-tree
RandomForestClassifier, ONNX too). Then, for each worker count, one server at a time:

  1. bare ASGI on uvicorn (bench/bare_asgi.py): reads the body, orjson.loads it, answers fixed bytes:
     the floor of any Python HTTP server here (the anchor of the single-row target); started with
     the worker model of `airfoil serve` (serving.workers: a listening socket per worker), so both
     sides split wrk's connections over their workers the same way
  2. `airfoil serve --workers W`: MLflow `dataframe_split` bodies to /v1/models/<name>/invocations
     (1 row, 1,000 rows), the OIP v2 body MLServer gets, and the open-loop half-load run
  3. MLServer 1.7.1 + mlserver-sklearn in its own venv (bench/mlserver_peer.py): the same pipeline
     dumped with joblib, OIP v2 one input per column with content_type pd
  4. `mlflow models serve --workers W` (one server per model): the same dataframe_split bodies
  5. in-process: the registered sklearn Pipeline's predict on a ready DataFrame, one thread (the
     anchor of the 1,000-row target), and airfoil's request path timed in pieces

The bare app stays up while airfoil is measured; then, --pairs - 1 more times per model, the bare app
and airfoil are measured in turns (1-row) and the half-load run is repeated: the printed ratio to the
bare app is the median of the pairs' ratios, the p99 the median of the half-load runs (a 2-vCPU VM
drifts by tens of percent between runs minutes apart; every pair and run is printed).

Closed-loop load: `wrk -t1 -c<connections>` for <duration> s after a warm-up. Open loop ("p99 at
half of airfoil's maximum throughput"): bench/openloop.c (compiled here with cc -O2; wrk2's role,
wrk2 is not packaged) sending at 50% of the req/s wrk measured over <pool> keep-alive connections,
timing each request from its scheduled send time (no coordinated omission). Production defaults
everywhere: live profiles on (AIRFOIL_API_PROFILES), the registry poll on.

Targets: 1-row req/s >= 85% of bare ASGI (same workers); p99 <= 2 ms at half load; 1,000-row rows/s
>= 80% of in-process predict; >= 15x MLServer; >= 50x mlflow serve. Figures: bench/results/serve.json.

Run: .venv/bin/python bench/serve.py [--workers 1 2] [--duration 10] [--connections 8] [--pairs 3]
     [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlserver_peer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "examples" / "breast_cancer" / "pipeline.yaml"
DATA = ROOT / "examples" / "breast_cancer" / "data" / "breast_cancer.csv"
MODELS = ("breast_cancer", "breast_cancer_rf")
TARGET_VS_BARE = 0.85
TARGET_VS_MLFLOW = 50.0
TARGET_VS_MLSERVER = 15.0
TARGET_P99_MS = 2.0
TARGET_VS_RAW = 0.8
BATCH = 1000

RF_SPEC = f"""\
# Written by bench/serve.py: the breast_cancer example with one candidate, a 200-tree random forest.
name: breast_cancer_rf
task: classification
source: {{path: {DATA}}}
target: diagnosis
prepare:
  drop_duplicates: true
  drop_columns: [id]
  impute: {{numeric: median}}
  scale: standard
validate:
  columns:
    diagnosis: {{type: string, allowed: [malignant, benign], nullable: false}}
    mean_radius: {{type: number, min: 0, max: 100, nullable: false}}
  max_null_fraction: 0.1
split: {{test_size: 0.2, stratify: true, seed: 42}}
train:
  metric: f1
  positive_class: malignant
  cv: 3
  candidates:
    - {{estimator: sklearn.ensemble.RandomForestClassifier, params: {{n_estimators: [200]}}}}
gate: {{min: {{f1: 0.9, roc_auc: 0.95}}}}
"""

# wrk script: POST the body file with the headers; done() prints exact percentiles as one JSON line.
WRK_LUA = """\
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"p999_us": %d, "max_us": %d, "non_2xx": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""

# In-process figures: raw predict of each version (the anchor), and airfoil's request path in pieces.
IN_PROCESS = r"""
import gc, json, sys, time
import joblib, numpy as np, orjson, pandas as pd
from airfoil.registry.client import client
from airfoil.registry.versions import champion_version, load_version
from airfoil.registry.loaded import load_model
from airfoil.serving.http import loads
from airfoil.serving.inference import Inference
from airfoil.serving.metrics import Metrics
from airfoil.serving.mlflow_format import parse_for_model
from airfoil.serving.profiles import LiveProfiles
from airfoil.settings import load_settings

names, one, many = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
seconds, dump = float(sys.argv[4]), sys.argv[5]
bodies = {"one": open(one, "rb").read(), "many": open(many, "rb").read()}
settings = load_settings()
c = client(settings)
inference = Inference(10**9, Metrics(), LiveProfiles(settings))
loaded = {}
for name in names:
    version = champion_version(c, name)
    model = load_version(settings, name, version)[0]
    joblib.dump(model, f"{dump}/{name}.joblib")  # MLServer's copy of the same pipeline
    loaded[name] = (version, model, load_model(settings, name, version, grouped=True))
gc.collect()
gc.freeze()  # the anchor should not pay for full collections over the libraries' objects

def loop(fn, seconds):
    for _ in range(3):
        fn()
    times, end = [], time.perf_counter() + seconds
    while True:
        t0 = time.thread_time()
        fn()
        t1 = time.thread_time()
        times.append(t1 - t0)
        if time.perf_counter() > end:
            break
    a = np.array(times)
    return {"calls": len(a), "per_s": len(a) / a.sum(), "mean_ms": a.mean() * 1e3,
            "p50_ms": float(np.percentile(a, 50) * 1e3), "p99_ms": float(np.percentile(a, 99) * 1e3)}

out = {}
for name, (version, model, served) in loaded.items():
    r = {"version": version, "estimator": type(model[-1]).__name__, "backend": served.backend}
    for size, raw in bodies.items():
        split = orjson.loads(raw)["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        r[size] = {"rows": len(frame)}
        for method in ("predict", "predict_proba"):
            f = getattr(model, method)
            r[size][method] = loop(lambda: f(frame), seconds)
        body = orjson.loads(raw)
        values = parse_for_model(body, served, 10**9)
        labels, _ = served.predict_arrays(values)
        parts = {
            "JSON parse (orjson)": lambda: loads(raw),
            "rows -> float64 matrix + checks": lambda: parse_for_model(body, served, 10**9),
            f"predict ({served.backend})": lambda: served.predict_arrays(values),
            "answer encoded (orjson)":
                lambda: orjson.dumps({"predictions": labels.tolist(), "model_version": 1}),
            "whole answer (Inference.answer: the above + profiles + metrics)":
                lambda: inference.answer(served, "mlflow", raw, time.perf_counter()),
        }
        r[size]["airfoil_parts_ms"] = {k: loop(fn, seconds / 4)["mean_ms"] for k, fn in parts.items()}
    out[name] = r
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get) ...", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet).returncode != 0:
        subprocess.run(["apt-get", "update"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and `apt-get install -y wrk` failed")
    return found


def build_registry(tmp: Path, env: dict[str, str]) -> dict[str, float]:
    """Train both pipelines into env's AIRFOIL_HOME; seconds each."""
    rf = tmp / "breast_cancer_rf.yaml"
    rf.write_text(RF_SPEC)
    took = {}
    for name, spec in (("breast_cancer", EXAMPLE), ("breast_cancer_rf", rf)):
        print(f"airfoil run {name} ...", flush=True)
        t0 = time.perf_counter()
        log = tmp / f"run-{name}.txt"
        with open(log, "w") as out:
            proc = subprocess.run(
                [str(BIN / "airfoil"), "run", str(spec)],
                env=env,
                cwd=tmp,
                check=False,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if proc.returncode != 0:
            sys.stdout.write(log.read_text()[-4000:])
            raise SystemExit(f"airfoil run {spec} failed (exit {proc.returncode}); output above")
        took[name] = time.perf_counter() - t0
    return took


def payloads(tmp: Path) -> tuple[Path, Path, list[str]]:
    """The 1-row and 1,000-row MLflow dataframe_split bodies (same bytes for both servers)."""
    import pandas as pd

    frame = pd.read_csv(DATA).drop(columns=["id", "diagnosis"])
    columns = [str(c) for c in frame.columns]
    one, many = tmp / "one.json", tmp / "many.json"
    for path, rows in ((one, frame.head(1)), (many, frame.sample(BATCH, replace=True, random_state=0))):
        path.write_text(json.dumps({"dataframe_split": {"columns": columns, "data": rows.values.tolist()}}))
    (tmp / "one_oip.json").write_text(
        json.dumps(mlserver_peer.oip_body(columns, frame.head(1).values.tolist()))
    )
    return one, many, columns


def post(url: str, body: bytes, token: str | None, timeout: float = 30) -> tuple[int, dict, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode(errors="replace")[:500]}, {}


class Server:
    """A server subprocess in its own process group, stopped (group and all) on exit."""

    def __init__(self, label: str, cmd: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.label, self.log = label, log
        self.out = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, check, timeout: float = 180) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"{self.label} exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}"
                )
            try:
                if check():
                    return time.perf_counter() - t0
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.label} not ready after {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.out.close()


def run_wrk(wrk: str, lua: Path, url: str, body: Path, token: str | None, args, seconds: float) -> dict:
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_TOKEN": token or ""}
    cmd = [wrk, "-t1", f"-c{args.connections}", f"-d{seconds:g}s", "--latency", "-s", str(lua), url]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(min(1.0, seconds / 2))
    split = connections_per_process(url)
    stdout, stderr = proc.communicate(timeout=seconds + 60)
    m = re.search(r"^WRKJSON (.*)$", stdout, re.M)
    if proc.returncode != 0 or m is None:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{stdout}\n{stderr}")
    r = json.loads(m.group(1))
    rps = r["requests"] / (r["duration_us"] / 1e6)
    return {
        "requests": r["requests"],
        "req_s": rps,
        "p50_ms": r["p50_us"] / 1e3,
        "p90_ms": r["p90_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
        "p999_ms": r["p999_us"] / 1e3,
        "max_ms": r["max_us"] / 1e3,
        "non_2xx": r["non_2xx"],
        "socket_errors": r["socket_errors"],
        "connections_per_worker": split,
    }


def wait_listening(port: int, workers: int, timeout: float = 180) -> None:
    """Until every worker listens: with a socket per worker, connections made while one is still
    loading all go to the others (a server is "ready" as soon as one worker answers)."""
    tcp = Path("/proc/net/tcp")
    if workers < 2 or not tcp.exists():
        return
    suffix, deadline = f":{port:04X}", time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [line.split() for line in tcp.read_text().splitlines()[1:]]
        listening = sum(1 for r in rows if r[1].endswith(suffix) and r[3] == "0A")
        if listening >= workers:
            return
        time.sleep(0.5)
    print(f"  WARNING: fewer than {workers} listening sockets on port {port} after {timeout:.0f} s")


def connections_per_process(url: str) -> list[int]:
    """How many of the established connections to url's port each server process holds (`ss`),
    most first: how the workers split the load generator's connections. [] without `ss`."""
    port = url.split(":")[2].split("/", maxsplit=1)[0]
    try:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    counts: dict[str, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


def measure_server(wrk: str, lua: Path, url: str, token: str | None, bodies: dict, args) -> dict:
    """wrk against one route: 1-row and 1,000-row bodies, each after a short warm-up."""
    out = {}
    for size, body in bodies.items():
        run_wrk(wrk, lua, url, body, token, args, args.warmup)
        r = run_wrk(wrk, lua, url, body, token, args, args.duration)
        if size == "many":
            r["rows_s"] = r["req_s"] * BATCH
        if r["non_2xx"] or r["socket_errors"]:
            print(
                f"  WARNING: {r['non_2xx']} non-2xx answers, {r['socket_errors']} socket errors", flush=True
            )
        out[size] = r
        print(
            f"  {'1-row' if size == 'one' else '1,000-row':>9} bodies: {r['req_s']:,.0f} req/s, "
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
            f"connections per worker {r['connections_per_worker']}"
        )
    return out


def build_openloop(tmp: Path) -> Path:
    """Compile bench/openloop.c (the open-loop generator) into the temp dir with the system's cc."""
    exe = tmp / "openloop"
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("no C compiler (cc) to build bench/openloop.c: install gcc")
    proc = subprocess.run(
        [cc, "-O2", "-o", str(exe), str(ROOT / "bench" / "openloop.c")],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"cc failed on bench/openloop.c:\n{proc.stderr[-3000:]}")
    return exe


def open_loop(port: int, path: str, body: Path, token: str, rate: float, ctx: dict, args) -> dict:
    """bench/openloop.c at a constant rate: latency from each request's scheduled send time."""
    cmd = [str(ctx["openloop"]), "127.0.0.1", str(port), path, str(body), token, f"{rate:.1f}"]
    cmd += [str(args.duration), str(args.pool), str(args.warmup)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 120, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"open-loop generator failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    r: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return r


def start_airfoil(workers: int, ctx: dict, env: dict[str, str], label: str) -> tuple[Server, int, dict]:
    """`airfoil serve` answering for both models; the server, its port and /v1/models by name."""
    port, token, one_bytes = free_port(), ctx["token"], ctx["one"].read_bytes()
    base = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "airfoil"), "serve", "--port", str(port), "--workers", str(workers)]
    server = Server(f"airfoil serve ({label})", cmd, env, ctx["tmp"], ctx["tmp"] / f"airfoil-{label}.log")
    try:

        def ready() -> bool:
            with urllib.request.urlopen(f"{base}/v2/health/ready", timeout=5) as resp:
                if resp.status != 200:
                    return False
            return all(post(f"{base}/v1/models/{n}/invocations", one_bytes, token)[0] == 200 for n in MODELS)

        started = server.wait_ready(ready)
        wait_listening(port, workers)
        req = urllib.request.Request(f"{base}/v1/models", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            described = {m["name"]: m for m in json.loads(resp.read())["models"]}
    except BaseException:
        server.stop()
        raise
    print(f"airfoil serve ({label}): ready in {started:.1f} s", flush=True)
    return server, port, described


def half_load(port: int, name: str, rate: float, ctx: dict, args) -> dict:
    path = f"/v1/models/{name}/invocations"
    half = open_loop(port, path, ctx["one"], ctx["token"], rate, ctx, args)
    print(
        f"  open loop at {rate:,.0f} req/s: achieved {half['achieved_rps']:,.0f} req/s, "
        f"p99 {half['from_scheduled_ms']['99']:.2f} ms from scheduled send "
        f"({half['from_send_ms']['99']:.2f} from actual send; send lag p99 "
        f"{half['send_lag_ms']['99']:.2f}, {half['max_queue']} waiting at most)",
        flush=True,
    )
    return half


def start_bare(workers: int, ctx: dict) -> tuple[Server, int]:
    port = free_port()
    # uvicorn with airfoil serve's worker model (one SO_REUSEPORT socket per worker, serving.workers)
    cmd = [sys.executable, str(ROOT / "bench" / "bare_asgi.py"), "--port", str(port)]
    cmd += ["--workers", str(workers)]
    server = Server("bare ASGI (uvicorn)", cmd, ctx["env"], ctx["tmp"], ctx["tmp"] / f"bare-w{workers}.log")
    one = ctx["one"].read_bytes()
    server.wait_ready(lambda: post(f"http://127.0.0.1:{port}/", one, None)[0] == 200)
    wait_listening(port, workers)
    return server, port


def start_mlserver(workers: int, name: str, ctx: dict) -> tuple[Server, int]:
    port = free_port()
    root = mlserver_peer.model_dir(
        ctx["tmp"] / f"mlserver-{name}-w{workers}", name, ctx["dump"] / f"{name}.joblib", port
    )
    cmd = [str(ctx["mlserver"].parent / "mlserver"), "start", str(root)]
    server = Server(
        f"MLServer {name}", cmd, ctx["env"], ctx["tmp"], ctx["tmp"] / f"mlserver-{name}-w{workers}.log"
    )
    body = ctx["one_oip"].read_bytes()
    server.wait_ready(lambda: post(f"http://127.0.0.1:{port}/v2/models/{name}/infer", body, None)[0] == 200)
    return server, port


def bench_workers(workers: int, ctx: dict, args) -> dict:
    """Every server for one worker count, one at a time: bare ASGI, airfoil, MLServer, mlflow."""
    wrk, lua, tmp, env, token = ctx["wrk"], ctx["lua"], ctx["tmp"], ctx["env"], ctx["token"]
    bodies = {"one": ctx["one"], "many": ctx["many"]}
    one_bytes, many_bytes = ctx["one"].read_bytes(), ctx["many"].read_bytes()
    result: dict = {"bare": {}, **{name: {} for name in MODELS}}

    # The bare app stays up while airfoil is measured: after the first measurement of each, both
    # are measured again in turns (--pairs), so the ratio compares runs minutes apart, not tens.
    def one_row(url: str, auth: str | None) -> dict:
        return measure_server(wrk, lua, url, auth, {"one": ctx["one"]}, args)

    bare_server, bare_port = start_bare(workers, ctx)
    try:
        bare_url = f"http://127.0.0.1:{bare_port}/"
        print(f"bare ASGI on uvicorn, {workers} worker(s):", flush=True)
        result["bare"] = one_row(bare_url, None)
        server, port, described = start_airfoil(workers, ctx, env, f"w{workers}")
        try:
            for name in MODELS:
                url = f"http://127.0.0.1:{port}/v1/models/{name}/invocations"
                status, answer, _ = post(url, many_bytes, token)
                print(f" {name} v{described[name]['champion']} ({described[name]['backend']}):", flush=True)
                r = measure_server(wrk, lua, url, token, bodies, args)
                oip_url = f"http://127.0.0.1:{port}/v2/models/{name}/infer"
                r["oip_one"] = measure_server(wrk, lua, oip_url, token, {"one": ctx["one_oip"]}, args)["one"]
                r.update(
                    version=described[name]["champion"],
                    backend=described[name]["backend"],
                    half_loads=[half_load(port, name, r["one"]["req_s"] / 2, ctx, args)],
                    pairs=[(result["bare"]["one"]["req_s"], r["one"]["req_s"])],
                    predictions_1000=answer.get("predictions") if status == 200 else None,
                )
                result[name]["airfoil"] = r
            for n in range(2, args.pairs + 1):
                for name in MODELS:
                    r = result[name]["airfoil"]
                    url = f"http://127.0.0.1:{port}/v1/models/{name}/invocations"
                    print(
                        f" pair {n}/{args.pairs}, {name}: bare, then airfoil (1-row), then half load",
                        flush=True,
                    )
                    floor, served = one_row(bare_url, None)["one"], one_row(url, token)["one"]
                    r["pairs"].append((floor["req_s"], served["req_s"]))
                    r["half_loads"].append(half_load(port, name, r["one"]["req_s"] / 2, ctx, args))
        finally:
            server.stop()
    finally:
        bare_server.stop()

    for name in MODELS:
        server, port = start_mlserver(workers, name, ctx)
        try:
            print(f"MLServer {name}, parallel_workers 0 (one process whatever the worker count):", flush=True)
            url = f"http://127.0.0.1:{port}/v2/models/{name}/infer"
            result[name]["mlserver"] = measure_server(wrk, lua, url, None, {"one": ctx["one_oip"]}, args)
        finally:
            server.stop()

    mlflow_env = {
        **env,
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # mlflow execs `uvicorn` from PATH
        "MLFLOW_TRACKING_URI": ctx["mlflow_uri"],
        "MLFLOW_REGISTRY_URI": ctx["mlflow_uri"],
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",  # 3.17 refuses even skops models without it
    }
    for name in MODELS:
        port = free_port()
        url = f"http://127.0.0.1:{port}/invocations"
        cmd = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{name}@champion", "--env-manager"]
        cmd += ["local", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        server = Server(
            f"mlflow models serve {name}", cmd, mlflow_env, tmp, tmp / f"mlflow-{name}-w{workers}.log"
        )
        try:
            started = server.wait_ready(lambda url=url: post(url, one_bytes, None)[0] == 200)
            print(f"mlflow models serve {name}, {workers} worker(s): ready in {started:.1f} s", flush=True)
            status, answer, _ = post(url, many_bytes, None)
            r = measure_server(wrk, lua, url, None, bodies, args)
            r["predictions_1000"] = answer.get("predictions") if status == 200 else None
            result[name]["mlflow"] = r
        finally:
            server.stop()
    for name in MODELS:  # same work? the 1,000-row answers of both servers
        a, m = result[name]["airfoil"].pop("predictions_1000"), result[name]["mlflow"].pop("predictions_1000")
        same = None if a is None or m is None else sum(x == y for x, y in zip(a, m, strict=True))
        result[name]["same_predictions_1000"] = same
    return result


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(name: str, workers: int, res: dict, raw: dict, args) -> dict:
    """Print one model's table and ratios; the ratios and verdicts."""
    r, bare = res[name], res["bare"]["one"]
    a, ms, m, p = r["airfoil"], r["mlserver"]["one"], r["mlflow"], raw[name]
    print(
        f"\n{name} v{a['version']}: {p['estimator']} (airfoil backend: {a['backend']}), {workers} worker(s) "
        f"per server, wrk -t1 -c{args.connections}, {args.duration:g} s per measurement"
    )
    print(f"{'way of serving':<46} {'1-row req/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'1,000-row rows/s':>17}")
    rows = [
        ("bare ASGI on uvicorn (the floor)", bare, None),
        ("airfoil serve, MLflow dataframe_split", a["one"], a["many"]["rows_s"]),
        ("airfoil serve, OIP v2 (MLServer's body)", a["oip_one"], None),
        ("MLServer 1.7.1 sklearn runtime, OIP v2", ms, None),
        ("mlflow models serve, dataframe_split", m["one"], m["many"]["rows_s"]),
    ]
    for label, one, rows_s in rows:
        many = "-" if rows_s is None else f"{rows_s:,.0f}"
        print(f"{label:<46} {one['req_s']:>12,.0f} {one['p50_ms']:>8.2f} {one['p99_ms']:>8.2f} {many:>17}")
    anchor = p["many"]["predict"]["per_s"] * BATCH
    print(
        f"{'in-process sklearn predict, ready DataFrame':<46} {p['one']['predict']['per_s']:>12,.0f} "
        f"{'':>8} {'':>8} {anchor:>17,.0f}"
    )
    # median over the pairs (bare, airfoil measured in turns) and over the half-load runs
    pair_ratios = [air / floor for floor, air in a["pairs"]]  # in the order measured
    half = sorted(a["half_loads"], key=lambda h: h["from_scheduled_ms"]["99"])[len(a["half_loads"]) // 2]
    q = {
        "vs_bare": median(pair_ratios),
        "vs_bare_pairs": pair_ratios,
        "p99_half_load_runs_ms": [h["from_scheduled_ms"]["99"] for h in a["half_loads"]],
        "vs_mlserver": a["oip_one"]["req_s"] / ms["req_s"],
        "vs_mlflow": a["one"]["req_s"] / m["one"]["req_s"],
        "vs_raw_1000": a["many"]["rows_s"] / anchor,
        "p99_half_load_ms": half["from_scheduled_ms"]["99"],
        "p99_half_load_from_send_ms": half["from_send_ms"]["99"],
    }
    checks = [
        (f"airfoil / bare ASGI, 1-row req/s (median of {len(pair_ratios)} pairs)", q["vs_bare"],
         q["vs_bare"] >= TARGET_VS_BARE, f">= {TARGET_VS_BARE:g}"),
        ("airfoil / MLServer, 1-row OIP req/s", q["vs_mlserver"], q["vs_mlserver"] >= TARGET_VS_MLSERVER,
         f">= {TARGET_VS_MLSERVER:g}x"),
        ("airfoil / mlflow serve, 1-row req/s", q["vs_mlflow"], q["vs_mlflow"] >= TARGET_VS_MLFLOW,
         f">= {TARGET_VS_MLFLOW:g}x"),
        ("airfoil 1,000-row rows/s / in-process predict", q["vs_raw_1000"], q["vs_raw_1000"] >= TARGET_VS_RAW,
         f">= {TARGET_VS_RAW:g}"),
        (f"p99 ms at half load (open loop, {half['target_rps']:,.0f} req/s asked, "
         f"{half['achieved_rps']:,.0f} done; median of {len(a['half_loads'])} runs)",
         q["p99_half_load_ms"], q["p99_half_load_ms"] <= TARGET_P99_MS, f"<= {TARGET_P99_MS:g} ms"),
    ]  # fmt: skip
    for label, value, ok, target in checks:
        print(f"  {label:<78} {value:>8.2f}  {verdict(ok)} target {target}")
    q["meets"] = {label: ok for label, _, ok, _ in checks}
    print(
        "  (pairs, airfoil / bare: " + ", ".join(f"{x:.2f}" for x in pair_ratios) + "; p99 at half load "
        "per run: " + ", ".join(f"{x:.2f}" for x in q["p99_half_load_runs_ms"]) + " ms)"
    )
    print(
        f"  (p99 {q['p99_half_load_from_send_ms']:.2f} ms from actual send; "
        f"p50 {half['from_scheduled_ms']['50']:.2f}, "
        f"p99.9 {half['from_scheduled_ms']['99.9']:.2f}; same 1,000-row predictions as mlflow serve: "
        f"{r['same_predictions_1000']}/{BATCH})"
    )
    return q


def breakdown(name: str, res: dict, raw: dict) -> None:
    """airfoil's per-request cost in pieces (in-process, CPU) vs 1 / throughput of one worker."""
    print(f"\nwhere airfoil's time goes, {name}: CPU per request in-process, vs 1 / req/s of one worker")
    bare_us = 1e6 / res["bare"]["one"]["req_s"]
    for size in ("one", "many"):
        parts = raw[name][size]["airfoil_parts_ms"]
        served_us = 1e6 / res[name]["airfoil"][size]["req_s"]
        label = "1-row" if size == "one" else "1,000-row"
        pieces = ", ".join(f"{k} {v * 1e3:.1f}" for k, v in parts.items())
        print(f"  {label:>9} (µs): {pieces}")
        print(
            f"  {'':>9}  server at saturation: {served_us:.1f} µs per request (bare ASGI: {bare_us:.1f} µs)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (each server)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each measurement")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (fixed concurrency)")
    parser.add_argument(
        "--pool", type=int, default=16, help="keep-alive connections of the open-loop generator"
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="1-row measurements of the bare app and airfoil, in turns, and half-load runs (medians)",
    )
    parser.add_argument("--home", type=Path, help="reuse this AIRFOIL_HOME if it has both champions")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (home, server logs)")
    args = parser.parse_args()
    t_start = time.perf_counter()
    load_before = os.getloadavg()

    wrk = ensure_wrk()
    mlserver = mlserver_peer.mlserver_python()
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="airfoil-bench-serve-"))
    token = secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_", "MLFLOW_"))}
    # One thread per process for every side: 2 vCPUs, and the servers scale with workers.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    home = (args.home or tmp / "home").resolve()
    env.update(AIRFOIL_HOME=str(home), AIRFOIL_API_TOKEN=token)
    try:
        if args.home and (home / "mlflow.db").exists():
            print(f"reusing registry in {home}", flush=True)
            trained: dict[str, float] = {}
        else:
            trained = build_registry(tmp, env)
        one, many, columns = payloads(tmp)
        one_size, many_size = one.stat().st_size, many.stat().st_size
        lua = tmp / "post.lua"
        lua.write_text(WRK_LUA)
        dump = tmp / "joblib"
        dump.mkdir()

        print("in-process predict and airfoil's request path, timed ...", flush=True)
        proc = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, ",".join(MODELS), str(one), str(many), "2", str(dump)],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"in-process timing failed:\n{proc.stderr[-4000:]}")
        raw = json.loads(proc.stdout.strip().splitlines()[-1])

        ctx = {
            "wrk": wrk, "lua": lua, "openloop": build_openloop(tmp), "tmp": tmp, "env": env,
            "token": token, "one": one, "many": many,
            "one_oip": tmp / "one_oip.json", "dump": dump, "mlserver": mlserver,
            "mlflow_uri": f"sqlite:///{home / 'mlflow.db'}",
        }  # fmt: skip
        by_workers = {w: bench_workers(w, ctx, args) for w in args.workers}
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    wrk_version = wrk_version.split("\n")[0].split(" [")[0]
    print(
        f"\nairfoil serving benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{wrk_version.strip()}; servers and load generators share the machine; OMP/OPENBLAS_NUM_THREADS=1 "
        f"everywhere; MLflow dataframe_split bodies with {len(columns)} columns ({one_size:,} and "
        f"{many_size:,} bytes); profiles and the registry poll on (production defaults)"
    )
    if trained:
        print("registry built with `airfoil run`: " + ", ".join(f"{k} {v:.0f} s" for k, v in trained.items()))
    ratios: dict = {}
    for w, res in by_workers.items():
        print(f"\n=== {w} worker(s) per server: bare ASGI {res['bare']['one']['req_s']:,.0f} req/s ===")
        ratios[w] = {name: report(name, w, res, raw, args) for name in MODELS}
    first = args.workers[0]
    for name in MODELS:
        breakdown(name, by_workers[first], raw)
    print("\nsummary:")
    for w in args.workers:
        for name in MODELS:
            q = ratios[w][name]
            print(
                f"  {w} worker(s) {name:<17} vs bare {q['vs_bare']:.2f}, "
                f"vs MLServer {q['vs_mlserver']:.1f}x, "
                f"vs mlflow {q['vs_mlflow']:.1f}x, 1,000-row vs in-process {q['vs_raw_1000']:.2f}, "
                f"p99 at half load {q['p99_half_load_ms']:.2f} ms; misses: "
                f"{[k for k, ok in q['meets'].items() if not ok] or 'none'}"
            )
    seconds = time.perf_counter() - t_start
    load_after = os.getloadavg()
    print(
        f"benchmark took {seconds:.0f} s; 1-minute load average {load_before[0]:.2f} at start, "
        f"{load_after[0]:.2f} at end (anything above ~1 means other work shared the 2 CPUs)"
    )
    out = {
        "benchmark": "serve",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "wrk": wrk_version.strip(),
        "connections": args.connections,
        "pairs": args.pairs,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "open_loop_pool": args.pool,
        "batch_rows": BATCH,
        "targets": {
            "vs_bare": TARGET_VS_BARE,
            "vs_mlserver": TARGET_VS_MLSERVER,
            "vs_mlflow": TARGET_VS_MLFLOW,
            "vs_raw_1000": TARGET_VS_RAW,
            "p99_half_load_ms": TARGET_P99_MS,
        },
        "registry_build_s": trained,
        "in_process": raw,
        "by_workers": {str(w): {"results": by_workers[w], "ratios": ratios[w]} for w in by_workers},
        "seconds": seconds,
        "loadavg_start_end": [load_before, load_after],
    }
    path = RESULTS / "serve.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"figures written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
