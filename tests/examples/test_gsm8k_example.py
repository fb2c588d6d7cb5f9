"""examples/gsm8k: the README's commands run in order on tiny settings, and what they store."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

import trialbook
from trialbook.cli import app
from trialbook.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "gsm8k"
# Tiny settings for CI: the README's sizes are replaced by these.
TINY = {"--num_steps": "10", "--num_samples": "30", "-n": "30"}


@pytest.fixture(autouse=True)
def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test in its own workspace and folder; `examples.gsm8k` importable from there."""
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO))
    yield tmp_path / "experiments"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_gsm8k_{name}", EXAMPLE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_commands() -> list[list[str]]:
    """Every command of the README's bash block, as argv lists."""
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block, "examples/gsm8k/README.md has no bash block"
    commands = []
    for line in block.group(1).replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            commands.append(shlex.split(line))
    return commands


def _tiny(argv: list[str]) -> list[str]:
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg in TINY:
            out[i + 1] = TINY[arg]
    return out


def _run(argv: list[str]) -> str:
    """Run one README command in-process; return what it printed."""
    if argv[0] == "python":
        name = Path(argv[1]).stem
        assert Path(argv[1]).parent == Path("examples/gsm8k"), argv
        main: Callable[[list[str]], Any] = _script(name).main
        main(_tiny(argv[2:]))
        return ""
    assert argv[0] == "trialbook", argv
    result = CliRunner().invoke(app, _tiny(argv[1:]), catch_exceptions=False)
    assert result.exit_code == 0, (argv, result.output)
    return result.output


def test_readme_sequence_runs_and_stores_what_it_says(
    _workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = readme_commands()
    verbs = [c[1] if c[0] == "trialbook" else Path(c[1]).name for c in commands]
    assert verbs == [
        "train_with_tracking.py",
        "train_with_tracking.py",
        "evaluate",
        "make_predictions.py",
        "evaluate",
        "leaderboard",
        "compare",
        "significance",
        "report",
    ]
    outputs = [_run(c) for c in commands]

    store = trialbook.open_store(_workspace)
    small, large = store.get_run("lr_small"), store.get_run("lr_large")
    for run, lr in ((small, 0.05), (large, 0.5)):
        assert run.status == "completed"
        assert run.experiment == "gsm8k"
        assert run.config["learning_rate"] == lr
        assert run.config["num_steps"] == 10
        loss = store.metric_history(run.id, "train/loss")
        assert loss.steps == tuple(range(1, 11))
        assert loss.values[-1] < loss.values[0]
        [checkpoint] = store.checkpoints(run.id)
        assert checkpoint.step == 10
        assert json.loads(Path(checkpoint.path).read_text())["step"] == 10
        [evaluation] = store.evaluations(run.id, "gsm8k")
        samples = store.samples(evaluation.id)
        assert [s.sample_id for s in samples] == [str(i) for i in range(30)]
        assert evaluation.metrics["accuracy"] == pytest.approx(
            sum(bool(s.correct) for s in samples) / 30
        )
    assert small.notes == "small learning rate"
    # A larger learning rate gets further in 10 steps: a lower loss and a higher skill.
    assert (
        store.metric_history(large.id, "train/loss").values[-1]
        < store.metric_history(small.id, "train/loss").values[-1]
    )

    baselines = store.list_runs(experiment="baselines")
    assert len(baselines) == 2
    by_model = {}
    for run in baselines:
        [evaluation] = store.evaluations(run.id, "gsm8k")
        assert evaluation.n == 30
        by_model[run.id] = evaluation.metrics["accuracy"]
    assert sorted(by_model.values())[0] < 0.2  # the calculator: a few percent at most

    leaderboard, compare, significance = outputs[5], outputs[6], outputs[7]
    assert "lr_large" in leaderboard and "lr_small" in leaderboard
    assert "learning_rate" in compare
    assert "n = 30" in significance
    report = Path("experiments/gsm8k.html").read_text(encoding="utf-8")
    assert "lr_small" in report and "lr_large" in report
    lines = Path("experiments/oracle.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == [str(i) for i in range(30)]
    capsys.readouterr()


def test_predictions_file_scores_like_the_model(_workspace: Path) -> None:
    from examples.gsm8k.models import oracle

    _script("make_predictions").main(
        ["--model", "oracle", "--num_samples", "25", "--out", "p.jsonl"]
    )
    direct = trialbook.BenchmarkRegistry.evaluate(oracle(), "gsm8k", num_samples=25, progress=False)
    from trialbook.evaluation import PredictionsFile

    saved = trialbook.BenchmarkRegistry.evaluate(
        PredictionsFile("p.jsonl"), "gsm8k", num_samples=25, progress=False
    )
    assert saved.metrics == direct.metrics
    assert [s.correct for s in saved.samples] == [s.correct for s in direct.samples]


def test_models_are_deterministic_and_nested() -> None:
    from examples.gsm8k.models import NoisyOracle, calculator, guess, question_of

    prompt = "Solve it.\n\nQ: Ann buys 3 pens at $2 each and 1 book.\nA:"
    assert question_of(prompt) == "Ann buys 3 pens at $2 each and 1 book."
    assert calculator([prompt]) == [guess("Ann buys 3 pens at $2 each and 1 book.")]
    assert calculator([prompt])[0].endswith("#### 6")
    assert guess("Nothing here.").endswith("#### 0")

    low = trialbook.BenchmarkRegistry.evaluate(NoisyOracle(0.3), "gsm8k", progress=False)
    high = trialbook.BenchmarkRegistry.evaluate(NoisyOracle(0.7), "gsm8k", progress=False)
    # The higher skill knows every question the lower one knows.
    assert all(h.correct for lo, h in zip(low.samples, high.samples, strict=True) if lo.correct)
    assert 0.25 < low.metrics["accuracy"] < 0.4 < 0.65 < high.metrics["accuracy"] < 0.8
    assert all(s.extra["format_ok"] for s in high.samples)


def test_cli_model_spec_names_the_adapter(_workspace: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "gsm8k",
            "--model",
            "python:examples.gsm8k.models:oracle",
            "-n",
            "5",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n"] == 5


def test_mistakes_are_one_sentence_and_record_nothing(
    _workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.gsm8k.models import NoisyOracle

    with pytest.raises(ConfigError, match=r"skill 1\.5 is not in \[0, 1\]"):
        NoisyOracle(1.5)
    train = _script("train_with_tracking").main
    for argv, message in (
        (["--num_steps", "0"], "--num_steps 0 must be at least 1"),
        (["--learning_rate", "-1"], "--learning_rate -1.0 must be positive"),
        (["--num_samples", "0"], "--num_samples 0 must be at least 1"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            train(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert not _workspace.exists()  # nothing was started

    make = _script("make_predictions").main
    with pytest.raises(SystemExit) as exit_info:
        make(["--out", "missing/p.jsonl"])
    assert exit_info.value.code == 2
    assert "folder missing does not exist" in capsys.readouterr().err
    assert not Path("missing").exists()


def test_failed_evaluation_marks_the_run_failed(
    _workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _script("train_with_tracking")

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("model crashed")

    monkeypatch.setattr(module.BenchmarkRegistry, "evaluate", broken)
    with pytest.raises(RuntimeError, match="model crashed"):
        module.main(["--num_steps", "3", "--experiment_name", "broken"])
    run = trialbook.open_store(_workspace).get_run("broken")
    assert run.status == "failed"
    assert len(trialbook.open_store(_workspace).metric_history(run.id, "train/loss")) == 3


def test_readme_python_block_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out == "Accuracy: 75.0%\n"
