"""The pieces under naming (issue 10, items 1, 2 and 4): the suite tag, one run per seed (the
same rule for run records and for frames), scopes and key suggestions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import trialbook
from trialbook.analysis import load_runs, resolve_refs, seed_groups
from trialbook.analysis._groups import group_interval, left_out_note, one_run_per_seed
from trialbook.analysis._scope import Scope, check_names, suggest_key
from trialbook.config._plan import suite_name, suite_of, suite_tag
from trialbook.errors import ConfigError


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Experiment ``e`` (one config): seed 1 twice (the second a reproduction), seed 2
    completed then failed later (a failed retry is not the seed's run), seed 3 once; and a
    run without a seed, twice."""
    root = tmp_path_factory.mktemp("names") / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    config = {"training": {"learning_rate": 0.1}}

    def run(seed: int | None, loss: float, tags: tuple[str, ...] = (), fail: bool = False) -> None:
        try:
            with trialbook.start_run("e", config, seed=seed, tags=tags, **common) as r:
                r.log({"loss": loss}, step=0)
                if fail:
                    raise RuntimeError("diverged")
        except RuntimeError:
            pass

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        run(1, 0.50)
        run(2, 0.40)
        run(3, 0.30)
        run(1, 0.52, tags=("reproduces:x",))
        run(2, 9.00, tags=("retry",), fail=True)
        run(None, 0.1)
        run(None, 0.2)
        yield root


def test_one_run_per_seed_keeps_the_newest_completed(root: Path) -> None:
    with trialbook.open_store(root) as db:
        runs = db.list_runs(descending=False)
    kept, left = one_run_per_seed(runs)
    losses = {r.id: r for r in runs}
    assert [(r.seed, r.status) for r in left] == [(1, "completed"), (2, "failed")]
    assert sorted((r.seed or 0) for r in kept) == [0, 0, 1, 2, 3]  # seedless runs all kept
    (seed1,) = [r for r in kept if r.seed == 1]
    assert "reproduces:x" in losses[seed1.id].tags
    assert left_out_note(left[:1], "'e'", kept) == (
        "1 older run of seed 1 left out of 'e', replaced by a reproduction: a group counts one "
        "run per seed, the newest completed."
    )


def test_seed_groups_apply_the_same_rule_to_a_frame(root: Path) -> None:
    df = load_runs(root)
    with trialbook.open_store(root) as db:
        _, left = one_run_per_seed(db.list_runs())
    (group,) = seed_groups(df[df["seed"].notna()], "loss").to_dict("records")
    assert group["n"] == 3 and group["seeds"] == [1, 2, 3]
    assert sorted(group["left_out"]) == sorted(r.id for r in left)
    assert group["metrics.loss.mean"] == pytest.approx((0.52 + 0.40 + 0.30) / 3)
    every = seed_groups(df[df["seed"].notna()], "loss", one_per_seed=False)
    assert int(every["n"].iloc[0]) == 5 and list(every["left_out"].iloc[0]) == []
    low, high = group_interval(df, str(group["group"]), "loss")
    assert low < (0.52 + 0.40 + 0.30) / 3 < high


def test_a_group_entry_holds_one_run_per_seed_and_says_what_it_left_out(root: Path) -> None:
    with trialbook.open_store(root) as db:
        group = next(r.group_key for r in db.list_runs() if r.seed == 1)
        (entry,) = resolve_refs([f"group:{group[:8]}"], db)
    assert sorted(r.seed or 0 for r in entry.runs) == [0, 0, 1, 2, 3]
    assert [r.seed for r in entry.left_out] == [1]  # the failed retry is not completed at all
    assert entry.notes == [
        f"1 older run of seed 1 left out of 'group:{group[:8]}', replaced by a reproduction: "
        "a group counts one run per seed, the newest completed."
    ]


def test_a_suite_is_named_by_its_suite_key_else_its_file_else_its_folder() -> None:
    assert suite_name("clinc150", Path("examples/cartography/suite.yaml")) == "clinc150"
    assert suite_name(None, Path("suites/ablations.yaml")) == "ablations"
    assert suite_name(None, Path("examples/demo/suite.yaml")) == "demo"
    assert suite_name("", Path("configs/suites/configs.yaml")) == "suites"
    assert suite_of(("sweep", suite_tag("demo"), "reproduces:x")) == ("demo",)


def test_a_mistyped_key_suggests_the_key_meant() -> None:
    keys = ["loss", "params.training.learning_rate", "params.training.epochs", "accuracy"]
    assert suggest_key("lr", keys) == "params.training.learning_rate"
    assert suggest_key("params.training.learnig_rate", keys) == "params.training.learning_rate"
    assert suggest_key("los", keys) == "loss"
    assert suggest_key("zzz", keys) is None


def test_scope_reads_the_where_grammar_once(root: Path) -> None:
    scope = Scope.of("demo", ["params.training.learning_rate<1", "min(loss)<0.5"])
    q = scope.query(experiment="e")
    assert q.tags == ("suite:demo",) and q.experiment == "e"
    assert [c.key for c in q.params] == ["training.learning_rate"]
    assert [(c.key, c.agg) for c in q.metrics] == [("loss", "min")]
    assert (
        scope.describe() == "suite demo, where params.training.learning_rate<1, where min(loss)<0.5"
    )
    with pytest.raises(ConfigError, match=r"Cannot read where='loss'"):
        Scope.of(where="loss")
    with pytest.raises(ConfigError, match=r"^suite needs a suite name"):
        Scope.of(" ")
    with trialbook.open_store(root) as db:
        check_names(db, experiment="e", scope=Scope.of(where="loss<1"))  # all exist
        with pytest.raises(ConfigError, match=r"No run belongs to the suite 'demo'; no run here"):
            check_names(db, scope=Scope.of("demo"))
        with pytest.raises(ConfigError, match=r"'los' \(where='los<1'\); did you mean 'loss'"):
            check_names(db, scope=Scope.of(where="los<1"))


def test_names_resolve_to_groups_of_one_suite_when_they_can(tmp_path: Path) -> None:
    """``a`` is newest in s2 but ``b`` in s1 (a rerun): both are taken from s1, the newest
    suite that has both, not one from each."""
    root = tmp_path / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}

    def run(experiment: str, suite: str, seed: int) -> None:
        config = {"x": experiment, "from": suite}
        with trialbook.start_run(
            experiment, config, seed=seed, tags=[suite_tag(suite)], name=experiment, **common
        ) as r:
            r.log({"loss": 0.5}, step=0)

    for suite in ("s1", "s2"):
        for experiment in ("a", "b"):
            for seed in (1, 2):
                run(experiment, suite, seed)
    run("b", "s1", 1)  # a rerun: s1's b is now the newest group of b
    with trialbook.open_store(root) as db:
        alone = resolve_refs(["a"], db)[0]
        a, b = resolve_refs(["a", "b"], db)
    assert "suite:s2" in alone.runs[0].tags  # alone, the newest group of a
    assert {t for r in (*a.runs, *b.runs) for t in r.tags} == {"suite:s1"}
    assert a.note is not None and "(suite s1, 2 runs, same suite as the other names)" in a.note
    assert b.note is not None and "(suite s1, 2 runs, same suite as the other names)" in b.note
    assert len(b.left_out) == 1
