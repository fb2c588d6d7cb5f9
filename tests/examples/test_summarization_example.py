"""examples/summarization: the data, the two summarisers, and every command of
docs/reproducibility.md and docs/experiments-directory.md, run as a user types them."""

from __future__ import annotations

import glob
import importlib.util
import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from examples.summarization.corpus import TOPICS, generate, splits, to_jsonl
from examples.summarization.summarize import CentroidSummarizer, lead, tokens
from typer.testing import CliRunner

import trialbook
from trialbook.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "summarization"
BASELINE = "examples/summarization/configs/baseline/lead_baseline.yaml"
DIRECTORY_DOC = "experiments-directory.md"


def _doc_steps(doc: str) -> list[str]:
    """The doc's `$ ...` commands (of its console blocks) and its Python blocks, in order."""
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    steps = []
    for kind, body in re.findall(r"```(console|python)\n(.*?)```", text, re.DOTALL):
        if kind == "python":
            steps.append(body)
        else:
            steps.extend(line[2:] for line in body.splitlines() if line.startswith("$ "))
    return steps


def _doc_output(doc: str, command: str) -> list[str]:
    """The output the doc shows for `$ command`: its lines up to the next command."""
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    after = text.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    return after.split("\n$ ", 1)[0].splitlines()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that looks like the repository root to the commands (examples/ is a link),
    with `python` and `trialbook` of this interpreter first on PATH and no workspace set."""
    home = tmp_path / "project"
    home.mkdir()
    (home / "examples").symlink_to(REPO / "examples")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Shims, not links: a link to a virtualenv's python would not find the virtualenv.
    for name, run in (("python", ""), ("trialbook", " -m trialbook")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}"{run} "$@"\n')
        shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.chdir(home)
    monkeypatch.syspath_prepend(str(REPO))
    return home


def _run(command: str, capsys: pytest.CaptureFixture[str], namespace: dict[str, object]) -> str:
    """Run one documented step from the sandbox and return what it printed; it must succeed.

    `trialbook ...` and `python examples/summarization/train_baseline.py ...` run in this
    process (their own processes would spend most of the test's time importing); anything
    else (ls, cat, head, mkdir) in a shell. Globs are expanded as a shell would.
    """
    if "\n" in command:  # a Python block; the doc's blocks share their names, in order
        capsys.readouterr()
        exec(compile(command, "<doc>", "exec"), namespace)
        return capsys.readouterr().out
    argv = []
    for arg in shlex.split(command):
        matches = sorted(glob.glob(arg)) if "*" in arg else [arg]
        assert matches, f"$ {command}: nothing matches {arg}"
        argv.extend(matches)
    if argv[0] == "trialbook":
        result = CliRunner().invoke(app, argv[1:], catch_exceptions=False)
        assert result.exit_code == 0, f"$ {command}\n{result.output}"
        return result.output
    if argv[:2] == ["python", "examples/summarization/train_baseline.py"]:
        capsys.readouterr()
        assert _script().main(argv[2:]) == 0, f"$ {command}\n{capsys.readouterr()}"
        return capsys.readouterr().out
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"$ {command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_sum_train", EXAMPLE / "train_baseline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------ data
def test_data_are_deterministic_and_the_shipped_files_are_what_the_generator_writes() -> None:
    first, again, other = generate(40, 0), generate(40, 0), generate(40, 1, offset=40)
    assert first == again and first != other
    assert len({row["id"] for row in first + other}) == 80
    shipped = splits()
    for split in ("train", "test"):
        path = EXAMPLE / "data" / f"{split}.jsonl"
        assert path.read_text(encoding="utf-8") == to_jsonl(shipped[split])
    test = shipped["test"]
    assert {row["topic"] for row in test} == set(TOPICS)
    assert all(8 <= len(row["sentences"]) <= 20 for row in test)
    assert all(row["summary"].count(". ") in (1, 2) for row in test)  # 2 or 3 sentences
    assert all(row["summary"] not in " ".join(row["sentences"]) for row in test)


def test_the_news_is_sometimes_first_and_often_not_in_the_first_three_sentences() -> None:
    # The summary's first sentence restates the news; its numbers locate the document's
    # sentence that reports it. Where that sentence is decides how well lead-3 can do.
    positions = []
    for row in splits()["test"]:
        numbers = set(re.findall(r"\d+", row["summary"].split(". ")[0]))
        positions.append(
            next(
                i
                for i, sentence in enumerate(row["sentences"])
                if numbers <= set(re.findall(r"\d+", sentence))
            )
        )
    share = {
        "first": sum(p == 0 for p in positions) / len(positions),
        "after lead-3": sum(p >= 3 for p in positions) / len(positions),
        "after 5": sum(p >= 5 for p in positions) / len(positions),
    }
    assert 0.25 < share["first"] < 0.5, share
    assert share["after lead-3"] > 0.3 and share["after 5"] > 0.1, share


# ------------------------------------------------------------------------------ summarisers
def test_lead_takes_the_first_k_sentences() -> None:
    assert lead(["a.", "b.", "c.", "d."], 2) == [0, 1]
    assert lead(["a.", "b."], 3) == [0, 1]


def test_centroid_scores_match_a_hand_computation() -> None:
    # IDF from three documents: x is in all (idf 1), y and z in one each (idf 1 + ln 2).
    model = CentroidSummarizer().fit([["x y"], ["x z"], ["x"]])
    a = 1 + math.log(2)
    assert model.idf == pytest.approx({"x": 1.0, "y": a, "z": a})
    b = 1 + math.log(4)  # w was never seen: the highest idf
    assert model.unseen_idf == pytest.approx(b)
    # Sentences w | x | x y | y z over the words (w, x, y, z); the centroid is their sum.
    centroid = (b, 2.0, 2 * a, a)
    norm = math.sqrt(sum(c * c for c in centroid))
    expected = [
        b * b / (b * norm),
        2.0 / norm,
        (2.0 + 2 * a * a) / (math.sqrt(1 + a * a) * norm),
        3 * a * a / (a * math.sqrt(2) * norm),
    ]
    assert model.scores(["w", "x", "x y", "y z"]).tolist() == pytest.approx(expected)
    assert model.select(["w", "x", "x y", "y z"], 2) == [2, 3]  # lead-2 would take [0, 1]
    assert tokens("The Storm hit 3 towns, and it rained.") == [
        "storm",
        "hit",
        "3",
        "towns",
        "rained",
    ]


# ------------------------------------------------------------------ seed 004's protocol
@pytest.mark.slow  # five tracked runs in subprocesses (~20 s)
def test_reproducibility_doc_runs_and_the_run_folder_holds_seed_004s_files(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = _doc_steps("reproducibility.md")
    assert any(c.startswith("trialbook reproduce ") for c in commands)
    namespace: dict[str, object] = {}
    outputs = {c: _run(c, capsys, namespace) for c in commands}

    results = sandbox / "results"
    with trialbook.open_store(results) as db:
        runs = {r.id: r for r in db.list_runs()}
        [original] = [r for r in runs.values() if r.name == "lead_baseline_run_001" and not r.tags]
        folder = Path(original.folder)
        assert folder.parent == results and folder.name.startswith("lead_baseline_run_001_")
        [checkpoint] = db.checkpoints(original.id)
        [evaluation] = db.evaluations(original.id)
        samples = db.samples(evaluation.id)

    # config.yaml: the exact config the script was given.
    saved = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    assert saved == trialbook.load_config(BASELINE)
    # meta.json: start time, device, environment, the command, the data's checksum.
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["device"] == "cpu" and meta["start_time"].startswith("20")
    assert meta["environment"]["python"]["version"].count(".") == 2
    assert "git" in meta and "command" in meta
    assert [d["name"] for d in meta["data"]] == ["summaries_test"]
    # summary.json: ROUGE, runtime, end time; the evaluation with one result per document.
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["metrics"]) == {"rouge1", "rouge2", "rougeL"}
    assert summary["evaluations"]["news_summaries"]["metrics"] == summary["metrics"]
    assert summary["runtime_seconds"] > 0 and summary["end_time"] > summary["start_time"]
    assert len(samples) == 60 and {s.extra["topic"] for s in samples} == set(TOPICS)
    assert summary["metrics"]["rougeL"] == pytest.approx(
        sum(s.score for s in samples if s.score is not None) / 60
    )
    lines = (folder / "evaluations" / "news_summaries.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [s.sample_id for s in samples]
    # checkpoint/: the summariser's settings, recorded with its digest.
    assert Path(checkpoint.path) == folder / "checkpoint" / "summarizer.json"
    assert json.loads(Path(checkpoint.path).read_text()) == {"k": 3, "method": "lead"}

    # Reproduced twice (the script on the saved config.yaml, then `trialbook reproduce`):
    # three runs of lead-3 with the same numbers, and the treatment's run.
    lead_runs = [r for r in runs.values() if r.experiment == "lead_baseline"]
    assert len(lead_runs) == 3 and len(runs) == 4
    metrics = {json.dumps(json.loads(Path(r.folder, "summary.json").read_text())["metrics"])
               for r in lead_runs}  # fmt: skip
    assert len(metrics) == 1
    [treatment] = [r for r in runs.values() if r.experiment == "centroid_tfidf"]
    checkpoint_path = Path(treatment.folder, "checkpoint", "summarizer.json")
    saved = json.loads(checkpoint_path.read_text())
    assert saved["method"] == "centroid" and saved["n_documents"] == 150 and len(saved["idf"]) > 100
    # The checkpoint summarises as the run did: inference from the saved state.
    restored = CentroidSummarizer.from_checkpoint(checkpoint_path)
    documents = {row["id"]: row["sentences"] for row in splits()["test"]}
    with trialbook.open_store(results) as db:
        [evaluation] = db.evaluations(treatment.id)
        treated = db.samples(evaluation.id)
    for sample in treated[:10]:
        assert restored.select(documents[sample.sample_id], 3) == sample.extra["picked"]
    # The scores the doc shows are the scores measured.
    scripted = [out for c, out in outputs.items() if c.startswith("python ")]
    assert [out.splitlines()[0].split("): ")[1] for out in scripted] == [
        "rouge1 0.3745  rouge2 0.1899  rougeL 0.3154",
        "rouge1 0.5098  rouge2 0.2654  rougeL 0.4375",
        "rouge1 0.3745  rouge2 0.1899  rougeL 0.3154",
    ]
    [check] = [out for c, out in outputs.items() if c.startswith("trialbook reproduce ")]
    assert "All 3 metric(s) match." in check
    [plan] = [out for c, out in outputs.items() if "--dry-run" in c]
    assert "skip: completed" in plan and "0 run(s) would run, 1 skipped" in plan


# ------------------------------------------------------------ seed 000's directory layout
@pytest.mark.slow  # six runs over two processes, then export, analyze, report (~25 s)
def test_experiments_directory_doc_runs_and_puts_everything_where_it_says(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = _doc_steps(DIRECTORY_DOC)
    assert any(c.startswith("trialbook run examples/summarization/configs/ ") for c in commands)
    namespace: dict[str, object] = {}
    outputs = [_run(c, capsys, namespace) for c in commands]

    workspace = sandbox / "experiments"
    runs = trialbook.load_runs(workspace)
    assert sorted(runs["name"]) == ["centroid_tfidf"] * 3 + ["lead_baseline"] * 3
    assert set(runs["status"]) == {"completed"} and runs["group"].nunique() == 2
    with trialbook.open_store(workspace) as db:
        folders = [record.folder for record in db.list_runs()]
    assert len(folders) == 6
    for folder in folders:
        for name in ("config.yaml", "meta.json", "summary.json", "stdout.log", "stderr.log"):
            assert (Path(folder) / name).is_file(), (folder, name)
        assert (Path(folder) / "checkpoint" / "summarizer.json").is_file()
        assert Path(folder).parent == workspace
    by_method = runs.groupby("name")["eval.news_summaries.rougeL"].mean()
    assert by_method["centroid_tfidf"] > by_method["lead_baseline"] + 0.05

    results = workspace / "results"
    assert len((results / "metrics" / "runs.csv").read_text().splitlines()) == 7
    assert len((results / "metrics" / "samples.csv").read_text().splitlines()) > 360
    for name in ("results.csv", "all_results.json", "experiment_results.png"):
        assert (results / "visualizations" / name).is_file()
    html = (results / "reports" / "comparison.html").read_text(encoding="utf-8")
    assert "lead_baseline" in html and "centroid_tfidf" in html
    assert 'id="config-differences"' in html and 'id="significance"' in html
    # The numbers the doc shows are the numbers measured: the ROUGE table, ROUGE-L per topic.
    table = "trialbook report lead_baseline centroid_tfidf --format md"
    assert outputs[commands.index(table)].splitlines() == _doc_output(DIRECTORY_DOC, table)
    [topics] = [c for c in commands if "slices_from_samples" in c]
    shown = [line[2:] for line in topics.splitlines() if line.startswith("# ")]
    assert outputs[commands.index(topics)].splitlines() == shown

    # Welch across the seeds, then the paired bootstrap over the 60 stories of seed 1.
    verdicts = [line for out in outputs for line in out.splitlines() if " is better than " in line]
    assert verdicts[0].startswith("centroid_tfidf is better than lead_baseline")
    assert verdicts[1].startswith("centroid_tfidf@1 is better than lead_baseline@1 ")
    assert "paired bootstrap" in verdicts[1] and "n = 60" in verdicts[1] and len(verdicts) == 2


# --------------------------------------------------------------------------- mistakes
MISTAKES = {
    # the shipped config with one value changed: (old text, new text), the message's tail
    "unknown method": (
        ("method: lead ", "method: textrank "),
        "summarizer.method (line 14): got 'textrank'; expected 'lead' or 'centroid'.",
    ),
    "k <= 0": (("k: 3 ", "k: 0 "), "summarizer.k (line 15): got 0; expected greater than 0."),
    "missing data": (
        ("data/test.jsonl", "data/tset.jsonl"),
        "data.test_path (line 11): got 'examples/summarization/data/tset.jsonl'; there is no "
        "such file in",
    ),
    "not the data": (
        ("data/test.jsonl", "configs/baseline/lead_baseline.yaml"),
        "data.test_path (line 11): got 'examples/summarization/configs/baseline/"
        "lead_baseline.yaml'; line 1 is not a JSON object with id, topic, sentences",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_bad_config_is_one_sentence_exit_2_and_no_run(
    sandbox: Path, mistake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (old, new), message = MISTAKES[mistake]
    text = (REPO / BASELINE).read_text(encoding="utf-8")
    assert text.count(old) == 1
    bad = sandbox / "bad.yaml"
    bad.write_text(text.replace(old, new), encoding="utf-8")

    assert _script().main(["--config", "bad.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Config bad.yaml does not match SummarizationConfig: ")
    assert message in err and err.count("\n") == 1

    result = CliRunner().invoke(app, ["run", "bad.yaml"])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (sandbox / "experiments").exists()  # neither wrote a run


def test_the_script_itself_exits_2_without_a_traceback(sandbox: Path) -> None:
    done = subprocess.run(
        ["python", "examples/summarization/train_baseline.py", "--config", "nowhere.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: Config file nowhere.yaml does not exist")
    assert done.stderr.count("\n") == 1 and not (sandbox / "experiments").exists()
