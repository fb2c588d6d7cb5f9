"""Hostile input to the Python API: each call raises the right TrialbookError subclass, with a
message naming the bad value, and leaves the workspace (files and database rows) as it was."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hostile_helpers import Case, assert_unchanged

import trialbook
from trialbook.errors import (
    AmbiguousRunError,
    ConfigError,
    MetricValueError,
    RunNotFoundError,
    TrialbookError,
    WorkspaceError,
)


@dataclass(frozen=True)
class ApiCase:
    """``call(world)`` must raise ``error`` naming ``names``; nothing on disk changes."""

    id: str
    call: Callable[[Any], object]
    error: type[TrialbookError]
    names: tuple[str, ...] = ()
    xfail: str | None = None
    env: tuple[tuple[str, str], ...] = ()


def api_params(cases: list[ApiCase]) -> list[object]:
    assert len({x.id for x in cases}) == len(cases), "duplicate case ids"
    return [
        pytest.param(
            x, id=x.id, marks=[pytest.mark.xfail(strict=True, reason=x.xfail)] if x.xfail else []
        )
        for x in cases
    ]


def check_raises(x: ApiCase, call: Callable[[], object]) -> None:
    with pytest.raises(TrialbookError) as info:
        call()
    assert isinstance(info.value, x.error), (type(info.value), info.value)
    message = str(info.value)
    for name in x.names:
        assert name in message, (name, message)


def deep(levels: int) -> dict[str, Any]:
    config: dict[str, Any] = {}
    inner = config
    for _ in range(levels):
        inner["k"] = {}
        inner = inner["k"]
    return config


# -- start_run ----------------------------------------------------------------------------------


def start(case: Case, **kwargs: Any) -> None:
    options: dict[str, Any] = {"root": case.ws, "system_metrics": False, "capture_packages": False}
    options.update(kwargs)
    experiment = options.pop("experiment", "hostile")
    with trialbook.start_run(experiment, options.pop("config", {"lr": 0.1}), **options):
        pass


START = [
    ApiCase("config-int-key", lambda w: start(w, config={1: "a"}), ConfigError, ("1",)),
    ApiCase("config-2000-deep", lambda w: start(w, config=deep(2000)), ConfigError),
    ApiCase("config-not-a-mapping", lambda w: start(w, config=[1, 2]), ConfigError),
    ApiCase("config-text", lambda w: start(w, config="lr=0.1"), ConfigError),
    ApiCase("config-object-value", lambda w: start(w, config={"f": object()}), ConfigError, ("f",)),
    ApiCase("tags-a-string", lambda w: start(w, tags="abc"), ConfigError, ("abc",)),
    ApiCase("tags-not-strings", lambda w: start(w, tags=[1, None]), ConfigError),
    ApiCase("flush-interval-negative", lambda w: start(w, flush_interval=-1), ConfigError, ("-1",)),
    ApiCase(
        "flush-interval-nan", lambda w: start(w, flush_interval=math.nan), ConfigError, ("nan",)
    ),
    ApiCase(
        "flush-interval-text", lambda w: start(w, flush_interval="fast"), ConfigError, ("fast",)
    ),
    ApiCase(
        "flush-interval-env-text",
        lambda w: start(w),
        ConfigError,
        ("abc",),
        env=(("TRIALBOOK_FLUSH_INTERVAL", "abc"),),
    ),
    ApiCase(
        "flush-interval-env-nan",
        lambda w: start(w),
        ConfigError,
        ("nan",),
        env=(("TRIALBOOK_FLUSH_INTERVAL", "nan"),),
    ),
    ApiCase(
        "flush-interval-env-inf",
        lambda w: start(w),
        ConfigError,
        ("inf",),
        env=(("TRIALBOOK_FLUSH_INTERVAL", "inf"),),
    ),
    ApiCase(
        "flush-interval-env-zero",
        lambda w: start(w),
        ConfigError,
        ("0",),
        env=(("TRIALBOOK_FLUSH_INTERVAL", "0"),),
    ),
    ApiCase(
        "system-metrics-env-not-a-boolean",
        lambda w: start(w, system_metrics=None),
        ConfigError,
        ("maybe",),
        env=(("TRIALBOOK_SYSTEM_METRICS", "maybe"),),
    ),
    ApiCase("seed-text", lambda w: start(w, seed="1"), ConfigError, ("1",)),
    ApiCase("seed-float", lambda w: start(w, seed=1.5), ConfigError, ("1.5",)),
    ApiCase("seed-negative", lambda w: start(w, seed=-5), ConfigError, ("-5",)),
    ApiCase("seed-above-32-bits", lambda w: start(w, seed=2**32), ConfigError, (str(2**32),)),
    ApiCase("seed-bool", lambda w: start(w, seed=True), ConfigError, ("True",)),
    ApiCase("seed-beyond-64-bits", lambda w: start(w, seed=2**70), ConfigError, (str(2**70),)),
    ApiCase(
        "metric-goal-typo",
        lambda w: start(w, metric_goals={"loss": "down"}),
        ConfigError,
        ("down",),
    ),
    ApiCase(
        "root-is-a-file",
        lambda w: start(w, root=w.write("plain.txt", "x")),
        WorkspaceError,
        ("plain.txt",),
    ),
    ApiCase(
        "root-under-a-file",
        lambda w: start(w, root=w.write("plain.txt", "x") / "ws"),
        WorkspaceError,
        ("plain.txt",),
    ),
    # A store URL is configuration, so a malformed one is a ConfigError.
    ApiCase("store-not-a-url", lambda w: start(w, store_url="notaurl"), ConfigError, ("notaurl",)),
]

# -- other entry points -------------------------------------------------------------------------


def db_folder(case: Case) -> Path:
    """A workspace whose trialbook.db is a folder (made before the first snapshot)."""
    return case.tmp / "dbdir"


def tracker(case: Case, **kwargs: Any) -> None:
    trialbook.ExperimentTracker(root=case.ws, **kwargs)


OTHER = [
    ApiCase(
        "open-store-missing-workspace",
        lambda w: trialbook.open_store(w.tmp / "nows"),
        WorkspaceError,
        ("nows",),
    ),
    ApiCase(
        "open-store-root-is-a-file",
        lambda w: trialbook.open_store(w.write("plain.txt", "x")),
        WorkspaceError,
        ("plain.txt",),
    ),
    ApiCase(
        "open-store-not-a-url",
        lambda w: trialbook.open_store(store_url="notaurl"),
        ConfigError,
        ("notaurl",),
    ),
    # The workspace's layout is wrong (a folder where the database file belongs), not the
    # database: a WorkspaceError, like a root that is a file.
    ApiCase(
        "open-store-db-is-a-folder",
        lambda w: trialbook.open_store(db_folder(w)),
        WorkspaceError,
        ("trialbook.db",),
    ),
    ApiCase(
        "load-runs-missing-workspace",
        lambda w: trialbook.load_runs(w.tmp / "nows"),
        WorkspaceError,
        ("nows",),
    ),
    ApiCase(
        "load-runs-status-typo",
        lambda w: trialbook.load_runs(w.ws, statuses="finished"),
        ConfigError,
        ("finished",),
    ),
    ApiCase(
        "tracker-backend-typo", lambda w: tracker(w, backends=["wandbb"]), ConfigError, ("wandbb",)
    ),
    ApiCase(
        "load-config-missing",
        lambda w: trialbook.load_config(w.tmp / "nope.yaml"),
        ConfigError,
        ("nope.yaml",),
    ),
    ApiCase("load-config-folder", lambda w: trialbook.load_config(w.tmp), ConfigError),
    ApiCase(
        "load-config-duplicate-key",
        lambda w: trialbook.load_config(w.tmp / "dup.yaml"),
        ConfigError,
        ("a",),
    ),
    ApiCase(
        "apply-overrides-unknown-key",
        lambda w: trialbook.apply_overrides({"lr": 1}, ["lrr=2"]),
        ConfigError,
        ("lrr",),
    ),
    ApiCase(
        "apply-overrides-no-key",
        lambda w: trialbook.apply_overrides({"lr": 1}, ["=2"]),
        ConfigError,
    ),
    ApiCase(
        "compare-unknown-run",
        lambda w: trialbook.compare(["alpha", "nosuch"], root=w.ws),
        RunNotFoundError,
        ("nosuch",),
    ),
    ApiCase(
        "compare-ambiguous-prefix",
        lambda w: trialbook.compare(["alpha", "2026"], root=w.ws),
        AmbiguousRunError,
        ("2026",),
    ),
    ApiCase(
        "significance-test-typo",
        lambda w: trialbook.significance(["alpha", "beta"], test="ttest", root=w.ws),
        ConfigError,
        ("ttest",),
    ),
    ApiCase(
        "significance-level-above-one",
        lambda w: trialbook.significance(["alpha", "beta"], level=1.5, root=w.ws),
        ConfigError,
        ("1.5",),
    ),
    ApiCase(
        "leaderboard-metric-typo",
        lambda w: trialbook.leaderboard(benchmark="gsm8k", metric="acuracy", root=w.ws),
        ConfigError,
        ("acuracy",),
    ),
    ApiCase(
        "report-out-under-a-file",
        lambda w: trialbook.report("alpha", w.write("plain.txt", "x") / "r.html", root=w.ws),
        TrialbookError,
        ("plain.txt",),
    ),
    ApiCase(
        "leaderboard-top-negative",
        lambda w: trialbook.leaderboard(benchmark="gsm8k", top=-1, root=w.ws),
        ConfigError,
        ("-1",),
    ),
    ApiCase(
        "significance-resamples-zero",
        lambda w: trialbook.significance(
            ["alpha", "beta"], test="bootstrap", resamples=0, root=w.ws
        ),
        ConfigError,
        ("0",),
    ),
    ApiCase(
        "significance-level-nan",
        lambda w: trialbook.significance(["alpha", "beta"], level=math.nan, root=w.ws),
        ConfigError,
        ("nan",),
    ),
    ApiCase("compare-one-ref", lambda w: trialbook.compare(["alpha"], root=w.ws), ConfigError),
    ApiCase(
        "seed-everything-negative", lambda w: trialbook.seed_everything(-1), ConfigError, ("-1",)
    ),
    ApiCase(
        "seed-everything-beyond-64-bits",
        lambda w: trialbook.seed_everything(2**70),
        ConfigError,
        (str(2**70),),
    ),
    ApiCase(
        "load-runs-status-typo-in-list",
        lambda w: trialbook.load_runs(w.ws, statuses=["completed", "finishd"]),
        ConfigError,
        ("finishd",),
    ),
    ApiCase(
        "evaluate-benchmark-typo",
        lambda w: trialbook.evaluate(lambda prompt: "1", "gsm8kk", progress=False),
        ConfigError,
        ("gsm8kk",),
    ),
    ApiCase(
        "evaluate-num-samples-negative",
        lambda w: trialbook.evaluate(lambda prompt: "1", "gsm8k", num_samples=-1, progress=False),
        ConfigError,
        ("-1",),
    ),
    ApiCase(
        "evaluate-option-typo",
        lambda w: trialbook.evaluate(
            lambda prompt: "1", "gsm8k", num_samples=1, shot=8, progress=False
        ),
        ConfigError,
        ("shot",),
    ),
    ApiCase(
        "plan-runs-missing-file",
        lambda w: trialbook.plan_runs([w.tmp / "nope.yaml"]),
        ConfigError,
        ("nope.yaml",),
    ),
    # store= takes an open Store; a URL there is refused naming store_url, not ignored.
    ApiCase(
        "load-runs-url-as-store",
        lambda w: trialbook.load_runs(w.ws, store="sqlite:///x.db"),
        ConfigError,
        ("store='sqlite:///x.db'", "store_url="),
    ),
    ApiCase(
        "leaderboard-url-as-store",
        lambda w: trialbook.leaderboard(benchmark="gsm8k", store="sqlite:///x.db"),
        ConfigError,
        ("store_url=",),
    ),
]


@pytest.mark.parametrize("x", api_params(START + OTHER))
def test_api_refuses_hostile_input_and_writes_nothing(
    case: Case, x: ApiCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in x.env:
        monkeypatch.setenv(name, value)
    # Inputs the call names (plain.txt, dbdir) are made before the first snapshot.
    case.write("plain.txt", "x")
    case.write("dup.yaml", "a: 1\na: 2\n")
    (case.tmp / "dbdir" / "trialbook.db").mkdir(parents=True)
    before = case.snap()
    check_raises(x, lambda: x.call(case))
    assert_unchanged(before, case.snap())


# -- calls on an open run -----------------------------------------------------------------------


@pytest.fixture
def run(case: Case) -> Iterator[trialbook.Run]:
    with trialbook.start_run(
        "hostile",
        {"lr": 0.1, "model": {"layers": 2}},
        root=case.ws,
        system_metrics=False,
        capture_packages=False,
    ) as r:
        r.log({"loss": 1.0}, step=0)
        r.flush()
        yield r


def log_empty_name_then_more(r: trialbook.Run) -> None:
    """An empty metric name is refused by the writer thread, not by run.log (whose ~1 µs path
    checks nothing more): the NEXT call raises naming '' (docs/tracking.md), and neither those
    points nor that call's are stored."""
    r.log({"": 1.0})
    r.flush()
    r.log({"loss": 2.0})


