"""The runs table's API over real workspaces made with ``start_run``: paging, filters, columns,
facets, seed groups, leaderboards, live changes and the writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import trialbook
from trialbook.dashboard import DashboardSettings, create_app
from trialbook.testing.store_contract import new_run

BASE = "http://127.0.0.1:8765"
COMMON: dict[str, Any] = {"system_metrics": False, "capture_packages": False}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Experiment ``e``: two seed groups (lr 0.1 and 0.01) of three seeds with loss, acc and
    a ``bench`` evaluation; experiment ``other`` of one suite run; and one run still running."""
    root = tmp_path_factory.mktemp("api_runs") / "experiments"
    for lr, base in ((0.1, 0.5), (0.01, 0.2)):
        for seed in (1, 2, 3):
            loss = base + seed / 100
            tags = ["<b>hostile</b>"] if (lr, seed) == (0.1, 1) else []
            with trialbook.start_run(
                "e", {"lr": lr, "opt": "adam"}, seed=seed, root=root, tags=tags, **COMMON
            ) as run:
                run.log({"loss": loss + 0.1, "acc": 1 - loss}, step=0)
                run.log({"loss": loss, "acc": 1 - loss}, step=1)
                run.log_evaluation("bench", {"accuracy": 1 - loss})
    with trialbook.start_run(
        "other", {"x": 1}, name="suite-run", root=root, tags=["suite:demo"], **COMMON
    ) as run:
        run.log({"loss": 0.9})
    live = trialbook.start_run("live", {"x": 2}, name="still-going", root=root, **COMMON)
    live.log({"loss": 1.0})
    live.flush()
    yield root
    live.finish()


@pytest.fixture(scope="module")
def client(root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(root), base_url=BASE) as c:
        yield c


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "Traceback" not in detail
    for word in words:
        assert word in detail
    return detail


# --------------------------------------------------------------------------- /api/runs
def test_runs_lists_newest_first_with_the_columns_that_vary(client: TestClient) -> None:
    page = ok(client.get("/api/runs"))

    assert page["total"] == 8
    assert (page["offset"], page["limit"], page["sort"], page["desc"]) == (
        0,
        100,
        "started_at",
        True,
    )
    starts = [r["started_at"] for r in page["runs"]]
    assert starts == sorted(starts, reverse=True)
    assert page["runs"][0]["name"] == "still-going"
    assert page["runs"][0]["status"] == "running"
    # Across experiments every param varies (or is missing somewhere); within e, opt does not.
    assert {"params.lr", "params.opt", "metrics.loss", "metrics.acc"} <= set(page["columns"])
    within = ok(client.get("/api/runs", params={"experiment": "e"}))["columns"]
    assert within == ["params.lr", "params.seed", "metrics.acc", "metrics.loss"]
    row = next(r for r in page["runs"] if r["tags"] == ["<b>hostile</b>"])
    assert row["values"]["params.lr"] == 0.1
    assert row["values"]["metrics.loss"] == pytest.approx(0.51)
    assert row["short_id"] == row["id"].rsplit("_", 1)[-1]
    assert isinstance(page["cursor"], str) and page["cursor"]


def test_runs_pages_sort_by_a_metric_and_filter_with_where(client: TestClient) -> None:
    query = {"where": "params.lr<0.05", "sort": "loss", "limit": 2, "offset": 1}
    page = ok(client.get("/api/runs", params=query))

    assert page["total"] == 3
    assert page["sort"] == "loss" and page["desc"] is False
    assert [r["values"]["metrics.loss"] for r in page["runs"]] == pytest.approx([0.22, 0.23])
    best = ok(client.get("/api/runs", params={"sort": "min(loss)", "limit": 1}))
    assert best["runs"][0]["seed"] == 1 and best["sort"] == "min(loss)"
    worst = ok(client.get("/api/runs", params={"sort": "loss", "desc": "true", "limit": 1}))
    assert worst["runs"][0]["name"] == "still-going"


