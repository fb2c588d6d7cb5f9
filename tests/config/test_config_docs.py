"""docs/configs.md shows examples that work: its Python blocks run and its suite plans."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trialbook.config import plan_runs

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configs.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the repository
    # dont_inherit: the example runs as a user's script would, without this module's
    # `from __future__ import annotations`.
    code = compile(_blocks("python")[index], f"{DOC}:python[{index}]", "exec", dont_inherit=True)
    exec(code, {"__name__": "docs_example"})


def test_the_documented_suite_plans(tmp_path: Path) -> None:
    (suite_text,) = [b for b in _blocks("yaml") if b.startswith("suite:")]
    (tmp_path / "base.yaml").write_text(
        (ROOT / "examples" / "configs" / "base.yaml").read_text(encoding="utf-8")
    )
    (tmp_path / "suite.yaml").write_text(suite_text)
    plan = plan_runs([tmp_path / "suite.yaml"])
    # baseline, cartography_filter, label_smoothing: 2 batch sizes x 1 seed; lr_sweep: 3 x 2
    assert len(plan.runs) == 3 * 2 + 3 * 2
    assert [r.name for r in plan_runs([tmp_path / "suite.yaml"], suite="minimal").runs] == [
        "baseline[training.per_device_train_batch_size=16]",
        "baseline[training.per_device_train_batch_size=32]",
        "label_smoothing[training.per_device_train_batch_size=16]",
        "label_smoothing[training.per_device_train_batch_size=32]",
    ]


def test_the_example_suite_follows_seed_001(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    suite = Path("examples/configs/suite.yaml")
    minimal = plan_runs([suite], suite="minimal", shortcut_values={"max-train-samples": "500"})
    assert [r.experiment for r in minimal.runs] == ["baseline", "label_smoothing"]
    assert all(r.config["training"]["max_train_samples"] == 500 for r in minimal.runs)
    sample = plan_runs([suite], suite="sample", seeds=[42, 43, 44])
    assert {r.experiment for r in sample.runs} >= {
        "baseline",
        "cartography_filter",
        "label_smoothing",
        "soft_weighting",
    }
    assert all(
        r.config["experiment"]["entrypoint"] == "examples.toy_train:train" for r in sample.runs
    )
    # the folder runs the suite once, not its base config a second time
    assert len(plan_runs([Path("examples/configs")]).runs) == len(plan_runs([suite]).runs)