def evaluation(metrics: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"metrics": metrics, **extra}


def outside(r: trialbook.Run) -> Path:
    """A file under the artifacts folder's name that resolves outside the run folder."""
    return r.artifacts_dir / "../../../../escaped.txt"


IN_RUN = [
    ApiCase("log-empty-key", lambda r: log_empty_name_then_more(r), MetricValueError, ("''",)),
    ApiCase("log-list-of-pairs", lambda r: r.log([("a", 1.0)]), ConfigError),
    ApiCase("log-text-value", lambda r: r.log({"acc": "high"}), MetricValueError, ("acc", "high")),
    ApiCase("log-none-value", lambda r: r.log({"acc": None}), MetricValueError, ("acc",)),
    ApiCase("log-list-value", lambda r: r.log({"acc": [1, 2]}), MetricValueError, ("acc",)),
    ApiCase("log-complex-value", lambda r: r.log({"acc": 1j}), MetricValueError, ("acc",)),
    ApiCase("log-int-key", lambda r: r.log({1: 1.0}), MetricValueError, ("1",)),
    ApiCase("log-step-float", lambda r: r.log({"loss": 0.5}, step=1.5), ConfigError, ("1.5",)),
    ApiCase("log-step-text", lambda r: r.log({"loss": 0.5}, step="3"), ConfigError, ("3",)),
    ApiCase(
        "log-step-beyond-64-bits",
        lambda r: r.log({"loss": 0.5}, step=2**70),
        ConfigError,
        (str(2**70),),
    ),
    ApiCase(
        "log-one-bad-value-logs-nothing",
        lambda r: r.log({"ok": 1.0, "bad": "x"}),
        MetricValueError,
        ("bad",),
    ),
    ApiCase("log-params-not-a-mapping", lambda r: r.log_params("lr=1"), ConfigError, ("lr=1",)),
    ApiCase("log-params-int-key", lambda r: r.log_params({1: 2}), ConfigError, ("1",)),
    ApiCase(
        "log-params-object-value", lambda r: r.log_params({"f": object()}), ConfigError, ("f",)
    ),
    ApiCase(
        "log-evaluation-text-metric",
        lambda r: r.log_evaluation("gsm8k", evaluation({"acc": "high"})),
        ConfigError,
        ("acc",),
    ),
    ApiCase(
        "log-evaluation-result-text", lambda r: r.log_evaluation("gsm8k", "great"), ConfigError
    ),
    ApiCase(
        "log-evaluation-empty-benchmark",
        lambda r: r.log_evaluation("", evaluation({"acc": 1.0})),
        ConfigError,
        ("''",),
    ),
    ApiCase(
        "log-evaluation-samples-not-a-list",
        lambda r: r.log_evaluation("gsm8k", evaluation({"acc": 1.0}, samples="abc")),
        ConfigError,
        ("samples",),
    ),
    ApiCase(
        "log-evaluation-duplicate-sample-ids",
        lambda r: r.log_evaluation(
            "gsm8k",
            evaluation(
                {"acc": 1.0}, samples=[{"id": "1", "correct": True}, {"id": "1", "correct": False}]
            ),
        ),
        ConfigError,
        ("'1'",),
    ),
    ApiCase(
        "log-artifact-missing",
        lambda r: r.log_artifact(r.path / "nope.png"),
        ConfigError,
        ("nope.png",),
    ),
    ApiCase(
        "log-checkpoint-missing",
        lambda r: r.log_checkpoint(r.path / "nope.pt"),
        ConfigError,
        ("nope.pt",),
    ),
    ApiCase(
        "log-checkpoint-text-metric",
        lambda r: r.log_checkpoint(_weights(r), metrics={"acc": "high"}),
        MetricValueError,
        ("acc",),
    ),
    ApiCase(
        "log-checkpoint-step-text",
        lambda r: r.log_checkpoint(_weights(r), step="x"),
        ConfigError,
        ("x",),
    ),
    ApiCase(
        "log-dataset-missing",
        lambda r: r.log_dataset(r.path / "nope.jsonl"),
        ConfigError,
        ("nope.jsonl",),
    ),
    ApiCase("finish-unknown-status", lambda r: r.finish("FINISHED"), ConfigError, ("FINISHED",)),
]


