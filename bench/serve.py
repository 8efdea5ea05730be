"""Benchmark: the prediction API (`airfoil serve`) versus `mlflow models serve` and raw in-process predict.

Builds a fresh registry in a temp AIRFOIL_HOME with two champions of the breast_cancer data: the
example pipeline (its champion is a LogisticRegression with a verified ONNX export) and a copy of it
named breast_cancer_rf with one candidate, a 200-tree RandomForestClassifier. Then serves the same
registered versions three ways in one run:

  1. `airfoil serve --workers W`      POST /v1/models/<name>/invocations (bearer token)
  2. `mlflow models serve --workers W` POST /invocations (one server per model, --env-manager local)
  3. in-process `model.predict` of the same version (airfoil.registry.versions.load_version),
     single-threaded on a ready-made pandas DataFrame: the anchor for 1,000-row throughput

Both servers get byte-identical MLflow `dataframe_split` bodies (30 feature columns) from the same
load generator: `wrk -t1 -c<connections>` for <duration> s with --latency (closed loop, fixed
concurrency), once with 1-row bodies (req/s, p50, p99) and once with 1,000-row bodies (rows/s).
Only one server runs at a time. "p99 at half of airfoil's maximum throughput" is measured with an
open-loop generator (wrk2 is not packaged here): a Python asyncio/uvloop client in its own process
that sends at a fixed rate of 50% of the req/s wrk measured, over a pool of keep-alive connections,
and times each request from its scheduled send time (so queueing counts) and from the actual send.
For the first worker count, the half-load run is repeated on an airfoil server whose 2-second
registry poll is switched off (AIRFOIL_POLL_SECONDS=3600): a diagnostic of what the poll costs the tail.

Targets: single-row req/s >= 10x mlflow's; p99 <= 5 ms at half load; 1,000-row rows/s >= 50% of the
in-process predict. A per-request cost breakdown of airfoil's path (parse, checks, predict, encode)
is timed in-process to show where the rest of the time goes. Figures go to bench/results/serve.json.

Run: .venv/bin/python bench/serve.py [--workers 1 2] [--duration 10] [--connections 8] [--home DIR]
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

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "examples" / "breast_cancer" / "pipeline.yaml"
DATA = ROOT / "examples" / "breast_cancer" / "data" / "breast_cancer.csv"
MODELS = ("breast_cancer", "breast_cancer_rf")
TARGET_VS_MLFLOW = 10.0
TARGET_P99_MS = 5.0
TARGET_VS_RAW = 0.5
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

# Open-loop generator, run in its own interpreter (no pandas/mlflow heap, no GC pauses of ours).
OPEN_LOOP = r"""
import asyncio, json, sys, time
try:
    import uvloop
    uvloop.install()
except ImportError:
    pass

host, port, path, body_file, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rate, duration, pool = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
body = open(body_file, "rb").read()
head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
if token:
    head += f"Authorization: Bearer {token}\r\n"
request = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
from_sched, from_send, bad = [], [], 0

async def one(conns, scheduled):
    global bad
    reader, writer = await conns.get()
    sent = time.perf_counter()
    writer.write(request)
    header = await reader.readuntil(b"\r\n\r\n")
    lower = header.lower()
    i = lower.index(b"content-length:")
    await reader.readexactly(int(lower[i + 15 : lower.index(b"\r\n", i)]))
    done = time.perf_counter()
    conns.put_nowait((reader, writer))
    if header[9:12] != b"200":
        bad += 1
    from_sched.append(done - scheduled)
    from_send.append(done - sent)

async def main():
    conns = asyncio.Queue()
    for _ in range(pool):
        conns.put_nowait(await asyncio.open_connection(host, port))
    for _ in range(pool):  # warm every connection once
        await one(conns, time.perf_counter())
    from_sched.clear(); from_send.clear()
    total = int(rate * duration)
    tasks = []
    start = time.perf_counter() + 0.05
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and start + i / rate <= now:  # launch everything that is due
            tasks.append(asyncio.create_task(one(conns, start + i / rate)))
            i += 1
        if i < total:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start

    def pct(xs, q):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(q / 100 * len(xs)))] * 1e3

    def summary(xs):
        return {q: pct(xs, q) for q in (50, 90, 99, 99.9)} | {"max": max(xs) * 1e3}

    print(json.dumps({
        "requests": len(from_send), "non_200": bad, "achieved_rps": len(from_send) / elapsed,
        "from_scheduled_ms": summary(from_sched), "from_send_ms": summary(from_send),
    }))

