"""trialbook.reporting: a sorted, resolvable, lazy surface; opening plots with or without a
display."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import trialbook
import trialbook.reporting
from trialbook.reporting import _analyze


def test_all_is_sorted_and_resolvable() -> None:
    names = trialbook.reporting.__all__

    def isort_key(n: str) -> tuple[int, str]:
        return (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)

    assert list(names) == sorted(names, key=isort_key)
    assert set(trialbook.reporting._LAZY) == set(names)
    for name in names:
        assert getattr(trialbook.reporting, name) is not None
    assert trialbook.report is trialbook.reporting.report


def test_importing_reporting_loads_no_plotting_library() -> None:
    code = (
        "import sys, trialbook.reporting; "
        "print(sorted(m for m in ('matplotlib', 'jinja2', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_open_files_without_a_display_opens_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    opened: list[str] = []
    monkeypatch.setattr(_analyze.webbrowser, "open", lambda uri: opened.append(uri) or True)
    assert _analyze.open_files([Path("a.png")]) is False
    assert opened == []


def test_open_files_with_a_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    opened: list[str] = []
    monkeypatch.setattr(_analyze.webbrowser, "open", lambda uri: opened.append(uri) or True)
    assert _analyze.open_files([tmp_path / "a.png"]) is True
    assert opened == [(tmp_path / "a.png").as_uri()]
    monkeypatch.setattr(_analyze.webbrowser, "open", lambda uri: False)
    assert _analyze.open_files([tmp_path / "a.png"]) is False
