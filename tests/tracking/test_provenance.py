"""Tests for git, environment and file-digest provenance."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import socket
import stat
import subprocess
import sys
import types
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialbook.errors import ConfigError
from trialbook.tracking._provenance import (
    GitInfo,
    collect_environment,
    count_rows,
    git_info,
    path_digest,
    sha256_file,
)

requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


# --------------------------------------------------------------------------- git


@pytest.fixture
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the developer's git config and any enclosing repository out of the tests."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # Stops git searching above tmp_path, in case the temp folder sits inside a repository.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return tmp_path


def _run_git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(isolated_git: Path) -> Path:
    path = isolated_git / "repo"
    path.mkdir()
    _run_git(path, "init", "--quiet", "--initial-branch=main")
    _run_git(path, "config", "user.name", "Test User")
    _run_git(path, "config", "user.email", "test@example.com")
    _run_git(path, "config", "commit.gpgsign", "false")
    (path / "train.py").write_text("print('hello')\n")
    _run_git(path, "add", "train.py")
    _run_git(path, "commit", "--quiet", "-m", "first")
    return path


@requires_git
def test_clean_repo_reports_commit_and_branch(repo: Path) -> None:
    info = git_info(repo)

    assert info is not None
    assert info.commit == _run_git(repo, "rev-parse", "HEAD")
    assert len(info.commit) == 40
    assert info.branch == "main"
    assert info.dirty is False
    assert info.diff is None
    assert info.remote is None


@requires_git
def test_defaults_to_current_directory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)

    info = git_info()

    assert info is not None
    assert info.commit == _run_git(repo, "rev-parse", "HEAD")


@requires_git
def test_works_from_a_subdirectory(repo: Path) -> None:
    sub = repo / "configs" / "deep"
    sub.mkdir(parents=True)

    info = git_info(sub)

    assert info is not None
    assert info.commit == _run_git(repo, "rev-parse", "HEAD")


@requires_git
def test_modified_file_is_dirty_with_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('hello')\nprint('changed line')\n")

    info = git_info(repo)

    assert info is not None
    assert info.dirty is True
    assert info.diff is not None
    assert "+print('changed line')" in info.diff
    assert "train.py" in info.diff


@requires_git
def test_staged_change_is_in_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('staged')\n")
    _run_git(repo, "add", "train.py")

    info = git_info(repo)

    assert info is not None
    assert info.dirty is True
    assert info.diff is not None
    assert "+print('staged')" in info.diff


@requires_git
def test_untracked_file_is_dirty_and_listed(repo: Path) -> None:
    (repo / "new_module.py").write_text("x = 1\n")

    info = git_info(repo)

    assert info is not None
    assert info.dirty is True
    assert info.diff is not None
    assert "# untracked: new_module.py" in info.diff


@requires_git
def test_ignored_file_is_not_dirty(repo: Path) -> None:
    (repo / ".gitignore").write_text("outputs/\n")
    _run_git(repo, "add", ".gitignore")
    _run_git(repo, "commit", "--quiet", "-m", "ignore outputs")
    (repo / "outputs").mkdir()
    (repo / "outputs" / "model.bin").write_bytes(b"\0" * 10)

    info = git_info(repo)

    assert info is not None
    assert info.dirty is False
    assert info.diff is None


@requires_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    commit = _run_git(repo, "rev-parse", "HEAD")
    _run_git(repo, "checkout", "--quiet", "--detach", commit)

    info = git_info(repo)

    assert info is not None
    assert info.commit == commit
    assert info.branch is None


@requires_git
def test_other_branch_name(repo: Path) -> None:
    _run_git(repo, "checkout", "--quiet", "-b", "feature/lr-sweep")

    info = git_info(repo)

    assert info is not None
    assert info.branch == "feature/lr-sweep"


@requires_git
def test_remote_url_is_reported_without_credentials(repo: Path) -> None:
    _run_git(repo, "remote", "add", "origin", "https://alice:s3cret@example.com/lab/model.git")

    info = git_info(repo)

    assert info is not None
    assert info.remote == "https://example.com/lab/model.git"


@requires_git
def test_ssh_remote_is_kept_as_is(repo: Path) -> None:
    _run_git(repo, "remote", "add", "origin", "git@example.com:lab/model.git")

    info = git_info(repo)

    assert info is not None
    assert info.remote == "git@example.com:lab/model.git"


@requires_git
def test_repo_without_commits_is_none(isolated_git: Path) -> None:
    empty = isolated_git / "empty"
    empty.mkdir()
    _run_git(empty, "init", "--quiet")

    assert git_info(empty) is None


@requires_git
def test_outside_a_repo_is_none(isolated_git: Path) -> None:
    outside = isolated_git / "plain"
    outside.mkdir()

    assert git_info(outside) is None


@requires_git
def test_inside_dot_git_folder_is_none(repo: Path) -> None:
    assert git_info(repo / ".git") is None


def test_missing_directory_is_none(tmp_path: Path) -> None:
    assert git_info(tmp_path / "does-not-exist") is None


def test_git_not_installed_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))

    assert git_info(tmp_path) is None


def test_git_info_is_frozen() -> None:
    info = GitInfo(commit="abc", branch="main", dirty=False, diff=None, remote=None)

    with pytest.raises(dataclasses.FrozenInstanceError):
        info.dirty = True  # type: ignore[misc]


# --------------------------------------------------------------------------- environment


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)


@pytest.fixture
def no_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "trialbook.tracking._provenance.shutil.which",
        lambda name, *args, **kwargs: None if name == "nvidia-smi" else shutil.which(name),
    )


def _fake_executable(folder: Path, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_environment_has_expected_keys_and_is_json(no_torch: None) -> None:
    env = collect_environment()

    assert set(env) == {
        "python",
        "platform",
        "host",
        "cpu",
        "memory_gb",
        "gpu",
        "device",
        "packages",
        "command",
        "cwd",
    }
    assert json.loads(json.dumps(env)) == env


def test_environment_values(no_torch: None) -> None:
    env = collect_environment()

    assert env["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert env["python"]["executable"] == sys.executable
    assert env["python"]["implementation"] == platform.python_implementation()
    assert env["platform"] == platform.platform()
    assert env["host"] == socket.gethostname()
    assert env["cpu"]["count"] == os.cpu_count()
    assert env["memory_gb"] == round(psutil.virtual_memory().total / 2**30, 1)
    assert env["memory_gb"] > 0
    assert env["command"] == sys.argv
    assert env["cwd"] == os.getcwd()
    assert env["device"] == ("cuda" if env["gpu"] else "cpu")


def test_environment_lists_installed_packages_sorted() -> None:
    packages = collect_environment()["packages"]

    assert packages["psutil"] == psutil.__version__
    assert packages["pytest"] == pytest.__version__
    assert list(packages) == sorted(packages, key=str.lower)


def test_environment_without_packages() -> None:
    env = collect_environment(include_packages=False)

    assert "packages" not in env
    assert "python" in env


def test_environment_does_not_import_torch(no_torch: None) -> None:
    collect_environment(include_packages=False)

    assert "torch" not in sys.modules


def test_gpus_from_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_torch: None
) -> None:
    bin_dir = tmp_path / "bin"
    _fake_executable(
        bin_dir,
        "nvidia-smi",
        "printf 'NVIDIA A100-SXM4-40GB, 40960\\nNVIDIA A100-SXM4-40GB, 40960\\n'",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    env = collect_environment(include_packages=False)

    assert env["gpu"] == [
        {"name": "NVIDIA A100-SXM4-40GB", "memory_mb": 40960},
        {"name": "NVIDIA A100-SXM4-40GB", "memory_mb": 40960},
    ]
    assert env["device"] == "cuda"


def test_failing_nvidia_smi_means_no_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_torch: None
) -> None:
    bin_dir = tmp_path / "bin"
    _fake_executable(bin_dir, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    env = collect_environment(include_packages=False)

    assert env["gpu"] == []
    assert env["device"] == "cpu"


def _fake_torch(available: bool) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        is_available=lambda: available,
        device_count=lambda: 1,
        get_device_name=lambda index: "Fake GPU",
        get_device_properties=lambda index: types.SimpleNamespace(total_memory=8 * 2**30),
    )
    return torch


def test_gpus_from_already_imported_torch(
    monkeypatch: pytest.MonkeyPatch, no_nvidia_smi: None
) -> None:
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(available=True))

    env = collect_environment(include_packages=False)

    assert env["gpu"] == [{"name": "Fake GPU", "memory_mb": 8192}]
    assert env["device"] == "cuda"


def test_torch_without_cuda_means_cpu(monkeypatch: pytest.MonkeyPatch, no_nvidia_smi: None) -> None:
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(available=False))

    env = collect_environment(include_packages=False)

    assert env["gpu"] == []
    assert env["device"] == "cpu"


# --------------------------------------------------------------------------- digests


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    content = b"trialbook\n" * 1000
    path = tmp_path / "data.bin"
    path.write_bytes(content)

    expected = hashlib.sha256(content).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(path, chunk_size=7) == expected


def test_sha256_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")

    assert sha256_file(path) == hashlib.sha256(b"").hexdigest()


def test_path_digest_of_file(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"x": 1}\n')

    assert path_digest(path) == (hashlib.sha256(b'{"x": 1}\n').hexdigest(), 9)


def _make_dataset(root: Path) -> Path:
    (root / "split" / "nested").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha\n")
    (root / "split" / "b.txt").write_bytes(b"bravo\n")
    (root / "split" / "nested" / "c.txt").write_bytes(b"charlie\n")
    return root


def test_directory_digest_is_stable_and_sums_sizes(tmp_path: Path) -> None:
    data = _make_dataset(tmp_path / "data")

    first = path_digest(data)
    second = path_digest(data)

    assert first == second
    assert first[1] == len(b"alpha\n") + len(b"bravo\n") + len(b"charlie\n")


def test_directory_digest_does_not_depend_on_location(tmp_path: Path) -> None:
    one = _make_dataset(tmp_path / "one")
    two = _make_dataset(tmp_path / "elsewhere" / "two")

    assert path_digest(one) == path_digest(two)


def test_directory_digest_changes_when_a_file_changes(tmp_path: Path) -> None:
    data = _make_dataset(tmp_path / "data")
    before = path_digest(data)

    (data / "split" / "nested" / "c.txt").write_bytes(b"charliE\n")

    after = path_digest(data)
    assert after[0] != before[0]
    assert after[1] == before[1]


def test_directory_digest_changes_when_a_file_is_renamed(tmp_path: Path) -> None:
    data = _make_dataset(tmp_path / "data")
    before = path_digest(data)

    (data / "a.txt").rename(data / "z.txt")

    assert path_digest(data)[0] != before[0]


def test_directory_digest_changes_when_a_file_is_added(tmp_path: Path) -> None:
    data = _make_dataset(tmp_path / "data")
    before = path_digest(data)

    (data / "empty.txt").write_bytes(b"")

    after = path_digest(data)
    assert after[0] != before[0]
    assert after[1] == before[1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_directory_digest_skips_fifos(tmp_path: Path) -> None:
    data = _make_dataset(tmp_path / "data")
    before = path_digest(data)

    os.mkfifo(data / "pipe")

    assert path_digest(data) == before


def test_empty_directory_digest(tmp_path: Path) -> None:
    assert path_digest(tmp_path) == (hashlib.sha256().hexdigest(), 0)


def test_path_digest_of_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"

    with pytest.raises(ConfigError, match=r"nope\.csv"):
        path_digest(missing)


# --------------------------------------------------------------------------- row counts


@pytest.mark.parametrize(
    ("name", "content", "rows"),
    [
        ("train.jsonl", b'{"x": 1}\n{"x": 2}\n{"x": 3}\n', 3),
        ("train.jsonl", b'{"x": 1}\n{"x": 2}\n{"x": 3}', 3),
        ("train.jsonl", b"", 0),
        ("train.csv", b"x,y\n1,2\n3,4\n", 2),
        ("train.csv", b"x,y\n1,2\n3,4", 2),
        ("train.csv", b"x,y\n", 0),
        ("train.csv", b"", 0),
        ("train.tsv", b"x\ty\n1\t2\n", 1),
        ("TRAIN.CSV", b"x\n1\n2\n", 2),
        ("notes.txt", b"one\ntwo\n", 2),
        ("crlf.csv", b"x,y\r\n1,2\r\n", 1),
    ],
)
def test_count_rows(tmp_path: Path, name: str, content: bytes, rows: int) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    assert count_rows(path) == rows


@pytest.mark.parametrize("name", ["model.bin", "data.parquet", "archive.jsonl.gz", "README"])
def test_count_rows_is_none_for_other_types(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"a\nb\n")

    assert count_rows(path) is None


def test_count_rows_is_none_for_directories(tmp_path: Path) -> None:
    folder = tmp_path / "shards.jsonl"
    folder.mkdir()

    assert count_rows(folder) is None


@given(
    lines=st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\n", codec="utf-8"),
            max_size=20,
        ),
        max_size=50,
    ),
    trailing_newline=st.booleans(),
)
def test_count_rows_counts_jsonl_lines(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], trailing_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    path = tmp_path_factory.mktemp("rows") / "data.jsonl"
    path.write_bytes(text.encode("utf-8"))

    # An empty last element with no newline after it is not a line (e.g. "a\n" is one line).
    expected = len(lines)
    if lines and lines[-1] == "" and not trailing_newline:
        expected -= 1
    assert count_rows(path) == expected


def test_count_rows_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id,text\n" + "".join(f"{i},row number {i}\n" for i in range(100_000)))
    # Larger than the 1 MiB read size, so lines span chunk boundaries.
    assert path.stat().st_size > 1 << 20

    assert count_rows(path) == 100_000


# --------------------------------------------------------------------------- per-process caches


def _fake_distribution(folder: Path, name: str, version: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")


def test_packages_installed_while_the_process_runs_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _fake_distribution(site, "tb_fake_one", "1.0")
    monkeypatch.syspath_prepend(str(site))
    first = collect_environment()["packages"]
    assert first["tb_fake_one"] == "1.0" and "tb_fake_two" not in first
    assert collect_environment()["packages"] == first  # asked again: the same answer

    _fake_distribution(site, "tb_fake_two", "2.0")  # "pip install" in a notebook
    shutil.rmtree(site / "tb_fake_one-1.0.dist-info")
    _fake_distribution(site, "tb_fake_one", "1.1")  # an upgrade
    second = collect_environment()["packages"]
    assert second["tb_fake_two"] == "2.0" and second["tb_fake_one"] == "1.1"


@requires_git
def test_a_repository_created_or_given_a_remote_later_is_seen(isolated_git: Path) -> None:
    folder = isolated_git / "later"
    folder.mkdir()
    assert git_info(folder) is None
    _run_git(folder, "init", "--quiet", "--initial-branch=main")
    _run_git(folder, "config", "user.name", "Test User")
    _run_git(folder, "config", "user.email", "test@example.com")
    (folder / "a.py").write_text("x = 1\n")
    _run_git(folder, "add", "a.py")
    _run_git(folder, "commit", "--quiet", "-m", "first")
    info = git_info(folder)
    assert info is not None and info.remote is None and info.branch == "main"
    _run_git(folder, "remote", "add", "origin", "https://example.com/lab/later.git")
    info = git_info(folder)
    assert info is not None and info.remote == "https://example.com/lab/later.git"


@requires_git
def test_a_git_probe_answers_what_git_info_answers(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialbook.tracking._provenance import GitProbe

    (repo / "train.py").write_text("print('changed')\n")
    (repo / "runs").mkdir()
    (repo / "runs" / "new.txt").write_text("a run's file\n")
    monkeypatch.chdir(repo)
    probe = GitProbe(exclude=[repo / "runs"])
    assert probe.result() == git_info(repo, exclude=[repo / "runs"])
    info = probe.result()
    assert info is not None and info.dirty and info.diff and "changed" in info.diff
    assert "new.txt" not in info.diff  # the excluded folder does not count


def test_nvidia_smi_is_asked_again_when_a_different_one_is_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_torch: None
) -> None:
    answers = []
    for i, name in enumerate(("NVIDIA A100", "NVIDIA H100")):
        bin_dir = tmp_path / f"bin{i}"
        bin_dir.mkdir()
        smi = bin_dir / "nvidia-smi"
        smi.write_text(f"#!/bin/sh\necho '{name}, 40960'\n")
        smi.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
        answers.append(collect_environment(include_packages=False)["gpu"])
    assert answers == [
        [{"name": "NVIDIA A100", "memory_mb": 40960}],
        [{"name": "NVIDIA H100", "memory_mb": 40960}],
    ]


@requires_git
def test_untracked_files_are_named_as_git_ls_files_names_them(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "data" / "raw").mkdir(parents=True)
    (repo / "data" / "raw" / "a.csv").write_text("x\n")
    (repo / "src" / "new module.py").write_text("y = 2\n")
    _run_git(repo, "mv", "train.py", "src/train.py")  # a rename among the changes
    for where in (repo, repo / "src"):
        expected = _run_git(where, "ls-files", "--others", "--exclude-standard", ":/")
        info = git_info(where)
        assert info is not None and info.dirty and info.diff is not None
        listed = info.diff.rsplit("# untracked: ", 1)[1].strip().split(", ")
        assert listed == expected.splitlines()
        assert "rename to src/train.py" in info.diff
