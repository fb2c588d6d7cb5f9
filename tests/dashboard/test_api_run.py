"""The one-run API (/api/runs/{ref}/...) with FastAPI's TestClient on a real workspace."""

from __future__ import annotations

import os
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
    root = tmp_path_factory.mktemp("runapi") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        yield root, rw.build(root)


@pytest.fixture(scope="module")
def client(ws: tuple[Path, dict[str, Any]]) -> Iterator[TestClient]:
    with TestClient(create_app(root=ws[0]), base_url=BASE) as c:
        yield c


@pytest.fixture(scope="module")
def rich(ws: tuple[Path, dict[str, Any]]) -> str:
    run_id: str = ws[1]["rich"]
    return run_id


def _detail(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}
    text: str = body["detail"]
    assert "Traceback" not in text
    return text


# --------------------------------------------------------------------------- document
def test_run_document_matches_show_json_plus_yaml_folder_and_files(
    client: TestClient, rich: str
) -> None:
    doc = client.get(f"/api/runs/{rich}").json()
    assert doc["id"] == rich
    assert client.get(f"/api/runs/{doc['short_id']}").json()["id"] == rich
    assert doc["status"] == "completed"
    assert doc["params"]["lr"] == 0.1
    assert doc["metrics"]["loss"]["count"] == rw.STEPS
    assert doc["evaluations"][0]["benchmark"] == "gsm8k"
    assert "lr: 0.1" in doc["config_yaml"]
    assert Path(doc["folder"]).is_dir()
    arts = {a["name"]: a for a in doc["files"]["artifacts"]}
    assert arts["plot.png"]["image"] is True
    assert arts["notes.txt"]["image"] is False
    assert client.get(f"/api/runs/{rich}/files/{arts['plot.png']['path']}").status_code == 200
    (ckpt,) = doc["files"]["checkpoints"]
    assert ckpt["step"] == 99
    assert ckpt["path"] == "model.pt" or ckpt["path"].endswith("model.pt")
    assert isinstance(doc["timestamps"]["started_at"], float)


def test_unknown_run_is_404_with_one_sentence(client: TestClient) -> None:
    for path in (
        "",
        "/metrics",
        "/history?key=loss",
        "/samples",
        "/dynamics",
        "/logs",
        "/files/x.txt",
        "/config-diff?other=nope",
        "/events",
    ):
        text = _detail(client.get(f"/api/runs/no-such-run{path}"), 404)
        assert "no-such-run" in text


def test_ambiguous_name_is_422(client: TestClient) -> None:
    text = _detail(client.get("/api/runs/base"), 422)
    assert "base" in text


# --------------------------------------------------------------------------- metrics
def test_metrics_lists_keys_with_summaries_and_marks_system_metrics(
    client: TestClient, rich: str
) -> None:
    body = client.get(f"/api/runs/{rich}/metrics").json()
    assert body["total"] == 2
    by_key = {m["key"]: m for m in body["metrics"]}
    assert by_key["loss"]["count"] == rw.STEPS
    assert by_key["loss"]["last_step"] == rw.STEPS - 1
    assert by_key["loss"]["system"] is False
    assert by_key["system/cpu_percent"]["system"] is True
    found = client.get(f"/api/runs/{rich}/metrics?q=LOS").json()
    assert [m["key"] for m in found["metrics"]] == ["loss"]
    assert found["total"] == 1


def test_metrics_limit_is_capped(client: TestClient, rich: str) -> None:
    text = _detail(client.get(f"/api/runs/{rich}/metrics?limit=201"), 422)
    assert "limit" in text
    assert len(client.get(f"/api/runs/{rich}/metrics?limit=1").json()["metrics"]) == 1


# --------------------------------------------------------------------------- history
def test_history_returns_every_point_when_few(client: TestClient, rich: str) -> None:
    body = client.get(f"/api/runs/{rich}/history?key=loss").json()
    assert body["x"] == list(range(rw.STEPS))
    assert len(body["y"]) == rw.STEPS
    assert body["total"] == rw.STEPS
    assert body["sampled"] is False
    assert body["last_step"] == rw.STEPS - 1
    assert body["status"] == "completed"
    assert body["x_axis"] == "step"


def test_history_downsamples_to_points_with_an_envelope(client: TestClient, rich: str) -> None:
    body = client.get(f"/api/runs/{rich}/history?key=loss&points=10").json()
    assert len(body["x"]) == len(body["y_min"]) == len(body["y_max"]) == 10
    assert body["sampled"] is True
    assert body["total"] == rw.STEPS
    assert max(body["y_max"]) == pytest.approx(
        client.get(f"/api/runs/{rich}/history?key=loss").json()["y"][0]
    )