asyncio.run(main())
"""

# In-process figures: raw predict of each version (the anchor), and airfoil's request path in pieces.
IN_PROCESS = r"""
import gc, json, sys, time
import numpy as np, orjson, pandas as pd
from airfoil.registry.client import client
from airfoil.registry.versions import champion_version, load_version
from airfoil.registry.loaded import load_model
from airfoil.serving.mlflow_format import parse_for_model
from airfoil.settings import load_settings

names, one, many, seconds = sys.argv[1].split(","), sys.argv[2], sys.argv[3], float(sys.argv[4])
bodies = {"one": open(one, "rb").read(), "many": open(many, "rb").read()}
settings = load_settings()
c = client(settings)
loaded = {}
for name in names:
    version = champion_version(c, name)
    loaded[name] = (version, load_version(settings, name, version)[0], load_model(settings, name, version))
gc.collect()
gc.freeze()  # the anchor should not pay for full collections over the libraries' objects

def loop(fn, seconds):
    for _ in range(3):
        fn()
    times, end = [], time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        times.append(t1 - t0)
        if t1 > end:
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
        n = len(frame)
        r[size] = {"rows": n}
        for method in ("predict", "predict_proba"):
            f = getattr(model, method)
            r[size][method] = loop(lambda: f(frame), seconds)
        body = orjson.loads(raw)
        values = parse_for_model(body, served, 10**9)
        labels, _ = served.predict(values)
        parts = {
            "json parse (orjson.loads)": lambda: orjson.loads(raw),
            "rows to columns + checks (parse_for_model)": lambda: parse_for_model(body, served, 10**9),
            f"predict ({served.backend}, labels + proba)": lambda: served.predict(values),
            "response (orjson.dumps)": lambda: orjson.dumps({"predictions": labels, "model_version": 1}),
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
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    m = re.search(r"^WRKJSON (.*)$", proc.stdout, re.M)
    if proc.returncode != 0 or m is None:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
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
    }


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
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms"
        )
    return out


