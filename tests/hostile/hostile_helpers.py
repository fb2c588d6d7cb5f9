"""The hostile corpus's harness (issue 9): a snapshot of everything on disk, the one-line error
check, the in-process and child-process ways of running ``trialbook``, and the case table.

Every case asserts three things: the exit status (2 for a user's mistake; the right
``TrialbookError`` subclass from the Python API), that stderr is one ``error: `` line without
"Traceback" naming the bad value, and that nothing was created or half-written: a snapshot of
the case's folder and of the shared workspace (every entry's kind, size and sha256; each SQLite
file's row count per table, the ``-wal`` included) before and after must be equal.

Adding a case: one ``c(id, *args, names=[...])`` line in the table of its command (``{ws}``,
``{tmp}``, ``{alpha}`` ... are filled in; ``files=`` writes inputs, ``prepare=`` damages the
workspace). A case that fails today keeps its assertion and gets ``xfail=REASON`` (strict):
"issue N item M: ..." when a fix is planned in an issue, "found by corpus: ..." for a new bug.
When the fix lands the case XPASSes, which fails the run until the mark is removed.

Counts when issue 9 was merged: 402 cases in the ``test_hostile_*`` files (79 Python API;
323 command line, hangs, faults and the issue's own cases), besides the 10 tests of
``test_hostile_harness.py`` that check the harness itself. 398 passed and 4 were strict
xfails, all issue 10 item 4 (a typo in a filter: ``ls --sort nme``, ``--experiment basline`` on
``ls``, ``leaderboard`` and ``export``); issue 10 fixed those, so all 402 pass.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import click.testing
import typer
import typer.main

from trialbook.cli import app

#: Environment variables that would point a case at another workspace.
TRIALBOOK_ENV = (
    "TRIALBOOK_ROOT",
    "TRIALBOOK_STORE",
    "TRIALBOOK_SYSTEM_METRICS",
    "TRIALBOOK_FLUSH_INTERVAL",
)

#: A config that `trialbook run` can run quickly (a command, no import).
SCRIPTED = """experiment:
  name: scripted
  command: python -c pass
seed: 5
lr: 0.1
model:
  layers: 2
"""

_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Snapshot:
    """What a folder holds: every entry's kind, size and sha256, and each SQLite database's
    row count per table (read from a copy, so that counting writes nothing)."""

    files: Mapping[str, tuple[str, int, str]]
    rows: Mapping[str, Mapping[str, int] | str]


#: Files that are bookkeeping, not data, so the snapshot skips them:
#: - the store's record of the file it last found clean (``trialbook.db-checked``), rewritten
#:   whenever a copied or changed database is opened and checked again;
#: - SQLite's own journal files (``-wal``, ``-shm``), which any connection to a database in WAL
#:   mode may create, and which a process that cannot finish cleanly (a full disk) leaves
#:   behind; SQLite reads them back at the next open.
#: What they hold is still compared: :func:`_row_counts` counts each database's rows with its
#: ``-wal`` applied, so a row that reached the WAL is a change the snapshot sees.
_BOOKKEEPING = ("trialbook.db-checked", ".db-wal", ".db-shm")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _row_counts(db: Path) -> Mapping[str, int] | str:
    """Rows per table of the SQLite file ``db`` (with its -wal), opened read-only from a copy."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy.db"
        shutil.copyfile(db, copy)
        wal = db.with_name(db.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name("copy.db-wal"))
        try:
            con = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
            try:
                names = [
                    r[0]
                    for r in con.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                    )
                ]
                return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
            finally:
                con.close()
        except sqlite3.DatabaseError as e:  # a deliberately damaged database: keep the bytes
            return f"unreadable: {e}"


def snapshot(*roots: Path) -> Snapshot:
    """Everything under ``roots`` (which need not exist)."""
    files: dict[str, tuple[str, int, str]] = {}
    rows: dict[str, Mapping[str, int] | str] = {}
    for root in roots:
        if not root.exists():
            files[str(root)] = ("absent", 0, "")
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            for d in dirnames:
                files[str(here / d)] = ("dir", 0, "")
            for name in filenames:
                if name.endswith(_BOOKKEEPING):
                    continue
                path = here / name
                if path.is_symlink() or not path.is_file():
                    files[str(path)] = ("other", 0, "")
                    continue
                files[str(path)] = ("file", path.stat().st_size, _sha256(path))
                with path.open("rb") as f:
                    if f.read(16) == _SQLITE_MAGIC:
                        rows[str(path)] = _row_counts(path)
    return Snapshot(files, rows)


def assert_unchanged(before: Snapshot, after: Snapshot) -> None:
    """Nothing created, removed or changed between the two snapshots."""
    created = sorted(set(after.files) - set(before.files))
    removed = sorted(set(before.files) - set(after.files))
    changed = sorted(
        k for k in set(before.files) & set(after.files) if before.files[k] != after.files[k]
    )
    assert not (created or removed or changed), (
        f"created {created}, removed {removed}, changed {changed}"
    )
    assert before.rows == after.rows, (before.rows, after.rows)


def copy_workspace(source: Path, target: Path) -> None:
    """A copy of ``source`` that refers only to itself: paths the database holds under
    ``source`` are rewritten to ``target``, so that a case can never write into the shared
    workspace (a case that xfails would otherwise pollute the cases after it)."""
    shutil.copytree(source, target)
    con = sqlite3.connect(target / "trialbook.db")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                if "TEXT" in column[2].upper() or "CHAR" in column[2].upper():
                    con.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?) '
                        f'WHERE "{column[1]}" LIKE ?',
                        (str(source), str(target), f"{source}%"),
                    )
        con.commit()
    finally:
        con.close()


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


