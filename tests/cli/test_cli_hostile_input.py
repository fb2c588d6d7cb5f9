"""Issue 9 at the command line: hostile input and a full disk give one sentence, exit 2, and
leave nothing half-written."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
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
        (["lss"], ["No such command 'lss'. Did you mean 'ls'? See 'trialbook --help'."]),
        (["--bad", "ls"], ["No such option: --bad"]),
        (["show"], ["Missing argument 'RUN'", "trialbook show --help"]),
        # Typer checks plain int options with Pydantic, whose message leaves the value out.
        (["run", "e.yaml", "--jobs", "two"], ["'--jobs'", "valid integer", "(got 'two')"]),
        (["run", "e.yaml", "--seeds", "abc"], ["'--seeds'", "(got 'abc')"]),
        (["run", "e.yaml", "--seeds=4,x"], ["'--seeds'", "(got 'x')"]),
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
    (tmp_path / "e.yaml").write_text("experiment:\n  name: e\n  command: python -c pass\n")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert_user_error(cli(*args, "--root", root) if args[0] != "--bad" else cli(*args), *fragments)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_no_arguments_still_prints_the_help(cli: Cli) -> None:
    result = cli()  # click's NoArgsIsHelpError is a usage error that is not turned into one line
    assert "Commands:" in result.stderr and "error:" not in result.stderr


# -- E: a full disk -----------------------------------------------------------------------------


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB tmpfs (root only); skipped where mounting is refused, except on CI."""
    path = tmp_path / "disk"
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` up, then free ``leave`` bytes again."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    if leave:
        os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _workspace_with_a_run(root: Path, store: str | None = None) -> str:
    import trialbook

    with trialbook.start_run(
        "exp",
        {},
        name="a",
        root=root,
        store_url=store,
        system_metrics=False,
        capture_packages=False,
    ) as run:
        run.log({"acc": 0.5})
    return run.id


def _gsm8k_predictions(path: Path, n: int) -> Path:
    from trialbook.evaluation import GSM8K

    rows = GSM8K().load_dataset("test", num_samples=n)
    path.write_text(
        "".join(json.dumps({"id": r["id"], "prediction": r["solution"]}) + "\n" for r in rows)
    )
    return path


def _evaluations(root: Path, run_id: str, store: str | None = None) -> int:
    import trialbook

    with trialbook.open_store(root, store) as db:
        return len(db.evaluations(run_id))


def test_evaluate_into_a_workspace_on_a_full_disk_is_one_sentence(
    cli: Cli, disk: Path, tmp_path: Path
) -> None:
    root = disk / "ws"
    run_id = _workspace_with_a_run(root)
    preds = _gsm8k_predictions(tmp_path / "p.jsonl", 50)
    filler = _fill(disk)

    line = assert_user_error(
        cli("evaluate", "gsm8k", "--predictions", preds, "-n", "50", "--run", "a", "--root", root),
        "no space is left on its disk",
        "Free some space there",
    )
    assert str(root / "trialbook.db") in line
    assert _temp_files(disk) == []
    filler.unlink()
    assert _evaluations(root, run_id) == 0


def test_evaluate_says_what_it_kept_when_the_run_folder_is_on_a_full_disk(
    cli: Cli, disk: Path, tmp_path: Path
) -> None:
    # The database on a disk with room, the run folders on the full one: the Store's rows
    # are written, the per-sample file cannot be.
    root, store = disk / "ws", f"sqlite:///{tmp_path / 'index.db'}"
    run_id = _workspace_with_a_run(root, store)
    summary = (next(root.glob("a_*")) / "summary.json").read_text()
    preds = _gsm8k_predictions(tmp_path / "p.jsonl", 300)
    _fill(disk)

    line = assert_user_error(
        cli(
            "evaluate",
            "gsm8k",
            "--predictions",
            preds,
            "-n",
            "300",
            "--run",
            "a",
            "--root",
            root,
            "--store",
            store,
        ),
        "no space is left on its disk",
        f"The gsm8k evaluation is in the database under run {run_id}",
    )
    assert "Traceback" not in line
    assert _temp_files(disk) == []
    folder = next(root.glob("a_*"))
    assert not (folder / "evaluations" / "gsm8k.jsonl").exists()
    assert (folder / "summary.json").read_text() == summary
    assert _evaluations(root, run_id, store) == 1


@pytest.mark.parametrize("leave", [0, 64 * 1024])
def test_evaluate_as_a_new_run_on_a_full_disk_says_what_became_of_the_run(
    cli: Cli, disk: Path, tmp_path: Path, leave: int
) -> None:
    import trialbook

    root, store = disk / "ws", f"sqlite:///{tmp_path / 'index.db'}"
    _workspace_with_a_run(root, store)
    preds = _gsm8k_predictions(tmp_path / "p.jsonl", 300)
    _fill(disk, leave=leave)  # 64 KiB: room for the new run's folder, not for its samples
    args = ["evaluate", "gsm8k", "--predictions", str(preds), "-n", "300"]

    line = assert_user_error(
        cli(*args, "--root", root, "--store", store), "no space is left on its disk"
    )
    assert _temp_files(disk) == []
    with trialbook.open_store(root, store) as db:
        runs = {r.name: r for r in db.list_runs()}
        if leave == 0:
            assert "No run was created." in line
            assert list(runs) == ["a"]
            assert [p.name for p in root.iterdir() if p.is_dir()] == [Path(runs["a"].folder).name]
        else:
            new = runs["gsm8k-p"]
            assert f"The gsm8k evaluation is in the database under run {new.id}" in line
            assert "(the new run is marked failed)" in line
            assert new.status == "failed" and len(db.evaluations(new.id)) == 1


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (["report", "a", "--out", "{disk}/r.html"], "r.html"),
        (["report", "a", "--format", "md", "--out", "{disk}/r.md"], "r.md"),
        (["export", "a", "--output", "{disk}/e.json"], "e.json"),
        (["export", "--all", "--format", "csv", "--output", "{disk}/e.csv"], "e.csv"),
        (["analyze", "--out-dir", "{disk}/an"], "an"),
    ],
)
def test_outputs_on_a_full_disk_are_one_sentence_and_leave_nothing(
    cli: Cli, disk: Path, tmp_path: Path, args: list[str], output: str
) -> None:
    root = tmp_path / "ws"
    _workspace_with_a_run(root)
    (disk / "an").mkdir()
    _fill(disk)
    before = sorted(disk.rglob("*"))

    line = assert_user_error(
        cli(*(a.replace("{disk}", str(disk)) for a in args), "--root", root),
        str(disk / output),
        "No space left on device",
    )
    assert "Traceback" not in line
    assert sorted(disk.rglob("*")) == before  # no file, no temporary file


def test_run_into_a_workspace_on_a_full_disk_is_one_sentence(
    cli: Cli, disk: Path, tmp_path: Path
) -> None:
    (tmp_path / "tasks.py").write_text(
        "def train(config, run):\n    run.log({'loss': 1.0})\n    return {'acc': 0.5}\n"
    )
    (tmp_path / "exp.yaml").write_text(
        "experiment:\n  name: exp\n  entrypoint: tasks:train\nseed: 1\n"
    )
    root = disk / "ws"
    _workspace_with_a_run(root)
    filler = _fill(disk)

    assert_user_error(cli("run", "exp.yaml", "--root", root), "no space is left on its disk")
    filler.unlink()
    import trialbook

    with trialbook.open_store(root) as db:
        assert [r.name for r in db.list_runs()] == ["a"]


# -- other hostile input -------------------------------------------------------------------------


def test_a_10000_character_argument_is_named_by_its_start_and_end(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    _workspace_with_a_run(root)
    value = "a" * 5000 + "z" * 5000
    line = assert_user_error(cli("show", value, "--root", root), "No run matches")
    assert len(line) < 600
    assert "'" + "a" * 99 + "\u2026" + "z" * 98 + "';" in line
    assert "(10,003 characters)" in line


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "line 1 is longer than 16,777,216 characters"),  # /dev/zero: no line break, ever
        (b"\x00\x01\xff\xfe", "is not UTF-8 text"),
        (b"", "is empty"),
        (b"\n\n  \n", "is empty"),
        ("folder", "is a folder; give the JSONL file inside it"),
    ],
)
def test_predictions_that_are_not_a_jsonl_file_are_one_sentence(
    cli: Cli, tmp_path: Path, content: bytes | str | None, fragment: str
) -> None:
    if content is None:
        path = Path("/dev/zero")
    elif content == "folder":
        path = tmp_path / "preds"
        path.mkdir()
    else:
        assert isinstance(content, bytes)
        path = tmp_path / "p.jsonl"
        path.write_bytes(content)
    before = _tree(tmp_path)
    assert_user_error(cli("evaluate", "gsm8k", "--predictions", path), fragment)
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    "command", [["show"], ["ls", "--experiment"], ["report", "--out", "r.html"]]
)
def test_an_argument_that_is_not_utf8_is_one_sentence(
    cli: Cli, tmp_path: Path, command: list[str]
) -> None:
    # What Python makes of the bytes b"\xff\xfe" in sys.argv (os.fsdecode: lone surrogates).
    root = tmp_path / "ws"
    _workspace_with_a_run(root)
    before = _tree(tmp_path)
    assert_user_error(
        cli(*command, os.fsdecode(b"\xff\xfe"), "--root", root),
        "An argument holds bytes that are not UTF-8 text ('\\udcff\\udcfe')",
    )
    assert _tree(tmp_path) == before


def test_a_non_utf8_predictions_path_is_named_printably(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / os.fsdecode(b"caf\xe9.jsonl")
    assert_user_error(
        cli("evaluate", "gsm8k", "--predictions", missing), "caf\\udce9.jsonl does not exist"
    )


def test_an_os_error_no_command_explained_is_one_sentence(cli: Cli, tmp_path: Path) -> None:
    # A 10,000-character --root: the operating system refuses the name (ENAMETOOLONG).
    line = assert_user_error(
        cli("ls", "--root", tmp_path / ("r" * 10_000)), "File name too long", "Check the path"
    )
    assert "(10,0" in line  # the name is shown by its start and end


def test_a_used_up_quota_is_named_and_a_temporary_file_shows_as_its_target() -> None:
    from trialbook.cli._app import _write_failure

    error = OSError(errno.EDQUOT, "Disk quota exceeded", "/data/ws/.summary.json.k2j3h4.tmp")
    sentence = _write_failure(error, None)
    assert sentence is not None
    assert sentence.startswith(
        "Cannot write /data/ws/summary.json: your disk quota there is used up."
    )
