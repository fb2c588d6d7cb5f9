"""Seed 003's example (examples/arithmetic): data, the number embedding, the models' value
stream, and the suite end to end through the command line on tiny settings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from examples.arithmetic import embedding as emb
from examples.arithmetic.config import ArithmeticConfig, result_settings
from examples.arithmetic.data import (
    UNITS,
    convert,
    ensure_data,
    generate,
    held_out_pairs,
)
from pydantic import ValidationError

import trialbook

REPO = Path(__file__).resolve().parents[2]
SMALL = "examples/arithmetic/configs/arithmetic_small.yaml"
OPERAND = re.compile(r"\d+")


def _config(task: str, tmp: Path | None = None, **data: Any) -> ArithmeticConfig:
    folder = tmp or Path("unused")
    return ArithmeticConfig.model_validate(
        {
            "task": task,
            "seed": 1,
            "data": {"train_size": 300, "test_size": 60, **data},
            "paths": {"data_dir": str(folder / "data"), "results_dir": str(folder / "results")},
        }
    )


def _trialbook(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trialbook", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


# ------------------------------------------------------------------ data


def test_arithmetic_data_are_deterministic_and_each_split_holds_its_promise() -> None:
    config = _config("arithmetic")
    splits = generate(config)
    assert splits == generate(config)
    assert splits != generate(_config("arithmetic", seed=7))
    d = config.data
    assert [len(splits[s]) for s in splits] == [300, 60, 60, 60]
    train_inputs = {r["input"] for r in splits["train"]}
    assert not train_inputs & {r["input"] for r in splits["test_id"]}
    for name, rows in splits.items():
        for row in rows:
            operands = [int(x) for x in OPERAND.findall(row["input"])]
            assert row["ops"] == len(operands) - 1
            # Python's own precedence is the reference for the generated targets.
            assert int(row["target"]) == eval(row["input"]) == row["value"] != 0
            low, high = d.ood_magnitude_range if name == "test_ood_magnitude" else d.id_range
            assert all(low <= x <= high for x in operands), (name, row)
            if name == "test_ood_length":
                assert d.ood_max_ops <= row["ops"] <= d.ood_max_ops + 2
            else:
                assert 1 <= row["ops"] <= d.max_ops
    assert {r["id"] for r in splits["test_id"]} == {f"test_id-{i:05d}" for i in range(60)}


def test_units_data_keep_the_ood_pairs_out_of_training_with_correct_targets() -> None:
    config = _config("units", ood_magnitude_range=[1e6, 1e9])
    splits = generate(config)
    assert splits == generate(config)
    held = held_out_pairs(config.data.unit_types)
    seen = {tuple(r["pair"]) for name in ("train", "test_id") for r in splits[name]}
    novel = {tuple(r["pair"]) for r in splits["test_ood_types"]}
    assert novel and novel <= held and not novel & seen
    # Every unit of the new pairs is known from training: only the combination is new.
    assert {u for pair in novel for u in pair} <= {u for pair in seen for u in pair}
    for name, rows in splits.items():
        kinds = {r["kind"] for r in rows}
        assert kinds == {"convert", "can_add"}, name
        for row in rows:
            a, b = row["pair"]
            if row["kind"] == "can_add":
                assert row["target"] == ("yes" if UNITS[a][0] == UNITS[b][0] else "no")
                continue
            value = float(row["input"].split()[1])
            assert row["input"] == f"convert {row['input'].split()[1]} {a} to {b}"
            assert row["value"] == pytest.approx(convert(value, a, b), rel=1e-5)
            assert row["target"].endswith(f" {b}") and row["value"] != 0
            low, high = (1e6, 1e9) if name == "test_ood_magnitude" else config.data.value_range
            assert low <= value <= high
    assert convert(100, "degC", "degF") == pytest.approx(212)
    assert convert(3, "km", "m") == pytest.approx(3000)


def test_data_folders_are_written_once_and_never_silently_reused_for_other_settings(
    tmp_path: Path,
) -> None:
    config = _config("arithmetic", tmp_path)
    first = ensure_data(config)
    folder = tmp_path / "data"
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "test_id.jsonl",
        "test_ood_length.jsonl",
        "test_ood_magnitude.jsonl",
        "train.jsonl",
    ]
    assert ensure_data(config) == first  # read back, not regenerated
    # The config itself refuses the folder (so `trialbook run` stops before any run) ...
    with pytest.raises(ValidationError, match=r"data\.train_size differ.*paths\.data_dir"):
        _config("arithmetic", tmp_path, train_size=301)
    # ... and so does reading it, for a config that skipped validation.
    other = config.model_copy(update={"data": config.data.model_copy(update={"train_size": 301})})
    with pytest.raises(trialbook.ConfigError, match=r"data\.train_size differ.*paths\.data_dir"):
        ensure_data(other)
    assert json.loads((folder / "manifest.json").read_text())["data"]["train_size"] == 300


def test_a_results_folder_holding_results_of_other_settings_is_refused(tmp_path: Path) -> None:
    config = _config("arithmetic", tmp_path)
    settings = result_settings(config.task, config.data, config.model, config.training)
    seed_file = tmp_path / "results" / "hybrid" / "seed_1" / "evaluation_results.json"
    seed_file.parent.mkdir(parents=True)
    seed_file.write_text(json.dumps({"settings": settings, "splits": {}}))
    assert _config("arithmetic", tmp_path).paths.results_dir == str(tmp_path / "results")
    # The thread count does not change the numbers; the epochs do.
    raw = {**config.model_dump(), "training": {"threads": 2}}
    ArithmeticConfig.model_validate(raw)
    raw["training"] = {"epochs": 5}
    with pytest.raises(ValidationError, match=r"\(training\.epochs differ, in hybrid/seed_1\)"):
        ArithmeticConfig.model_validate(raw)


# ------------------------------------------------------------------ the number embedding


@pytest.mark.parametrize(("a", "b"), [(12.0, 30.0), (99999.0, 12345.0), (-7.5, 3.25)])
def test_the_embedding_turns_addition_into_vector_addition(a: float, b: float) -> None:
    assert np.allclose(emb.linear_part(a) + emb.linear_part(b), emb.linear_part(a + b))
    assert np.allclose(emb.linear_part(a) - emb.linear_part(b), emb.linear_part(a - b))
    assert emb.decode_linear(emb.embed(a) + emb.embed(b)) == pytest.approx(a + b)
    # A linear projection to any hidden size keeps the algebra (the hybrid's learned layer).
    w = np.random.default_rng(0).normal(size=(48, emb.DIM))
    lin = np.concatenate([emb.linear_part(a), np.zeros(emb.DIM - emb.LINEAR_DIM)])
    lin_b = np.concatenate([emb.linear_part(b), np.zeros(emb.DIM - emb.LINEAR_DIM)])
    both = np.concatenate([emb.linear_part(a + b), np.zeros(emb.DIM - emb.LINEAR_DIM)])
    assert np.allclose(w @ lin + w @ lin_b, w @ both)


@pytest.mark.parametrize(("a", "b"), [(12.0, 30.0), (99999.0, 12345.0), (-7.5, 3.25), (-2.0, -4.0)])
def test_the_embedding_turns_products_into_sums_of_log_magnitudes_and_products_of_signs(
    a: float, b: float
) -> None:
    la, lb, lab = emb.log_part(a), emb.log_part(b), emb.log_part(a * b)
    assert np.allclose(la[: emb.LOG_DIM] + lb[: emb.LOG_DIM], lab[: emb.LOG_DIM])
    assert la[-1] * lb[-1] == lab[-1]
    assert np.allclose(la[: emb.LOG_DIM] - lb[: emb.LOG_DIM], emb.log_part(a / b)[: emb.LOG_DIM])
    log_magnitude, sign = emb.decode_log(emb.embed(a * b))
    assert sign * 10**log_magnitude == pytest.approx(a * b)
    assert emb.embed(a).shape == (128,) and np.array_equal(emb.embed(a), emb.embed(a))


def test_the_hybrid_value_stream_is_exact_at_magnitudes_never_trained_on() -> None:
    """With the routing an oracle gives (from each number's left operator), the value stream
    through the projected embedding computes the expression exactly: only routing is learned."""
    torch = pytest.importorskip("torch")
    from examples.arithmetic import models

    torch.manual_seed(0)
    model = models.HybridModel(32, 1, 4, 0.0)
    rows = [
        {"input": "12345*67890-99999", "value": 12345 * 67890 - 99999},
        {"input": "5-3*4+10", "value": 5 - 3 * 4 + 10},
        {"input": "0*98765+43210", "value": 43210},
        {"input": "81000/90*7", "value": 81000 / 90 * 7},
    ]
    batch = models.HybridBatch(rows, "arithmetic")
    roles = {op: [9.0 if i == k else -9.0 for i in range(4)] for k, op in enumerate("+-*/")}
    oracle = torch.tensor(
        [[roles.get(models.id_char(int(p)), roles["+"]) for p in row] for row in batch.previous]
    )
    del model.route
    model.route = lambda states: oracle  # type: ignore[assignment,method-assign]
    got = model.arithmetic(batch).tolist()
    assert got == pytest.approx([r["value"] for r in rows], rel=1e-12)
    # Training only sees the answers: the roles that reproduce them make the loss small.
    target = torch.tensor([float(r["value"]) for r in rows], dtype=torch.float64)
    with torch.no_grad():
        assert float(model.arithmetic_loss(batch, target)) < 1e-3
        assert float(model.arithmetic_loss(batch, target * 3)) > 1
    # The answer's form follows the learned roles, never the text: routed as "+", "8/2" is
    # 10, printed as an integer; routed as "/", "8*2" is 4.0, printed by format_number.
    for text, role, answer in (("8/2", "+", "10"), ("8*2", "/", "4"), ("7*3", "/", "2.33333")):
        forced = torch.tensor([[[9.0 if r == role else -9.0 for r in models.ROLES]] * 3])
        model.route = lambda states, forced=forced: forced  # type: ignore[assignment,method-assign,misc]
        assert models.hybrid_predict(model, [{"input": text}], "arithmetic") == [answer]
    assert models.hybrid_tokens("12+345", "arithmetic") == [
        (models.NUM, models.NUMBER, 12.0, 0),
        (models.char_id("+"), models.OPERATOR, 0.0, 0),
        (models.NUM, models.NUMBER, 345.0, 0),
    ]


# ------------------------------------------------------------------ the suite, end to end

TINY = [
    "--train-size",
    "120",
    "--test-size",
    "30",
    "--epochs",
    "1",
    "--hidden-dim",
    "32",
]


@pytest.mark.slow  # nine tracked runs in subprocesses and five CLI commands (~35 s)
def test_the_suite_compares_both_models_over_two_seeds_through_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    paths = ["--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")]

    # Step 4 first: nothing to evaluate yet, and the run says what to run.
    early = _trialbook(
        "run", SMALL, "--suite", "evaluate", "--seeds", "1", *TINY, *paths, "--root", str(root)
    )
    assert early.returncode == 1, early.stdout + early.stderr
    (failed,) = trialbook.load_runs(root)["run_id"]
    error = trialbook.open_store(root).get_run(failed).error or ""
    assert error.strip().endswith(
        "No completed token_only and hybrid runs of seed 1 with this config in the workspace "
        "(token_only: none has run; hybrid: none has run); train first with the same suite file "
        "and overrides: `trialbook run <suite file> --suite compare --seeds 1`, then evaluate "
        "again."
    )
    assert not (tmp_path / "data").exists() and not (tmp_path / "results").exists()

    done = _trialbook(
        "run", SMALL, "--seeds", "1", "2", "--jobs", "2", *TINY, *paths, "--root", str(root)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = trialbook.load_runs(root, statuses="completed")
    assert sorted(runs["name"]) == sorted(["data", "token_only", "hybrid", "evaluate"] * 2)

    # evaluation_results.json: per model and seed, and merged by the evaluate step.
    splits = ["test_id", "test_ood_magnitude", "test_ood_length"]
    merged = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())
    assert merged["task"] == "arithmetic"
    assert sorted(merged["models"]) == ["hybrid", "token_only"]
    for model in ("hybrid", "token_only"):
        assert sorted(merged["models"][model]) == ["seed_1", "seed_2"]
        assert list(merged["mean"][model]) == splits
        one = json.loads(
            (tmp_path / "results" / model / "seed_2" / "evaluation_results.json").read_text()
        )
        assert one["model"] == model and one["seed"] == 2 and list(one["splits"]) == splits
        assert set(one["splits"]["test_ood_magnitude"]) == {
            "n",
            "exact_match",
            "relative_error",
            "median_relative_error",
            "n_numeric",
        }
        assert one["splits"]["test_id"]["n"] == 30

    # One evaluation per split in the Store, per-sample scores being relative errors.
    trained = runs[runs["name"].isin(["token_only", "hybrid"])]
    for split in splits:
        column = f"eval.arithmetic/{split}.relative_error"
        assert trained[column].notna().all(), column
    # The evaluate step re-scores the saved checkpoints: the same numbers as the training runs.
    evaluated = runs[runs["name"] == "evaluate"].set_index("seed")
    for model in ("token_only", "hybrid"):
        own = trained[trained["name"] == model].set_index("seed")
        for split in splits:
            again = evaluated[f"metrics.{model}/{split}/exact_match"]
            assert again.to_dict() == own[f"eval.arithmetic/{split}.exact_match"].to_dict()
    store = trialbook.open_store(root)
    hybrid_run = trained[trained["name"] == "hybrid"]["run_id"].iloc[0]
    samples = store.evaluation_samples(hybrid_run, "arithmetic/test_ood_magnitude")
    assert len(samples) == 30
    assert all(s.score == s.extra["relative_error"] for s in samples)
    # Each metric is a sample field too: a paired test on exact_match reads 0/1, not the score.
    assert all(s.extra["exact_match"] == float(bool(s.correct)) for s in samples)
    assert [a.path.endswith("id_vs_ood.png") for a in store.artifacts(hybrid_run)] == [True]
    assert len(store.checkpoints(hybrid_run)) == 1

    # Significance on the OOD split's relative error: lower is better, across seeds (Welch) ...
    groups = [
        f"group:{runs[runs['name'] == n]['group'].iloc[0][:12]}" for n in ("token_only", "hybrid")
    ]
    ood = ["--benchmark", "arithmetic/test_ood_magnitude", "--metric", "relative_error"]
    test = _trialbook("significance", *groups, *ood, "--json", "--root", str(root))
    assert test.returncode == 0, test.stderr
    (result,) = json.loads(test.stdout)
    assert result["test"] == "welch" and result["metric"] == "relative_error"
    # ... and sample by sample between two runs: graded scores on 30 samples, below the 50
    # where auto trusts the paired bootstrap, so the sign-flip permutation test.
    singles = [trained[trained["name"] == n]["run_id"].iloc[0] for n in ("token_only", "hybrid")]
    paired = _trialbook("significance", *singles, *ood, "--json", "--root", str(root))
    assert paired.returncode == 0, paired.stderr
    assert json.loads(paired.stdout)[0]["test"] == "permutation"

    report = tmp_path / "report.html"
    shown = _trialbook("report", *groups, "--out", str(report), "--root", str(root))
    assert shown.returncode == 0, shown.stderr
    assert "arithmetic/test_ood_magnitude" in report.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--set", "model.hidden_dim=30"], "hidden_dim 30 is not divisible by num_heads 4"),
        (["--set", "task=algebra"], "task: got 'algebra'; expected 'arithmetic' or 'units'"),
        (["--train-size", "-5"], "data.train_size: got -5; expected greater than or equal to 1"),
        (["--set", "data.max_ops=5"], "max_ops is at most 4, because the hybrid's loss sums"),
        (["--set", "data.ood_max_ops=60"], "more than the models read (158); lower data.ood_max"),
        # The data folder holds data of other settings (made below with 100 examples).
        (["--train-size", "120"], "holds arithmetic data generated with other settings (data.t"),
    ],
)
def test_a_bad_config_value_is_one_sentence_and_exit_2_with_nothing_run(
    tmp_path: Path, options: list[str], words: str
) -> None:
    root, data = tmp_path / "ws", tmp_path / "data"
    ensure_data(_config("arithmetic", tmp_path, train_size=100, test_size=20, id_range=[0, 99]))
    before = sorted(p.name for p in data.iterdir())
    paths = ["--data-dir", str(data), "--results-dir", str(tmp_path / "results")]
    done = _trialbook("run", SMALL, "--suite", "hybrid", *options, *paths, "--root", str(root))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ") and words in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not root.exists() or trialbook.load_runs(root).empty
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert sorted(p.name for p in data.iterdir()) == before


def test_both_models_answer_every_kind_of_units_question_in_the_expected_form() -> None:
    torch = pytest.importorskip("torch")
    from examples.arithmetic import models

    torch.manual_seed(0)
    rows = generate(_config("units"))["test_id"][:8]
    assert {r["kind"] for r in rows} == {"convert", "can_add"}
    hybrid = models.HybridModel(32, 1, 4, 0.0)
    loss = models.hybrid_loss(hybrid, rows, "units")
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()  # type: ignore[no-untyped-call]
    token_only = models.TokenOnlyModel(32, 1, 4, 0.0)
    for answers in (
        models.hybrid_predict(hybrid, rows, "units"),
        models.token_only_predict(token_only, rows, 12),
    ):
        for row, answer in zip(rows, answers, strict=True):
            if row["kind"] == "can_add":
                continue  # the token-only model may write anything; the hybrid yes or no
            # Constrained decoding: every numeric answer starts with a readable number.
            assert re.match(r"-?\d", answer), (row["input"], answer)
    hybrid_answers = models.hybrid_predict(hybrid, rows, "units")
    for row, answer in zip(rows, hybrid_answers, strict=True):
        if row["kind"] == "can_add":
            assert answer in ("yes", "no")
        else:
            assert answer.split(" ")[1] in UNITS
