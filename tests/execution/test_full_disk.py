"""A full disk under `trialbook run` (a 2 MB tmpfs as the workspace, which the first run fills
to the last page): one sentence and exit status 2, never a hang or the Runner's traceback;
output that cannot be written is still read, shown, and reported as lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from trialbook.execution import LocalExecutor, Task


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted in tmp_path (root only; skipped where mounting is refused)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_output_to_a_full_disk_is_drained_shown_and_reported(small_disk: Path) -> None:
    lines: list[str] = []
    script = "import sys\nfor i in range(60000): print('x' * 60, i)\nprint('the end')\n"
    with LocalExecutor(1, grace=2.0) as executor:
        result = executor.run(
            Task(
                key="chatty",
                argv=(sys.executable, "-c", script),
                cwd=small_disk,
                stdout_path=small_disk / "stdout.log",
                stderr_path=small_disk / "stderr.log",
                timeout=120,
            ),
            lambda task, stream, line: lines.append(line),
        )
    # The child was never blocked on a full pipe: it ran to the end and exited 0.
    assert result.exit_code == 0 and not result.timed_out
    assert len(lines) == 60001 and lines[-1] == "the end"
    assert result.output_error is not None
    assert f"{small_disk / 'stdout.log'} is incomplete: the last" in result.output_error
    assert "No space left on device" in result.output_error
    assert (small_disk / "stdout.log").stat().st_size < 60001 * 64


def test_trialbook_run_on_a_full_disk_is_one_sentence_and_exit_2(
    small_disk: Path, tmp_path: Path
) -> None:
    (tmp_path / "chatty.py").write_text(
        textwrap.dedent(
            """
            def main(config, run):
                # Fill the workspace's disk to the last page first: every later write there
                # fails, the Runner's own included, whatever the timing.
                with open(run.path / "filler", "wb", buffering=0) as f:
                    try:
                        while True:
                            f.write(b"x" * 4096)
                    except OSError:
                        pass
                for i in range(20000):
                    run.log({"loss": 1.0 / (i + 1), "acc": float(i)}, step=i)
                    print("line " * 20)
                return {"acc": 1.0}
            """
        )
    )
    (tmp_path / "suite.yaml").write_text(
        "suite: full\nbase: {experiment: {name: full, entrypoint: 'chatty:main'}}\n"
        "seeds: [1, 2, 3, 4, 5, 6, 7, 8]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    env["TRIALBOOK_SYSTEM_METRICS"] = "0"
    # No waiting for space to come back (tests/tracking/test_disk_full.py checks the wait).
    env["TRIALBOOK_STORE_RETRY"] = "0"
    done = subprocess.run(
        [sys.executable, "-m", "trialbook", "run", "suite.yaml", "--root", str(small_disk)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    # Which write hit the full disk first (the database or a file) decides the words inside
    # the parentheses.
    assert last.startswith(f"error: The disk holding the workspace {small_disk} is full ("), last
    assert last.endswith(
        "); free space and run the same command again: completed runs are kept, and the rest "
        "resume."
    ), last
    # Whatever the runs printed, no traceback comes from the Runner or the CLI themselves.
    assert "_runner.py" not in done.stderr and "cli/_app.py" not in done.stderr
