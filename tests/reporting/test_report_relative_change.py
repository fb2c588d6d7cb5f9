"""Issue 10 item 9 in the HTML report: the comparison's change column shows the relative change
from the one owner (relative_change), "n/a" where a percentage would mislead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import trialbook
from trialbook.reporting import render_report


def test_change_column_is_n_a_for_a_loss_near_zero_and_a_negative_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    logged = {
        "base": {"loss": 0.0001, "log_likelihood": -2.0, "f1": 0.5},
        "new": {"loss": 0.02, "log_likelihood": -1.0, "f1": 0.6},
    }
    for name, metrics in logged.items():
        with trialbook.start_run(name, {"model": name}, name=name, **common) as run:
            run.log(metrics, step=0)
    with trialbook.open_store(root) as db:
        html = render_report(["base", "new"], db, images=False)
    table = html.split('id="metrics"')[1].split("</section>")[0]
    cells = {
        key: re.findall(r'<td class="num">([^<]*)</td>', row)
        for key, row in re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", table, re.S)
    }
    # Cells: base value, new value, change.
    assert cells["metrics.loss"][2] == "+0.0199 (n/a)"  # not (+19900.0%)
    assert cells["metrics.log_likelihood"][2] == "+1 (n/a)"  # not (+50.0%)
    assert cells["metrics.f1"][2] == "+0.1 (+20.0%)"
