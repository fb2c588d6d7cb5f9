"""Significance on any evaluation metric (issue 10, item 5): a benchmark declares which
per-sample field backs each metric (``BaseBenchmark.metric_fields``), and significance reads
that field; a benchmark nobody declared falls back to the old rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from scipy import stats

import trialbook
from trialbook.analysis import significance
from trialbook.errors import ConfigError
from trialbook.evaluation import GSM8K, BaseBenchmark, BenchmarkRegistry, evaluate

TRIALBOOK = Path(sys.executable).with_name("trialbook")
N = 40


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    env["TRIALBOOK_SYSTEM_METRICS"] = "0"
    return subprocess.run(
        [str(TRIALBOOK), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _prediction_a(i: int, gold: str) -> str:
    # Strict on even examples, "The answer is" (flexible only) on i % 4 == 1, wrong otherwise.
    if i % 2 == 0:
        return f"Half is {i}, so\n#### {gold}"
    return f"The answer is {gold}." if i % 4 == 1 else "#### 999999"


def _prediction_b(i: int, gold: str) -> str:
    return f"So {i} + 1.\nThe answer is {gold}." if i % 3 else f"#### {gold}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cwd = tmp_path_factory.mktemp("fields")
    rows = GSM8K().load_dataset("test", N)
    for name, make in (("a", _prediction_a), ("b", _prediction_b)):
        with (cwd / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for i, row in enumerate(rows):
                f.write(json.dumps({"id": row["id"], "prediction": make(i, row["answer"])}) + "\n")
        done = _cli(
            cwd, "evaluate", "gsm8k", "--predictions", f"{name}.jsonl", "--num-samples", str(N),
            "--experiment", f"exp_{name}", "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    yield cwd


def _significance_json(cwd: Path, metric: str) -> dict[str, Any]:
    done = _cli(
        cwd, "significance", "exp_a", "exp_b", "--benchmark", "gsm8k", "--metric", metric, "--json"
    )
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)
    return dict(result)


def _per_sample(cwd: Path, experiment: str, field: str) -> dict[str, Any]:
    """The field of every sample, read from the run folder's evaluations/gsm8k.jsonl."""
    (folder,) = [
        p
        for p in (cwd / "experiments").iterdir()
        if p.is_dir() and json.loads((p / "meta.json").read_text())["experiment"] == experiment
    ]
    lines = (folder / "evaluations" / "gsm8k.jsonl").read_text().splitlines()
    return {row["id"]: row[field] for row in map(json.loads, lines)}


def test_accuracy_flexible_is_tested_on_correct_flexible_by_hand(workspace: Path) -> None:
    r = _significance_json(workspace, "accuracy_flexible")
    a = _per_sample(workspace, "exp_a", "correct_flexible")
    b = _per_sample(workspace, "exp_b", "correct_flexible")
    b01 = sum(1 for k in a if not a[k] and b[k])
    b10 = sum(1 for k in a if a[k] and not b[k])
    assert (b01, b10) == (10, 0)  # A is wrong on i % 4 == 3, B right everywhere
    p = stats.binomtest(min(b01, b10), b01 + b10, 0.5).pvalue
    assert r["test"] == "mcnemar" and r["metric"] == "accuracy_flexible"
    assert r["p_value"] == pytest.approx(p, rel=1e-12) == pytest.approx(2 / 2**10)
    assert (r["mean_a"], r["mean_b"]) == (0.75, 1.0) and r["n"] == N
    assert r["significant"] and r["verdict"].startswith("exp_b is better than exp_a on gsm8k")
    assert "0/1 correctness" in r["note"]
    # accuracy_strict reads another field and gives another answer.
    strict = _significance_json(workspace, "accuracy_strict")
    assert (strict["mean_a"], strict["mean_b"]) == (0.5, pytest.approx(14 / 40))


def test_graded_partial_accuracy_is_tested_on_partial_by_hand(workspace: Path) -> None:
    r = _significance_json(workspace, "partial_accuracy")
    a = _per_sample(workspace, "exp_a", "partial")
    b = _per_sample(workspace, "exp_b", "partial")
    d = np.array([b[k] - a[k] for k in a])
    # Pairs with no difference flip to themselves: the exact p is that of the others.
    nonzero = d[d != 0]
    assert 0 < nonzero.size <= 16
    ref = stats.permutation_test(
        (nonzero,), np.sum, permutation_type="samples", n_resamples=np.inf,
        alternative="two-sided",
    )  # fmt: skip
    assert r["test"] == "permutation" and r["exact"]
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert r["difference"] == pytest.approx(float(d.mean()), rel=1e-12)
    assert "graded scores and n < 50" in r["note"]