def test_history_x_axes(client: TestClient, rich: str) -> None:
    rel = client.get(f"/api/runs/{rich}/history?key=loss&x=relative").json()
    assert rel["x"][0] == 0.0 and rel["x_axis"] == "relative"
    wall = client.get(f"/api/runs/{rich}/history?key=loss&x=time").json()
    assert wall["x"][0] > 1e9


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("key=loss&x=epoch", "x"),
        ("key=loss&points=1", "points"),
        ("key=loss&points=5001", "points"),
        ("key=loss&after_step=abc", "after_step"),
        ("", "key"),
    ],
)
def test_history_bad_parameters_are_422_naming_them(
    client: TestClient, rich: str, query: str, name: str
) -> None:
    assert name in _detail(client.get(f"/api/runs/{rich}/history?{query}"), 422)


def test_history_of_an_unknown_key_of_a_finished_run_is_422_with_a_suggestion(
    client: TestClient, rich: str
) -> None:
    text = _detail(client.get(f"/api/runs/{rich}/history?key=los"), 422)
    assert "'los'" in text and "'loss'" in text


def test_a_running_runs_history_grows_via_after_step(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    root = ws[0]
    with trialbook.start_run(
        "live", {"lr": 1}, root=root, system_metrics=False, capture_packages=False
    ) as run:
        first = client.get(f"/api/runs/{run.id}/history?key=acc").json()
        assert first["x"] == [] and first["status"] == "running"
        for step in range(10):
            run.log({"acc": step / 10}, step=step)
        run.flush()
        now = client.get(f"/api/runs/{run.id}/history?key=acc").json()
        assert now["x"] == list(range(10)) and now["last_step"] == 9
        for step in range(10, 15):
            run.log({"acc": step / 10}, step=step)
        run.flush()
        more = client.get(f"/api/runs/{run.id}/history?key=acc&after_step=9").json()
        assert more["x"] == [10, 11, 12, 13, 14]
        assert more["y"] == pytest.approx([1.0, 1.1, 1.2, 1.3, 1.4])
        assert more["last_step"] == 14
        assert more["total"] == 5


def test_nan_values_are_sent_as_null(ws: tuple[Path, dict[str, Any]], client: TestClient) -> None:
    with trialbook.start_run(
        "nan", {}, root=ws[0], system_metrics=False, capture_packages=False
    ) as run:
        run.log({"v": float("nan")}, step=0)
        run.log({"v": 1.0}, step=1)
    body = client.get(f"/api/runs/{run.id}/history?key=v").json()
    assert body["y"] == [None, 1.0]
    metrics = client.get(f"/api/runs/{run.id}").json()["metrics"]
    assert metrics["v"]["last"] == 1.0


# --------------------------------------------------------------------------- samples
def test_samples_page_filter_and_search(client: TestClient, rich: str) -> None:
    body = client.get(f"/api/runs/{rich}/samples").json()
    assert body["benchmarks"] == ["gsm8k"] and body["benchmark"] == "gsm8k"
    assert body["total"] == rw.N_SAMPLES
    first = body["rows"][0]
    assert first["id"] == "q0" and first["index"] == 0
    assert first["input"] == f"question 0 {rw.HOSTILE}"
    assert first["prediction"] == "p0" and first["reference"] == "r0"
    wrong = client.get(f"/api/runs/{rich}/samples?filter=wrong&limit=500").json()
    right = client.get(f"/api/runs/{rich}/samples?filter=right&limit=500").json()
    assert wrong["total"] + right["total"] == rw.N_SAMPLES
    assert all(r["correct"] is False for r in wrong["rows"])
    assert all(r["correct"] is True for r in right["rows"])
    hit = client.get(f"/api/runs/{rich}/samples?q=QUESTION 17").json()
    assert [r["id"] for r in hit["rows"]] == ["q17"]
    page = client.get(f"/api/runs/{rich}/samples?offset=35&limit=10").json()
    assert [r["id"] for r in page["rows"]] == [f"q{i}" for i in range(35, 40)]


def test_samples_bad_parameters(client: TestClient, rich: str) -> None:
    assert "filter" in _detail(client.get(f"/api/runs/{rich}/samples?filter=some"), 422)
    assert "limit" in _detail(client.get(f"/api/runs/{rich}/samples?limit=501"), 422)
    assert "offset" in _detail(client.get(f"/api/runs/{rich}/samples?offset=-1"), 422)
    text = _detail(client.get(f"/api/runs/{rich}/samples?benchmark=mmlu"), 404)
    assert "gsm8k" in text


def test_samples_of_a_run_without_evaluations_are_empty(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    with trialbook.start_run(
        "plain", {}, root=ws[0], system_metrics=False, capture_packages=False
    ) as run:
        pass
    body = client.get(f"/api/runs/{run.id}/samples").json()
    assert body == {"benchmarks": [], "benchmark": "", "total": 0, "rows": []}
    assert client.get(f"/api/runs/{run.id}/dynamics").json() == {
        "available": False,
        "total": 0,
        "points": [],
    }
    logs = client.get(f"/api/runs/{run.id}/logs").json()
    assert logs["text"] == "" and logs["size"] == 0 and logs["done"] is True


# --------------------------------------------------------------------------- data map
def test_dynamics_gives_the_data_map_with_sample_text(client: TestClient, rich: str) -> None:
    body = client.get(f"/api/runs/{rich}/dynamics").json()
    assert body["available"] is True and body["total"] == rw.N_SAMPLES
    p0 = body["points"][0]
    assert p0["id"] == "q0"
    assert p0["confidence"] == pytest.approx((0.2 + 0.5 + 0.9) / 3)
    assert p0["text"] == f"question 0 {rw.HOSTILE}"
    assert len(client.get(f"/api/runs/{rich}/dynamics?limit=5").json()["points"]) == 5
    assert "limit" in _detail(client.get(f"/api/runs/{rich}/dynamics?limit=0"), 422)


# --------------------------------------------------------------------------- files
def test_files_inside_the_folder_are_served_with_their_type(client: TestClient, rich: str) -> None:
    png = client.get(f"/api/runs/{rich}/files/plot.png")
    assert png.status_code == 200 and png.content == rw.PNG
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith("inline")
    txt = client.get(f"/api/runs/{rich}/files/notes.txt")
    assert txt.status_code == 200 and txt.text == "hello"
    assert txt.headers["content-disposition"].startswith("attachment")
    assert client.get(f"/api/runs/{rich}/files/config.yaml").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "artifacts/../../outside.txt",
        "%2e%2e/outside.txt",
        "..%2foutside.txt",
        "%2Fetc%2Fpasswd",
        "//etc/passwd",
        "missing.txt",
        "artifacts",
        "a\\..\\..\\outside.txt",
    ],
)
def test_files_outside_the_folder_or_missing_are_404(
    ws: tuple[Path, dict[str, Any]], client: TestClient, rich: str, path: str
) -> None:
    outside = ws[0] / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    r = client.get(f"/api/runs/{rich}/files/{path}")
    assert r.status_code == 404, (path, r.status_code, r.text)
    assert "secret" not in r.text


