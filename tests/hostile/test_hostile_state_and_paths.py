"""The issue's cases whose right outcome is not just "refused": a run that can still finish, a
config that never disagrees with what the run was told, artifacts kept inside the run folder,
key/value tags, rows escaped for a terminal or Markdown, a copy that never writes into its
original, a read-only workspace that can still be read."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile_helpers import (
    Case,
    assert_one_line_error,
    assert_unchanged,
    cli,
    snapshot,
)

import trialbook
from trialbook.errors import ConfigError, RunStateError, TrialbookError


def start(case: Case, **kwargs: Any) -> trialbook.Run:
    options: dict[str, Any] = {"root": case.ws, "system_metrics": False, "capture_packages": False}
    options.update(kwargs)
    config = options.pop("config", {"lr": 0.1, "model": {"layers": 2}})
    return trialbook.start_run("hostile", config, **options)


def stored(case: Case, run_id: str) -> trialbook.RunRecord:
    with trialbook.open_store(case.ws) as db:
        return db.get_run(run_id)


# -- item 6: finish with an unknown status ------------------------------------------------------


def test_finish_with_unknown_status_changes_nothing_and_the_run_still_finishes(
    case: Case,
) -> None:
    run = start(case)
    run.log({"loss": 1.0}, step=0)
    run.flush()
    before = case.snap()
    with pytest.raises(ConfigError, match="FINISHED"):
        run.finish("FINISHED")  # type: ignore[arg-type]
    assert_unchanged(before, case.snap())
    assert not run.finished
    run.finish()
    assert stored(case, run.id).status == "completed"
    assert json.loads((run.path / "summary.json").read_text())["status"] == "completed"


def test_log_after_finish_raises_run_state_error_and_stores_nothing(case: Case) -> None:
    with start(case) as run:
        run.log({"loss": 1.0}, step=0)
    before = case.snap()
    with pytest.raises(RunStateError, match=run.id):
        run.log({"loss": 0.5}, step=1)
    assert_unchanged(before, case.snap())


# -- item 7: run.config edits -------------------------------------------------------------------

EDITS: dict[str, Callable[[dict[str, Any]], object]] = {
    "set-item": lambda c: c.__setitem__("lr", 9),
    "update": lambda c: c.update({"lr": 9}),
    "nested-set-item": lambda c: c["model"].__setitem__("layers", 9),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_run_config_edit_is_refused_or_kept_everywhere(case: Case, edit: str) -> None:
    with start(case) as run:
        try:
            EDITS[edit](run.config)
        except (TypeError, TrialbookError) as e:
            assert "log_params" in str(e), e
            kept = False
        else:
            kept = True
        folder = run.path
    value = 9 if kept else None
    config = stored(case, run.id).config
    on_disk = yaml.safe_load((folder / "config.yaml").read_text())
    told = {"lr": 0.1, "model": {"layers": 2}}
    if kept:
        if edit == "nested-set-item":
            told["model"]["layers"] = value
        else:
            told["lr"] = value
    for seen in (config, on_disk):
        assert {k: seen[k] for k in told} == told, seen


# -- item 8: artifacts whose path leaves the run folder -----------------------------------------


@pytest.mark.parametrize("method", ["log_artifact", "log_checkpoint"])
def test_path_escaping_the_run_folder_is_copied_in_or_refused(case: Case, method: str) -> None:
    escaped = case.write("escaped.txt", "outside")
    with start(case) as run:
        sneaky = run.artifacts_dir / ".." / ".." / ".." / "escaped.txt"
        assert sneaky.resolve() == escaped.resolve()
        run.flush()
        before = case.snap()
        try:
            record = getattr(run, method)(sneaky)
        except TrialbookError:
            assert_unchanged(before, case.snap())
            return
        kept = Path(record.path)
        kept = kept if kept.is_absolute() else run.path / kept
        assert kept.resolve().is_relative_to(run.path.resolve()), record.path
        assert kept.read_text() == "outside"


# -- Python API: tags ---------------------------------------------------------------------------


def test_tags_as_a_mapping_keep_their_values_or_are_refused(case: Case) -> None:
    before = case.snap()
    try:
        with start(case, tags={"team": "nlp"}) as run:
            pass
    except ConfigError:
        assert_unchanged(before, case.snap())
        return
    assert "team=nlp" in stored(case, run.id).tags


# -- CLI: rows a terminal or a Markdown renderer would break on ---------------------------------


def test_ls_keeps_one_row_per_run_for_hostile_names(case: Case) -> None:
    for name in ("two\nlines", "bell\x07and\x1b[31mred", "x" * 10_000):
        with start(case, name=name):
            pass
    outcome = cli(["ls", "--root", case.ws])
    assert outcome.exit_code == 0, outcome
    rows = outcome.stdout.strip("\n").split("\n")
    assert len(rows) == 1 + 4 + 3, rows  # the header, the workspace's 4 runs, the 3 new ones
    assert not any(ch in outcome.stdout for ch in "\x07\x1b"), outcome.stdout
    assert max(len(row) for row in rows) < 300


def test_markdown_report_escapes_html_in_every_cell(case: Case) -> None:
    for i in range(2):
        with start(case, name=f"<script>alert({i})</script>", seed=i) as run:
            run.log_evaluation("gsm8k", {"metrics": {"<b>acc</b>": 0.5 + i / 10}})
    outcome = cli(
        [
            "report",
            "<script>alert(0)</script>",
            "<script>alert(1)</script>",
            "--format",
            "md",
            "--root",
            case.ws,
        ]
    )
    assert outcome.exit_code == 0, outcome
    assert "script" in outcome.stdout and "acc" in outcome.stdout, outcome.stdout
    assert "<script>" not in outcome.stdout and "<b>" not in outcome.stdout, outcome.stdout


# -- runner: an entrypoint that returns something that cannot be stored -------------------------


def test_entrypoint_returning_an_unstorable_value_names_the_key(case: Case) -> None:
    case.write(
        "hostile_entry.py",
        "def train(config, run):\n    return {'ok': 1.0, 'acc_unstorable': object()}\n",
    )
    case.write("e.yaml", "experiment:\n  name: ent\n  entrypoint: hostile_entry:train\nseed: 1\n")
    outcome = cli(["run", case.tmp / "e.yaml", "--root", case.ws])
    assert outcome.exit_code == 1, outcome
    assert "acc_unstorable" in outcome.stdout + outcome.stderr
    assert "Traceback" not in outcome.stdout + outcome.stderr


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_into_a_new_root_creates_nothing(case: Case) -> None:
    case.write("exp.yaml", "experiment:\n  name: dry\n  command: python -c pass\nseed: 1\n")
    before = case.snap()
    outcome = cli(
        [
            "run",
            case.tmp / "exp.yaml",
            "--seeds",
            "1",
            "2",
            "--dry-run",
            "--root",
            case.tmp / "fresh",
        ]
    )
    assert outcome.exit_code == 0, outcome
    assert_unchanged(before, case.snap())


# -- item 2: a copy never writes into its original; a missing run folder is named --------------


def test_evaluate_into_a_copied_workspace_leaves_the_original_untouched(case: Case) -> None:
    copy = case.tmp / "copy"
    shutil.copytree(case.ws, copy)  # `cp -a ws copy` (case.ws refers only to itself)
    case.write("p.jsonl", '{"id": "0", "prediction": "#### 18"}\n')
    original = snapshot(case.ws)
    outcome = cli(
        [
            "evaluate",
            "gsm8k",
            "-n",
            "1",
            "--predictions",
            case.tmp / "p.jsonl",
            "--run",
            "alpha",
            "--root",
            copy,
        ]
    )
    assert outcome.exit_code == 0, outcome
    assert_unchanged(original, snapshot(case.ws))


def test_evaluate_into_a_run_whose_folder_is_missing_is_refused(case: Case) -> None:
    with start(case, name="gone") as run:
        pass
    shutil.rmtree(run.path)
    case.write("p.jsonl", '{"id": "0", "prediction": "#### 18"}\n')
    before = case.snap()
    outcome = cli(
        [
            "evaluate",
            "gsm8k",
            "-n",
            "1",
            "--predictions",
            case.tmp / "p.jsonl",
            "--run",
            run.id,
            "--root",
            case.ws,
        ]
    )
    assert_one_line_error(outcome, run.path.name)
    assert_unchanged(before, case.snap())


# -- a read-only workspace ----------------------------------------------------------------------


@pytest.fixture
def read_only(case: Case) -> Iterator[Case]:
    """``case.ws`` bind-mounted read-only onto itself (root ignores chmod)."""
    mounted = subprocess.run(["mount", "--bind", case.ws, case.ws], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", case.ws], check=True)
        yield case
    finally:
        subprocess.run(["umount", case.ws], check=True)


@pytest.mark.parametrize(
    "args",
    [
        ["ls"],
        ["show", "alpha"],
        ["report", "alpha", "-o", "{tmp}/r.html"],
    ],
    ids=["ls", "show", "report-out-elsewhere"],
)
def test_read_only_workspace_can_be_read(read_only: Case, args: list[str]) -> None:
    outcome = cli([a.replace("{tmp}", str(read_only.tmp)) for a in args] + ["--root", read_only.ws])
    assert outcome.exit_code == 0, outcome


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "gsm8k", "-n", "1", "--predictions", "{tmp}/p.jsonl", "--run", "alpha"],
        ["run", "{tmp}/exp.yaml"],
    ],
    ids=["evaluate-into-run", "run"],
)
def test_read_only_workspace_refuses_writes_in_one_line(read_only: Case, args: list[str]) -> None:
    read_only.write("p.jsonl", '{"id": "0", "prediction": "#### 18"}\n')
    read_only.write("exp.yaml", "experiment:\n  name: ro\n  command: python -c pass\n")
    before = read_only.snap()
    outcome = cli([a.replace("{tmp}", str(read_only.tmp)) for a in args] + ["--root", read_only.ws])
    assert_one_line_error(outcome, str(read_only.ws))
    assert_unchanged(before, read_only.snap())


# -- a run folder whose files were damaged by hand ----------------------------------------------


@pytest.mark.parametrize("name", ["meta.json", "summary.json"])
def test_show_reads_a_run_whose_json_file_is_damaged(case: Case, name: str) -> None:
    next(case.ws.glob(f"scripted_*/{name}")).write_text("{garbage", encoding="utf-8")
    before = case.snap()
    outcome = cli(["show", "scripted", "--root", case.ws])
    assert outcome.exit_code == 0, outcome
    assert "Traceback" not in outcome.stderr
    assert_unchanged(before, case.snap())
