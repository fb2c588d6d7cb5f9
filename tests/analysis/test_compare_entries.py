"""What the dashboard's compare shows, from the library: changed_samples (regressions and
fixes of two runs), metric_intervals (mean and t interval per entry) and differing_config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

import trialbook
from trialbook.analysis import (
    Entry,
    changed_samples,
    differing_config,
    metric_intervals,
    resolve_refs,
)
from trialbook.errors import RunNotFoundError
from trialbook.store import Store

COMMON: dict[str, Any] = {"system_metrics": False, "capture_packages": False}


def _samples(correct: list[bool | None]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"q{i}",
            "prediction": f"p{i}",
            "reference": f"r{i}",
            "correct": c,
            "input": f"in {i}",
        }
        for i, c in enumerate(correct)
    ]


@pytest.fixture()
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, dict[str, Any]]]:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    ids: dict[str, Any] = {}
    a_correct = [True, True, False, False, None, True, False, True, True, True, True]
    b_correct = [True, False, True, False, True, None, True, True, True, True, False]
    for name, correct, lr in (("a", a_correct, 0.1), ("b", b_correct, 0.2)):
        with trialbook.start_run(
            "x", {"lr": lr, "opt": {"name": "adam"}}, name=name, root=root, **COMMON
        ) as run:
            run.log({"loss": lr, "system/cpu_percent": 5.0}, step=0)
            run.log_evaluation("qa", {"metrics": {"accuracy": 0.5}, "samples": _samples(correct)})
            ids[name] = run.id
    ids["g"] = []
    for seed, loss in ((1, 1.0), (2, 2.0), (3, 4.0)):
        with trialbook.start_run("y", {"lr": 0.3}, seed=seed, name="g", root=root, **COMMON) as run:
            run.log({"loss": loss}, step=0)
            ids["g"].append(run.id)
    with trialbook.open_store(root) as db:
        yield db, ids


def test_changed_samples_are_regressions_and_fixes_in_natural_order(
    ws: tuple[Store, dict[str, Any]],
) -> None:
    db, ids = ws
    got = changed_samples(db, ids["a"], ids["b"])
    assert got is not None and got.benchmark == "qa" and got.shared == 11
    assert [c.id for c in got.regressions] == ["q1", "q10"]
    assert [c.id for c in got.fixes] == ["q2", "q6"]
    first = got.regressions[0]
    assert (first.input, first.reference, first.a, first.b) == ("in 1", "r1", "p1", "p1")
    back = changed_samples(db, ids["b"], ids["a"], "qa")
    assert back is not None
    assert [c.id for c in back.regressions] == ["q2", "q6"]


def test_changed_samples_without_a_common_benchmark(ws: tuple[Store, dict[str, Any]]) -> None:
    db, ids = ws
    assert changed_samples(db, ids["a"], ids["g"][0]) is None
    with pytest.raises(RunNotFoundError, match="qa"):
        changed_samples(db, ids["a"], ids["g"][0], "qa")


def test_metric_intervals_give_mean_and_t_interval_per_entry(
    ws: tuple[Store, dict[str, Any]],
) -> None:
    db, ids = ws
    entries = resolve_refs([ids["a"], "g"], db)
    assert [e.kind for e in entries] == ["run", "group"]
    rows = {m.metric: m.values for m in metric_intervals(entries, db)}
    assert list(rows) == ["eval.qa.accuracy", "metrics.loss"]
    run_acc, group_acc = rows["eval.qa.accuracy"]
    assert run_acc is not None and run_acc.mean == 0.5 and run_acc.ci_low is None
    assert group_acc is None
    run_loss, group_loss = rows["metrics.loss"]
    assert run_loss is not None and run_loss.n == 1
    assert group_loss is not None and group_loss.n == 3
    low, high = stats.t.interval(0.95, 2, loc=7 / 3, scale=stats.sem([1.0, 2.0, 4.0]))
    assert group_loss.mean == pytest.approx(7 / 3)
    assert (group_loss.ci_low, group_loss.ci_high) == pytest.approx((low, high))


def test_differing_config_keeps_only_keys_that_differ(ws: tuple[Store, dict[str, Any]]) -> None:
    db, ids = ws
    runs = [db.get_run(ids["a"]), db.get_run(ids["b"])]
    entries = [Entry(r.id, "run", (r,), r.group_key) for r in runs]
    assert differing_config(entries, db) == {"lr": (0.1, 0.2)}
    group = resolve_refs(["g"], db)[0]
    diff = differing_config([entries[0], group], db)
    assert diff["lr"] == (0.1, 0.3)
    assert diff["opt.name"] == ("adam", None)
    assert "seed" not in diff
