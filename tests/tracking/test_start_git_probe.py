"""start_run starts ``git status`` before it opens the Store and reads it when the run needs
it: a run that is refused meanwhile leaves no git process behind, and a run that is created
records what git said."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import psutil
import pytest

import trialbook
from trialbook.errors import NotATrialbookDatabase

requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

COMMON = {"system_metrics": False, "capture_packages": False}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    path = tmp_path / "repo"
    path.mkdir()
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["config", "user.name", "Test User"],
        ["config", "user.email", "test@example.com"],
        ["config", "commit.gpgsign", "false"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True, timeout=30)
    (path / "train.py").write_text("print('hello')\n")
    subprocess.run(["git", "add", "train.py"], cwd=path, check=True, timeout=30)
    subprocess.run(["git", "commit", "--quiet", "-m", "first"], cwd=path, check=True, timeout=30)
    monkeypatch.chdir(path)
    (path / ".gitignore").write_text("experiments/\n.gitignore\n")
    return path


def _git_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() == "git":  # running, or ended and never waited for (a zombie)
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


@requires_git
def test_a_refused_run_leaves_no_git_process_behind(repo: Path) -> None:
    root = repo / "experiments"
    root.mkdir()
    conn = sqlite3.connect(root / "trialbook.db")
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(NotATrialbookDatabase):
        trialbook.start_run("exp", {"lr": 1}, root=root, **COMMON)
    assert _git_children() == []


@requires_git
def test_runs_started_one_after_another_record_the_tree_as_it_is_then(repo: Path) -> None:
    root = repo / "experiments"
    with trialbook.start_run("exp", {"lr": 1}, root=root, **COMMON) as clean:
        pass
    (repo / "train.py").write_text("print('changed')\n")
    with trialbook.start_run("exp", {"lr": 2}, root=root, **COMMON) as dirty:
        pass
    with trialbook.open_store(root) as db:
        first, second = db.get_run(clean.id), db.get_run(dirty.id)
    assert first.git_dirty is False and second.git_dirty is True
    assert first.git_commit == second.git_commit and first.git_branch == "main"
    patch = Path(second.folder or "") / "diff.patch"
    assert "print('changed')" in patch.read_text()
    assert not (Path(first.folder or "") / "diff.patch").exists()
    assert _git_children() == []
