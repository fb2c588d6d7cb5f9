"""significance() and resolve_refs() on a workspace of known runs and seed groups."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stats_workspace
from scipy import stats

import trialbook
from trialbook.analysis import (
    mcnemar_exact,
    paired_bootstrap,
    resolve_refs,
    significance,
    welch_t_test,
)
from trialbook.errors import ConfigError, RunNotFoundError


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("sig") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        ids = stats_workspace.build(root)
        yield root, ids


def _correct(root: Path, run_id: str) -> list[float]:
    with trialbook.open_store(root) as db:
        return [1.0 if s.correct else 0.0 for s in db.evaluation_samples(run_id, "gsm8k")]


def test_refs_grammar(ws: tuple[Path, dict[str, Any]]) -> None:
    root, ids = ws
    with trialbook.open_store(root) as db:
        run = db.get_run(ids["base"][0])
        group_key = run.group_key
        base, single, short = resolve_refs(["base", ids["base"][0], ids["graded-a"][-6:]], db)
        (by_key,) = resolve_refs([f"group:{group_key[:6]}"], db)
        assert base.kind == "group" and sorted(base.run_ids) == sorted(ids["base"])
        assert single.kind == "run" and single.run_ids == [ids["base"][0]]
        assert by_key.kind == "group" and by_key.group_key == group_key
        assert short.run_ids == [ids["graded-a"]]
        (summ,) = resolve_refs(["mmlu-only"], db)
        assert summ.kind == "run"
        # An experiment of several groups: the newest, with a note naming the others...
        (sft,) = resolve_refs(["sft"], db)
        assert sft.kind == "group" and sft.run_ids == [ids["shifted"]]
        assert sft.note is not None
        assert sft.note.startswith("'sft' names 3 seed groups; using group:")
        assert "(1 run, newest); others: group:" in sft.note
        assert "lr=0.0003" in sft.note and "lora.rank=16" in sft.note
        # No suite tells these groups apart, so the note names a group key to paste.
        paste = r"-- pass `group:<key>` \(e\.g\. `(group:\w+)`\) to pick another\.$"
        tail = re.search(paste, sft.note)
        assert tail is not None, sft.note
        (other,) = resolve_refs([tail.group(1)], db)
        assert other.kind == "group" and other.run_ids != sft.run_ids
        # ...the newest that has what the command compares (shifted logged no loss).
        (with_loss,) = resolve_refs(["sft"], db, metric="loss")
        assert sorted(with_loss.run_ids) == sorted(ids["tuned"])
        assert "has loss, newest" in (with_loss.note or "")
        with pytest.raises(RunNotFoundError, match=r"'nope' is neither a run.*experiment\.$"):
            resolve_refs(["nope"], db)
        with pytest.raises(RunNotFoundError, match=r"No seed group's key starts with 'zzzz'"):
            resolve_refs(["group:zzzz"], db)
        with pytest.raises(ConfigError, match=r"'base' and 'group:.*' name the same runs"):
            resolve_refs(["base", f"group:{group_key}"], db)


def test_ref_at_seed_names_one_run_of_a_group(ws: tuple[Path, dict[str, Any]]) -> None:
    root, ids = ws
    with trialbook.open_store(root) as db:
        key = db.get_run(ids["tuned"][0]).group_key
        first, second = resolve_refs(["base@2", f"group:{key[:8]}@3"], db)
        seeds = {db.get_run(i).seed: i for i in ids["base"]}
        assert first.kind == "run" and first.run_ids == [seeds[2]]
        tuned = {db.get_run(i).seed: i for i in ids["tuned"]}
        assert second.kind == "run" and second.run_ids == [tuned[3]]
        with pytest.raises(RunNotFoundError, match=r"'graded-a' has no run with a seed; name it"):
            resolve_refs(["graded-a@0"], db)
        with pytest.raises(RunNotFoundError, match=r"seed 7 \(its seeds: 1, 2, 3\); .* 'base@1'"):
            resolve_refs(["base@7"], db)
        with pytest.raises(RunNotFoundError, match=r"'nope' is neither a run"):
            resolve_refs(["nope@1"], db)
        with pytest.raises(RunNotFoundError, match=r"'base@x' is neither a run"):
            resolve_refs(["base@x"], db)
    (result,) = significance(["base@1", "tuned@1"], root=root)
    assert result.test == "mcnemar"


def test_auto_on_two_runs_with_correctness_is_mcnemar_with_bootstrap_ci(
    ws: tuple[Path, dict[str, Any]],
) -> None:
    root, ids = ws
    a_id, b_id = ids["base"][0], ids["tuned"][0]
    (r,) = significance([a_id, b_id], root=root, seed=3)
    a, b = _correct(root, a_id), _correct(root, b_id)
    ref = mcnemar_exact(a, b)
    boot = paired_bootstrap(a, b, seed=3)
    assert r.test == "mcnemar"
    assert r.p_value == pytest.approx(ref.p_value)
    assert (r.ci_low, r.ci_high) == (boot.ci_low, boot.ci_high)
    assert (r.benchmark, r.metric, r.n) == ("gsm8k", "accuracy", stats_workspace.N)
    assert r.verdict.startswith(f"{b_id} is better than {a_id} on gsm8k accuracy by ")
    # The same seed gives the same numbers.
    assert significance([a_id, b_id], root=root, seed=3) == [r]


@pytest.mark.parametrize("test", ["bootstrap", "permutation"])
def test_explicit_paired_tests(ws: tuple[Path, dict[str, Any]], test: Any) -> None:
    root, ids = ws
    (r,) = significance([ids["base"][0], ids["tuned"][0]], root=root, test=test, resamples=2000)
    assert r.test == ("paired-bootstrap" if test == "bootstrap" else test)
    assert r.resamples == 2000 and r.p_value < 0.01


def test_graded_scores_use_the_paired_bootstrap(ws: tuple[Path, dict[str, Any]]) -> None:
    root, _ = ws
    (r,) = significance(["graded-a", "graded-b"], root=root)
    assert r.test == "paired-bootstrap" and r.metric == "rouge" and r.n == 200
    assert r.difference > 0 and r.significant


def test_groups_use_welch_like_scipy(ws: tuple[Path, dict[str, Any]]) -> None:
    root, ids = ws
    (r,) = significance(["base", "tuned"], root=root)
    with trialbook.open_store(root) as db:
        acc = {
            name: [db.evaluations(i, "gsm8k")[-1].metrics["accuracy"] for i in sorted(ids[name])]
            for name in ("base", "tuned")
        }
    ref = stats.ttest_ind(acc["tuned"], acc["base"], equal_var=False)
    assert r.test == "welch" and (r.n, r.n_b) == (3, 3)
    assert r.p_value == pytest.approx(ref.pvalue)
    w = welch_t_test(acc["base"], acc["tuned"])
    assert (r.difference, r.ci_low, r.ci_high) == pytest.approx((w.difference, w.ci_low, w.ci_high))
    # A logged training metric alone (no benchmark): lower loss is better.
    (loss,) = significance(["base", "tuned"], root=root, metric="loss")
    assert loss.benchmark is None and loss.difference < 0
    assert loss.verdict.startswith("tuned is better than base on loss: 0.2 lower")


def test_holm_when_more_than_two(ws: tuple[Path, dict[str, Any]]) -> None:
    root, ids = ws
    a, b, c = ids["base"][0], ids["tuned"][0], ids["base"][1]
    results = significance([a, b, c], root=root)
    raw = [r.p_value for r in results]
    assert [r.b for r in results] == [b, c]
    lo, hi = sorted(raw)
    expected = [min(1.0, 2 * lo), max(min(1.0, 2 * lo), hi)]
    assert sorted(r.p_adjusted or 0 for r in results) == pytest.approx(expected)
    assert all("(Holm-adjusted)" in r.verdict for r in results)


@pytest.mark.parametrize(
    ("refs", "kwargs", "message"),
    [
        (
            ["base", "mmlu-only"],
            {},
            r"no benchmark in common \(base: gsm8k; mmlu-only: mmlu\)",
        ),
        (
            ["BASE0", "shifted"],
            {},
            r"sample ids differ: 100 only in BASE0 \('q0', 'q1', 'q2', \.\.\.\); "
            r"100 only in shifted \('q300', 'q301', 'q302', \.\.\.\)",
        ),
        (["base", "shifted"], {}, r"at least 2 seeds per group, but shifted has n=1"),
        (["base", "tuned"], {"test": "mcnemar"}, r"base is a seed group of 3 runs"),
        (["base", "tuned"], {"test": "ttest"}, r"Unknown test 'ttest'; choose one of auto"),
        (["base"], {}, r"at least two runs or groups, got 1"),
        (["base", "tuned"], {"benchmark": "mmlu"}, r"base has no evaluation on 'mmlu'"),
        (["base", "tuned"], {"metric": "acuracy"}, r"Unknown metric 'acuracy'.*'accuracy'\?"),
        (["BASE0", "no-samples"], {}, r"no per-sample scores on gsm8k"),
    ],
)
def test_bad_input_is_one_sentence(
    ws: tuple[Path, dict[str, Any]], refs: list[str], kwargs: dict[str, Any], message: str
) -> None:
    root, ids = ws
    refs = [ids["base"][0] if r == "BASE0" else r for r in refs]
    message = message.replace("BASE0", ids["base"][0])
    with pytest.raises(ConfigError, match=message):
        significance(refs, root=root, **kwargs)


def test_repeated_sample_ids_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    from trialbook.store import NewRun, Sample

    with trialbook.open_store(tmp_path / "ws", create=True) as db:
        for i, ids in enumerate((["a", "b", "a"], ["a", "b", "c"])):
            run_id = f"20260101_000000_00000{i}"
            db.create_run(NewRun(run_id, "x", f"r{i}", {"i": i}, f"h{i}", f"g{i}"))
            samples = [Sample(k, None, None, 1.0, True) for k in ids]
            db.log_evaluation(run_id, "gsm8k", {"accuracy": 1.0}, samples=samples)
        with pytest.raises(ConfigError, match=r"1 repeated sample ids on gsm8k \(first: 'a'\)"):
            significance(["r0", "r1"], store=db)


def test_per_sample_values_must_measure_the_metric_tested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The samples' score is a relative error (lower is better) and `correct` is exact match;
    # the evaluation's first metric is exact_match. Reading the score as exact match would
    # flip the verdict, so each is used only for the metric it averages to.
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    common: dict[str, Any] = {"root": tmp_path, "system_metrics": False, "capture_packages": False}
    for name, hits, error in (("token", 2, 0.9), ("hybrid", 18, 0.01)):
        samples = [
            {
                "id": f"s{i}",
                "prediction": "p",
                "reference": "r",
                "correct": i < hits,
                "score": error,
            }
            for i in range(20)
        ]
        metrics = {"exact_match": hits / 20, "relative_error": error, "bleu": 0.5}
        with trialbook.start_run("arith", {"model": name}, name=name, **common) as run:
            run.log_evaluation("ood", {"metrics": metrics, "samples": samples})

    (em,) = significance(["token", "hybrid"], root=tmp_path, benchmark="ood")
    assert em.metric == "exact_match" and em.test == "mcnemar"  # `correct` averages to it
    assert em.verdict.startswith("hybrid is better than token")
    (err,) = significance(
        ["token", "hybrid"], root=tmp_path, benchmark="ood", metric="relative_error"
    )
    # 20 graded pairs: below 50 auto runs the exact sign-flip test, not the bootstrap.
    assert err.test == "permutation" and err.exact
    assert err.verdict.startswith("hybrid is better")
    with pytest.raises(ConfigError, match=r"do not measure 'bleu' \(correctness averages 0\.1 "):
        significance(["token", "hybrid"], root=tmp_path, benchmark="ood", metric="bleu")


def _logged_groups(root: Path, metrics: dict[str, list[float]]) -> None:
    """Two 3-seed experiments that log final metrics and were never evaluated on a benchmark."""
    for name, values in metrics.items():
        for seed, value in enumerate(values, start=1):
            with trialbook.start_run(
                name, {"lr": 0.1}, seed=seed, root=root, system_metrics=False
            ) as run:
                run.log({"eval_accuracy": value, "eval_loss": 1 - value}, step=1)


def test_groups_without_a_benchmark_are_compared_on_their_one_logged_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    a, b = [0.80, 0.82, 0.81], [0.86, 0.88, 0.87]
    _logged_groups(root, {"base": a, "tuned": b})
    (result,) = significance(["base", "tuned"], root=root)
    assert result.test == "welch"
    assert result.metric == "eval_accuracy"
    expected = stats.ttest_ind(b, a, equal_var=False).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-12)


def test_without_a_benchmark_or_one_accuracy_the_error_lists_the_shared_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    for name in ("base", "tuned"):
        for seed in (1, 2):
            with trialbook.start_run(
                name, {"lr": 0.1}, seed=seed, root=root, system_metrics=False
            ) as run:
                run.log({"train_accuracy": 0.9, "val_accuracy": 0.8 + seed / 100}, step=1)
    with pytest.raises(ConfigError) as err:
        significance(["base", "tuned"], root=root)
    assert str(err.value).endswith(
        "compare a logged metric with metric=NAME (they all log: train_accuracy, val_accuracy)."
    )


def test_a_misspelt_logged_metric_gets_a_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    _logged_groups(root, {"base": [0.80, 0.82], "tuned": [0.86, 0.88]})
    with pytest.raises(ConfigError) as err:
        significance(["base", "tuned"], metric="eval_acuracy", root=root)
    assert str(err.value) == (
        "No benchmark the entries share has 'eval_acuracy', and not every run logged it; did "
        "you mean 'eval_accuracy'? (they all log: eval_accuracy, eval_loss)."
    )
