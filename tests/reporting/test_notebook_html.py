"""Notebook display: runs, records, metric histories, seed groups, comparisons and tests
render as escaped HTML with inline SVG plots, and hostile text runs no script in a browser."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.analysis import compare, list_groups, significance
from trialbook.errors import TrialbookError
from trialbook.reporting import notebook_html
from trialbook.store import RunQuery

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}
HOSTILE = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=1</script>"


@pytest.fixture(autouse=True)
def _outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _polylines(svg: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, p.split(","))) for p in pts.split()]  # type: ignore[misc]
        for pts in re.findall(r'<polyline[^>]*points="([^"]*)"', svg)
    ]


@pytest.fixture
def groups(tmp_path: Path) -> Path:
    """Two seed groups of three runs: ``base`` (acc ~0.5) and ``better`` (acc ~0.8)."""
    root = tmp_path / "ws"
    for name, lr, acc in (("base", 0.1, 0.5), ("better", 0.01, 0.8)):
        for seed in (1, 2, 3):
            config = {"lr": lr, "note": SCRIPT}
            with trialbook.start_run("exp", config, seed=seed, name=name, root=root, **FAST) as run:
                for step in range(5):
                    run.log({"acc": acc + 0.01 * seed, "loss": 1.0 / (step + 1)}, step=step)
    return root


def test_run_record_escapes_every_user_string(tmp_path: Path) -> None:
    with trialbook.start_run(
        HOSTILE, {"model": {"name": SCRIPT}}, name=HOSTILE, notes=SCRIPT, tags=[HOSTILE],
        root=tmp_path, **FAST,
    ) as run:  # fmt: skip
        pass
    with trialbook.open_store(tmp_path) as store:
        record = store.get_run(run.id)
    page = record._repr_html_()
    assert "<img" not in page and "<script" not in page
    assert html.escape(HOSTILE) in page and html.escape(SCRIPT) in page
    assert run.id in page and "completed" in page and "model.name" in page


def test_run_shows_metrics_and_a_curve_each_while_running_and_after(tmp_path: Path) -> None:
    run = trialbook.start_run("exp", {"lr": 0.1}, root=tmp_path, **FAST)
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 50}, step=step)
    run.flush()
    running = run._repr_html_()
    assert "running" in running
    assert len(_polylines(running)) == 2
    run.finish()
    done = run._repr_html_()
    assert "completed" in done and ">loss<" in done and ">acc<" in done
    assert len(_polylines(done)) == 2
    assert all(len(line) == 50 for line in _polylines(done))


def test_metric_history_plot_keeps_a_single_spike_among_many_points(tmp_path: Path) -> None:
    with trialbook.start_run("exp", {}, root=tmp_path, **FAST) as run:
        values = [1.0] * 20_000
        values[12_345] = 50.0
        for step, value in enumerate(values):
            run.log({"loss": value}, step=step)
    with trialbook.open_store(tmp_path) as store:
        history = store.metric_history(run.id, "loss")
    page = history._repr_html_()
    assert "20,000" in page and "0 to 19,999" in page
    (line,) = _polylines(page)
    assert len(line) < 2000  # drawn from the pixel columns, not every point
    top = min(y for _, y in line)
    assert top == pytest.approx(8.0)  # the spike reaches the top of the plot
    assert ">50<" in page  # and sets the y range


def test_metric_history_nan_breaks_the_line(tmp_path: Path) -> None:
    with trialbook.start_run("exp", {}, root=tmp_path, **FAST) as run:
        for step, value in enumerate([1.0, 2.0, math.nan, 3.0, 4.0]):
            run.log({"loss": value}, step=step)
    with trialbook.open_store(tmp_path) as store:
        page = store.metric_history(run.id, "loss")._repr_html_()
    assert [len(line) for line in _polylines(page)] == [2, 2]


def test_group_listing_shows_n_mean_and_an_interval_plot(groups: Path) -> None:
    with trialbook.open_store(groups) as store:
        listing = list_groups(store, RunQuery.parse(sort="acc", statuses=("completed",)))
    page = listing._repr_html_()
    assert page.count("<circle") == 2  # one mean per group
    assert page.count("<line") == 2  # one interval per group
    assert "2 seed groups" in page and "1,2,3" in page
    assert "<script" not in page


def test_comparison_shows_differences_metrics_and_the_verdict(groups: Path) -> None:
    result = compare(["base", "better"], root=groups)
    page = result._repr_html_()
    assert "config differences" in page and ">lr<" in page
    for verdict in result.verdicts.values():
        assert html.escape(verdict.text) in page
    assert "<b>" in page  # the best value marked


def test_significance_results_show_the_cli_sentence(groups: Path) -> None:
    results = significance(["base", "better"], metric="acc", root=groups)
    assert isinstance(results, list) and len(results) == 1
    page = results._repr_html_()  # type: ignore[attr-defined]
    assert html.escape(results[0].verdict) in page
    assert page == notebook_html(list(results))
    assert results[0]._repr_html_() in page


def test_notebook_html_refuses_what_it_cannot_show() -> None:
    with pytest.raises(TrialbookError) as info:
        notebook_html(42)
    assert info.value.parameter == "obj"


def test_hostile_text_runs_no_script_in_a_browser(tmp_path: Path, browser: Any) -> None:
    with trialbook.start_run(
        HOSTILE, {"x": SCRIPT, "y": 'javascript:alert(1)"><svg onload=window.__pwned=1>'},
        name=SCRIPT, root=tmp_path, **FAST,
    ) as run:  # fmt: skip
        run.log({HOSTILE: 1.0, "loss": 0.5}, step=0)
        run.log({HOSTILE: 2.0, "loss": 0.25}, step=1)
    with trialbook.open_store(tmp_path) as store:
        record = store.get_run(run.id)
        page = record._repr_html_() + run._repr_html_()
        page += store.metric_history(run.id, HOSTILE)._repr_html_()
    context = browser.new_context()
    try:
        tab = context.new_page()
        dialogs: list[str] = []
        tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        tab.set_content(f"<html><body>{page}</body></html>")
        assert tab.evaluate("window.__pwned") is None
        assert dialogs == []
        text = tab.inner_text("body")
    finally:
        context.close()
    assert SCRIPT in text and HOSTILE in text


def test_the_documented_example_prints_what_it_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"
    text = doc.read_text(encoding="utf-8")
    section = text[text.index("## Curves and notebook display") : text.index("## Leaderboard")]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    exec(compile(block, str(doc), "exec"), {})
    shown = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    assert capsys.readouterr().out.splitlines() == shown