def test_runs_filter_by_experiment_status_tag_suite_and_name(client: TestClient) -> None:
    def names(**params: Any) -> list[str]:
        return sorted(r["name"] for r in ok(client.get("/api/runs", params=params))["runs"])

    assert len(names(experiment="e")) == 6
    assert names(status="running") == ["still-going"]
    assert len(names(status=["completed", "running"])) == 8
    assert names(tag="<b>hostile</b>") == ["e"]
    assert names(suite="demo") == ["suite-run"]
    assert names(q="GOING") == ["still-going"]
    assert names(q="nothing like it") == []


def test_runs_with_asked_columns_return_only_those(client: TestClient) -> None:
    page = ok(
        client.get(
            "/api/runs",
            params={"experiment": "e", "columns": ["params.opt", "eval.bench.accuracy"]},
        )
    )

    assert page["columns"] == ["params.opt", "eval.bench.accuracy"]
    for row in page["runs"]:
        assert set(row["values"]) == {"params.opt", "eval.bench.accuracy"}
        assert row["values"]["params.opt"] == "adam"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"where": "params.lr <<< 1"}, ["where=", "params.lr <<< 1"]),
        ({"sort": "los"}, ["'los'", "did you mean 'loss'"]),
        ({"sort": "a b"}, ["sort by 'a b'"]),
        ({"experiment": "ee"}, ["No experiment 'ee'", "did you mean 'e'"]),
        ({"status": "finished"}, ["'finished'"]),
        ({"where": "params.lrr<1"}, ["params.lrr"]),
        ({"limit": 501}, ["limit="]),
        ({"limit": 0}, ["limit="]),
        ({"offset": -1}, ["offset="]),
        ({"desc": "sideways"}, ["desc="]),
        ({"columns": "lr"}, ["columns='lr'", "params.<key>"]),
        ({"columns": [f"params.k{i}" for i in range(201)]}, ["at most 200"]),
    ],
)
def test_runs_refuse_bad_parameters_with_one_sentence(
    client: TestClient, params: dict[str, Any], words: list[str]
) -> None:
    refused(client.get("/api/runs", params=params), 422, *words)


# --------------------------------------------------------------------------- facets, columns
def test_facets_count_experiments_statuses_and_name_suites_and_tags(client: TestClient) -> None:
    facets = ok(client.get("/api/facets"))

    assert facets["experiments"] == [
        {"name": "e", "runs": 6},
        {"name": "live", "runs": 1},
        {"name": "other", "runs": 1},
    ]
    assert facets["statuses"] == {"completed": 7, "running": 1}
    assert facets["suites"] == ["demo"]
    assert facets["tags"] == ["<b>hostile</b>", "suite:demo"]


def test_columns_list_params_metrics_and_evaluations_searchable(client: TestClient) -> None:
    cols = ok(client.get("/api/columns", params={"experiment": "e"}))

    assert sorted(cols["params"]) == ["params.lr", "params.opt", "params.seed"]
    assert sorted(cols["metrics"]) == ["metrics.acc", "metrics.loss"]
    assert cols["evals"] == ["eval.bench.accuracy"]
    assert (cols["total_params"], cols["total_metrics"]) == (3, 2)
    found = ok(client.get("/api/columns", params={"q": "LO", "limit": 1}))
    assert found["metrics"] == ["metrics.loss"] and found["total_metrics"] == 1
    refused(client.get("/api/columns", params={"experiment": "nope"}), 422, "'nope'")
    refused(client.get("/api/columns", params={"limit": 201}), 422, "limit=")


