"""Files are replaced atomically and get the permissions a plain open would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trialbook._atomic import atomic_open, atomic_write


def test_permissions_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.txt", "x")
        os.umask(0o077)
        atomic_write(tmp_path / "b.txt", "y")
    finally:
        os.umask(old)

    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")

    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write("half")
        raise RuntimeError("boom")

    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_binary_mode(tmp_path: Path) -> None:
    with atomic_open(tmp_path / "plot.png", "wb") as f:
        f.write(b"\x89PNG")

    assert (tmp_path / "plot.png").read_bytes() == b"\x89PNG"