def open_loop(port: int, path: str, body: Path, token: str, rate: float, args) -> dict:
    cmd = [sys.executable, "-c", OPEN_LOOP, "127.0.0.1", str(port), path, str(body), token]
    cmd += [f"{rate:.1f}", str(args.duration), str(args.pool)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 120, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"open-loop generator failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    r: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    r["target_rps"] = rate
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
    half = open_loop(port, path, ctx["one"], ctx["token"], rate, args)
    print(
        f"  open loop at {rate:,.0f} req/s: achieved {half['achieved_rps']:,.0f} req/s, "
        f"p99 {half['from_scheduled_ms']['99']:.2f} ms from scheduled send",
        flush=True,
    )
    return half


def bench_workers(workers: int, ctx: dict, args, diagnose: bool) -> dict:
    """Everything that needs servers, for one worker count: airfoil first, then mlflow per model.

    With `diagnose`, the half-load run is repeated on an airfoil server whose registry poll is
    switched off (AIRFOIL_POLL_SECONDS=3600), to show what the 2-second poll costs the tail.
    """
    wrk, lua, tmp, env, token = ctx["wrk"], ctx["lua"], ctx["tmp"], ctx["env"], ctx["token"]
    bodies = {"one": ctx["one"], "many": ctx["many"]}
    one_bytes, many_bytes = ctx["one"].read_bytes(), ctx["many"].read_bytes()
    result: dict = {name: {} for name in MODELS}

    server, port, described = start_airfoil(workers, ctx, env, f"w{workers}")
    try:
        for name in MODELS:
            url = f"http://127.0.0.1:{port}/v1/models/{name}/invocations"
            status, answer, _ = post(url, many_bytes, token)
            print(f" {name} v{described[name]['champion']} ({described[name]['backend']}):", flush=True)
            r = measure_server(wrk, lua, url, token, bodies, args)
            r.update(
                version=described[name]["champion"],
                backend=described[name]["backend"],
                half_load=half_load(port, name, r["one"]["req_s"] / 2, ctx, args),
                predictions_1000=answer.get("predictions") if status == 200 else None,
            )
            result[name]["airfoil"] = r
    finally:
        server.stop()

    if diagnose:
        quiet_env = {**env, "AIRFOIL_POLL_SECONDS": "3600"}
        server, port, _ = start_airfoil(workers, ctx, quiet_env, f"w{workers}-no-poll")
        try:
            for name in MODELS:
                print(f" {name}, registry poll off:", flush=True)
                rate = result[name]["airfoil"]["half_load"]["target_rps"]
                result[name]["airfoil"]["half_load_no_poll"] = half_load(port, name, rate, ctx, args)
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


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(name: str, workers: int, r: dict, raw: dict, args) -> dict:
    """Print one model's table and ratios; the ratios and verdicts."""
    a, m, p = r["airfoil"], r["mlflow"], raw[name]
    print(
        f"\n{name} v{a['version']}: {p['estimator']} (airfoil backend: {a['backend']}), {workers} worker(s) "
        f"per server, wrk -t1 -c{args.connections}, {args.duration:g} s per measurement"
    )
    header = (
        f"{'':<34} {'single-row requests':^28}   {'1,000-row requests':^30}\n"
        f"{'way of serving':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>9}   "
        f"{'req/s':>7} {'rows/s':>10} {'p50 ms':>9}"
    )
    print(header)
    width = len(header.splitlines()[1])
    print("-" * width)
    for label, s in (("airfoil serve", a), ("mlflow models serve", m)):
        print(
            f"{label:<34} {s['one']['req_s']:>9,.0f} {s['one']['p50_ms']:>8.2f} {s['one']['p99_ms']:>9.2f}   "
            f"{s['many']['req_s']:>7,.1f} {s['many']['rows_s']:>10,.0f} {s['many']['p50_ms']:>9.2f}"
        )
    for method in ("predict", "predict_proba"):
        one, many = p["one"][method], p["many"][method]
        print(
            f"{'in-process ' + method + ' (1 thread)':<34} {one['per_s']:>9,.0f} {one['p50_ms']:>8.2f} "
            f"{one['p99_ms']:>9.2f}   {many['per_s']:>7,.1f} {many['per_s'] * BATCH:>10,.0f} "
            f"{many['p50_ms']:>9.2f}"
        )
    print("-" * width)
    vs_mlflow = a["one"]["req_s"] / m["one"]["req_s"]
    vs_raw = a["many"]["rows_s"] / (p["many"]["predict"]["per_s"] * BATCH)
    half = a["half_load"]
    p99_sched, p99_send = half["from_scheduled_ms"]["99"], half["from_send_ms"]["99"]
    print(
        f"airfoil / mlflow, single-row req/s:          {vs_mlflow:>7.1f}x  "
        f"({verdict(vs_mlflow >= TARGET_VS_MLFLOW)} target >= {TARGET_VS_MLFLOW:g}x)"
    )
    print(
        f"airfoil 1,000-row rows/s / in-process predict: {vs_raw:>5.2f}   "
        f"({verdict(vs_raw >= TARGET_VS_RAW)} target >= {TARGET_VS_RAW:g})"
    )
    print(
        f"airfoil p99 at half load (open loop, {half['target_rps']:,.0f} req/s asked, "
        f"{half['achieved_rps']:,.0f} done): {p99_sched:.2f} ms  ({verdict(p99_sched <= TARGET_P99_MS)} "
        f"target <= {TARGET_P99_MS:g} ms; from scheduled send time; {p99_send:.2f} ms from actual send; "
        f"p50 {half['from_scheduled_ms']['50']:.2f}, p99.9 {half['from_scheduled_ms']['99.9']:.2f}, "
        f"max {half['from_scheduled_ms']['max']:.1f} ms)"
    )
    quiet = a.get("half_load_no_poll")
    if quiet:
        print(
            f"  diagnostic, same open loop with airfoil's 2 s registry poll off (AIRFOIL_POLL_SECONDS=3600): "
            f"p99 {quiet['from_scheduled_ms']['99']:.2f} ms from scheduled send "
            f"({quiet['from_send_ms']['99']:.2f} from actual send), "
            f"p50 {quiet['from_scheduled_ms']['50']:.2f}, "
            f"p99.9 {quiet['from_scheduled_ms']['99.9']:.2f}, max {quiet['from_scheduled_ms']['max']:.1f} ms"
        )
    print(
        f"also: airfoil / mlflow 1,000-row rows/s {a['many']['rows_s'] / m['many']['rows_s']:.1f}x; "
        f"airfoil 1,000-row p99 {a['many']['p99_ms']:.1f} ms (mlflow {m['many']['p99_ms']:.1f} ms); "
        f"single-row max {a['one']['max_ms']:.1f} ms (mlflow {m['one']['max_ms']:.1f} ms); "
        f"same 1,000-row predictions from both servers: {r['same_predictions_1000']}/{BATCH}"
    )
    return {
        "airfoil_vs_mlflow_single_row_req_s": vs_mlflow,
        "meets_vs_mlflow": vs_mlflow >= TARGET_VS_MLFLOW,
        "airfoil_vs_raw_1000_row_rows_s": vs_raw,
        "meets_vs_raw": vs_raw >= TARGET_VS_RAW,
        "p99_half_load_ms": p99_sched,
        "p99_half_load_from_send_ms": p99_send,
        "meets_p99": p99_sched <= TARGET_P99_MS,
    }


def breakdown(name: str, r: dict, raw: dict) -> None:
    """airfoil's per-request CPU cost in pieces (in-process) vs 1/throughput of one worker."""
    print(f"\nwhere airfoil's time goes, {name}: per request, timed in-process, vs 1 / req/s of one worker")
    for size in ("one", "many"):
        parts = raw[name][size]["airfoil_parts_ms"]
        served_ms = 1e3 / r["airfoil"][size]["req_s"]
        label = "1-row" if size == "one" else "1,000-row"
        pieces = ", ".join(f"{k} {v:.3f}" for k, v in parts.items())
        total = sum(parts.values())
        print(f"  {label:>9}: {pieces}; sum {total:.3f} ms")
        print(
            f"  {'':>9}  server at saturation: {served_ms:.3f} ms per request -> HTTP (uvicorn), FastAPI "
            f"routing, guard, metrics and GC: ~{served_ms - total:.3f} ms "
            f"({(served_ms - total) / served_ms:.0%})"
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
    parser.add_argument("--home", type=Path, help="reuse this AIRFOIL_HOME if it has both champions")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (home, server logs)")
    args = parser.parse_args()
    t_start = time.perf_counter()
    load_before = os.getloadavg()

    wrk = ensure_wrk()
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

        print("in-process predict and airfoil's request path, timed ...", flush=True)
        proc = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, ",".join(MODELS), str(one), str(many), "2"],
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
            "wrk": wrk,
            "lua": lua,
            "tmp": tmp,
            "env": env,
            "token": token,
            "one": one,
            "many": many,
            "mlflow_uri": f"sqlite:///{home / 'mlflow.db'}",
        }
        by_workers = {}
        for w in args.workers:
            by_workers[w] = bench_workers(w, ctx, args, diagnose=w == args.workers[0])
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
    wrk_version = wrk_version.split("\n")[0].split(" [")[0]
    print(
        f"\nairfoil serving benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{wrk_version.strip()}; servers and load generators share the machine; "
        f"OMP/OPENBLAS_NUM_THREADS=1 everywhere; MLflow dataframe_split bodies with {len(columns)} columns "
        f"({one_size:,} and {many_size:,} bytes)"
    )
    if trained:
        print("registry built with `airfoil run`: " + ", ".join(f"{k} {v:.0f} s" for k, v in trained.items()))
    print(
        "in-process rows: the registered sklearn Pipeline's predict / predict_proba on a ready pandas "
        "DataFrame (no parsing), one thread; its req/s column is calls/s"
    )
    ratios: dict = {}
    for w, res in by_workers.items():
        print(f"\n=== {w} worker(s) per server ===")
        ratios[w] = {name: report(name, w, res[name], raw, args) for name in MODELS}
    if 1 in by_workers:
        for name in MODELS:
            breakdown(name, by_workers[1][name], raw)

    headline = by_workers[args.workers[0]]
    print(f"\nsummary ({args.workers[0]} worker(s) per server):")
    for name in MODELS:
        q = ratios[args.workers[0]][name]
        print(
            f"  {name:<17} vs mlflow {q['airfoil_vs_mlflow_single_row_req_s']:>6.1f}x "
            f"({verdict(q['meets_vs_mlflow'])}), 1,000-row vs raw {q['airfoil_vs_raw_1000_row_rows_s']:.2f} "
            f"({verdict(q['meets_vs_raw'])}), p99 at half load {q['p99_half_load_ms']:.2f} ms "
            f"({verdict(q['meets_p99'])}); {headline[name]['airfoil']['one']['req_s']:,.0f} req/s max"
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
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "open_loop_pool": args.pool,
        "batch_rows": BATCH,
        "targets": {
            "airfoil_vs_mlflow_single_row_req_s": TARGET_VS_MLFLOW,
            "p99_half_load_ms": TARGET_P99_MS,
            "airfoil_vs_raw_1000_row_rows_s": TARGET_VS_RAW,
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
