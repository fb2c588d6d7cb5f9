"""From Python, the statistics and report functions name their own parameters when refusing a
value (``out=``, ``max_curves=``, ``top=``), carry it in ``parameter``/``value``, and never
speak of a command-line flag or command (the CLI maps ``parameter`` to its flag)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.analysis import (
    leaderboard,
    load_runs,
    resolve_refs,
    seed_groups,
    significance,
    t_interval,
)
from trialbook.errors import TrialbookError
from trialbook.reporting import analyze, metrics_table, report

#: What a message in the CLI's words looks like: a flag, or a trialbook command.
CLI_WORDS = re.compile(r"(^|\s|`)--[a-z]|trialbook (ls|show|compare|significance|report)")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("errors") / "experiments"
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    for seed, loss in ((1, 0.3), (2, 0.4)):
        with trialbook.start_run("exp", {"lr": 0.1}, seed=seed, name="alpha", **common) as run:
            run.log({"loss": loss})
            run.log_evaluation("bench", {"metrics": {"accuracy": loss}})
    return root


def _cases(root: Path) -> list[tuple[Callable[[], object], str, object]]:
    folder = root.parent / "a_folder"
    folder.mkdir(exist_ok=True)
    blocker = root.parent / "a_file"
    blocker.write_text("x", encoding="utf-8")
    html, table = root.parent / "r.html", blocker / "t.md"
    return [
        (lambda: report("alpha", folder, root=root), "out", str(folder)),
        (lambda: report("alpha", html, root=root, max_curves=-1), "max_curves", -1),
        (lambda: report([], html, root=root), "refs", None),
        (lambda: metrics_table("alpha", "html", root=root), "fmt", "html"),  # type: ignore[arg-type]
        (lambda: metrics_table("alpha", out=table, root=root), "out", str(table)),
        (lambda: leaderboard(benchmark="bench", top=0, root=root), "top", 0),
        (lambda: leaderboard(benchmark="bench", by="seed", root=root), "by", "seed"),  # type: ignore[arg-type]
        (lambda: leaderboard(benchmark="bench", metric="acuracy", root=root), "metric", "acuracy"),
        (lambda: significance(["alpha"], root=root), "refs", None),
        (lambda: significance(["alpha", "alpha"], test="ttest", root=root), "test", "ttest"),  # type: ignore[arg-type]
        (lambda: seed_groups(load_runs(root), ci="normal"), "ci", "normal"),  # type: ignore[arg-type]
        (lambda: t_interval([1.0, 2.0], level=95), "level", 95),
        (lambda: analyze(root, out_dir=blocker / "sub"), "out_dir", str(blocker / "sub")),
    ]


@pytest.mark.parametrize("case", range(13))
def test_a_refused_value_names_its_parameter_not_a_flag(root: Path, case: int) -> None:
    call, parameter, value = _cases(root)[case]
    with pytest.raises(TrialbookError) as err:
        call()
    assert err.value.parameter == parameter, str(err.value)
    if value is not None:
        assert err.value.value == value
    assert not CLI_WORDS.search(str(err.value)), str(err.value)


def test_a_reference_that_names_nothing_says_so_in_library_words(root: Path) -> None:
    with trialbook.open_store(root) as db, pytest.raises(trialbook.RunNotFoundError) as err:
        resolve_refs(["alpah"], db)
    assert (err.value.parameter, err.value.value) == ("refs", "alpah")
    assert str(err.value).endswith("nor an experiment; did you mean 'alpha'?")
    assert not CLI_WORDS.search(str(err.value))
