"""Issue 9 at the command line: hostile input and a full disk give one sentence, exit 2, and
leave nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Cli, assert_user_error


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.chdir(tmp_path)
    return Cli()


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- A: predictions files that Python's json reads but that are not what they claim --------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"id": "1", "prediction": null}', "p.jsonl line 2: 'prediction' is null"),
        ('{"id": "1", "prediction": NaN}', "p.jsonl line 2 holds a bare NaN, which is not JSON"),
        ('{"id": "1", "prediction": {"a": 1}}', "p.jsonl line 2: 'prediction' is a JSON object"),
    ],
)
def test_evaluate_refuses_null_and_nan_predictions_and_writes_nothing(
    cli: Cli, tmp_path: Path, line: str, fragment: str
) -> None:
    (tmp_path / "p.jsonl").write_text('{"id": "0", "prediction": "#### 18"}\n' + line + "\n")
    before = _tree(tmp_path)
    assert_user_error(cli("evaluate", "gsm8k", "--predictions", "p.jsonl", "-n", "2"), fragment)
    assert _tree(tmp_path) == before  # no workspace, no database, no run folder