def test_symlinks_leaving_the_folder_are_404_and_inside_ones_served(
    ws: tuple[Path, dict[str, Any]], client: TestClient, rich: str
) -> None:
    folder = Path(client.get(f"/api/runs/{rich}").json()["folder"])
    secret = ws[0] / "secret.txt"
    secret.write_text("secret", encoding="utf-8")
    out_link = folder / "leak.txt"
    if not out_link.exists():
        os.symlink(secret, out_link)
    dir_link = folder / "leakdir"
    if not dir_link.exists():
        os.symlink(ws[0], dir_link, target_is_directory=True)
    in_link = folder / "same.txt"
    if not in_link.exists():
        os.symlink(folder / "notes.txt", in_link)
    assert client.get(f"/api/runs/{rich}/files/leak.txt").status_code == 404
    assert client.get(f"/api/runs/{rich}/files/leakdir/secret.txt").status_code == 404
    ok = client.get(f"/api/runs/{rich}/files/same.txt")
    assert ok.status_code == 200 and ok.text == "hello"


# --------------------------------------------------------------------------- logs
def test_logs_tail_and_offsets(client: TestClient, rich: str) -> None:
    full = "line 1\nline 2 \u00e9\n"
    size = len(full.encode("utf-8"))
    tail = client.get(f"/api/runs/{rich}/logs").json()
    assert tail == {"stream": "stdout", "text": full, "offset": size, "size": size, "done": True}
    part = client.get(f"/api/runs/{rich}/logs?offset=0&limit=7").json()
    assert part["text"] == "line 1\n" and part["offset"] == 7
    rest = client.get(f"/api/runs/{rich}/logs?offset=7").json()
    assert rest["text"] == "line 2 \u00e9\n" and rest["offset"] == size
    # A limit that would cut the two-byte character leaves it for the next read.
    cut = client.get(f"/api/runs/{rich}/logs?offset=7&limit=8").json()
    assert cut["text"] == "line 2 " and cut["offset"] == 14
    last = client.get(f"/api/runs/{rich}/logs?limit=4").json()
    assert last["text"] == " \u00e9\n"
    # A tail starting inside the character skips its second byte.
    assert client.get(f"/api/runs/{rich}/logs?limit=2").json()["text"] == "\n"
    err = client.get(f"/api/runs/{rich}/logs?stream=stderr").json()
    assert err["text"] == "warning!\n"


