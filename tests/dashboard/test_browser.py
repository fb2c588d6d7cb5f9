"""The dashboard in a real headless Chromium (Playwright) against a real uvicorn server over
workspaces made with ``trialbook.start_run``: filter, open a run, its curve, a running run's
curve growing, two seed groups compared, the per-sample table, and the hostile corpus rendered
with no script running. Each page's 1400-px screenshot goes to build/screenshots/."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

import trialbook

LOSS_POINTS = 60  # conftest.build_workspace logs this many loss points per run


def _points(page: Any, key: str) -> int:
    """How many points the line of ``key``'s chart holds (plotly's data, not the DOM)."""
    return int(
        page.evaluate(
            """key => {
            const node = [...document.querySelectorAll('.chart')].find(n => n.dataset.key === key);
            if (!node || !node.data) return -1;
            const line = node.data.find(t => t.meta === 'line');
            return line ? line.x.length : -1;
        }""",
            key,
        )
    )


def _wait_points(page: Any, key: str, predicate: Any, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    n = _points(page, key)
    while not predicate(n):
        if time.monotonic() > deadline:
            raise AssertionError(f"the {key!r} chart has {n} points")
        page.wait_for_timeout(100)
        n = _points(page, key)
    return n


def _until(page: Any, expression: str, timeout: float = 20.0) -> None:
    """Wait until the JavaScript ``expression`` is true. Polled with ``page.evaluate``:
    Playwright's own wait_for_function compiles its predicate with eval, which the
    dashboard's Content-Security-Policy refuses (as it should)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def _rows(page: Any, table: str) -> list[str]:
    return [r.inner_text() for r in page.query_selector_all(f"#{table} tbody tr")]


def _group_ref(root: Path, run_id: str) -> str:
    with trialbook.open_store(root) as db:
        return "group:" + str(db.get_run(run_id).group_key)[:12]


def test_the_runs_page_lists_runs_filters_with_the_ls_grammar_and_keeps_it_in_the_url(
    live: Any, workspace: Any, tab: Any
) -> None:
    page = tab.open(live.url + "/")
    page.wait_for_selector("#runs-table tbody tr")
    assert len(_rows(page, "runs-table")) == 6
    tab.screenshot("runs")
    page.fill("#where", "params.lr=0.01")
    page.press("#where", "Enter")
    _until(page, "document.querySelectorAll('#runs-table tbody tr').length === 3")
    names = page.eval_on_selector_all("#runs-table td.name a", "a => a.map(x => x.textContent)")
    assert sorted(names) == ["tuned-s1", "tuned-s2", "tuned-s3"]
    assert parse_qs(urlparse(page.url).query)["where"] == ["params.lr=0.01"]
    # A pasted URL restores the filter.
    page = tab.open(page.url)
    _until(page, "document.querySelectorAll('#runs-table tbody tr').length === 3")
    assert page.input_value("#where") == "params.lr=0.01"
    assert tab.errors == [] and tab.dialogs == []


def test_a_bad_filter_shows_the_servers_sentence(live: Any, tab: Any) -> None:
    page = tab.open(live.url + "/?where=lr%3E%3E1")
    message = page.wait_for_selector("#message .error")
    assert "where=" in message.inner_text()
    assert tab.errors == []


def test_clicking_a_metric_header_sorts_by_it_in_the_url(live: Any, tab: Any) -> None:
    page = tab.open(live.url + "/?columns=metrics.loss&columns=params.lr")
    page.click("th[data-key='metrics.loss']")
    _until(page, "location.search.includes('sort=metrics.loss')")
    page.wait_for_selector("th.sorted[data-key='metrics.loss']")
    column = page.eval_on_selector_all(
        "#runs-table tbody tr",
        "rows => rows.map(r => Number(r.children[7].textContent))",
    )
    assert len(column) == 6
    assert column == sorted(column), "loss sorts best (lowest) first"