def test_format_compliance_is_tested_on_format_ok(workspace: Path) -> None:
    r = _significance_json(workspace, "format_compliance")
    a = _per_sample(workspace, "exp_a", "format_ok")
    b = _per_sample(workspace, "exp_b", "format_ok")
    assert r["mean_a"] == sum(a.values()) / N and r["mean_b"] == sum(b.values()) / N
    assert r["test"] == "mcnemar" and r["difference"] < 0


def test_a_jsonl_benchmark_metric_works_on_the_old_rules(tmp_path: Path) -> None:
    data = tmp_path / "capitals.jsonl"
    rows = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(30)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for name, right in (("one", range(10)), ("two", range(25))):
        preds = tmp_path / f"{name}.jsonl"
        preds.write_text(
            "".join(
                json.dumps({"index": i, "prediction": f"a{i}" if i in right else "x"}) + "\n"
                for i in range(30)
            ),
            encoding="utf-8",
        )
        done = _cli(
            tmp_path, "evaluate", "jsonl", "--data", str(data), "--predictions", str(preds),
            "--experiment", name, "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    done = _cli(tmp_path, "significance", "one", "two", "--metric", "accuracy", "--json")
    assert done.returncode == 0, done.stderr
    (r,) = json.loads(done.stdout)
    assert r["benchmark"] == "capitals" and r["test"] == "mcnemar"
    assert r["p_value"] == pytest.approx(stats.binomtest(0, 15, 0.5).pvalue, rel=1e-12)


class _Brevity(BaseBenchmark):
    """A plugin-style benchmark with a metric of its own backed by an ``extra`` field."""

    name = "brevity_bench"
    metric_fields: ClassVar[dict[str, str]] = {"accuracy": "correct", "brevity": "short"}

    def load_dataset(self, split: str = "test", num_samples: int | None = None) -> list[Any]:
        return [{"id": str(i), "question": f"q{i}", "answer": "yes"} for i in range(12)]

    def extract_answer(self, text: str) -> str:
        return text.split()[0]

    def check_answer(self, predicted: Any, gold: Any) -> bool:
        return bool(predicted == gold)

    def score(self, sample: Any, output: str, *, position: int, prompt: str) -> Any:
        base = super().score(sample, output, position=position, prompt=prompt)
        from dataclasses import replace

        return replace(base, extra={"short": 1.0 / len(output)})

    def metrics(self, samples: Sequence[Any]) -> dict[str, float]:
        return {
            "accuracy": sum(s.score for s in samples) / len(samples),
            "brevity": sum(s.extra["short"] for s in samples) / len(samples),
        }


@pytest.fixture
def brevity() -> Iterator[None]:
    BenchmarkRegistry.register("brevity_bench", _Brevity)
    yield
    BenchmarkRegistry.unregister("brevity_bench")


def test_a_registered_benchmark_declares_its_own_metric(brevity: None, tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    for name, pad in (("terse", 0), ("wordy", 20)):
        result = evaluate(
            lambda prompts, pad=pad: [f"yes{' ' * (pad + len(p))}." for p in prompts],
            "brevity_bench",
            progress=False,
        )
        with trialbook.start_run(name, {"pad": pad}, **common) as run:
            run.log_evaluation("brevity_bench", result)
    (r,) = significance(["terse", "wordy"], root=root, metric="brevity")
    assert r.test == "permutation" and r.exact and r.n == 12
    assert r.p_value == pytest.approx(2 / 2**12) and r.difference < 0
    # Unregistered, the same stored evaluation names no declaration: the old rules refuse,
    # naming what the samples measure and how to fix it.
    BenchmarkRegistry.unregister("brevity_bench")
    with pytest.raises(ConfigError, match=r"do not measure 'brevity'.*metric_fields"):
        significance(["terse", "wordy"], root=root, metric="brevity")