def test_logs_bad_parameters(client: TestClient, rich: str) -> None:
    assert "stream" in _detail(client.get(f"/api/runs/{rich}/logs?stream=stdin"), 422)
    assert "offset" in _detail(client.get(f"/api/runs/{rich}/logs?offset=-2"), 422)
    assert "limit" in _detail(client.get(f"/api/runs/{rich}/logs?limit=0"), 422)


# --------------------------------------------------------------------------- config diff
def test_config_diff_between_two_runs(
    ws: tuple[Path, dict[str, Any]], client: TestClient, rich: str
) -> None:
    other = ws[1]["tuned"][0]
    body = client.get(f"/api/runs/{rich}/config-diff?other={other}").json()
    assert body == {"differences": [{"key": "lr", "a": 0.1, "b": 0.2}]}
    same_group = ws[1]["base"][1]
    keys = [
        d["key"]
        for d in client.get(f"/api/runs/{rich}/config-diff?other={same_group}").json()[
            "differences"
        ]
    ]
    assert keys == ["seed"]
    assert client.get(f"/api/runs/{rich}/config-diff?other={rich}").json() == {"differences": []}
    assert "other" in _detail(client.get(f"/api/runs/{rich}/config-diff"), 422)


# --------------------------------------------------------------------------- openapi
def test_openapi_lists_the_run_endpoints_with_typed_responses(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/runs/{ref}",
        "/api/runs/{ref}/metrics",
        "/api/runs/{ref}/history",
        "/api/runs/{ref}/samples",
        "/api/runs/{ref}/dynamics",
        "/api/runs/{ref}/logs",
        "/api/runs/{ref}/config-diff",
        "/api/runs/{ref}/events",
        "/api/runs/{ref}/files/{path}",
    ):
        assert path in paths, path
    ok = paths["/api/runs/{ref}/history"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/History"}


# --------------------------------------------------------------------------- events
LIVE_SCRIPT = """
import sys, time
from pathlib import Path
import trialbook

with trialbook.start_run("live-sse", {"lr": 1}, root=sys.argv[1], system_metrics=False,
                         capture_packages=False) as run:
    for step in range(5):
        run.log({"acc": step / 10}, step=step)
    run.flush()
    print(run.id, flush=True)
    time.sleep(1.5)
    for step in range(5, 10):
        run.log({"acc": step / 10}, step=step)
    for step in range(3):
        run.log({"late": float(step)}, step=step)
    run.flush()
    with (Path(run.path) / "stdout.log").open("a", encoding="utf-8") as f:
        f.write("epoch 1 done\\n")
    time.sleep(1.5)
"""


def _events(lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    import json

    out: list[tuple[str, dict[str, Any]]] = []
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            out.append((event, json.loads(line[len("data: ") :])))
    return out


def test_events_stream_new_points_logs_and_status_until_the_run_ends(
    ws: tuple[Path, dict[str, Any]], client: TestClient
) -> None:
    import subprocess
    import sys

    env = {**os.environ}
    env.pop("TRIALBOOK_STORE", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", LIVE_SCRIPT, str(ws[0])],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert run_id
        with client.stream("GET", f"/api/runs/{run_id}/events?after_step=2") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(list(r.iter_lines()))
    finally:
        proc.wait(timeout=60)
    kinds = [k for k, _ in events]
    assert kinds[0] == "status" and events[0][1] == {"status": "running"}
    assert events[-1] == ("status", {"status": "completed"})
    steps = [x for k, d in events if k == "points" and d["key"] == "acc" for x in d["x"]]
    assert steps == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    last = [d for k, d in events if k == "points" and d["key"] == "acc"][-1]
    assert last["last_step"] == 9
    # A metric first logged after the stream opened arrives with all its points.
    late = [x for k, d in events if k == "points" and d["key"] == "late" for x in d["x"]]
    assert late == [0.0, 1.0, 2.0]
    logs = "".join(d["text"] for k, d in events if k == "log" and d["stream"] == "stdout")
    assert logs == "epoch 1 done\n"


def test_events_of_a_finished_run_send_its_status_and_end(client: TestClient, rich: str) -> None:
    with client.stream("GET", f"/api/runs/{rich}/events") as r:
        events = _events(list(r.iter_lines()))
    assert events == [("status", {"status": "completed"})]