def test_a_run_opened_from_the_table_shows_its_curve_with_every_point(
    live: Any, workspace: Any, tab: Any
) -> None:
    page = tab.open(live.url + "/")
    page.click("#runs-table a:text-is('baseline-s1')")
    page.wait_for_url(f"**/runs/{workspace.ids['baseline-s1']}**")
    page.wait_for_selector("main[data-loaded=true]")
    assert page.inner_text("#run-name").startswith("baseline-s1")
    assert _wait_points(page, "loss", lambda n: n >= 0) == LOSS_POINTS
    assert _wait_points(page, "acc", lambda n: n >= 0) == LOSS_POINTS
    # System metrics are drawn apart from the training curves.
    assert _wait_points(page, "system/cpu_percent", lambda n: n >= 0) == LOSS_POINTS // 10
    assert page.query_selector("#system-charts .chart[data-key='system/cpu_percent']")
    assert not page.query_selector("#charts .chart[data-key='system/cpu_percent']")
    assert "lr: 0.001" in page.inner_text("#config-yaml")
    # The image artifact is shown and downloadable; the data map is drawn.
    page.wait_for_selector("img.artifact")
    _until(page, "document.querySelector('img.artifact').naturalWidth === 96")
    page.wait_for_selector("#data-map .scatterlayer .point")
    # Hovering a point of the data map shows its example (the sample's input).
    page.hover("#data-map .scatterlayer .point >> nth=0", force=True)  # under the drag layer
    _until(page, "document.getElementById('data-map-example').textContent.includes('What is')")
    tab.screenshot("run")
    assert tab.errors == [] and tab.dialogs == []


def test_the_x_axis_log_scale_and_smoothing_are_kept_in_the_url(
    live: Any, workspace: Any, tab: Any
) -> None:
    page = tab.open(f"{live.url}/runs/{workspace.ids['tuned-s2']}?x=relative&log=true&smooth=0.5")
    _wait_points(page, "loss", lambda n: n == LOSS_POINTS)
    assert page.input_value("#x-axis") == "relative"
    assert page.is_checked("#log-y")
    layout_type = page.evaluate(
        "[...document.querySelectorAll('.chart')].find(n => n.dataset.key === 'loss')"
        ".layout.yaxis.type"
    )
    assert layout_type == "log"
    page.select_option("#x-axis", "step")
    _until(page, "!location.search.includes('x=')")


def test_the_per_sample_table_filters_wrong_answers_and_searches(
    live: Any, workspace: Any, tab: Any
) -> None:
    page = tab.open(f"{live.url}/runs/{workspace.ids['baseline-s2']}")
    page.wait_for_selector("#samples-table tbody tr")
    assert len(_rows(page, "samples-table")) == 10
    page.select_option("#sample-filter", "wrong")
    _until(page, "location.search.includes('filter=wrong')")
    _until(
        page,
        "[...document.querySelectorAll('#samples-table tbody tr')]"
        ".every(r => r.textContent.includes('wrong'))",
    )
    # baseline seed 2 got the first 5 of 10 right.
    assert len(_rows(page, "samples-table")) == 5
    page.select_option("#sample-filter", "all")
    _until(page, "document.querySelectorAll('#samples-table tbody tr').length === 10")
    page.fill("#sample-search", "What is 3 + 3?")
    page.press("#sample-search", "Enter")
    _until(page, "document.querySelectorAll('#samples-table tbody tr').length === 1")
    assert "What is 3 + 3?" in _rows(page, "samples-table")[0]


