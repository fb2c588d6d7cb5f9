"""Dashboard benchmark: trialbook's dashboard API next to MLflow's tracking server, same data,
same machine, same run. ``python bench/dashboard.py [--quick] [--only NAME]... [--write-readme]``

Both servers are real processes on 127.0.0.1 (ours: uvicorn over ``create_app``; MLflow:
``mlflow server --backend-store-uri sqlite:///... --workers 1``) and both are asked over HTTP
by the same client (httpx), so the numbers are what a page or script waits for. The data is
made by ``_dashboard_data.py`` (trialbook through its Store API, MLflow through its API for
the row shapes and plain SQL for bulk). See bench/README.md, "Dashboard". No test asserts any
of these times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULT_MARKER, WORKER_ENV  # noqa: E402

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "runs": 10_000,
        "api_runs": 20,
        "history_points": 1_000_000,
        "wide_keys": 10_000,
        "compare_runs": 200,
        "compare_metrics": 10,
        "compare_steps": 10_000,
        "repeats": 21,
        "live_clients": 50,
        "live_runs": 5,
        "live_seconds": 30,
    },
    "quick": {
        "runs": 2_000,
        "api_runs": 10,
        "history_points": 200_000,
        "wide_keys": 2_000,
        "compare_runs": 40,
        "compare_metrics": 10,
        "compare_steps": 2_000,
        "repeats": 9,
        "live_clients": 20,
        "live_runs": 3,
        "live_seconds": 10,
    },
}
BENCHES = ("runs", "history", "wide", "compare", "live", "browser")
README_START = (
    "<!-- dashboard:start (written by bench/dashboard.py; edits inside are overwritten) -->"
)
README_END = "<!-- dashboard:end -->"


# ---------------------------------------------------------------------------------- helpers
def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def env() -> dict[str, str]:
    out = {**os.environ, **WORKER_ENV}
    for name in ("MLFLOW_TRACKING_URI", "TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        out.pop(name, None)
    return out


def worker(job: str, args: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "_dashboard_data.py"), job, json.dumps(args)],
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise RuntimeError(f"{job} failed: {(proc.stderr or proc.stdout)[-2000:]}")


def stats(seconds: list[float]) -> dict[str, Any]:
    xs = sorted(seconds)
    return {
        "p50_ms": statistics.median(xs) * 1e3,
        "p90_ms": xs[min(len(xs) - 1, int(0.9 * len(xs)))] * 1e3,
        "min_ms": xs[0] * 1e3,
        "n": len(xs),
    }


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> tuple[dict[str, Any], Any]:
    for _ in range(warmup):
        out = fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return stats(ts), out


class Server:
    """A server process in its own process group (so its workers stop with it)."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            argv, env=env(), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.url = ""

    def wait(self, url: str, path: str, timeout: float = 120) -> None:
        import httpx

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}: see {self.log.name}"
                )
            try:
                if httpx.get(url + path, timeout=2).status_code < 500:
                    self.url = url
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server at {url} not ready after {timeout:.0f} s")

    def rss_mb(self) -> float:
        import psutil

        try:
            p = psutil.Process(self.proc.pid)
            procs = [p, *p.children(recursive=True)]
            return sum(q.memory_info().rss for q in procs) / 2**20
        except psutil.Error:
            return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_ours(root: Path, work: Path) -> Server:
    port_file = work / f"port-{time.monotonic_ns()}"
    s = Server(
        [
            sys.executable,
            str(HERE / "_dashboard_data.py"),
            "serve",
            json.dumps({"dir": str(root), "port_file": str(port_file)}),
        ],
        work / "trialbook-server.log",
    )
    end = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > end or s.proc.poll() is not None:
            raise RuntimeError("our server did not start: see trialbook-server.log")
        time.sleep(0.05)
    s.wait(f"http://127.0.0.1:{port_file.read_text()}", "/api/openapi.json")
    return s


