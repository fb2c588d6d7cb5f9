"""A workspace copied (`cp -a`) or moved (`mv`) works where it now is and never touches the
original: run folders are stored relative to the workspace root.

Real `trialbook` processes on real folders; the original's files (content, size and mtime) and
database are compared before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trialbook.evaluation import GSM8K
from trialbook.store import NewRun, connect

TASKS = """
import os


def train(config, run):
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    if str(config.get("seed")) == os.environ.get("FAIL_SEED"):
        raise ValueError("diverged")
    return {"eval_accuracy": 0.5}
"""

CONFIG = """
experiment:
  name: exp
  entrypoint: tasks:train
seed: 1
"""

SUITE = ["run", "exp.yaml", "--seeds", "1", "2", "3", "--stop-on-error"]


def trialbook(cwd: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "TRIALBOOK_SYSTEM_METRICS": "0", "TRIALBOOK_FLUSH_INTERVAL": "0.05"}
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_RUN_ID", "FAIL_SEED"):
        environ.pop(name, None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "trialbook", *(str(a) for a in args)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def fingerprint(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``folder``: sha256, size and mtime (ns)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(folder))] = (digest, st.st_size, st.st_mtime_ns)
    return out


def db_rows(root: Path) -> list[tuple[object, ...]]:
    """The runs and evaluations of a workspace, read without writing anything."""
    conn = sqlite3.connect(f"file:{root / 'trialbook.db'}?immutable=1", uri=True)
    try:
        runs = conn.execute("SELECT id, status, folder FROM runs ORDER BY id").fetchall()
        evals = conn.execute("SELECT run_id, benchmark FROM evaluations").fetchall()
    finally:
        conn.close()
    return [*runs, *evals]


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A workspace ``ws`` whose 3-seed suite stopped after seed 1 failed: seeds 2 and 3 are
    queued (their folders made, nothing run)."""
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "exp.yaml").write_text(textwrap.dedent(CONFIG))
    result = trialbook(tmp_path, *SUITE, "--root", "ws", FAIL_SEED="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 still queued" in result.stdout
    return tmp_path


def test_resuming_a_suite_in_a_copy_runs_there_and_never_touches_the_original(
    suite: Path,
) -> None:
    original = suite / "ws"
    before, rows = fingerprint(original), db_rows(original)
    subprocess.run(["cp", "-a", str(original), str(suite / "copy")], check=True)

    result = trialbook(suite, *SUITE, "--root", "copy")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 completed" in result.stdout
    assert fingerprint(original) == before
    assert db_rows(original) == rows
    copy = suite / "copy"
    with connect(f"sqlite:///{copy / 'trialbook.db'}", root=copy) as db:
        runs = db.list_runs()
    assert sorted(r.status for r in runs) == ["completed"] * 3 + ["failed"]
    for run in runs:
        assert run.folder is not None and Path(run.folder).parent == copy
        if run.status == "completed":
            summary = json.loads((Path(run.folder) / "summary.json").read_text())
            assert summary["status"] == "completed"


def test_evaluating_a_run_of_a_copy_writes_only_into_the_copy(suite: Path) -> None:
    original = suite / "ws"
    subprocess.run(["cp", "-a", str(original), str(suite / "copy")], check=True)
    before, rows = fingerprint(original), db_rows(original)
    predictions = suite / "gold.jsonl"
    with predictions.open("w", encoding="utf-8") as f:
        for row in GSM8K().load_dataset("test"):
            f.write(json.dumps({"id": row["id"], "prediction": row["solution"]}) + "\n")
    (failed,) = (r for r in db_rows(original) if len(r) == 3 and r[1] == "failed")

    result = trialbook(
        suite, "evaluate", "gsm8k", "--predictions", predictions, "-n", "5",
        "--run", str(failed[0]), "--root", "copy",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert fingerprint(original) == before
    assert db_rows(original) == rows
    folder = suite / "copy" / str(failed[2])
    assert (folder / "evaluations" / "gsm8k.jsonl").is_file()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["evaluations"]["gsm8k"]["n"] == 5


def test_a_moved_workspace_shows_its_folders_and_reproduces(suite: Path) -> None:
    (failed_id, _, folder_name) = next(
        r for r in db_rows(suite / "ws") if len(r) == 3 and r[1] == "failed"
    )
    (suite / "ws").rename(suite / "ws2")
    short = str(failed_id).rsplit("_", 1)[-1]

    shown = trialbook(suite, "show", short, "--root", "ws2")

    assert shown.returncode == 0, shown.stderr
    (line,) = (ln for ln in shown.stdout.splitlines() if ln.strip().startswith("folder"))
    assert str(suite / "ws2" / str(folder_name)) in line and "missing" not in line

    again = trialbook(suite, "reproduce", short, "--root", "ws2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert not (suite / "ws").exists()
    runs = db_rows(suite / "ws2")
    assert len([r for r in runs if len(r) == 3]) == 4  # the three, and the reproduction


def test_evaluating_a_run_whose_folder_is_missing_records_nothing(suite: Path) -> None:
    ws = suite / "ws"
    (failed_id, _, folder_name) = next(r for r in db_rows(ws) if len(r) == 3 and r[1] == "failed")
    shutil.rmtree(ws / str(folder_name))
    before, rows = fingerprint(ws), db_rows(ws)
    predictions = suite / "gold.jsonl"
    predictions.write_text(json.dumps({"id": "0", "prediction": "1"}) + "\n")

    result = trialbook(
        suite, "evaluate", "gsm8k", "--predictions", predictions, "-n", "1", "--allow-missing",
        "--run", str(failed_id), "--root", "ws",
    )  # fmt: skip

    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(ws / str(folder_name)) in lines[0] and "missing" in lines[0]
    assert db_rows(ws) == rows
    assert fingerprint(ws) == before
    assert not (ws / str(folder_name)).exists()


def _new_run(run_id: str, folder: str | None) -> NewRun:
    return NewRun(
        id=run_id,
        experiment="e",
        name="n",
        config={},
        config_hash="h",
        group_key="g",
        folder=folder,
    )


def test_folders_inside_the_root_are_stored_relative_and_read_back_absolute(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"  # the database need not be in the root
    with connect(url, create=True, root=root) as db:
        db.create_run(_new_run("r1_aaaaaa", str(root / "n_aaaaaa")))
        db.create_run(_new_run("r2_bbbbbb", "/outside/n_bbbbbb"))
        db.create_run(_new_run("r3_cccccc", None))
        db.update_run("r3_cccccc", folder=str(root / "sub" / "n_cccccc"))
        got = {r.id: r.folder for r in db.list_runs()}
    assert got == {
        "r1_aaaaaa": str(root / "n_aaaaaa"),
        "r2_bbbbbb": "/outside/n_bbbbbb",
        "r3_cccccc": str(root / "sub" / "n_cccccc"),
    }
    conn = sqlite3.connect(tmp_path / "elsewhere.db")
    stored = dict(conn.execute("SELECT id, folder FROM runs").fetchall())
    conn.close()
    assert stored == {
        "r1_aaaaaa": "n_aaaaaa",
        "r2_bbbbbb": "/outside/n_bbbbbb",
        "r3_cccccc": "sub/n_cccccc",
    }
    # Opened with another root (the workspace moved), the same rows name folders there.
    with connect(url, root=tmp_path / "moved") as db:
        assert db.get_run("r1_aaaaaa").folder == str(tmp_path / "moved" / "n_aaaaaa")
