"""docs/analysis.md, sections Leaderboard, Compare and Significance: the Python examples run in
order and their assertions hold, and each `$ trialbook ...` console block prints what it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialbook.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"


def _sections() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("\n## Leaderboard") :]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", _sections(), flags=re.S)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_SYSTEM_METRICS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_examples_and_console_output(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python and console blocks run in the order of the page (a later example adds runs).
    blocks = re.findall(r"```(python|console)\n(.*?)```", _sections(), flags=re.S)
    assert sum(lang == "python" for lang, _ in blocks) >= 4
    assert sum(lang == "console" for lang, _ in blocks) == 4
    namespace: dict[str, object] = {}
    runner = CliRunner()
    for lang, block in blocks:
        if lang == "python":
            exec(compile(block, str(DOC), "exec"), namespace)
            continue
        command, *expected = block.rstrip("\n").split("\n")
        assert command.startswith("$ trialbook ")
        result = runner.invoke(app, shlex.split(command)[2:], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.rstrip("\n").split("\n") == expected
    printed = capsys.readouterr().out
    assert "+0.077 (+12.6%)" in printed
    verdict = "B is better than A by 25.0 points (95% CI 20.8 to 29.2; paired bootstrap p < 0.001"
    assert f"{verdict}, n = 400)." in printed
    assert "No verdict on A vs B: with n = 1 pair no test can reach p < 0.05;" in printed
