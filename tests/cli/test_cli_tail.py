"""``trialbook tail``: a run's points and log lines, and following one a process is writing."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Cli, assert_user_error
from test_cli_ui import DEADLINE, Lines, _env

import trialbook

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}

# Logs step 0 and a first line, waits until the test says "go", then logs two more steps and
# a last line (without a newline) and ends as `status`.
WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import trialbook

    root, go, status = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    run = trialbook.start_run("live", {"lr": 0.1}, root=root, system_metrics=False,
                              capture_packages=False, flush_interval=0.05)
    log = (run.path / "stdout.log").open("a", encoding="utf-8")
    run.log({"loss": 1.0}, step=0)
    run.flush()
    log.write("epoch 0 done\\n"); log.flush()
    print(run.id, flush=True)
    while not go.exists():
        time.sleep(0.02)
    for step in (1, 2):
        run.log({"loss": 1.0 / (step + 1), "system/cpu_percent": 5.0}, step=step)
    (run.path / "stderr.log").write_text("warning: <b>x</b>\\n")
    log.write("last words"); log.flush()
    run.finish(status)
    """
)


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child: SIGINT back to its default, so Python turns Ctrl-C into
    KeyboardInterrupt even when the tests run in a background job (whose processes inherit
    SIGINT as ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path / "experiments"


def _writer(root: Path, go: Path, status: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(go), status],
        preexec_fn=_ctrl_c_as_in_a_terminal,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, "the writer did not start"
    return proc, run_id


@pytest.mark.parametrize(("status", "code"), [("completed", 0), ("failed", 1)])
def test_tail_follow_prints_lines_as_they_arrive_and_ends_with_the_run(
    root: Path, status: str, code: int
) -> None:
    go = root.parent / "go"
    writer, run_id = _writer(root, go, status)
    try:
        tail = subprocess.Popen(
            [sys.executable, "-m", "trialbook", "tail", run_id[-6:], "-f", "--root", str(root)],
            preexec_fn=_ctrl_c_as_in_a_terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert tail.stdout is not None and tail.stderr is not None
        out, err = Lines(tail.stdout), Lines(tail.stderr)
        # What was written before: seen while the run is still waiting to go on.
        out.wait_for("0: loss=1")
        out.wait_for("stdout | epoch 0 done")
        assert tail.poll() is None and writer.poll() is None
        go.touch()
        assert tail.wait(DEADLINE) == code
        assert writer.wait(DEADLINE) == 0
    finally:
        for proc in (writer, tail):
            if proc.poll() is None:
                proc.kill()
    lines = out.text().splitlines()
    assert lines[:2] == ["0: loss=1", "stdout | epoch 0 done"]
    # After "go" the polls may split what came in any way; each line comes once.
    assert sorted(lines[2:]) == [
        "1: loss=0.5",
        "2: loss=0.3333",
        "stderr | warning: <b>x</b>",
        "stdout | last words",
    ]
    assert lines.index("1: loss=0.5") < lines.index("2: loss=0.3333")
    assert err.text().strip() == f"run {run_id[-6:]} {status}"


def test_tail_ctrl_c_stops_following_with_exit_0(root: Path) -> None:
    go = root.parent / "go"
    writer, run_id = _writer(root, go, "completed")
    tail = subprocess.Popen(
        [sys.executable, "-m", "trialbook", "tail", run_id, "-f", "--root", str(root)],
        preexec_fn=_ctrl_c_as_in_a_terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert tail.stdout is not None and tail.stderr is not None
        out, err = Lines(tail.stdout), Lines(tail.stderr)
        out.wait_for("epoch 0 done")
        tail.send_signal(signal.SIGINT)
        assert tail.wait(DEADLINE) == 0
        assert "Traceback" not in err.text()
    finally:
        go.touch()
        writer.wait(DEADLINE)
        if tail.poll() is None:
            tail.kill()


def _finished_run(root: Path) -> trialbook.RunRecord:
    with trialbook.start_run("exp", {"lr": 0.1}, name="done", root=root, **FAST) as run:
        for step in range(20):
            run.log({"loss": float(step), "system/rss_mb": 1.0}, step=step)
    (run.path / "stdout.log").write_text("".join(f"line {i}\n" for i in range(20)))
    with trialbook.open_store(root) as store:
        return store.get_run(run.id)


def test_tail_shows_the_last_lines_of_a_finished_run(root: Path) -> None:
    record = _finished_run(root)
    result = Cli()("tail", record.name, "-n", "2", "--root", root)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "18: loss=18",
        "19: loss=19",
        "stdout | line 18",
        "stdout | line 19",
    ]


def test_tail_options_choose_what_is_printed(root: Path) -> None:
    record = _finished_run(root)
    metrics_only = Cli()("tail", record.id, "-n", "1", "--no-logs", "--system", "--root", root)
    assert metrics_only.stdout.splitlines() == ["19: loss=19 system/rss_mb=1"]
    logs_only = Cli()("tail", record.id, "-n", "1", "--no-metrics", "--root", root)
    assert logs_only.stdout.splitlines() == ["stdout | line 19"]
    nothing_yet = Cli()("tail", record.id, "-n", "0", "--root", root)
    assert nothing_yet.exit_code == 0 and nothing_yet.stdout == ""


def test_tail_prints_control_characters_as_escapes(root: Path) -> None:
    with trialbook.start_run("exp", {}, root=root, **FAST) as run:
        pass
    (run.path / "stderr.log").write_text("\x1b[31mred\x1b[0m\n")
    result = Cli()("tail", run.id, "--root", root)
    assert "\x1b" not in result.stdout
    assert result.stdout.startswith("stderr | ") and "red" in result.stdout


def test_tail_unknown_run_is_one_sentence(root: Path) -> None:
    _finished_run(root)
    assert_user_error(Cli()("tail", "nope", "--root", root), "nope")
