"""Stores that cannot be opened (or written) say so in one sentence, exit 2 and create nothing:
a --store that is not a URL, PostgreSQL without its driver, a trialbook.db that is a folder, a
read-only workspace (which still reads), and integers the database cannot hold."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from store_helpers import cli, one_error_line

import trialbook
from trialbook.errors import (
    ConfigError,
    RunNotFoundError,
    StoreError,
    TrialbookError,
    WorkspaceError,
)
from trialbook.store import NewRun, connect

COMMON = {"system_metrics": False, "capture_packages": False}


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    (tmp_path / "tasks.py").write_text("def train(config, run):\n    return {'acc': 1.0}\n")
    (tmp_path / "exp.yaml").write_text(
        textwrap.dedent("""
        experiment:
          name: exp
          entrypoint: tasks:train
        seed: 1
        """)
    )
    return tmp_path


@pytest.mark.parametrize("command", [["ls"], ["run", "exp.yaml"], ["db", "status"]])
def test_a_store_that_is_not_a_url_is_one_sentence(cwd: Path, command: list[str]) -> None:
    before = tree(cwd)
    one_error_line(
        cli(cwd, *command, "--store", "notaurl", "--root", "ws"),
        "--store 'notaurl' is not a database URL",
        "sqlite:///",
    )
    assert tree(cwd) == before


@pytest.mark.parametrize("command", [["ls"], ["run", "exp.yaml"]])
def test_postgresql_without_its_driver_names_the_extra(cwd: Path, command: list[str]) -> None:
    hide = "import sys\nsys.modules['psycopg'] = None\nsys.modules['psycopg2'] = None"
    before = tree(cwd)
    one_error_line(
        cli(
            cwd,
            *command,
            "--store",
            "postgresql://me:secret@localhost/tb",
            "--root",
            "ws",
            prelude=hide,
        ),
        "is PostgreSQL, whose driver is not installed",
        "pip install 'trialbook[postgres]'",
    )
    assert tree(cwd) == before


def test_the_password_of_a_store_url_is_never_printed(cwd: Path) -> None:
    hide = "import sys\nsys.modules['psycopg'] = None"
    result = cli(cwd, "ls", "--store", "postgresql://me:secret@localhost/tb", prelude=hide)
    assert "secret" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [["ls"], ["run", "exp.yaml"], ["show", "x"]])
def test_a_trialbook_db_that_is_a_folder_is_one_sentence(cwd: Path, command: list[str]) -> None:
    (cwd / "ws" / "trialbook.db").mkdir(parents=True)
    before = tree(cwd)
    one_error_line(
        cli(cwd, *command, "--root", "ws"),
        f"{cwd / 'ws' / 'trialbook.db'} is a folder, not a database file",
    )
    assert tree(cwd) == before


def _foreign(path: Path) -> None:
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()


@pytest.mark.parametrize("kind", ["garbage", "foreign"])
def test_run_into_a_refused_store_file_makes_no_workspace_folder(cwd: Path, kind: str) -> None:
    db = cwd / "other.db"
    if kind == "garbage":
        db.write_bytes(b"x" * 4096)
    else:
        _foreign(db)
    before = tree(cwd)
    # No --root: the workspace would be ./experiments, which must not be made for a store
    # that is refused.
    one_error_line(cli(cwd, "run", "exp.yaml", "--store", f"sqlite:///{db}"), str(db))
    assert tree(cwd) == before
    with pytest.raises(StoreError, match=r"other\.db"):
        trialbook.start_run("exp", root=cwd / "ws", store_url=f"sqlite:///{db}", **COMMON)
    assert tree(cwd) == before


def test_an_existing_store_elsewhere_gets_a_new_workspace_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    connect(url, create=True).close()
    with trialbook.start_run("exp", root=tmp_path / "ws", store_url=url, **COMMON) as run:
        pass
    assert run.path.parent == tmp_path / "ws"
    assert [r.id for r in connect(url).list_runs()] == [run.id]


@pytest.fixture
def read_only_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with one finished run, on a tmpfs remounted read-only (as an archive on a
    read-only disk, or a colleague's workspace on a read-only share)."""
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with trialbook.start_run("exp", {"lr": 0.1}, name="base", root=mnt / "ws",
                                 **COMMON) as run:  # fmt: skip
            run.log({"loss": 0.5}, step=0)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield mnt / "ws"
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_a_read_only_workspace_is_read_and_only_writes_are_refused(
    read_only_ws: Path, cwd: Path
) -> None:
    ws = read_only_ws
    before = tree(ws)

    listed = cli(cwd, "ls", "--root", ws)
    assert listed.returncode == 0, listed.stderr
    assert "base" in listed.stdout
    shown = cli(cwd, "show", "base", "--root", ws)
    assert shown.returncode == 0, shown.stderr
    assert "loss" in shown.stdout and "missing" not in shown.stdout
    report = cli(cwd, "report", "base", "--root", ws, "--out", cwd / "report.html")
    assert report.returncode == 0, report.stderr
    assert (cwd / "report.html").stat().st_size > 0
    assert cli(cwd, "db", "check", "--root", ws).returncode == 0

    (cwd / "p.jsonl").write_text('{"id": "0", "prediction": "1"}\n')
    one_error_line(
        cli(
            cwd,
            "evaluate",
            "gsm8k",
            "--predictions",
            "p.jsonl",
            "--allow-missing",
            "-n",
            "1",
            "--run",
            "base",
            "--root",
            ws,
        ),
        f"The workspace database {ws / 'trialbook.db'} is read-only here",
    )
    one_error_line(cli(cwd, "run", "exp.yaml", "--root", ws), f"{ws}")
    assert tree(ws) == before
    store = connect(f"sqlite:///{ws / 'trialbook.db'}")
    try:
        with pytest.raises(WorkspaceError, match="read-only here"):
            store.log_params(store.get_run("base").id, {"x": 1})
    finally:
        store.close()