def _weights(r: trialbook.Run) -> Path:
    path = r.checkpoint_dir / "w.pt"
    if not path.exists():
        path.write_bytes(b"\0" * 16)
    return path


@pytest.mark.parametrize("x", api_params(IN_RUN))
def test_run_method_refuses_hostile_input_and_stores_nothing(
    case: Case, run: trialbook.Run, x: ApiCase
) -> None:
    if "checkpoint" in x.id:
        _weights(run)  # an input, made before the first snapshot
    before = case.snap()
    check_raises(x, lambda: x.call(run))
    run.flush()
    assert_unchanged(before, case.snap())


def test_store_url_opens_the_database_a_url_names(case: Case, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    start(case, store_url=url)

    runs = trialbook.load_runs(tmp_path / "no-workspace-here", store_url=url)

    assert list(runs["experiment"]) == ["hostile"]
    with trialbook.open_store(store_url=url) as db:
        assert [r.experiment for r in db.list_runs()] == ["hostile"]


def _regions_with_fraction(fraction: float) -> object:
    import pandas as pd

    from trialbook.cartography import assign_regions

    metrics = pd.DataFrame({"confidence": [0.5, 0.9], "variability": [0.1, 0.3]})
    return assign_regions(metrics, ambiguous_fraction=fraction)


@pytest.mark.parametrize(
    ("call", "parameter", "value"),
    [
        (lambda w: trialbook.Runner(jobs=0, root=w.ws), "jobs", 0),
        (lambda w: trialbook.load_runs(w.ws, store="sqlite:///x.db"), "store", "sqlite:///x.db"),
        (lambda w: _regions_with_fraction(2.0), "ambiguous_fraction", 2.0),
        (
            lambda w: trialbook.open_store(w.write("plain.txt", "x") / "ws", create=True),
            "root",
            None,
        ),
    ],
    ids=["runner-jobs", "load-runs-store", "regions-fraction", "workspace-root"],
)
def test_library_error_names_its_parameter_not_a_flag(
    case: Case, call: Callable[[Case], object], parameter: str, value: object
) -> None:
    with pytest.raises(TrialbookError) as info:
        call(case)

    assert info.value.parameter == parameter
    if value is not None:
        assert info.value.value == value
    assert f"{parameter}" in str(info.value)
    assert "--" not in str(info.value) and "trialbook " not in str(info.value)
