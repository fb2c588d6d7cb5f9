"""`trialbook evaluate` and `trialbook benchmarks`: recording, output, and every bad input."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_user_error

import trialbook
from trialbook.evaluation import GSM8K

COMMON = {"system_metrics": False, "capture_packages": False}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.chdir(tmp_path)
    return Cli()


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("preds") / "gold.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for row in GSM8K().load_dataset("test"):
            f.write(json.dumps({"id": row["id"], "prediction": row["solution"]}) + "\n")
    return path


def _runs(root: Path) -> list[trialbook.RunRecord]:
    if not (root / "trialbook.db").exists():
        return []
    with trialbook.open_store(root) as db:
        return db.list_runs()


def _first_lines(path: Path, n: int, out: Path) -> Path:
    out.write_text("".join(path.read_text().splitlines(keepends=True)[:n]), encoding="utf-8")
    return out


def test_predictions_are_scored_and_recorded_as_a_new_run(
    cli: Cli, gold: Path, tmp_path: Path
) -> None:
    result = cli("evaluate", "gsm8k", "--predictions", gold, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # one JSON object, nothing else on stdout
    assert doc["n"] == 1319 and doc["benchmark"] == "gsm8k" and doc["split"] == "test"
    assert doc["metrics"]["accuracy"] == 1.0 and doc["metrics"]["partial_accuracy"] == 1.0
    (run,) = _runs(tmp_path / "experiments")
    assert run.id == doc["run_id"] and run.experiment == "evaluate"
    assert run.status == "completed"
    assert run.config["predictions"] == str(gold) and run.config["extraction"] == "strict"
    folder = Path(run.folder or "")
    assert len((folder / "evaluations" / "gsm8k.jsonl").read_text().splitlines()) == 1319
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["evaluations"]["gsm8k"]["n"] == 1319


def test_human_output_shows_the_metrics_and_the_run(cli: Cli, gold: Path, tmp_path: Path) -> None:
    result = cli(
        "evaluate", "gsm8k", "--predictions", gold, "-n", "20", "--experiment", "mine",
        "--extraction", "flexible",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "gsm8k (test, n=20)" in result.stdout
    assert "accuracy_flexible" in result.stdout and "format_compliance" in result.stdout
    (run,) = _runs(tmp_path / "experiments")
    assert run.id in result.stdout and run.experiment == "mine"
    assert run.config["extraction"] == "flexible" and run.config["num_samples"] == 20


def test_evaluation_added_to_a_finished_run(cli: Cli, gold: Path, tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("train", {"lr": 0.1}, name="base", root=root, **COMMON) as run:
        run.log({"loss": 1.0}, step=0)
    result = cli("evaluate", "gsm8k", "--predictions", gold, "--run", "base", "-n", "5", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["run_id"] == run.id
    (again,) = _runs(root)  # no new run
    assert again.status == "completed"
    shown = cli("show", run.id[-6:])
    assert "gsm8k" in shown.stdout and "accuracy=1" in shown.stdout
    assert (run.path / "evaluations" / "gsm8k.jsonl").is_file()


def test_partial_file_needs_allow_missing(cli: Cli, gold: Path, tmp_path: Path) -> None:
    part = _first_lines(gold, 10, tmp_path / "part.jsonl")
    line = assert_user_error(
        cli("evaluate", "gsm8k", "--predictions", part),
        "no prediction for 1309 of the 1319 examples",
        "'10', '11', '12', '13', '14' and 1304 more",
        "--allow-missing",
    )
    assert "part.jsonl" in line
    assert _runs(tmp_path / "experiments") == []
    result = cli("evaluate", "gsm8k", "--predictions", part, "--allow-missing", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["n"] == 10 and doc["missing"] == 1309 and doc["metrics"]["accuracy"] == 1.0


def test_jsonl_benchmark_with_a_python_model(cli: Cli, tmp_path: Path) -> None:
    rows = [{"k": f"x{i}", "q": f"{i}+{i}", "a": str(2 * i), "cat": "ab"[i % 2]} for i in range(6)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "adder_model.py").write_text(
        "def answer(prompts):\n"
        "    return ['no' if p == '2+2' else str(sum(map(int, p.split('+')))) for p in prompts]\n"
    )
    result = cli(
        "evaluate", "jsonl", "--data", "qa.jsonl", "--question-field", "q", "--answer-field", "a",
        "--id-field", "k", "--slice-by", "cat", "--model", "python:adder_model:answer", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["benchmark"] == "qa" and doc["n"] == 6
    assert doc["metrics"]["accuracy"] == pytest.approx(5 / 6)
    assert doc["slices"]["cat"] == {"a": {"accuracy": pytest.approx(2 / 3)}, "b": {"accuracy": 1.0}}
    (run,) = _runs(tmp_path / "experiments")
    with trialbook.open_store(tmp_path / "experiments") as db:
        samples = db.evaluation_samples(run.id, "qa")
    assert [s.sample_id for s in samples] == [f"x{i}" for i in range(6)]
    assert samples[2].correct is False and samples[2].prediction == "no"


def test_benchmarks_lists_the_registered_ones(cli: Cli) -> None:
    plain = cli("benchmarks")
    assert plain.exit_code == 0
    assert "gsm8k" in plain.stdout and "test 1,319, train 7,473" in plain.stdout
    doc = json.loads(cli("benchmarks", "--json").stdout)
    by_name = {b["name"]: b for b in doc}
    assert by_name["gsm8k"]["sizes"] == {"test": 1319, "train": 7473}
    assert by_name["jsonl"]["splits"] == ["test"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["gsm8", "--predictions", "p.jsonl"], ["Unknown benchmark 'gsm8'", "gsm8k, jsonl"]),
        (["gsm8k"], ["exactly one of --model SPEC", "--predictions FILE"]),
        (["gsm8k", "--model", "python:x:y", "--predictions", "p.jsonl"], ["exactly one of"]),
        (["gsm8k", "--predictions", "p.jsonl", "--run", "a", "--experiment", "b"], ["not both"]),
        (["gsm8k", "--model", "python:x:y", "--allow-missing"], ["--allow-missing applies to"]),
        (
            ["gsm8k", "--predictions", "p.jsonl", "--data", "x.jsonl"],
            ["--data applies to the jsonl"],
        ),
        (["jsonl", "--predictions", "p.jsonl"], ["jsonl benchmark needs --data FILE"]),
        (["gsm8k", "--predictions", "p.jsonl", "--shots", "3"], ["shots must be 0 or 8, got 3"]),
        (["gsm8k", "--predictions", "p.jsonl", "--extraction", "x"], ["extraction 'x'"]),
        (["gsm8k", "--predictions", "p.jsonl", "--split", "dev"], ["no split 'dev'"]),
        (["gsm8k", "--predictions", "p.jsonl", "-n", "0"], ["num_samples must be"]),
        (["gsm8k", "--predictions", "nowhere.jsonl"], ["nowhere.jsonl does not exist"]),
        (["gsm8k", "--predictions", "bad.jsonl"], ["bad.jsonl line 2, column 2 is not valid JSON"]),
        (["gsm8k", "--predictions", "empty.jsonl"], ["empty.jsonl is empty"]),
        (["gsm8k", "--predictions", "p.jsonl", "--run", "nope"], ["No run matches 'nope'"]),
        (["gsm8k", "--model", "python:down_model:generate", "-n", "2"], ["could not be reached"]),
    ],
)
def test_bad_input_is_one_sentence_exit_2_and_records_nothing(
    cli: Cli, tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("other", {}, root=root, **COMMON):
        pass  # so that --run has a store to look in
    (tmp_path / "p.jsonl").write_text('{"id": "0", "prediction": "#### 18"}\n')
    (tmp_path / "bad.jsonl").write_text('{"id": "0", "prediction": "x"}\n{oops\n')
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "down_model.py").write_text(
        "def generate(prompts):\n    raise ConnectionRefusedError('connection refused')\n"
    )
    assert_user_error(cli("evaluate", *args), *fragments)
    assert [r.experiment for r in _runs(root)] == ["other"]


def test_unreachable_endpoint_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    spec = f"openai:http://127.0.0.1:{_closed_port()}/v1?model=m&max_retries=0&timeout=5"
    line = assert_user_error(cli("evaluate", "gsm8k", "--model", spec, "-n", "1"))
    assert "127.0.0.1" in line
    assert _runs(tmp_path / "experiments") == []


def test_new_run_config_names_the_model_spec(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "echo_model.py").write_text("def echo(prompts):\n    return list(prompts)\n")
    spec = "python:echo_model:echo"
    result = cli("evaluate", "gsm8k", "--model", spec, "-n", "3", "--shots", "8", "--json")
    assert result.exit_code == 0, result.stderr
    (run,) = _runs(tmp_path / "experiments")
    assert run.config["model"] == spec and run.config["predictions"] is None
    assert run.config["shots"] == 8 and run.config["batch_size"] == 8
    assert run.name == "gsm8k-echo"


def test_unusable_workspace_is_refused_before_evaluating(
    cli: Cli, gold: Path, tmp_path: Path
) -> None:
    # A file where the workspace's folder should go: nothing can be created under it.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    assert_user_error(
        cli("evaluate", "gsm8k", "--predictions", gold, "--root", blocker / "ws"),
        "Cannot write to the workspace",
        "blocker is not a folder",
    )
    assert blocker.read_text() == "not a folder"


# -- what a review reproduced (issue 4) ---------------------------------------------------------


def test_a_runs_own_samples_as_predictions_give_the_same_metrics(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "half_model.py").write_text(
        "from trialbook.evaluation import GSM8K\n"
        "GOLD = {GSM8K().format_prompt(s): s for s in GSM8K().load_dataset(num_samples=10)}\n"
        "def answer(prompts):\n"
        "    out = []\n"
        "    for i, p in enumerate(prompts):\n"
        "        s = GOLD[p]\n"
        "        out.append(s['solution'] if i % 2 else 'The answer is ' + s['answer'])\n"
        "    return out\n"
    )
    args = ["gsm8k", "-n", "10", "--extraction", "flexible", "--json"]
    first = cli("evaluate", *args, "--model", "python:half_model:answer")
    assert first.exit_code == 0, first.stderr
    doc = json.loads(first.stdout)
    (run,) = _runs(tmp_path / "experiments")
    saved = Path(run.folder or "") / "evaluations" / "gsm8k.jsonl"
    again = cli("evaluate", *args, "--predictions", saved)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["metrics"] == doc["metrics"]
    assert doc["metrics"]["accuracy_strict"] == 0.5 and doc["metrics"]["accuracy"] == 1.0


def test_slice_by_a_field_no_example_has_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    rows = [{"q": f"{i}+{i}", "a": str(2 * i), "cat": "ab"[i % 2]} for i in range(4)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "slice_model.py").write_text(
        "def answer(prompts):\n    return ['0'] * len(prompts)\n"
    )
    args = [
        "evaluate", "jsonl", "--data", "qa.jsonl", "--question-field", "q", "--answer-field", "a",
        "--slice-by", "caat", "--model", "python:slice_model:answer",
    ]  # fmt: skip
    assert_user_error(cli(*args), "'caat' to slice by", "did you mean 'cat'?")
    assert _runs(tmp_path / "experiments") == []


def test_a_broken_plugin_is_one_line_once(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    dist = site / "brokenplug-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[trialbook.benchmarks]\nbroken = brokenplug_mod:Thing\n"
    )
    (site / "brokenplug_mod.py").write_text("import missing_dep_of_brokenplug\n")
    env = {**os.environ, "PYTHONPATH": str(site), "TRIALBOOK_ROOT": str(tmp_path / "ws")}
    code = "from trialbook.cli import main; main()"

    def trialbook_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True
        )

    listed = trialbook_cli("benchmarks")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stderr.strip().splitlines()
    assert line.startswith("trialbook: benchmark plugin 'broken' (brokenplug_mod:Thing) could")
    assert "missing_dep_of_brokenplug" in line and "Warning" not in line and ".py" not in line
    asked = trialbook_cli("evaluate", "broken", "--predictions", "p.jsonl")
    assert asked.returncode == 2
    (line,) = asked.stderr.strip().splitlines()  # the error only, no warning besides
    assert line.startswith("error: Benchmark plugin 'broken' failed to load")


def test_two_evaluations_of_a_benchmark_show_their_times(
    cli: Cli, gold: Path, tmp_path: Path
) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run("base", {}, root=root, name="twice", **COMMON):
        pass
    for _ in range(2):
        result = cli("evaluate", "gsm8k", "--predictions", gold, "-n", "5", "--run", "twice")
        assert result.exit_code == 0, result.stderr
    shown = cli("show", "twice")
    rows = [line.split() for line in shown.stdout.splitlines() if line.strip().startswith("gsm8k")]
    assert len(rows) == 2
    for row in rows:  # benchmark, split, n, date and time of the evaluation, metrics
        assert row[1:3] == ["test", "5"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", row[3]) and re.fullmatch(r"\d\d:\d\d:\d\d", row[4])
    doc = json.loads(cli("show", "twice", "--json").stdout)
    assert [e["benchmark"] for e in doc["evaluations"]] == ["gsm8k", "gsm8k"]
    assert all(e["created_at"] for e in doc["evaluations"])


def test_an_exception_in_a_python_model_is_one_sentence(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "raising_model.py").write_text(
        "def bad(prompts):\n    x = 1\n    raise RuntimeError('boom')\n"
    )
    line = assert_user_error(
        cli("evaluate", "gsm8k", "--model", "python:raising_model:bad", "-n", "2")
    )
    assert line == (
        "error: Model 'raising_model:bad' raised RuntimeError: boom (raising_model.py:3); fix "
        "the model function, or run it directly to see the traceback."
    )
    assert _runs(tmp_path / "experiments") == []


def test_openai_runs_are_named_after_the_model() -> None:
    pytest.importorskip("httpx")
    from trialbook.evaluation import CallableModel, PredictionsFile
    from trialbook.evaluation._workflow import _source_name
    from trialbook.evaluation.models import load_model

    spec = f"openai:http://127.0.0.1:{_closed_port()}/v1?model=qwen-7b"
    assert _source_name(load_model(spec), spec) == "qwen-7b"
    fn = CallableModel(lambda ps: ps, name="mymodels:answer")
    assert _source_name(fn, "python:mymodels:answer") == "answer"
    assert _source_name(PredictionsFile(Path("out/preds.jsonl")), None) == "preds"


def test_json_output_stays_json_when_the_model_prints(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "chatty_model.py").write_text(
        "print('loading the chatty model')\n"
        "def answer(prompts):\n"
        "    print('generating', len(prompts))\n"
        "    return ['#### 1'] * len(prompts)\n"
    )
    result = cli("evaluate", "gsm8k", "--model", "python:chatty_model:answer", "-n", "3", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 3  # nothing but the JSON object
    assert "loading the chatty model" in result.stderr and "generating 3" in result.stderr


def test_jsonl_benchmark_named_with_predictions_into_a_run(cli: Cli, tmp_path: Path) -> None:
    # --name is the jsonl benchmark's option; it used to collide with get()'s own argument.
    rows = [{"id": f"x{i}", "question": f"{i}+{i}", "answer": str(2 * i)} for i in range(4)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = [{"id": f"x{i}", "prediction": str(2 * i if i else 9)} for i in range(4)]
    (tmp_path / "xp.jsonl").write_text("".join(json.dumps(r) + "\n" for r in preds))
    root = tmp_path / "experiments"
    with trialbook.start_run("train", {"lr": 0.1}, name="base", root=root, **COMMON) as run:
        run.log({"loss": 1.0}, step=0)
    result = cli(
        "evaluate", "jsonl", "--data", "qa.jsonl", "--predictions", "xp.jsonl", "--run", "base",
        "--id-field", "id", "--name", "xbench", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["benchmark"] == "xbench" and doc["run_id"] == run.id
    assert doc["metrics"]["accuracy"] == pytest.approx(3 / 4)
    assert (run.path / "evaluations" / "xbench.jsonl").is_file()