def _run(seed: int | None = None, run_id: str = "r_aaaaaa") -> NewRun:
    return NewRun(
        id=run_id, experiment="e", name="n", config={}, config_hash="h", group_key="g", seed=seed
    )


def test_integers_beyond_64_bits_are_refused_naming_the_field(tmp_path: Path) -> None:
    with connect(f"sqlite:///{tmp_path / 'trialbook.db'}", create=True) as store:
        with pytest.raises(StoreError, match=r"^seed = 18446744073709551616 does not fit in 64"):
            store.create_run(_run(seed=2**64))
        assert store.list_runs() == []
        store.create_run(_run(seed=2**63 - 1))  # the largest that fits
        run_id = "r_aaaaaa"
        with pytest.raises(StoreError, match=r"param 'big' = -9223372036854775809 does not fit"):
            store.log_params(run_id, {"ok": 1, "big": -(2**63) - 1})
        assert store.params(run_id) == {}
        with pytest.raises(StoreError, match=r"param 'huge' = a 1001-bit integer"):
            store.log_params(run_id, {"huge": 2**1000})
        with pytest.raises(StoreError, match=r"metric 'loss' step = 9223372036854775808"):
            store.log_metric_columns(run_id, {"loss": ([2**63], [1.0], [0.0])})
        assert len(store.metric_history(run_id, "loss")) == 0
        with pytest.raises(StoreError, match="checkpoint step"):
            store.log_checkpoint(run_id, str(tmp_path), step=2**70)
        with pytest.raises(StoreError, match="pid = -18446744073709551616"):
            store.update_run(run_id, pid=-(2**64))
        assert store.get_run(run_id).seed == 2**63 - 1


# -- the Store's errors in the library's words: parameters, never flags or commands ----------


def _refusal(call: Callable[[], object], error: type[Exception]) -> TrialbookError:
    with pytest.raises(error) as caught:
        call()
    refused = caught.value
    assert isinstance(refused, TrialbookError)
    assert "--" not in str(refused) and "trialbook ls" not in str(refused), str(refused)
    return refused


def test_a_store_url_that_is_not_a_url_names_the_parameter() -> None:
    refused = _refusal(lambda: connect("notaurl"), ConfigError)

    assert str(refused).startswith("store_url='notaurl' is not a database URL")
    assert (refused.parameter, refused.value) == ("store_url", "notaurl")


def test_a_missing_workspace_names_root_and_store_url(tmp_path: Path) -> None:
    refused = _refusal(lambda: trialbook.open_store(tmp_path / "nowhere"), WorkspaceError)

    assert "point root=... (TRIALBOOK_ROOT) or store_url=... (TRIALBOOK_STORE)" in str(refused)
    assert refused.parameter == "store_url"


def test_unknown_runs_and_statuses_name_the_parameter(tmp_path: Path) -> None:
    with connect(f"sqlite:///{tmp_path / 'trialbook.db'}", create=True) as store:
        store.create_run(_run())

        missing = _refusal(lambda: store.get_run("nope"), RunNotFoundError)
        assert str(missing) == (
            "No run matches 'nope'; pass an id, a unique id prefix or a unique name."
        )
        assert (missing.parameter, missing.value) == ("ref", "nope")
        unknown = _refusal(lambda: store.update_run("r_zzzzzz", notes="x"), RunNotFoundError)
        assert str(unknown) == "No run with id 'r_zzzzzz'."
        assert unknown.parameter == "run_id"
        for call, parameter in [
            (lambda: store.create_run(replace(_run(run_id="r_bbbbbb"), status="done")), "status"),  # type: ignore[arg-type]
            (lambda: store.finish_run("r_aaaaaa", "done", 1.0, None), "status"),  # type: ignore[arg-type]
            (lambda: store.list_runs(statuses=("done",)), "statuses"),
        ]:
            bad = _refusal(call, ConfigError)
            assert str(bad).startswith("Unknown run status 'done'; use one of")
            assert (bad.parameter, bad.value) == (parameter, "done")
        assert [r.id for r in store.list_runs()] == ["r_aaaaaa"]
        no_eval = _refusal(lambda: store.evaluation_samples("r_aaaaaa", "qa"), RunNotFoundError)
        assert str(no_eval) == "Run r_aaaaaa has no evaluation on 'qa'; its evaluations: none."