def test_two_seed_groups_compared_show_the_verdict_significance_prints(
    live: Any, workspace: Any, tab: Any
) -> None:
    page = tab.open(live.url + "/?view=groups")
    page.wait_for_selector("#groups-table tbody tr")
    assert len(_rows(page, "groups-table")) == 2
    tab.screenshot("runs-groups")
    for box in page.query_selector_all("#groups-table tbody input[type=checkbox]"):
        box.check()
    page.click("#compare")
    page.wait_for_url("**/compare?**")
    page.wait_for_selector("main[data-loaded=true]")
    verdict = page.wait_for_selector("#verdict").inner_text()
    baseline = _group_ref(workspace.root, workspace.ids["baseline-s1"])
    tuned = _group_ref(workspace.root, workspace.ids["tuned-s1"])
    groups = parse_qs(urlparse(page.url).query)["groups"]
    assert sorted(groups) == sorted([baseline, tuned])
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from trialbook.cli import main; sys.argv[0] = 'trialbook'; main()",
            "significance",
            *groups,
            "--root",
            str(workspace.root),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        check=True,
    ).stdout
    assert verdict.strip()
    assert " ".join(verdict.split()) in " ".join(printed.split())
    # The overlaid curves: each group as its mean with a band.
    page.wait_for_selector("#compare-chart .main-svg")
    assert page.get_attribute("#compare-chart", "data-curves") == "2"
    tab.screenshot("compare")
    assert tab.errors == [] and tab.dialogs == []


def test_two_runs_compared_list_the_samples_that_changed(
    live: Any, workspace: Any, tab: Any
) -> None:
    a, b = workspace.ids["baseline-s2"], workspace.ids["tuned-s2"]
    page = tab.open(f"{live.url}/compare?runs={a}&runs={b}")
    page.wait_for_selector("#fixes tbody tr")
    # baseline seed 2 right on q0-q4, tuned seed 2 right on q0-q7: q5-q7 are fixes.
    assert sorted(r.split("\t")[0].strip() for r in _rows(page, "fixes")) == ["q5", "q6", "q7"]
    assert "lr" in page.inner_text("#config-table")
    tab.screenshot("compare-runs")


def test_the_leaderboard_page_ranks_the_benchmark(live: Any, tab: Any) -> None:
    page = tab.open(live.url + "/leaderboard?benchmark=gsm8k")
    page.wait_for_selector("#leaderboard-table tbody tr")
    assert len(_rows(page, "leaderboard-table")) == 6
    assert page.input_value("#benchmark") == "gsm8k"
    tab.screenshot("leaderboard")
    page.select_option("#by", "group")
    _until(page, "document.querySelectorAll('#leaderboard-table tbody tr').length === 2")
    assert "by=group" in page.url


