"""examples/cartography/ (CLINC150, seed 001) end to end through the CLI on a tiny subset:
10 intents plus oos, 3 epochs, in a temporary folder (as a user would, with the repo on
PYTHONPATH)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from examples.cartography import clinc

import trialbook
from trialbook.cartography import cartography_metrics, load_clusters

REPO = Path(__file__).resolve().parents[2]
SUITE = str(REPO / "examples" / "cartography" / "suite.yaml")
STEP = str(REPO / "examples" / "cartography" / "cartography.yaml")
TINY = ["--max-intents", "10", "--epochs", "3"]
OUT = Path("experiments/cartography_output/clinc150")


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TRIALBOOK_ROOT", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def _trialbook(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(cwd, "-m", "trialbook", *args, "--root", "ws")


def test_scores_in_scope_accuracy_oos_recall_and_macro_f1() -> None:
    gold = ["a", "a", "b", "oos", "oos"]
    predicted = ["a", "oos", "b", "b", "oos"]
    s = clinc.scores(gold, predicted)
    assert s["in_scope_accuracy"] == pytest.approx(2 / 3)
    assert s["oos_recall"] == pytest.approx(0.5)
    assert s["accuracy"] == pytest.approx(3 / 5)
    # a: tp 1, fn 1 -> 2/3; b: tp 1, fp 1 (the oos query) -> 2/3
    assert s["macro_f1"] == pytest.approx(2 / 3)


def test_data_ids_subsets_and_flips_are_stable() -> None:
    splits = clinc.load_clinc(max_intents=3)
    train = splits["train"]
    assert len(train) == 3 * 100 + 100 and len(set(train.ids)) == len(train)
    assert train.ids[0] == "train-" + train.ids[0].split("-")[1] and "oos_train-00000" in train.ids
    assert len(splits["test"]) == 3 * 30 + 1000
    assert clinc.subsample(train, 50, 0).ids == clinc.subsample(train, 50, 0).ids
    classes = sorted(set(train.labels))
    a, b = clinc.subsample(train, 300, 0), clinc.subsample(train, 300, 0)
    before = list(a.labels)
    flipped = clinc.flip_labels(a, 0.1, classes, seed=3)
    assert flipped == clinc.flip_labels(b, 0.1, classes, seed=3) and len(flipped) == 30
    changed = {i for i, old, new in zip(a.ids, before, a.labels, strict=True) if old != new}
    assert changed == flipped
    # n-gram buckets come from crc32, not hash(): the same in every process
    f = clinc.Featurizer(["book a flight", "a flight"], buckets=1000, word_ngrams=2, min_count=1)
    ids = f.ids("Book a flight!")
    assert ids[:3] == [f.vocab["book"], f.vocab["a"], f.vocab["flight"]]
    assert ids[3:] == [len(f.vocab) + zlib.crc32(g) % 1000 for g in (b"book a", b"a flight")]


BAD_INPUT = {
    # the arguments after `trialbook run`, and the message's tail
    "no intents": (
        [SUITE, "--suite", "minimal", "--max-intents", "0"],
        "data.max_intents: got 0; expected greater than 0.",
    ),
    "typo'd key": (
        [SUITE, "--suite", "minimal", "--set", "training.num_epochs=3"],
        "did you mean 'training.num_train_epochs'?",
    ),
    "missing data": (
        [STEP, "--suite", "clean", "data.path=nowhere/data_full.json"],
        "data.path: got 'nowhere/data_full.json'; there is no such file",
    ),
    "noise above 1": (
        [STEP, "--suite", "clean", "data.label_noise=1.5"],
        "data.label_noise: got 1.5; expected less than 1.",
    ),
}


@pytest.mark.parametrize("mistake", sorted(BAD_INPUT))
def test_bad_input_is_one_sentence_exit_2_and_nothing_written(
    mistake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from trialbook.cli import app

    args, message = BAD_INPUT[mistake]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the config check imports the entrypoint
    monkeypatch.delenv("TRIALBOOK_ROOT", raising=False)
    result = CliRunner().invoke(app, ["run", *args, "--root", "ws"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # ~10 tiny trainings in subprocesses (~40 s)
def test_clinc150_example_end_to_end(tmp_path: Path) -> None:
    cwd = tmp_path
    # 1. A strategy before the dynamics exist: one sentence naming the command, nothing created.
    early = _trialbook(cwd, "run", SUITE, "--suite", "minimal", *TINY)
    assert early.returncode == 2, early.stderr
    assert "Cartography metrics not found" in early.stderr
    assert (
        "`trialbook run examples/cartography/cartography.yaml --suite clean --max-intents 10`"
        in early.stderr
    )
    assert "Traceback" not in early.stderr + early.stdout
    assert not (cwd / "ws").exists()
    no_embeddings = _run(cwd, "-m", "examples.cartography.clusters")
    assert no_embeddings.returncode == 2
    assert "run the cartography step first" in no_embeddings.stderr
    assert "Traceback" not in no_embeddings.stderr

    # 2. The cartography step, clean and with 10% of the labels flipped.
    step = _trialbook(cwd, "run", STEP, *TINY, "--jobs", "2")
    assert step.returncode == 0, step.stdout + step.stderr
    assert (cwd / OUT / "training_dynamics.jsonl").is_file()

    # Dynamics recorded on other data (10 intents) do not fit a 12-intent run: refused too.
    written = sorted(p.name for p in (cwd / "ws").iterdir())  # the two step runs and the index
    other = _trialbook(cwd, "run", SUITE, "--suite", "minimal", "--max-intents", "12")
    assert other.returncode == 2 and "lacks 200 of this run's training examples" in other.stderr
    assert "cartography.yaml --suite clean --max-intents 12`" in other.stderr
    assert "Traceback" not in other.stderr + other.stdout

    # 3. The cluster filter before the clusters exist names the cluster step.
    sample = _trialbook(cwd, "run", SUITE, "--suite", "sample", *TINY)
    assert sample.returncode == 2 and "Cluster assignments not found" in sample.stderr
    assert f"`python -m examples.cartography.clusters {OUT.as_posix()}`" in sample.stderr
    assert "Traceback" not in sample.stderr + sample.stdout
    assert sorted(p.name for p in (cwd / "ws").iterdir()) == written  # no run folder added
    assert len(trialbook.load_runs(cwd / "ws")) == 2  # and no run row
    too_big = _run(cwd, "-m", "examples.cartography.clusters", "--min-cluster-size", "5000")
    assert too_big.returncode == 2 and "Traceback" not in too_big.stderr
    assert "is more than the 1100 examples" in too_big.stderr
    clusters = _run(cwd, "-m", "examples.cartography.clusters", "--min-cluster-size", "5")
    assert clusters.returncode == 0, clusters.stderr
    table = load_clusters(cwd / OUT)
    assert len(table) == 1100 and set(table.columns) >= {"id", "cluster", "probability"}

    # 4. The minimal suite: baseline and a cartography filter, scored on the test queries.
    minimal = _trialbook(cwd, "run", SUITE, "--suite", "minimal", *TINY, "--jobs", "2")
    assert minimal.returncode == 0, minimal.stdout + minimal.stderr
    runs = trialbook.load_runs(cwd / "ws", statuses="completed")
    suite_runs = runs[runs["name"].isin(["baseline", "carto_top33"])]
    assert sorted(suite_runs["name"]) == ["baseline", "carto_top33"]
    for metric in ("in_scope_accuracy", "macro_f1", "oos_recall", "accuracy"):
        values = suite_runs[f"eval.clinc150.{metric}"].to_numpy(dtype=float)
        assert np.all((values >= 0) & (values <= 1)), (metric, values)
    assert (suite_runs["eval.clinc150.in_scope_accuracy"] > 0.5).all()  # 11 classes: chance 0.09
    filtered = suite_runs[suite_runs["name"] == "carto_top33"].iloc[0]
    assert 0 < filtered["params.train_examples"] < 1100
    (folder,) = (cwd / "ws").glob(f"carto_top33_{str(filtered['run_id'])[-6:]}")
    lines = (folder / "evaluations" / "clinc150.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 10 * 30 + 1000 and {"id", "correct", "intent"} <= set(first)

    board = _trialbook(
        cwd, "leaderboard", "--benchmark", "clinc150", "--metric", "in_scope_accuracy"
    )
    assert board.returncode == 0 and "carto_top33" in board.stdout, board.stderr

    # 5. The metrics are a direct NumPy computation from the recorded jsonl.
    rows = [json.loads(x) for x in (cwd / OUT / "training_dynamics.jsonl").read_text().splitlines()]
    probs = np.array([r["gold_prob"] for r in rows])
    correct = np.array([r["correct"] for r in rows], dtype=float)
    assert probs.shape == (1100, 3)
    metrics = cartography_metrics(cwd / OUT)
    assert metrics["id"].tolist() == [r["id"] for r in rows]
    np.testing.assert_allclose(metrics["confidence"], probs.mean(axis=1))
    np.testing.assert_allclose(metrics["variability"], probs.std(axis=1))
    np.testing.assert_allclose(metrics["correctness"], correct.mean(axis=1))

    # 6. Flipped labels land in the hard-to-learn region far more often than by chance.
    noisy = runs[runs["name"] == "cartography_noisy"].iloc[0]
    recall, share = noisy["metrics.noise/hard_recall"], noisy["metrics.noise/hard_fraction"]
    assert noisy["metrics.noise/flipped_fraction"] == pytest.approx(0.1, abs=0.001)
    assert recall >= 0.5 and recall > 3 * share, (recall, share)


@pytest.mark.slow  # two training runs in subprocesses (~10 s)
def test_the_fasttext_recipe_trains_with_sgd_one_example_at_a_time(tmp_path: Path) -> None:
    baselines = str(REPO / "examples" / "cartography" / "baselines.yaml")
    args = ["run", baselines, "--max-intents", "5", "--max-train-samples", "300", "--epochs", "2"]
    result = _trialbook(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    runs = {r["name"]: r for r in trialbook.load_runs(tmp_path / "ws").to_dict("records")}
    assert sorted(runs) == ["baseline", "fasttext_recipe"]
    with trialbook.open_store(tmp_path / "ws") as db:
        recipe = db.get_run(runs["fasttext_recipe"]["run_id"]).config
    assert recipe["model"] == {**recipe["model"], "optimizer": "sgd", "word_ngrams": 1}
    assert recipe["training"]["per_device_train_batch_size"] == 1
    # Both learn the 5 intents well above chance (1/6 of the in-scope test queries).
    for name in runs:
        assert runs[name]["eval.clinc150.in_scope_accuracy"] > 0.5, name
