"""The compare page with many runs in a real Chromium: one curve per run, drawn without a
legend (the entry chips carry the colours) and hovering on the nearest curve."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import trialbook

RUNS = 25


def test_many_runs_compared_draw_a_curve_each_without_a_legend(
    tmp_path: Path, serve: Callable[..., Any], tab: Any
) -> None:
    root = tmp_path / "experiments"
    ids = []
    for i in range(RUNS):
        with trialbook.start_run(
            "many",
            {"lr": 0.01 * (i + 1)},
            root=root,
            system_metrics=False,
            capture_packages=False,
        ) as run:
            for step in range(40):
                run.log({"loss": 1.0 / (step + 1 + i)}, step=step)
        ids.append(run.id)
    live = serve(root)

    page = tab.open(live.url + "/compare?" + "&".join(f"runs={i}" for i in ids) + "&key=loss")
    page.wait_for_function(
        "n => document.querySelectorAll('#compare-chart .scatterlayer .trace').length >= n",
        arg=RUNS,
    )

    assert page.get_attribute("#compare-chart", "data-curves") == str(RUNS)
    assert page.query_selector("#compare-chart .legend") is None
    assert page.evaluate("document.getElementById('compare-chart').layout.hovermode") == "closest"
    assert page.evaluate("performance.getEntriesByName('compare:draw').length") == 1
    assert tab.errors == [] and tab.dialogs == []