LIVE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import trialbook

    root, ready, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    with trialbook.start_run("live", {"lr": 0.1}, name="live-run", root=root,
                             system_metrics=False, capture_packages=False) as run:
        log = run.path / "stdout.log"
        step = 0
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.flush()
        ready.write_text(run.id)
        deadline = time.monotonic() + 120
        while not stop.exists() and time.monotonic() < deadline:
            step += 1
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            if Path(str(stop) + ".acc").exists():  # a metric that starts while watched
                run.log({"acc": step / 100}, step=step)
            with log.open("a") as f:
                f.write(f"step {step} done\\n")
            time.sleep(0.2)
    """
)


def test_a_running_runs_curve_and_log_grow_without_reloading_the_page(
    tmp_path: Path, serve: Any, tab: Any
) -> None:
    root = tmp_path / "experiments"
    script = tmp_path / "train.py"
    script.write_text(LIVE_SCRIPT, encoding="utf-8")
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    with trialbook.start_run(
        "live", {"lr": 0.0}, name="earlier", root=root, system_metrics=False, capture_packages=False
    ) as run:
        run.log({"loss": 1.0}, step=0)
    child = subprocess.Popen(
        [sys.executable, str(script), str(root), str(ready), str(stop)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the training process did not start"
            time.sleep(0.05)
        run_id = ready.read_text()
        server = serve(root)
        page = tab.open(f"{server.url}/runs/{run_id}")
        assert page.inner_text("#run-status") == "running"
        page.evaluate("window.__same_document = true")
        first = _wait_points(page, "loss", lambda n: n >= 5)
        _wait_points(page, "loss", lambda n: n >= first + 3)
        _until(page, "document.getElementById('log').textContent.includes('done')")
        assert page.query_selector("#metric-list input[value='acc']") is None
        Path(str(stop) + ".acc").write_text("log acc too")
        # A metric the run starts logging is listed and drawn without a reload.
        _until(page, "document.querySelector(\"#metric-list input[value='acc']\") !== null")
        _wait_points(page, "acc", lambda n: n >= 2)
        # ... and the chart already drawn narrows to its new column instead of overflowing.
        _until(page, "document.documentElement.scrollWidth <= window.innerWidth")
        tab.screenshot("run-live")
        # The runs page, open in a second tab, shows the run's status change live too.
        runs = page.context.new_page()
        runs.goto(server.url + "/")
        runs.wait_for_selector(f"#runs-table tr[data-id='{run_id}'] .status-running")
        runs.evaluate("window.__same_document = true")
        stop.write_text("stop")
        assert child.wait(timeout=60) == 0
        _until(page, "document.getElementById('run-status').textContent === 'completed'")
        runs.wait_for_selector(f"#runs-table tr[data-id='{run_id}'] .status-completed")
        assert runs.evaluate("window.__same_document") is True
        with trialbook.open_store(root) as db:
            total = len(db.metric_history(run_id, "loss").steps)
        _wait_points(page, "loss", lambda n: n == total)
        # The same document throughout: the page was never reloaded.
        assert page.evaluate("window.__same_document") is True
        assert tab.errors == []
    finally:
        stop.write_text("stop")
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)


HOSTILE = [
    "<img src=x onerror=window.__pwned=1>",
    "<script>window.__pwned=1</script>",
    "javascript:window.__pwned=1",
    '"><svg onload=window.__pwned=1>',
    "{{constructor.constructor('window.__pwned=1')()}}",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Runs whose names, tags, config values, metric names, sample text and tracebacks are
    the hostile corpus."""
    root = tmp_path_factory.mktemp("hostile") / "experiments"
    ids: dict[str, str] = {}
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    for i, payload in enumerate(HOSTILE):
        config = {"note": payload, "lr": 0.001 * (i + 1), payload[:12]: payload}
        run = trialbook.start_run(
            payload, config, seed=i, name=payload, tags=[payload], notes=payload, **common
        )
        with run:
            for step in range(3):
                run.log({"loss": 1.0 / (step + 1), f"m{i}{payload}": float(step)}, step=step)
            run.log_evaluation(
                "gsm8k",
                {
                    "metrics": {"accuracy": 0.5},
                    "samples": [
                        {
                            "id": payload,
                            "input": payload,
                            "prediction": payload,
                            "reference": "1",
                            "correct": False,
                        },
                        {
                            "id": f"ok{i}",
                            "input": "1+0",
                            "prediction": "1",
                            "reference": "1",
                            "correct": True,
                        },
                    ],
                },
            )
            if i == 0:
                from trialbook.cartography import DynamicsRecorder

                recorder = DynamicsRecorder(run)
                for epoch in range(2):
                    recorder.record(
                        epoch, [payload, f"ok{i}"], [0.2 + epoch / 5, 0.9], [False, True]
                    )
                recorder.save()
                run.finish("failed", error=f"Traceback (most recent call last):\n  {payload}\n")
        ids[payload] = run.id
    return root, ids