def start_mlflow(db: Path, work: Path) -> Server:
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    s = Server(
        [
            str(mlflow),
            "server",
            "--backend-store-uri",
            f"sqlite:///{db}",
            "--default-artifact-root",
            str(work / "mlflow-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        work / "mlflow-server.log",
    )
    s.wait(f"http://127.0.0.1:{port}", "/health")
    return s


# ---------------------------------------------------------------------------------- data
def make_data(work: Path, size: dict[str, Any], sides: set[str]) -> dict[str, Any]:
    args = {k: size[k] for k in SIZES["full"] if k not in ("repeats",) and not k.startswith("live")}
    out: dict[str, Any] = {}
    procs = []
    if "trialbook" in sides:
        procs.append(("trialbook", {**args, "dir": str(work / "tb")}))
    if "mlflow" in sides:
        template = work / "mlflow-template.db"
        if not template.exists():
            say("MLflow: building the migrated template database")
            subprocess.run(
                [
                    sys.executable,
                    str(HERE / "_mlflow_side.py"),
                    "make_template",
                    json.dumps({"path": str(template)}),
                ],
                env=env(),
                check=True,
                capture_output=True,
            )
        procs.append(("mlflow", {**args, "dir": str(work / "ml"), "template": str(template)}))
    for side, a in procs:  # one at a time: each uses a core fully
        say(f"{side}: making the data sets")
        t0 = time.perf_counter()
        out[side] = worker(side, a)
        out[side]["populate_s"] = time.perf_counter() - t0
        say(f"  done in {out[side]['populate_s']:.0f} s")
    return out


# ---------------------------------------------------------------------------------- benchmarks
def bench_runs(
    ours: Server | None, ml: Server | None, data: dict[str, Any], size: dict[str, Any]
) -> dict[str, Any]:
    import httpx

    res: dict[str, Any] = {}
    n = size["repeats"]
    if ours:
        with httpx.Client(base_url=ours.url, timeout=60) as c:

            def first_page() -> Any:
                r = c.get("/api/runs", params={"experiment": "bench", "sort": "loss", "limit": 100})
                r.raise_for_status()
                return r.json()

            res["trialbook"], body = timed(first_page, n)
            res["trialbook"]["total"] = body["total"]
            res["trialbook"]["first"] = body["runs"][0]["name"]

            def default_page() -> Any:
                r = c.get("/api/runs", params={"limit": 100})
                r.raise_for_status()
                return r.json()

            res["trialbook_default"], _ = timed(default_page, n)
    if ml:
        exp = data["mlflow"]["bench_experiment"]
        with httpx.Client(base_url=ml.url, timeout=60) as c:

            def search() -> Any:
                r = c.post(
                    "/api/2.0/mlflow/runs/search",
                    json={
                        "experiment_ids": [exp],
                        "max_results": 100,
                        "order_by": ["metrics.loss ASC"],
                    },
                )
                r.raise_for_status()
                return r.json()

            res["mlflow"], body = timed(search, n)
            res["mlflow"]["first"] = body["runs"][0]["info"]["run_name"]
    if (
        "trialbook" in res
        and "mlflow" in res
        and res["trialbook"]["first"] != res["mlflow"]["first"]
    ):
        res["warning"] = "the two sides' first runs differ"
    return res


def bench_history(
    ours: Server | None, ml: Server | None, data: dict[str, Any], size: dict[str, Any]
) -> dict[str, Any]:
    import httpx

    res: dict[str, Any] = {}
    n = size["repeats"]
    if ours:
        rid = data["trialbook"]["history_run"]
        with httpx.Client(base_url=ours.url, timeout=120) as c:

            def get(key: str, points: int) -> Any:
                r = c.get(f"/api/runs/{rid}/history", params={"key": key, "points": points})
                r.raise_for_status()
                return r.json()

            get("loss20k", 1000)  # imports and connections warm, nothing of "loss" read yet
            cold = []
            for i in range(7):  # a different point count is a different cache entry: cold read
                t0 = time.perf_counter()
                body = get("loss", 2000 - i)
                cold.append(time.perf_counter() - t0)
            res["trialbook_cold"] = stats(cold)
            res["trialbook_cold"].update(
                points=len(body["x"]),
                total=body["total"],
                spike_kept=max(v for v in body["y_max"] if v is not None) == 25.0,
            )
            res["trialbook_warm"], _ = timed(lambda: get("loss", 2000), n)
            res["trialbook_20k"], _ = timed(lambda: get("loss20k", 2000), n, warmup=0)
    if ml:
        rid = data["mlflow"]["history_run"]
        with httpx.Client(base_url=ml.url, timeout=600) as c:

            def history(key: str) -> Any:
                r = c.get(
                    "/api/2.0/mlflow/metrics/get-history", params={"run_id": rid, "metric_key": key}
                )
                r.raise_for_status()
                return r.json()

            res["mlflow_20k"], body = timed(lambda: history("loss20k"), max(3, n // 3), warmup=1)
            res["mlflow_20k"]["points"] = len(body.get("metrics", []))
            try:
                t0 = time.perf_counter()
                body = history("loss")
                res["mlflow_full"] = stats([time.perf_counter() - t0])
                res["mlflow_full"]["points"] = len(body.get("metrics", []))
            except Exception as e:
                res["mlflow_full"] = {"error": repr(e)[:300]}
    return res


def bench_wide(
    ours: Server | None, ml: Server | None, data: dict[str, Any], size: dict[str, Any]
) -> dict[str, Any]:
    import httpx

    res: dict[str, Any] = {}
    n = size["repeats"]
    if ours:
        with httpx.Client(base_url=ours.url, timeout=120) as c:

            def runs() -> Any:
                r = c.get("/api/runs", params={"experiment": "wide"})
                r.raise_for_status()
                return r.json()

            def columns() -> Any:
                r = c.get("/api/columns", params={"experiment": "wide"})
                r.raise_for_status()
                return r.json()

            res["trialbook_runs"], body = timed(runs, n)
            res["trialbook_runs"]["bytes"] = len(json.dumps(body))
            res["trialbook_columns"], body = timed(columns, n)
            res["trialbook_columns"]["bytes"] = len(json.dumps(body))
            res["trialbook_columns"]["total_metrics"] = body.get("total_metrics")
    if ml:
        exp = data["mlflow"]["wide_experiment"]
        with httpx.Client(base_url=ml.url, timeout=120) as c:

            def search() -> Any:
                r = c.post(
                    "/api/2.0/mlflow/runs/search",
                    json={"experiment_ids": [exp], "max_results": 100},
                )
                r.raise_for_status()
                return r.json()

            res["mlflow"], body = timed(search, max(3, n // 3), warmup=1)
            res["mlflow"]["bytes"] = len(json.dumps(body))
            res["mlflow"]["metrics"] = len(body["runs"][0]["data"].get("metrics", []))
    return res


def bench_compare(
    ours: Server | None, ml: Server | None, data: dict[str, Any], size: dict[str, Any]
) -> dict[str, Any]:
    import httpx

    res: dict[str, Any] = {}
    repeats = max(3, size["repeats"] // 4)
    if ours:
        ids = data["trialbook"]["compare_runs"]
        with httpx.Client(base_url=ours.url, timeout=600) as c:

            def compare() -> Any:
                r = c.get("/api/compare/history", params={"runs": ids, "key": "m0", "points": 500})
                r.raise_for_status()
                return r.json()

            t0 = time.perf_counter()
            body = compare()
            res["trialbook_first"] = stats([time.perf_counter() - t0])
            res["trialbook"], body = timed(compare, repeats, warmup=0)
            res["trialbook"].update(
                curves=len(body["curves"]),
                points_per_curve=len(body["curves"][0]["x"]),
                bytes=len(json.dumps(body)),
            )
    if ml:
        ids = data["mlflow"]["compare_runs"]

        async def fetch_all(parallel: int) -> int:
            sem = asyncio.Semaphore(parallel)
            async with httpx.AsyncClient(base_url=ml.url, timeout=600) as c:

                async def one(rid: str) -> int:
                    async with sem:
                        r = await c.get(
                            "/api/2.0/mlflow/metrics/get-history",
                            params={"run_id": rid, "metric_key": "m0"},
                        )
                        r.raise_for_status()
                        return len(r.json().get("metrics", []))

                return sum(await asyncio.gather(*(one(r) for r in ids)))

        for parallel in (1, 6):
            ts = []
            for _ in range(2):
                t0 = time.perf_counter()
                points = asyncio.run(fetch_all(parallel))
                ts.append(time.perf_counter() - t0)
            res[f"mlflow_parallel{parallel}"] = stats(ts)
            res[f"mlflow_parallel{parallel}"]["points"] = points
    return res


def bench_live(ours: Server, work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """``live_clients`` clients follow ``live_runs`` runs a separate process is logging into:
    each second each client asks for new points (history?after_step=), new log bytes
    (logs?offset=) and changed runs (/api/changes). Latency of every request, errors,
    freshness (receive time minus the logging time carried by metric ``t``), server RSS."""
    import httpx

    root = work / "tb"
    ids_file, stop_file = work / "live-ids.json", work / "live-stop"
    for f in (ids_file, stop_file):
        f.unlink(missing_ok=True)
    writer = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "_dashboard_data.py"),
            "live",
            json.dumps(
                {
                    "dir": str(root),
                    "runs": size["live_runs"],
                    "interval": 0.05,
                    "ids_file": str(ids_file),
                    "stop_file": str(stop_file),
                }
            ),
        ],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 60
        while not ids_file.exists() and time.monotonic() < end:
            time.sleep(0.1)
        run_ids = json.loads(ids_file.read_text())
        time.sleep(1.0)  # a first flush
        lat: dict[str, list[float]] = {"history": [], "logs": [], "changes": []}
        fresh: list[float] = []
        errors: list[str] = []
        rss: list[float] = []

        async def client(i: int, c: httpx.AsyncClient, stop_at: float) -> None:
            rid = run_ids[i % len(run_ids)]
            after: int | None = None
            offset = -1
            cursor: str | None = None
            await asyncio.sleep(i / size["live_clients"])  # spread over the first second
            while time.monotonic() < stop_at:
                tick = time.monotonic()
                calls: list[tuple[str, str, dict[str, Any]]] = [
                    (
                        "history",
                        f"/api/runs/{rid}/history",
                        {
                            "key": "t",
                            "points": 1000,
                            **({} if after is None else {"after_step": after}),
                        },
                    ),
                    ("logs", f"/api/runs/{rid}/logs", {"stream": "stdout", "offset": offset}),
                    ("changes", "/api/changes", {} if cursor is None else {"cursor": cursor}),
                ]
                for name, path, params in calls:
                    t0 = time.perf_counter()
                    try:
                        r = await c.get(path, params=params)
                        took = time.perf_counter() - t0
                        if r.status_code != 200:
                            errors.append(f"{name} {r.status_code}")
                            continue
                        body = r.json()
                    except Exception as e:
                        errors.append(f"{name} {type(e).__name__}")
                        continue
                    lat[name].append(took)
                    if name == "history":
                        if body.get("last_step") is not None:
                            after = body["last_step"]
                        ys = [y for y in body.get("y", []) if y is not None]
                        if ys and after is not None and "after_step" in params:
                            fresh.append(time.time() - max(ys))
                    elif name == "logs":
                        offset = body.get("offset", offset)
                    else:
                        cursor = body.get("cursor", cursor)
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

        async def sample_rss(stop_at: float) -> None:
            while time.monotonic() < stop_at:
                rss.append(ours.rss_mb())
                await asyncio.sleep(0.5)

        async def main() -> None:
            stop_at = time.monotonic() + size["live_seconds"]
            limits = httpx.Limits(max_connections=size["live_clients"])
            async with httpx.AsyncClient(base_url=ours.url, timeout=30, limits=limits) as c:
                await asyncio.gather(
                    sample_rss(stop_at),
                    *(client(i, c, stop_at) for i in range(size["live_clients"])),
                )

        rss_before = ours.rss_mb()
        asyncio.run(main())
    finally:
        stop_file.write_text("stop")
        try:
            writer.wait(30)
        except subprocess.TimeoutExpired:
            writer.kill()
    every = [t for v in lat.values() for t in v]
    out: dict[str, Any] = {
        "clients": size["live_clients"],
        "runs": size["live_runs"],
        "seconds": size["live_seconds"],
        "requests": len(every),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:10],
        "rss_before_mb": rss_before,
        "rss_max_mb": max(rss) if rss else None,
    }
    if every:
        xs = sorted(every)
        out["p50_ms"] = statistics.median(xs) * 1e3
        out["p99_ms"] = xs[min(len(xs) - 1, int(0.99 * len(xs)))] * 1e3
        out["per_endpoint_p50_ms"] = {k: statistics.median(v) * 1e3 for k, v in lat.items() if v}
    if fresh:
        fs = sorted(fresh)
        out["freshness_p50_s"] = statistics.median(fs)
        out["freshness_max_s"] = fs[-1]
    return out


def bench_browser(ours: Server, data: dict[str, Any]) -> dict[str, Any]:
    """Chromium (Playwright) timings on the real pages: the runs page of the workspace (all
    its runs) until the first table row shows; the compare page of the compare runs until
    the chart has a trace per run."""
    from playwright.sync_api import sync_playwright

    res: dict[str, Any] = {}
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(ours.url + "/")  # warm: static files cached, server imports done
            page.wait_for_selector("table tbody tr", timeout=60_000)
            ts = []
            for _ in range(5):
                page2 = browser.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.perf_counter()
                page2.goto(ours.url + "/")
                page2.wait_for_selector("table tbody tr", timeout=60_000)
                ts.append(time.perf_counter() - t0)
                page2.close()
            res["runs_page"] = stats(ts)
            ids = data["trialbook"]["compare_runs"]
            query = "&".join(f"runs={i}" for i in ids) + "&key=m0"
            ts = []
            for _ in range(3):
                page2 = browser.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.perf_counter()
                page2.goto(ours.url + "/compare?" + query)
                page2.wait_for_function(
                    "n => document.querySelectorAll("
                    "'.js-plotly-plot .scatterlayer .trace').length >= n",
                    arg=len(ids),
                    timeout=120_000,
                )
                ts.append(time.perf_counter() - t0)
                page2.close()
            res["compare_page"] = stats(ts)
            res["compare_page"]["runs"] = len(ids)
        finally:
            browser.close()
    return res


# ---------------------------------------------------------------------------------- report
def _ms(d: dict[str, Any] | None, key: str = "p50_ms") -> float | None:
    if not d or key not in d:
        return None
    v: float = d[key]
    return v


def rows(res: dict[str, Any]) -> list[tuple[str, float | None, float | None, str, str]]:
    """(measurement, ours ms, MLflow ms, MLflow's call, target)."""
    r = res.get("results", {})
    z = res["sizes"]
    out = []
    if "runs" in r:
        out.append(
            (
                f"Runs API: first page of 100 of {z['runs']:,} runs sorted by a metric (p50)",
                _ms(r["runs"].get("trialbook")),
                _ms(r["runs"].get("mlflow")),
                "REST runs/search, order_by metrics.loss",
                "<= 50 ms",
            )
        )
        out.append(
            (
                "Runs API: first page, default order (p50)",
                _ms(r["runs"].get("trialbook_default")),
                None,
                "",
                "",
            )
        )
    if "history" in r:
        h = r["history"]
        out.append(
            (
                f"{z['history_points']:,}-point metric downsampled to <= 2,000 points, "
                "cold (p50 of 7)",
                _ms(h.get("trialbook_cold")),
                _ms(h.get("mlflow_full")),
                "REST get-history, every point",
                "<= 100 ms",
            )
        )
        out.append(
            ("same, repeated (cached) (p50)", _ms(h.get("trialbook_warm")), None, "", "<= 100 ms")
        )
        out.append(
            (
                "20,000-point metric (ours downsampled to 2,000) (p50)",
                _ms(h.get("trialbook_20k")),
                _ms(h.get("mlflow_20k")),
                "REST get-history, every point",
                "",
            )
        )
    if "wide" in r:
        w = r["wide"]
        out.append(
            (
                f"Run with {z['wide_keys']:,} metric keys: runs API of its experiment (p50)",
                _ms(w.get("trialbook_runs")),
                _ms(w.get("mlflow")),
                "REST runs/search of the experiment",
                "",
            )
        )
        out.append(
            (
                f"Run with {z['wide_keys']:,} metric keys: columns API (p50)",
                _ms(w.get("trialbook_columns")),
                None,
                "",
                "",
            )
        )
    if "compare" in r:
        c = r["compare"]
        out.append(
            (
                f"Compare history of {z['compare_runs']} runs (one metric of "
                f"{z['compare_steps']:,} steps each) (p50)",
                _ms(c.get("trialbook")),
                _ms(c.get("mlflow_parallel6")),
                f"{z['compare_runs']} x REST get-history, 6 in parallel",
                "",
            )
        )
    if "live" in r and "p99_ms" in r["live"]:
        lv = r["live"]
        out.append(
            (
                f"{lv['clients']} clients following live runs: p99 latency",
                lv["p99_ms"],
                None,
                "",
                "",
            )
        )
    if "browser" in r:
        b = r["browser"]
        out.append(
            (
                "Chromium: runs page of the workspace, first rows on screen (p50)",
                _ms(b.get("runs_page")),
                None,
                "",
                "<= 1000 ms",
            )
        )
        out.append(
            (
                f"Chromium: compare page of {z['compare_runs']} runs, chart drawn (p50)",
                _ms(b.get("compare_page")),
                None,
                "",
                "",
            )
        )
    return out


def markdown(res: dict[str, Any]) -> str:
    def f(v: float | None) -> str:
        if v is None:
            return "—"
        return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"

    lines = [
        f"Command: `{res['command']}`, {res['mode']} mode, took {res['took_s'] / 60:.1f} min.",
        "",
        f"Machine: {res['machine']}.",
        "",
        "| Measurement | trialbook | MLflow server | MLflow ÷ trialbook | MLflow's call | Target |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, ours, theirs, call, target in rows(res):
        ratio = f"{theirs / ours:.0f}×" if ours and theirs else "—"
        lines.append(f"| {name} | {f(ours)} | {f(theirs)} | {ratio} | {call} | {target} |")
    r = res.get("results", {})
    notes = []
    if "history" in r and "trialbook_cold" in r["history"]:
        h = r["history"]["trialbook_cold"]
        full = r["history"].get("mlflow_full", {})
        notes.append(
            f"History: {h.get('points')} points drawn of {h.get('total')}, the spike kept: "
            f"{h.get('spike_kept')}; MLflow's full read returned {full.get('points')} points."
        )
    if "wide" in r:
        w = r["wide"]
        runs, cols, theirs = (
            w.get(k, {}) for k in ("trialbook_runs", "trialbook_columns", "mlflow")
        )
        notes.append(
            f"Wide run: our runs response {runs.get('bytes')} bytes, columns "
            f"{cols.get('bytes')} bytes (total_metrics {cols.get('total_metrics')}); "
            f"MLflow's search {theirs.get('bytes')} bytes with {theirs.get('metrics')} metrics."
        )
    if "compare" in r:
        c = r["compare"]
        ours, seq = c.get("trialbook", {}), c.get("mlflow_parallel1", {})
        notes.append(
            f"Compare: ours {ours.get('curves')} curves of {ours.get('points_per_curve')} "
            f"points (first request {f(_ms(c.get('trialbook_first')))}); MLflow one at a "
            f"time {f(_ms(seq))} for {seq.get('points')} points."
        )
    if "live" in r:
        lv = r["live"]
        nan = float("nan")
        by = {k: round(v, 1) for k, v in lv.get("per_endpoint_p50_ms", {}).items()}
        notes.append(
            f"Live: {lv.get('clients')} clients x {lv.get('seconds')} s on {lv.get('runs')} "
            f"runs logging every 50 ms: {lv.get('requests')} requests, {lv.get('errors')} "
            f"errors {lv.get('error_kinds')}, p50 {f(lv.get('p50_ms'))}, p99 "
            f"{f(lv.get('p99_ms'))} (p50 by endpoint, ms: {by}), freshness p50 "
            f"{lv.get('freshness_p50_s', nan):.2f} s, max {lv.get('freshness_max_s', nan):.2f} "
            f"s, server RSS {lv.get('rss_before_mb', nan):.0f} -> max "
            f"{lv.get('rss_max_mb') or nan:.0f} MiB."
        )
    for name, err in res.get("errors", {}).items():
        notes.append(f"{name}: NOT MEASURED ({err})")
    lines += [""] + [f"* {n}" for n in notes]
    return "\n".join(lines) + "\n"


def machine() -> str:
    import platform
    import sqlite3

    import psutil

    def version(dist: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as v

        try:
            return v(dist)
        except PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; trialbook commit "
        f"{commit}, MLflow {version('mlflow')}, uvicorn {version('uvicorn')}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def write_readme(section: str) -> None:
    path = HERE / "README.md"
    text = path.read_text()
    a, b = text.index(README_START) + len(README_START), text.index(README_END)
    path.write_text(text[:a] + "\n" + section + text[b:])


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller data, fewer repeats")
    ap.add_argument("--only", action="append", choices=BENCHES, help="some benchmarks only")
    ap.add_argument("--side", choices=("both", "trialbook", "mlflow"), default="both")
    ap.add_argument("--data", type=Path, help="keep the data in DIR and reuse it next time")
    ap.add_argument(
        "--write-readme", action="store_true", help="rewrite README's Dashboard results"
    )
    a = ap.parse_args(argv)
    mode = "quick" if a.quick else "full"
    size = SIZES[mode]
    only = a.only or list(BENCHES)
    sides = {"trialbook", "mlflow"} if a.side == "both" else {a.side}
    if "mlflow" in sides:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            say("MLflow is not installed (pip install 'mlflow>=2.10'): measuring trialbook only")
            sides.discard("mlflow")
    t_start = time.perf_counter()
    work = a.data or Path(tempfile.mkdtemp(prefix="trialbook-dashboard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "command": "python bench/dashboard.py"
        + (" --quick" if a.quick else "")
        + "".join(f" --only {o}" for o in a.only or []),
        "mode": mode,
        "sizes": size,
        "machine": machine(),
        "results": {},
        "errors": {},
    }
    ours = ml = None
    try:
        stamp = work / f"data-{mode}.json"
        data: dict[str, Any] = json.loads(stamp.read_text()) if stamp.exists() else {}
        missing = {s for s in sides if s not in data}
        if missing:
            for s in missing:
                shutil.rmtree(work / ("tb" if s == "trialbook" else "ml"), ignore_errors=True)
            data.update(make_data(work, size, missing))
            stamp.write_text(json.dumps(data))
        res["populate_s"] = {s: data[s].get("populate_s") for s in data}
        if "trialbook" in sides:
            ours = start_ours(work / "tb", work)
        if "mlflow" in sides:
            ml = start_mlflow(work / "ml" / "mlflow.db", work)
        for name in only:
            if name in ("live", "browser") and ours is None:
                continue
            say(f"measuring {name}")
            try:
                if name == "live":
                    res["results"][name] = bench_live(ours, work, size)  # type: ignore[arg-type]
                elif name == "browser":
                    res["results"][name] = bench_browser(ours, data)  # type: ignore[arg-type]
                else:
                    fn = {
                        "runs": bench_runs,
                        "history": bench_history,
                        "wide": bench_wide,
                        "compare": bench_compare,
                    }[name]
                    res["results"][name] = fn(ours, ml, data, size)
            except Exception as e:
                res["errors"][name] = f"{type(e).__name__}: {str(e)[:300]}"
                say(f"  {name} failed: {res['errors'][name]}")
    finally:
        for s in (ours, ml):
            if s is not None:
                s.stop()
        if a.data is None:
            shutil.rmtree(work, ignore_errors=True)
    res["took_s"] = time.perf_counter() - t_start
    out = (
        HERE
        / "results"
        / ("dashboard.json" if mode == "full" and not a.only else "dashboard-partial.json")
    )
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    section = markdown(res)
    print(section)
    if a.write_readme:
        write_readme(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