def test_a_run_with_10000_metric_keys_costs_a_capped_column_list(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("wide", {"a": 1}, root=root, **COMMON) as run:
        run_id = run.id
    with trialbook.open_store(root) as store:
        keys = {f"k{i:05d}": ([1], [float(i)], [1.0]) for i in range(10_000)}
        store.log_metric_columns(run_id, keys)
    with TestClient(create_app(root), base_url=BASE) as c:
        cols = ok(c.get("/api/columns", params={"experiment": "wide"}))
        page = ok(c.get("/api/runs"))
        searched = ok(c.get("/api/columns", params={"q": "k0999"}))

    assert len(cols["metrics"]) == 200 and cols["total_metrics"] == 10_000
    assert len([c for c in page["columns"] if c.startswith("metrics.")]) == 8
    assert len(page["runs"][0]["values"]) <= 16
    assert searched["total_metrics"] == 10 and len(searched["metrics"]) == 10


# --------------------------------------------------------------------------- groups
def test_groups_give_n_mean_and_interval_per_seed_group(client: TestClient) -> None:
    body = ok(client.get("/api/groups", params={"experiment": "e", "sort": "loss"}))

    assert body["total"] == 2 and body["metrics"] == ["metrics.loss"]
    best = body["groups"][0]
    assert best["n"] == 3 and best["seeds"] == [1, 2, 3] and len(best["run_ids"]) == 3
    assert best["params"]["lr"] == 0.01
    stat = best["metrics"]["metrics.loss"]
    assert stat["mean"] == pytest.approx(0.22)
    assert stat["ci_low"] < stat["mean"] < stat["ci_high"]
    assert stat["n"] == 3
    assert best["ref"].startswith("group:")
    named = ok(client.get("/api/groups", params={"experiment": "e", "metric": ["acc"]}))
    assert named["metrics"] == ["metrics.acc"]
    page = ok(client.get("/api/groups", params={"experiment": "e", "limit": 1, "offset": 1}))
    assert page["total"] == 2 and len(page["groups"]) == 1


def test_groups_refuse_an_unknown_metric_and_bad_paging(client: TestClient) -> None:
    refused(client.get("/api/groups", params={"metric": "accc"}), 422, "'accc'")
    refused(client.get("/api/groups", params={"limit": 1000}), 422, "limit=")
    refused(client.get("/api/groups", params={"where": "loss<"}), 422, "where=")


# --------------------------------------------------------------------------- leaderboard
def test_leaderboard_ranks_groups_with_intervals_and_ties(client: TestClient) -> None:
    board = ok(client.get("/api/leaderboard", params={"benchmark": "bench", "by": "group"}))

    assert board["benchmark"] == "bench" and board["metric"] == "accuracy"
    assert board["benchmarks"] == ["bench"] and board["metrics"] == ["accuracy"]
    first = board["rows"][0]
    assert first["rank"] == 1 and first["n"] == 3 and first["status"] == "leader"
    assert first["value"] == pytest.approx(0.78)
    assert first["ci_low"] < first["value"] < first["ci_high"]
    assert first["tied_with_leader"] is True
    assert board["rows"][1]["tied_with_leader"] is False
    only = ok(client.get("/api/leaderboard"))
    assert only["benchmark"] == "bench" and len(only["rows"]) == 6


def test_leaderboard_refuses_an_unknown_benchmark_or_grouping(client: TestClient) -> None:
    refused(client.get("/api/leaderboard", params={"benchmark": "bnch"}), 422, "'bnch'")
    refused(client.get("/api/leaderboard", params={"by": "seed"}), 422, "by=")


def test_leaderboard_without_a_choice_among_none_says_so(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("e", {"a": 1}, root=root, **COMMON) as run:
        run.log({"loss": 1.0})
    with TestClient(create_app(root), base_url=BASE) as c:
        board = ok(c.get("/api/leaderboard"))
        by_loss = ok(c.get("/api/leaderboard", params={"metric": "loss"}))

    assert board["rows"] == [] and board["benchmarks"] == [] and "logged metric" in board["note"]
    assert by_loss["metric"] == "loss" and len(by_loss["rows"]) == 1


# --------------------------------------------------------------------------- changes
def test_changes_report_runs_that_started_beat_or_ended_after_the_cursor(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("e", {"a": 1}, root=root, **COMMON):
        pass
    with trialbook.open_store(root) as store, TestClient(create_app(root), base_url=BASE) as c:
        cursor = ok(c.get("/api/runs"))["cursor"]
        assert ok(c.get("/api/changes", params={"cursor": cursor}))["runs"] == []

        later = (store.last_change() or 0) + 10
        store.create_run(new_run("20300101_000000_aaaaaa", experiment="e", started_at=later))
        first = ok(c.get("/api/changes", params={"cursor": cursor}))
        assert [r["id"] for r in first["runs"]] == ["20300101_000000_aaaaaa"]
        assert first["runs"][0]["status"] == "running" and "values" not in first["runs"][0]
        assert ok(c.get("/api/changes", params={"cursor": first["cursor"]}))["runs"] == []

        store.update_run("20300101_000000_aaaaaa", heartbeat_at=later + 1)
        beat = ok(c.get("/api/changes", params={"cursor": first["cursor"]}))
        assert [r["heartbeat_at"] for r in beat["runs"]] == [later + 1]

        # Marked crashed with its end at its (older) last heartbeat: still reported once.
        store.update_run("20300101_000000_aaaaaa", status="crashed", ended_at=later + 1)
        ended = ok(c.get("/api/changes", params={"cursor": beat["cursor"]}))
        assert [r["status"] for r in ended["runs"]] == ["crashed"]
        assert ok(c.get("/api/changes", params={"cursor": ended["cursor"]}))["runs"] == []


def test_changes_without_a_cursor_give_one_and_a_bad_cursor_is_a_422(
    client: TestClient,
) -> None:
    fresh = ok(client.get("/api/changes"))
    assert fresh["runs"] == [] and fresh["cursor"]
    for bad in ("nonsense", "eyJ2IjoyfQ", "e30"):
        refused(client.get("/api/changes", params={"cursor": bad}), 422, "cursor=")


def test_changes_in_an_empty_workspace_see_the_first_run(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    trialbook.open_store(root, create=True).close()
    with trialbook.open_store(root) as store, TestClient(create_app(root), base_url=BASE) as c:
        cursor = ok(c.get("/api/changes"))["cursor"]
        store.create_run(new_run("20300101_000000_bbbbbb", experiment="e", started_at=time.time()))
        assert len(ok(c.get("/api/changes", params={"cursor": cursor}))["runs"]) == 1


# --------------------------------------------------------------------------- writes
def _writable_client(root: Path) -> TestClient:
    return TestClient(create_app(root, settings=DashboardSettings(writable=True)), base_url=BASE)


def test_writes_on_a_read_only_dashboard_are_405(client: TestClient) -> None:
    run_id = ok(client.get("/api/runs"))["runs"][0]["id"]
    refused(client.post(f"/api/runs/{run_id}/tags", json={"add": ["x"]}), 405, "read-only")
    refused(client.post(f"/api/runs/{run_id}/notes", json={"notes": "x"}), 405, "read-only")


def test_writes_need_the_origin_and_the_csrf_cookie_echoed(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("e", {"a": 1}, root=root, tags=["old"], **COMMON) as run:
        run_id = run.id
    with _writable_client(root) as c:
        c.get("/api/facets")
        token = c.cookies["trialbook_csrf"]
        good = {"Origin": BASE, "X-CSRF-Token": token}
        url = f"/api/runs/{run_id}/tags"

        refused(c.post(url, json={"add": ["x"]}), 403, "Origin")
        refused(c.post(url, json={"add": ["x"]}, headers={"X-CSRF-Token": token}), 403)
        refused(
            c.post(url, json={"add": ["x"]}, headers={**good, "Origin": "http://evil.example"}),
            403,
            "evil.example",
        )
        refused(c.post(url, json={"add": ["x"]}, headers={"Origin": BASE}), 403, "x-csrf-token")
        refused(c.post(url, json={"add": ["x"]}, headers={**good, "X-CSRF-Token": "forged"}), 403)

        written = ok(
            c.post(url, json={"add": ["new", "<i>x</i>"], "remove": ["old"]}, headers=good)
        )
        assert written["tags"] == ["new", "<i>x</i>"]
        notes = ok(c.post(f"/api/runs/{run_id}/notes", json={"notes": "seen"}, headers=good))
        assert notes["notes"] == "seen"
        refused(c.post("/api/runs/nothing-here/tags", json={"add": ["x"]}, headers=good), 404)
        refused(c.post(url, json={"add": [""]}, headers=good), 422, "non-empty")
        refused(c.post(url, json={"add": "x"}, headers=good), 422)
    with trialbook.open_store(root) as store:
        stored = store.get_run(run_id)
    assert (stored.tags, stored.notes) == (("new", "<i>x</i>"), "seen")


# --------------------------------------------------------------------------- a big workspace
def test_10000_runs_are_counted_and_paged_in_the_database(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("seed", {"a": 1}, root=root, **COMMON):
        pass
    with trialbook.open_store(root) as store:
        for i in range(10_000):
            rid = f"20260101_000000_{i:06d}"
            store.create_run(
                new_run(rid, experiment="big", config={"lr": i % 7}, started_at=1.7e9 + i)
            )
            store.log_metric_columns(rid, {"loss": ([1], [(i * 7919) % 10_000 / 1e4], [1.7e9])})
    with TestClient(create_app(root), base_url=BASE) as c:
        first = ok(c.get("/api/runs", params={"experiment": "big", "sort": "loss"}))
        last = ok(c.get("/api/runs", params={"experiment": "big", "sort": "loss", "offset": 9_950}))

    assert first["total"] == 10_000 and len(first["runs"]) == 100
    losses = [r["values"]["metrics.loss"] for r in first["runs"]]
    assert losses == sorted(losses) and losses[0] == 0.0
    assert len(last["runs"]) == 50 and last["runs"][-1]["values"]["metrics.loss"] == 0.9999
    assert first["columns"] == ["params.lr", "metrics.loss"]


HOSTILE = [
    "<script>window.__pwned=1</script>",
    "%_\\",
    "' OR 1=1 --",
    "params.x=\u0000",
    "min(",
    "é" * 300,
    "metrics.",
    "*?",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_parameters_are_answered_without_a_500(client: TestClient, text: str) -> None:
    for path, params in [
        ("/api/runs", {"where": text}),
        ("/api/runs", {"sort": text}),
        ("/api/runs", {"q": text[:200], "tag": text, "experiment": text}),
        ("/api/runs", {"suite": text}),
        ("/api/columns", {"q": text[:200], "experiment": text}),
        ("/api/groups", {"metric": text, "where": text}),
        ("/api/leaderboard", {"benchmark": text, "metric": text}),
        ("/api/leaderboard", {"metric": text}),
        ("/api/changes", {"cursor": text}),
    ]:
        response = client.get(path, params=params)
        assert response.status_code in (200, 404, 422), (path, params, response.text)
        if response.status_code != 200:
            detail = response.json()["detail"]
            assert isinstance(detail, str) and "Traceback" not in detail


def test_the_openapi_schema_types_every_runs_endpoint(client: TestClient) -> None:
    schema = ok(client.get("/api/openapi.json"))

    expected = {
        "/api/runs": "RunsPage",
        "/api/facets": "Facets",
        "/api/columns": "Columns",
        "/api/groups": "Groups",
        "/api/leaderboard": "Leaderboard",
        "/api/changes": "Changes",
    }
    for path, model in expected.items():
        response = schema["paths"][path]["get"]["responses"]["200"]
        assert response["content"]["application/json"]["schema"]["$ref"].endswith(f"/{model}")
    assert "post" in schema["paths"]["/api/runs/{ref}/tags"]
    assert set(schema["components"]["schemas"]["RunRow"]["properties"]) >= {
        "id",
        "short_id",
        "status",
        "values",
        "heartbeat_at",
    }


def test_a_groups_metric_counts_only_the_seeds_that_logged_it(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    for seed in (1, 2, 3):
        with trialbook.start_run("e", {"lr": 0.1}, seed=seed, root=root, **COMMON) as run:
            run.log({"loss": seed / 10, **({"extra": 1.0} if seed < 3 else {})})
    with TestClient(create_app(root), base_url=BASE) as c:
        body = ok(c.get("/api/groups", params={"metric": ["loss", "extra"]}))

    group = body["groups"][0]
    assert group["n"] == 3
    assert group["metrics"]["metrics.loss"]["n"] == 3
    assert group["metrics"]["metrics.extra"]["n"] == 2
    assert group["metrics"]["metrics.extra"]["std"] == 0.0