def test_tags_and_notes_are_edited_on_a_writable_dashboard_and_refused_on_a_read_only_one(
    tmp_path: Path, serve: Any, tab: Any
) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run(
        "edit",
        {"lr": 0.1},
        name="editable",
        tags=["old"],
        root=root,
        system_metrics=False,
        capture_packages=False,
    ) as run:
        run.log({"loss": 1.0}, step=0)
    read_only = serve(root)
    page = tab.open(f"{read_only.url}/runs/{run.id}")
    assert page.inner_text("#edit-box summary") == "Tags and notes (read-only)"
    page.click("#edit-box summary")
    assert "trialbook ui --writable" in page.inner_text("#read-only")
    assert page.query_selector("#notes") is None  # no form whose save would be refused
    writable = serve(root, writable=True)
    page = tab.open(f"{writable.url}/runs/{run.id}")
    page.click("#edit-box summary")
    page.fill("#tag-add", "keep, <b>bold</b>")
    page.fill("#notes", "lr too high <script>window.__pwned=1</script>")
    page.click("#save-edit")
    page.wait_for_selector("#edit-message >> text=Saved.")
    with trialbook.open_store(root) as db:
        stored = db.get_run(run.id)
    assert set(stored.tags) == {"old", "keep", "<b>bold</b>"}
    assert stored.notes == "lr too high <script>window.__pwned=1</script>"
    assert "lr too high <script>" in page.inner_text("#timings")
    page.click("#edit button[aria-label='remove tag'] >> nth=0")
    _until(page, "document.querySelectorAll('#edit .chip').length === 2")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert tab.errors == []


def test_with_a_token_the_url_printed_opens_the_pages_and_without_it_is_refused(
    workspace: Any, serve: Any, tab: Any
) -> None:
    server = serve(workspace.root, token="s3cret-token")
    response = tab.page.goto(server.url + "/")
    assert response is not None and response.status == 401
    page = tab.open(server.url + "/?token=s3cret-token")
    page.wait_for_selector("#runs-table tbody tr")
    assert "token" not in page.url
    assert len(_rows(page, "runs-table")) == 6
    page.click("#runs-table a:text-is('tuned-s1')")
    # The runs page being left is loaded too: wait for the run page first.
    page.wait_for_url("**/runs/**")
    _until(page, "document.querySelector('main').dataset.loaded === 'true'")
    assert _wait_points(page, "loss", lambda n: n >= 0) == LOSS_POINTS
    assert tab.errors == []


def test_the_hostile_corpus_renders_as_text_and_runs_no_script(
    hostile: tuple[Path, dict[str, str]], serve: Any, tab: Any
) -> None:
    root, ids = hostile
    server = serve(root)
    first, second = ids[HOSTILE[0]], ids[HOSTILE[1]]
    visits = [
        ("/", "#runs-table tbody tr"),
        ("/?view=groups", "#groups-table tbody tr"),
        (f"/runs/{first}", "#samples-table tbody tr"),
        (f"/runs/{second}?diff={first}", "#config-diff table"),
        (f"/compare?runs={first}&runs={second}", "#metrics-table"),
        ("/leaderboard?benchmark=gsm8k", "#leaderboard-table tbody tr"),
    ]
    for path, ready in visits:
        page = tab.open(server.url + path)
        page.wait_for_selector(ready)
        page.wait_for_timeout(300)  # let every fetch of the page land
        text = page.inner_text("main")
        shown = [p for p in HOSTILE if p in text]
        assert shown, f"{path}: the hostile text is shown literally"
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert (
            page.eval_on_selector_all(
                "main img[src='x'], main svg[onload], main script", "nodes => nodes.length"
            )
            == 0
        ), path
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        assert not [h for h in hrefs if h.lower().startswith("javascript:")], path
        if path == f"/runs/{first}":
            # The data map's hover label and example box show the hostile example as text.
            page.wait_for_selector("#data-map .scatterlayer .point")
            for point in range(2):
                page.hover(f"#data-map .scatterlayer .point >> nth={point}", force=True)
                page.wait_for_timeout(200)
                if HOSTILE[0] in page.inner_text("#data-map-example"):
                    break
            assert HOSTILE[0] in page.inner_text("#data-map-example")
            assert HOSTILE[0] in page.eval_on_selector("#data-map", "n => n.textContent")
            assert page.evaluate("typeof window.__pwned") == "undefined"
            tab.screenshot("hostile-run")
    assert tab.dialogs == []
    assert tab.errors == []
