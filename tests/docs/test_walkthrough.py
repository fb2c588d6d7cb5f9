"""Every shell command of README.md and the docs pages runs, in order, in ONE workspace (the
default ./experiments of a copy of the repository), on the tiny settings declared in
walkthrough.py, and exits 0 or with the status the page documents; where a page shows the
output of a command it runs as written, every metric value shown is printed again. Following
the docs leaves the checkout clean (no file git would see), so later runs record a clean
provenance.

Python blocks that are complete programs (they start with an import) run too, in the same
workspace, except on the pages whose area tests run them in a workspace of their own
(walkthrough.PYTHON_ELSEWHERE); the README's are sketches (``train_step()`` is the reader's).

Two things run side by side, and only where the order cannot show: consecutive commands that
only read the workspace (walkthrough.reads_only), and a command that works in a workspace of its
own (walkthrough.OWN_WORKSPACE, the demo) beside the commands after it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pytest
from walkthrough import (
    OWN_WORKSPACE,
    PLACEHOLDERS,
    REPO,
    TINY,
    Command,
    all_commands,
    commands,
    documented_numbers,
    not_run_reason,
    reads_only,
    stale_entries,
)

#: Seconds one command may take (the slowest, the CLINC suite on tiny settings, takes ~40 s).
TIMEOUT = 300
#: Commands that only read the workspace (walkthrough.reads_only) run this many at a time.
READERS_AT_ONCE = 2


@dataclass
class Ran:
    command: Command
    ran: str  # what the shell ran
    exit: int
    output: str
    seconds: float


def _copy_repo(dest: Path) -> None:
    """The files git would commit (tracked, or new and not ignored), in a fresh git repository
    with one commit: a clean clone of the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        src = REPO / name
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    git = ["git", "-c", "user.name=walkthrough", "-c", "user.email=walkthrough@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)


def _environment(repo: Path) -> dict[str, str]:
    """The README's set-up: the venv's bin first on PATH (`source .venv/bin/activate`), and the
    copy's sources (as the editable install of a clone would be)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = sys.prefix
    env["PYTHONPATH"] = str(repo / "src")
    env["COLUMNS"] = "200"
    env.pop("DISPLAY", None)
    return env


def _resolve(text: str, repo: Path, env: dict[str, str]) -> str:
    for placeholder, filters in PLACEHOLDERS.items():
        if placeholder not in text:
            continue
        listed = subprocess.run(
            ["trialbook", "ls", *filters.split(), "--json"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        runs = json.loads(listed.stdout or "[]")
        if runs:
            text = text.replace(placeholder, runs[0]["id"])
    return text


def _reads(command: Command) -> bool:
    return not command.python and reads_only(TINY.get(command.text, command.text))


def _run(command: Command, repo: Path, env: dict[str, str]) -> Ran:
    """Run one command (a shell line, or a Python block) in the copy, as the page says."""
    text = TINY.get(command.text, command.text)
    if command.python:
        argv = [sys.executable, "-c", text]
    else:
        text = _resolve(text, repo, env)
        argv = ["bash", "-c", text]
    start = time.monotonic()
    try:
        done = subprocess.run(
            argv, cwd=repo, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return Ran(command, text, -1, f"timed out after {TIMEOUT} s\n{out}", TIMEOUT)
    return Ran(command, text, done.returncode, done.stdout + done.stderr, time.monotonic() - start)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Ran]]:
    if not (REPO / ".git").exists():
        pytest.skip("the walkthrough copies a git checkout (git ls-files); this is none")
    repo = tmp_path_factory.mktemp("walkthrough") / "repo"
    _copy_repo(repo)
    # `.venv/bin/trialbook`, as `make` leaves it: a folder (which .gitignore ignores) whose
    # parts are the test's own virtual environment.
    (repo / ".venv").mkdir()
    for part in Path(sys.prefix).iterdir():
        (repo / ".venv" / part.name).symlink_to(part)
    env = _environment(repo)
    todo = [c for c in all_commands() if not_run_reason(c.text, c.page, c.python) is None]
    started: list[Future[Ran]] = []
    i = 0
    with (
        ThreadPoolExecutor(max_workers=READERS_AT_ONCE) as pool,
        ThreadPoolExecutor(max_workers=1) as beside,
    ):
        while i < len(todo):
            text = TINY.get(todo[i].text, todo[i].text)
            if not todo[i].python and "=" in text.split()[0] and len(text.split()) == 1:
                name, value = text.split("=", 1)  # NAME=value: for the page's next commands
                env[name] = value
                i += 1
                continue
            if (todo[i].page, todo[i].text) in OWN_WORKSPACE:
                started.append(beside.submit(_run, todo[i], repo, dict(env)))
                i += 1
                continue
            # Commands that only read the workspace, one after another, run side by side:
            # nothing changes it under them, so each prints what it would alone.
            end = i + 1
            if _reads(todo[i]):
                while end < len(todo) and _reads(todo[end]):
                    end += 1
            group = [pool.submit(_run, c, repo, dict(env)) for c in todo[i:end]]
            wait(group)
            started.extend(group)
            i = end
    ran = [f.result() for f in started]
    # For whoever makes the walkthrough faster: where its time goes.
    slowest = sorted(ran, key=lambda r: -r.seconds)
    (repo.parent / "timings.txt").write_text(
        "".join(f"{r.seconds:7.1f}  {r.command.where}  {r.ran}\n" for r in slowest)
    )
    return repo, ran


def _problem(r: Ran) -> str | None:
    """What is wrong with one command's outcome (None when it did as documented)."""
    if r.exit != r.command.expected_exit:
        tail = "\n    ".join(r.output.strip().splitlines()[-6:])
        return (
            f"{r.command.where}: `{r.ran}` exited {r.exit}, expected {r.command.expected_exit}"
            f"\n    {tail}"
        )
    missing = [n for n in documented_numbers(r.command) if n not in r.output]
    if missing:
        return f"{r.command.where}: `{r.ran}` did not print {', '.join(missing)}"
    return None


@pytest.mark.slow  # every documented command (~170), example suites on tiny settings: ~4 min of CPU
def test_every_documented_command_runs_in_order_in_one_workspace(
    walk: tuple[Path, list[Ran]],
) -> None:
    _, ran = walk
    assert len(ran) > 100  # the walkthrough reached every page
    # and compared the numbers of the pages' console blocks
    assert sum(len(documented_numbers(r.command)) for r in ran) > 100
    problems = [p for r in ran if (p := _problem(r))]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_following_the_docs_leaves_the_checkout_clean(walk: tuple[Path, list[Ran]]) -> None:
    repo, _ = walk
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == "", f"the documented commands left files git sees:\n{status}"


def test_the_tables_name_only_commands_the_pages_hold() -> None:
    assert stale_entries() == []


def test_commands_are_read_with_continuations_comments_and_documented_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```bash\n"
        "trialbook run a.yaml \\\n  --seeds 1   # two lines\n"
        "# a comment line\n"
        "trialbook ls -w 'name=a#b'   # exits 2\n"
        "```\n```console\n"
        "$ trialbook run x.yaml\nerror: No such file\n"
        "$ trialbook ls\nid  acc\nab  0.8325  1.5s\n"
        "```\n```python\nprint('a sketch: no import')\n```\n"
        "```python\nimport math\nprint(round(math.pi, 4))\n# 3.1416\n```\n",
        encoding="utf-8",
    )
    monkeypatch.setattr("walkthrough.REPO", tmp_path)
    found = commands("page.md")
    assert [(c.text, c.expected_exit, c.line) for c in found] == [
        ("trialbook run a.yaml --seeds 1", 0, 3),
        ("trialbook ls -w 'name=a#b'", 2, 6),
        ("trialbook run x.yaml", 2, 9),
        ("trialbook ls", 0, 11),
        ("import math\nprint(round(math.pi, 4))\n# 3.1416", 0, 19),
    ]
    assert documented_numbers(found[3]) == ["0.8325"]
    assert found[4].python and documented_numbers(found[4]) == ["3.1416"]


@pytest.mark.parametrize(
    ("line", "reads"),
    [
        ("trialbook ls --by group", True),
        (".venv/bin/trialbook significance token_only@1 hybrid@1 --metric relative_error", True),
        ("trialbook export a1b2c3 --metrics -f csv", True),
        ("trialbook export a1b2c3 > experiments/run.json", False),
        ("trialbook export --all -o runs.parquet", False),
        ("trialbook report a b --out experiments/r.html", False),
        ("trialbook analyze", False),
        ("trialbook run examples/configs/suite.yaml", False),
        ("trialbook ls --json | jq '.[]'", False),
        ("trialbook ls && trialbook run x.yaml", False),
        ("ls experiments", False),
    ],
)
def test_only_commands_that_read_the_workspace_and_write_no_file_run_side_by_side(
    line: str, reads: bool
) -> None:
    assert reads_only(line) is reads
