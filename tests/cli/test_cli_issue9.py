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


# -- C: names and tags that would break a table ---------------------------------------------------

HOSTILE_NAMES = ["two\nlines", "tab\there", "esc\x1b[31mred", "[/]", "N" * 10_000]


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import trialbook

    root = tmp_path_factory.mktemp("hostile") / "ws"
    for i, name in enumerate(HOSTILE_NAMES):
        with trialbook.start_run(
            "[/]" if i == 3 else "exp",
            {"lr": 0.1},
            name=name,
            tags=[name, "ok"],
            root=root,
            system_metrics=False,
            capture_packages=False,
        ) as run:
            run.log({"acc": 0.5 + i / 10})
            samples = [{"id": "1", "prediction": "1", "reference": "1", "correct": True}]
            run.log_evaluation("gsm8k", {"metrics": {"accuracy": 0.5}, "samples": samples})
    return root


def _one_line_each(text: str) -> list[str]:
    lines = text.rstrip("\n").split("\n")
    assert not any(c in text for c in "\x1b\r\t"), text[:500]
    assert max(len(line) for line in lines) < 1100, "a 10,000-character name was printed whole"
    return lines


def test_ls_keeps_one_row_per_run_whatever_the_names(cli: Cli, hostile_ws: Path) -> None:
    result = cli("ls", "--root", hostile_ws)
    assert result.exit_code == 0, result.stderr
    lines = _one_line_each(result.stdout)
    assert len(lines) == 1 + len(HOSTILE_NAMES)
    assert any("two\\nlines" in line for line in lines)
    assert any("esc\\x1b[31mred" in line for line in lines)
    assert any("N" * 90 + "\u2026" in line for line in lines)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["show", "N" * 10_000], id="show-long-name"),
        pytest.param(["show", "two\nlines"], id="show-newline"),
        pytest.param(["leaderboard", "--metric", "acc"], id="leaderboard"),
        pytest.param(["stats"], id="stats"),
        pytest.param(["analyze", "--out-dir", "out"], id="analyze"),
    ],
)
def test_other_tables_keep_one_line_per_row(
    cli: Cli, hostile_ws: Path, tmp_path: Path, args: list[str]
) -> None:
    result = cli(*args, "--root", hostile_ws)
    assert result.exit_code == 0, result.stderr
    _one_line_each(result.stdout)


def test_compare_of_hostile_runs_prints_escaped_labels(cli: Cli, hostile_ws: Path) -> None:
    import trialbook

    with trialbook.open_store(hostile_ws) as db:
        ids = [r.short_id for r in db.list_runs()]
    result = cli("compare", *ids, "--root", hostile_ws)
    assert result.exit_code == 0, result.stderr
    _one_line_each(result.stdout)


# -- B: report tables -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "latex"])
def test_report_tables_escape_a_script_run_name(cli: Cli, tmp_path: Path, fmt: str) -> None:
    import trialbook

    root = tmp_path / "ws"
    names = ("<script>alert(1)</script>", "a|b\nc")
    for name in names:
        with trialbook.start_run(
            "exp", {}, name=name, root=root, system_metrics=False, capture_packages=False
        ) as run:
            run.log({"acc": 0.5})
    result = cli("report", *names, "--format", fmt, "--root", root)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "<script>" not in result.stdout
    if fmt == "md":
        assert len(lines) == 4
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result.stdout
        assert "a\\|b\\\\nc" in result.stdout
    else:
        assert "\\textless{}script\\textgreater{}" in result.stdout
        assert "a\\textbar{}b\\textbackslash{}nc" in result.stdout


# -- D: integers beyond 64 bits, negative counts, and click's own usage errors -------------------

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["ls", "--limit", HUGE], ["'--limit'", f"{HUGE} is beyond what a 64-bit integer holds"]),
        (["ls", "--limit", "-1"], ["'--limit'", "must be at least 1, not -1"]),
        (["ls", "--limit", "0"], ["must be at least 1, not 0"]),
        (["ls", "--limit", "1.5"], ["'1.5' is not a whole number"]),
        (["ls", "--limit", "9" * 5000], ["is not a whole number"]),  # beyond int()'s digits
        (["ls", "--seed", "-" + HUGE], ["'--seed'", "(-9,223,372,036,854,775,808)"]),
        (["leaderboard", "--top", HUGE], ["'--top'", "64-bit"]),
        (["leaderboard", "--seed", "-5"], ["'--seed'", "must be at least 0, not -5"]),
        (["significance", "a", "b", "--seed", HUGE], ["'--seed'", "64-bit"]),
        (["significance", "a", "b", "--resamples", "99999999999"], ["at most 10,000,000"]),
        (["evaluate", "gsm8k", "--predictions", "p.jsonl", "-n", HUGE], ["'--num-samples'"]),
        (["evaluate", "gsm8k", "--predictions", "p.jsonl", "--batch-size", HUGE], ["64-bit"]),
        (["evaluate", "gsm8k", "--predictions", "p.jsonl", "--shots", HUGE], ["'--shots'"]),
        (["ls", "--no-such-option"], ["No such option: --no-such-option", "trialbook ls --help"]),
        (["no-such-command"], ["No such command 'no-such-command'", "'trialbook --help'"]),
        (["--bad", "ls"], ["No such option: --bad"]),
        (["show"], ["Missing argument 'RUN'", "trialbook show --help"]),
    ],
)
def test_bad_integers_and_usage_errors_are_one_line_and_touch_nothing(
    cli: Cli, tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    import trialbook

    root = tmp_path / "ws"
    with trialbook.start_run("e", {}, root=root, system_metrics=False, capture_packages=False):
        pass
    (tmp_path / "p.jsonl").write_text('{"id": "0", "prediction": "#### 18"}\n')
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert_user_error(cli(*args, "--root", root) if args[0] != "--bad" else cli(*args), *fragments)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_no_arguments_still_prints_the_help(cli: Cli) -> None:
    result = cli()  # click's NoArgsIsHelpError is a usage error that is not turned into one line
    assert "Commands:" in result.stderr and "error:" not in result.stderr
