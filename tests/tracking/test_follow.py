"""Following a run: log files read by byte offset, new points and status as they arrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.errors import RunNotFoundError, TrialbookError
from trialbook.tracking import follow_run, read_log

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}

#: Each test twice: into the workspace's SQLite file and into a PostgreSQL database.
pytestmark = pytest.mark.usefixtures("index_store")


@pytest.fixture(autouse=True)
def _outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_read_log_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    chunk = read_log(tmp_path, "stdout")
    assert (chunk.text, chunk.start, chunk.offset, chunk.size) == ("", 0, 0, 0)


def test_read_log_reads_from_an_offset_and_continues_where_it_stopped(tmp_path: Path) -> None:
    (tmp_path / "stdout.log").write_bytes(b"line one\nline two\n")
    first = read_log(tmp_path, "stdout", 0, 5)
    assert (first.text, first.start, first.offset, first.size) == ("line ", 0, 5, 18)
    rest = read_log(tmp_path, "stdout", first.offset)
    assert rest.text == "one\nline two\n" and rest.offset == 18
    assert read_log(tmp_path, "stdout", 18).text == ""


def test_read_log_tail_returns_the_last_bytes(tmp_path: Path) -> None:
    (tmp_path / "stderr.log").write_bytes(b"a" * 100 + b"tail\n")
    chunk = read_log(tmp_path, "stderr", -1, 5)
    assert chunk.text == "tail\n" and chunk.start == 100 and chunk.offset == 105


def test_read_log_never_cuts_a_utf8_character(tmp_path: Path) -> None:
    (tmp_path / "stdout.log").write_bytes("é€😀x".encode())  # 2 + 3 + 4 + 1 bytes
    pieces = []
    offset = 0
    while True:
        chunk = read_log(tmp_path, "stdout", offset, 4)
        if chunk.offset == offset:
            break
        pieces.append(chunk.text)
        offset = chunk.offset
    assert "".join(pieces) == "é€😀x"
    assert "\ufffd" not in "".join(pieces)
    tail = read_log(tmp_path, "stdout", -1, 6)  # begins inside the euro sign
    assert tail.text == "😀x" and tail.start == 5


def test_read_log_offset_past_the_end_reads_nothing(tmp_path: Path) -> None:
    (tmp_path / "stdout.log").write_bytes(b"short\n")
    chunk = read_log(tmp_path, "stdout", 1000)
    assert chunk.text == "" and chunk.offset == chunk.size == 6


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"stream": "stdin"}, "stream"),
        ({"stream": "stdout", "offset": -2}, "offset"),
        ({"stream": "stdout", "limit": 0}, "limit"),
        ({"stream": "stdout", "limit": 10**9}, "limit"),
    ],
)
def test_read_log_bad_arguments_name_their_parameter(
    tmp_path: Path, kwargs: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(TrialbookError) as info:
        read_log(tmp_path, **kwargs)
    assert info.value.parameter == parameter


def test_follow_run_of_a_finished_run_yields_everything_once(tmp_path: Path) -> None:
    with trialbook.start_run("exp", {"lr": 0.1}, root=tmp_path, **FAST) as run:
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    (run.path / "stdout.log").write_text("hello\n")
    with trialbook.open_store(tmp_path) as store:
        updates = list(follow_run(store, run.id, interval=0.01))
    assert len(updates) == 1 and updates[0].finished and updates[0].status == "completed"
    assert [(p.key, p.step, p.value) for p in updates[0].points] == [
        ("loss", 0, 1.0),
        ("loss", 1, 0.5),
        ("loss", 2, pytest.approx(1 / 3)),
    ]
    assert [c.text for c in updates[0].logs] == ["hello\n"]


def test_follow_run_reports_points_logged_while_following(tmp_path: Path) -> None:
    run = trialbook.start_run("exp", {"lr": 0.1}, root=tmp_path, **FAST)
    run.log({"loss": 1.0}, step=0)
    run.flush()
    log = run.path / "stdout.log"
    log.write_text("start\n")
    actions = iter(
        [
            lambda: (run.log({"loss": 0.5, "acc": 0.1}, step=1), run.flush()),
            lambda: log.write_text("start\nmore\n"),
            lambda: run.finish(),
        ]
    )

    def sleep(_: float) -> None:
        next(actions, lambda: None)()

    with trialbook.open_store(tmp_path) as store:
        updates = list(follow_run(store, run.id, interval=0.01, sleep=sleep))
    points = [(p.key, p.step) for u in updates for p in u.points]
    assert points == [("loss", 0), ("acc", 1), ("loss", 1)]
    assert "".join(c.text for u in updates for c in u.logs) == "start\nmore\n"
    assert updates[-1].finished and updates[-1].status == "completed"
    assert not any(u.finished for u in updates[:-1])


def test_follow_run_from_now_skips_what_was_already_written(tmp_path: Path) -> None:
    with trialbook.start_run("exp", {}, root=tmp_path, **FAST) as run:
        run.log({"loss": 1.0}, step=0)
    (run.path / "stdout.log").write_text("old\n")
    with trialbook.open_store(tmp_path) as store:
        updates = list(follow_run(store, run.id, from_start=False))
    assert [(u.points, u.logs, u.finished) for u in updates] == [((), (), True)]


def test_follow_run_unknown_run_and_bad_interval(tmp_path: Path) -> None:
    with trialbook.start_run("exp", {}, root=tmp_path, **FAST) as run:
        pass
    with trialbook.open_store(tmp_path) as store:
        with pytest.raises(RunNotFoundError):
            next(follow_run(store, "nope"))
        with pytest.raises(TrialbookError) as info:
            next(follow_run(store, run.id, interval=0))
    assert info.value.parameter == "interval"
