"""The compare API (/api/compare, /api/compare/history) with TestClient on a real workspace;
the verdict is checked against what ``trialbook significance`` prints for the same pair."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import run_api_workspace as rw
from fastapi.testclient import TestClient

import trialbook
from trialbook.dashboard import create_app

#: A loopback origin: the dashboard refuses other Host headers when it has no token.
BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("cmpapi") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        yield root, rw.build(root)


@pytest.fixture(scope="module")
def client(ws: tuple[Path, dict[str, Any]]) -> Iterator[TestClient]:
    with TestClient(create_app(root=ws[0]), base_url=BASE) as c:
        yield c


def _group(client: TestClient, ws: tuple[Path, dict[str, Any]], name: str) -> str:
    key: str = client.get(f"/api/runs/{ws[1][name][0]}").json()["group_key"]
    return key


def _cli_significance(root: Path, *refs: str) -> str:
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    env.pop("TRIALBOOK_STORE", None)
    done = subprocess.run(
        [sys.executable, "-m", "trialbook", "significance", *refs, "--root", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _detail(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}
    text: str = body["detail"]
    return text


def test_two_seed_groups_side_by_side_with_the_cli_verdict(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    base, tuned = _group(client, ws, "base"), _group(client, ws, "tuned")
    body = client.get(f"/api/compare?groups={base[:12]}&groups={tuned[:12]}").json()
    refs = [e["ref"] for e in body["entries"]]
    assert refs == [f"group:{base[:12]}", f"group:{tuned[:12]}"]
    assert [e["kind"] for e in body["entries"]] == ["group", "group"]
    assert sorted(body["entries"][0]["run_ids"]) == sorted(ws[1]["base"])
    assert "n=3" in body["entries"][0]["label"]
    assert body["config_differences"] == [{"key": "lr", "values": [0.1, 0.2]}]
    by_metric = {m["metric"]: m["values"] for m in body["metrics"]}
    acc = by_metric["eval.gsm8k.accuracy"]
    assert acc[0]["mean"] == pytest.approx(0.4) and acc[1]["mean"] == pytest.approx(0.8)
    assert acc[0]["n"] == 3
    loss = by_metric["metrics.loss"]
    assert loss[0]["ci_low"] < loss[0]["mean"] < loss[0]["ci_high"]
    assert "metrics.system/cpu_percent" not in by_metric
    verdict = body["verdict"]
    assert verdict is not None and body["verdict_note"] is None
    assert verdict["test"] == "welch"
    printed = _cli_significance(ws[0], *refs)
    assert verdict["text"] in printed.splitlines()
    assert body["changed_samples"] is None


def test_two_runs_give_the_cli_verdict_and_the_changed_samples(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    a, b = ws[1]["base"][0], ws[1]["tuned"][0]
    body = client.get(f"/api/compare?runs={a}&runs={b}").json()
    verdict = body["verdict"]
    assert verdict["test"] == "mcnemar" and verdict["benchmark"] == "gsm8k"
    assert verdict["text"] in _cli_significance(ws[0], a, b).splitlines()
    changed = body["changed_samples"]
    assert changed["benchmark"] == "gsm8k"
    sa, sb = (
        {r["id"]: r["correct"] for r in client.get(f"/api/runs/{x}/samples").json()["rows"]}
        for x in (a, b)
    )
    assert {r["id"] for r in changed["regressions"]} == {i for i in sa if sa[i] and not sb[i]}
    assert {r["id"] for r in changed["fixes"]} == {i for i in sa if sb[i] and not sa[i]}
    assert changed["n_fixes"] == len(changed["fixes"])
    row = (changed["regressions"] + changed["fixes"])[0]
    assert row["input"].startswith("question ") and row["reference"] == f"r{row['id'][1:]}"
    assert body["config_differences"] == [{"key": "lr", "values": [0.1, 0.2]}]


def test_a_pair_without_a_test_says_why(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    a = ws[1]["base"][0]
    with trialbook.start_run(
        "solo", {"lr": 9}, root=ws[0], system_metrics=False, capture_packages=False
    ) as run:
        run.log({"loss": 0.5}, step=0)
    body = client.get(f"/api/compare?runs={a}&runs={run.id}").json()
    assert body["verdict"] is None
    assert body["verdict_note"]
    assert body["changed_samples"] is None


def test_many_entries_have_metrics_but_no_verdict(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    ids = ws[1]["base"] + ws[1]["tuned"]
    body = client.get("/api/compare?" + "&".join(f"runs={i}" for i in ids)).json()
    assert len(body["entries"]) == 6
    assert body["verdict"] is None and "exactly two" in body["verdict_note"]
    acc = {m["metric"]: m for m in body["metrics"]}["eval.gsm8k.accuracy"]["values"]
    assert [v["n"] for v in acc] == [1] * 6 and acc[0]["ci_low"] is None
    keys = {d["key"] for d in body["config_differences"]}
    assert keys == {"lr", "seed"}


def test_compare_bad_requests(ws: tuple[Path, dict[str, Any]], client: TestClient) -> None:
    assert "runs" in _detail(client.get("/api/compare"), 422)
    text = _detail(client.get("/api/compare?" + "&".join(["runs=x"] * 201)), 422)
    assert "200" in text
    assert "nope" in _detail(client.get("/api/compare?runs=nope"), 404)
    assert "zzzz" in _detail(client.get("/api/compare?groups=zzzz"), 404)
    a = ws[1]["base"][0]
    assert "same" in _detail(client.get(f"/api/compare?runs={a}&runs={a}"), 422)


def test_compare_history_overlays_runs_and_group_means_with_bands(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    a = ws[1]["base"][0]
    tuned = _group(client, ws, "tuned")
    body = client.get(f"/api/compare/history?runs={a}&groups={tuned}&key=loss").json()
    run_curve, group = body["curves"]
    assert run_curve["kind"] == "run" and run_curve["y_low"] is None
    assert run_curve["x"] == list(range(rw.STEPS)) and run_curve["n"] == 1
    assert group["kind"] == "group" and group["n"] == 3
    assert group["x"] == list(range(rw.STEPS))
    # The mean of the three seeds at step 0: (1 - 0.4) + 0.01 * seed, seeds 1..3.
    assert group["y"][0] == pytest.approx(0.6 + 0.02)
    bands = zip(group["y_low"], group["y"], group["y_high"], strict=True)
    assert all(lo < y < hi for lo, y, hi in bands)


def test_compare_history_points_shrink_with_entries(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    ids = ws[1]["base"] + ws[1]["tuned"]
    q = "&".join(f"runs={i}" for i in ids)
    body = client.get(f"/api/compare/history?{q}&key=loss&points=20").json()
    assert body["points"] == 20
    assert all(len(c["x"]) == 20 for c in body["curves"])


def test_compare_history_bad_requests(ws: tuple[Path, dict[str, Any]], client: TestClient) -> None:
    a = ws[1]["base"][0]
    assert "key" in _detail(client.get(f"/api/compare/history?runs={a}"), 422)
    assert "nokey" in _detail(client.get(f"/api/compare/history?runs={a}&key=nokey"), 422)
    assert "x" in _detail(client.get(f"/api/compare/history?runs={a}&key=loss&x=epoch"), 422)
    assert "points" in _detail(client.get(f"/api/compare/history?runs={a}&key=loss&points=1"), 422)


def test_two_hundred_runs_are_compared_with_bounded_curves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from trialbook.store import NewRun

    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    with trialbook.start_run("seed", {}, root=root, system_metrics=False, capture_packages=False):
        pass
    ids = []
    with trialbook.open_store(root) as db:
        for i in range(200):
            record = db.create_run(
                NewRun(
                    id=uuid.uuid4().hex,
                    experiment="many",
                    name=f"r{i}",
                    config={"i": i},
                    config_hash=f"{i:064x}",
                    group_key=f"{i:064x}",
                    status="completed",
                    params={"i": i},
                )
            )
            steps = list(range(1000))
            values = [i + s / 1000 for s in steps]
            db.log_metric_columns(record.id, {"loss": (steps, values, [1e9 + s for s in steps])})
            ids.append(record.id)
    with TestClient(create_app(root=root), base_url=BASE) as client:
        q = "&".join(f"runs={i}" for i in ids)
        body = client.get(f"/api/compare/history?{q}&key=loss").json()
        assert body["points"] == 100  # max(50, 20000 // 200), below the 500 asked by default
        assert len(body["curves"]) == 200
        assert all(len(c["x"]) == 100 for c in body["curves"])
        side = client.get(f"/api/compare?{q}").json()
        assert len(side["entries"]) == 200
        (loss,) = [m for m in side["metrics"] if m["metric"] == "metrics.loss"]
        assert [v["mean"] for v in loss["values"]] == pytest.approx([i + 0.999 for i in range(200)])
        assert len(side["config_differences"]) == 1