@functools.cache
def _command() -> click.Command:
    # typer rebuilds the click command from the app on every invoke (~50 ms of signature
    # parsing); the commands are stateless, so the corpus builds it once.
    return typer.main.get_command(app)


def cli(args: Sequence[str | Path], env: Mapping[str, str] | None = None) -> Outcome:
    """``trialbook ARGS`` in this process; an exception that escapes is re-raised."""
    result = click.testing.CliRunner().invoke(
        _command(),
        [str(a) for a in args],
        env=dict(env or {}),
        catch_exceptions=False,
        prog_name="trialbook",
    )
    return Outcome(result.exit_code, result.stdout, result.stderr)


#: The child's preamble: 2 GB of address space at most, so a bomb cannot take the machine down.
_CHILD = (
    "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    "import sys; from trialbook.cli import main; sys.argv[0] = 'trialbook'; main()"
)


def start_child(args: Sequence[str | Path], *, cwd: Path, out: Path) -> subprocess.Popen[bytes]:
    """``trialbook ARGS`` in a child process writing its stdout and stderr into the folder
    ``out`` (files, not pipes: a child must never block on a full pipe); collect it with
    :func:`finish_child`."""
    env = {k: v for k, v in os.environ.items() if k not in TRIALBOOK_ENV}
    # A crash prints a plain traceback: rich's rendering of a RecursionError takes seconds.
    env["_TYPER_STANDARD_TRACEBACK"] = "1"
    with (out / "stdout").open("wb") as stdout, (out / "stderr").open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD, *[str(a) for a in args]],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )


def finish_child(child: subprocess.Popen[bytes], out: Path, deadline: float) -> Outcome | None:
    """The child's outcome, or None (after killing it) when it is still running at
    ``deadline`` (a time.monotonic() value)."""
    import time

    try:
        child.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return None
    return Outcome(
        child.returncode,
        (out / "stdout").read_bytes().decode(errors="replace"),
        (out / "stderr").read_bytes().decode(errors="replace"),
    )


def assert_one_line_error(outcome: Outcome, *fragments: str) -> str:
    """Exit 2, and stderr is one ``error: ...`` line without a traceback, naming ``fragments``."""
    detail = f"exit {outcome.exit_code}\nstdout: {outcome.stdout!r}\nstderr: {outcome.stderr!r}"
    assert "Traceback" not in outcome.stderr, detail
    assert outcome.exit_code == 2, detail
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("error: "), detail
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not named in {lines[0]!r}"
    return lines[0]


@dataclass(frozen=True)
class Base:
    """The session's workspace: run ids by name, oldest first."""

    root: Path
    ids: dict[str, str]


@dataclass(frozen=True)
class Case:
    """One case's world: ``tmp`` is its folder and working directory, ``ws`` a copy of the
    session's workspace inside it."""

    tmp: Path
    ws: Path
    base: Base

    @property
    def ids(self) -> dict[str, str]:
        return self.base.ids

    def snap(self) -> Snapshot:
        return snapshot(self.tmp, self.base.root)

    def write(self, relative: str, content: str | bytes) -> Path:
        path = self.tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


# ---------------------------------------------------------------------------------------------
# The case table of CLI inputs.

HUGE = "99999999999999999999999"  # beyond 64 bits


@dataclass(frozen=True)
class CliCase:
    """``trialbook ARGS`` must fail with one ``error:`` line naming ``names`` and change nothing.

    ``prepare`` (if any) damages the case's world before the snapshot.
    ``{ws}``, ``{tmp}``, ``{alpha}`` (a run's full id), ``{alpha6}`` (its short id) ... in args,
    names and files are replaced before the run. ``files`` are written into the case's folder
    first (inputs, so they are part of the "before" snapshot).
    """

    id: str
    args: tuple[str, ...]
    names: tuple[str, ...] = ()
    files: Mapping[str, str | bytes] | None = None
    env: Mapping[str, str] | None = None
    xfail: str | None = None
    prepare: Callable[[Case], object] | None = None


def c(
    id: str,
    *args: str,
    names: Sequence[str] = (),
    files: Mapping[str, str | bytes] | None = None,
    env: Mapping[str, str] | None = None,
    xfail: str | None = None,
    prepare: Callable[[Case], object] | None = None,
) -> CliCase:
    return CliCase(id, tuple(args), tuple(names), files, env, xfail, prepare)


def params(cases: Sequence[CliCase]) -> list[object]:
    """The cases as pytest params, with their ids and strict xfail marks."""
    import pytest

    ids = [x.id for x in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return [
        pytest.param(
            x, id=x.id, marks=[pytest.mark.xfail(strict=True, reason=x.xfail)] if x.xfail else []
        )
        for x in cases
    ]


def fill(text: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def check_cli_case(case: Case, x: CliCase, **extra: Path) -> None:
    """Run one CliCase in ``case``'s world and assert the three rules; ``extra`` names more
    placeholders (``ro=...``)."""
    values = {"ws": str(case.ws), "tmp": str(case.tmp), **{k: str(v) for k, v in extra.items()}}
    for name, run_id in case.ids.items():
        values[name] = run_id
        values[name + "6"] = run_id[-6:]
    for relative, content in (x.files or {}).items():
        case.write(
            fill(relative, values), fill(content, values) if isinstance(content, str) else content
        )
    if x.prepare is not None:
        x.prepare(case)
    args = [fill(a, values) for a in x.args]
    env = {k: fill(v, values) for k, v in (x.env or {}).items()}
    before = case.snap()
    outcome = cli(args, env)
    after = case.snap()
    assert_one_line_error(outcome, *[fill(n, values) for n in x.names])
    assert_unchanged(before, after)
