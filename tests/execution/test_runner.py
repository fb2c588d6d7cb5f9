"""The Runner from Python: failures, stop-on-error, resume, timeouts, signals, retries, jobs."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from runner_helpers import Workspace, plan, planned, statuses, wait_until

import trialbook
from trialbook.config import config_hash, group_key
from trialbook.config._plan import PlannedRun
from trialbook.errors import ConfigError
from trialbook.execution import Runner
from trialbook.store import RunQuery


def test_six_runs_with_one_failing(ws: Workspace) -> None:
    runs = [planned(value=v / 10, name=f"v{v}") for v in range(6)]
    runs[2] = planned("boom", value=0.2, name="v2")
    result = ws.runner(jobs=2).run(plan(*runs))

    assert result.exit_code == 1 and not result.ok
    assert [o.status for o in result.outcomes] == ["completed"] * 2 + ["failed"] + ["completed"] * 3
    failed = result.outcomes[2]
    assert failed.error and "ValueError: boom at value 0.2" in failed.error
    assert result.outcomes[4].metrics["eval_accuracy"] == pytest.approx(0.4)

    with ws.store() as db:
        assert statuses(db) == {"completed": 5, "failed": 1}
        rec = db.get_run(failed.run_id or "")
        assert rec.status == "failed" and "Traceback" in (rec.error or "")
        assert "ValueError: boom at value 0.2" in (rec.error or "")
        done = db.get_run(result.outcomes[5].run_id or "")
    folder = Path(rec.folder or "")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and "ValueError: boom" in summary["error"]
    assert "ValueError: boom" in (folder / "stderr.log").read_text()
    assert yaml.safe_load((folder / "config.yaml").read_text()) == runs[2].config

    done_folder = Path(done.folder or "")
    assert (done_folder / "stdout.log").read_text() == "hello from 0.5\n"
    summary = json.loads((done_folder / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["metrics"]["eval_accuracy"] == pytest.approx(0.5)
    meta = json.loads((done_folder / "meta.json").read_text())
    assert meta["run_id"] == done.id and meta["seed"] == 1
    assert done.pid is not None and done.pid != os.getpid() and done.started_at is not None


def test_a_trialbook_error_in_the_entrypoint_is_one_line_on_stderr(ws: Workspace) -> None:
    result = ws.runner().run(plan(planned("mistake")))

    assert result.exit_code == 1
    with ws.store() as db:
        rec = db.get_run(result.outcomes[0].run_id or "")
    stderr = (Path(rec.folder or "") / "stderr.log").read_text()
    assert stderr == "error: data.path 'nope.jsonl' does not exist; run `make data` first.\n"
    # The run keeps the whole story for `trialbook show`.
    assert rec.status == "failed" and "Traceback" in (rec.error or "")
    assert "ConfigError: data.path 'nope.jsonl'" in (rec.error or "")


def test_stop_on_error_starts_nothing_after_the_failure_and_resume_runs_the_rest(
    ws: Workspace, index_store: str | None
) -> None:
    runs = [planned(value=v, name=f"v{v}") for v in range(6)]
    runs[1] = planned("boom", value=1, name="v1")
    result = ws.runner(stop_on_error=True).run(plan(*runs))

    assert result.exit_code == 1
    assert [o.status for o in result.outcomes] == ["completed", "failed"] + ["queued"] * 4
    queued_ids = [o.run_id for o in result.queued]
    with ws.store() as db:
        assert statuses(db) == {"completed": 1, "failed": 1, "queued": 4}
        for run_id in queued_ids:
            rec = db.get_run(run_id or "")
            assert rec.status == "queued" and rec.started_at is None
            assert not (Path(rec.folder or "") / "stdout.log").exists()
            assert (Path(rec.folder or "") / "config.yaml").exists()

    runs[1] = planned(value=1, name="v1")  # fixed
    again = ws.runner(jobs=2).run(plan(*runs))
    assert again.exit_code == 0
    assert [o.status for o in again.outcomes] == ["skipped"] + ["completed"] * 5
    # The queued runs were reused, not duplicated.
    assert [o.run_id for o in again.outcomes[2:]] == queued_ids
    with ws.store() as db:
        assert statuses(db) == {"completed": 6, "failed": 1}


def test_rerunning_a_finished_plan_runs_nothing_and_rerun_forces(ws: Workspace) -> None:
    p = plan(planned(value=1), planned(value=2))
    first = ws.runner(jobs=2).run(p)
    assert first.exit_code == 0
    second = ws.runner().run(p)
    assert [o.status for o in second.outcomes] == ["skipped", "skipped"]
    assert [o.run_id for o in second.outcomes] == [o.run_id for o in first.outcomes]
    assert second.outcomes[0].metrics["eval_accuracy"] == 1.0
    forced = ws.runner(rerun=True, jobs=2).run(p)
    assert [o.status for o in forced.outcomes] == ["completed", "completed"]
    with ws.store() as db:
        assert statuses(db) == {"completed": 4}


def test_preview_decides_without_writing(ws: Workspace) -> None:
    a, b = planned(value=1), planned(value=2)
    fresh = ws.runner().preview(plan(a, b, a))
    assert [d.action for d in fresh] == ["run", "run", "duplicate"]
    assert not ws.root.exists()

    ws.runner().run(plan(a))
    decisions = ws.runner().preview(plan(a, b))
    assert [d.action for d in decisions] == ["skip", "run"]
    with ws.store() as db:
        assert decisions[0].run_id == db.list_runs()[0].id
        assert len(db.list_runs()) == 1
    assert [d.action for d in ws.runner(rerun=True).preview(plan(a))] == ["run"]


def test_timeout_kills_the_run_and_the_suite_goes_on(ws: Workspace) -> None:
    result = ws.runner(timeout=1.5).run(plan(planned("sleepy"), planned(value=3)))
    assert result.exit_code == 1
    slow, fine = result.outcomes
    assert slow.status == "killed" and slow.error == "timed out after 1.5 s (--timeout)"
    assert fine.status == "completed"
    with ws.store() as db:
        rec = db.get_run(slow.run_id or "")
    assert rec.status == "killed" and rec.error == "timed out after 1.5 s (--timeout)"
    summary = json.loads((Path(rec.folder or "") / "summary.json").read_text())
    assert summary["status"] == "killed" and "timed out" in summary["error"]


def test_a_run_killed_by_a_signal_is_recorded_as_such(ws: Workspace) -> None:
    result = ws.runner().run(plan(planned("suicide"), planned(value=2)))
    dead, fine = result.outcomes
    assert dead.status == "crashed" and dead.error == "killed by signal SIGKILL"
    assert fine.status == "completed" and result.exit_code == 1
    with ws.store() as db:
        assert db.get_run(dead.run_id or "").error == "killed by signal SIGKILL"


def test_retries_make_a_new_run_per_attempt(ws: Workspace) -> None:
    result = ws.runner(retries=2).run(
        plan(planned("flaky", value=1, fail_times=1), planned("flaky", value=2, fail_times=5))
    )
    recovered, hopeless = result.outcomes
    assert recovered.status == "completed" and recovered.attempts == 2
    assert hopeless.status == "failed" and hopeless.attempts == 3
    assert "flaky failure 3" in (hopeless.error or "")
    assert result.exit_code == 1
    with ws.store() as db:
        query = RunQuery(config_hash=recovered.planned.config_hash, descending=False)
        first = db.list_runs(query)
        assert [r.status for r in first] == ["failed", "completed"]
        assert first[1].tags == ("retry",) and first[0].id in (first[1].notes or "")
        assert len(db.list_runs(RunQuery(config_hash=hopeless.planned.config_hash))) == 3
    # A later invocation sees the completed attempt and skips it.
    again = ws.runner().preview(plan(recovered.planned))
    assert again[0].action == "skip"


def test_jobs_run_in_parallel(ws: Workspace) -> None:
    runs = [
        planned("rendezvous", name="a", me="a", other="b"),
        planned("rendezvous", name="b", me="b", other="a"),
    ]
    result = ws.runner(jobs=2).run(plan(*runs))
    assert result.exit_code == 0, [o.error for o in result.outcomes]
    starts = [float((ws.cwd / f"start-{x}").read_text()) for x in "ab"]
    ends = [float((ws.cwd / f"end-{x}").read_text()) for x in "ab"]
    assert max(starts) < min(ends)  # both were running at the same moment


def test_the_seed_reaches_random_and_hashing(ws: Workspace) -> None:
    p = plan(planned("seeds", seed=5, name="a"), planned("seeds", seed=6, name="b"))
    one = ws.runner(jobs=2).run(p)
    two = ws.runner(jobs=2, rerun=True).run(p)
    assert one.outcomes[0].metrics == two.outcomes[0].metrics
    assert one.outcomes[1].metrics == two.outcomes[1].metrics
    assert one.outcomes[0].metrics["draw"] != one.outcomes[1].metrics["draw"]


# --------------------------------------------------------------------------- command:
def test_command_script_using_start_run_attaches(ws: Workspace) -> None:
    (ws.cwd / "train.py").write_text(
        textwrap.dedent(
            """
            import sys, yaml, trialbook
            config = yaml.safe_load(open(sys.argv[2]))
            with trialbook.start_run(config=config) as run:
                run.log({"loss": 0.25, "eval_f1": config["value"]})
            print("trained", run.id)
            """
        )
    )
    command = f"{shlex.quote(sys.executable)} train.py --config {{config}}"
    result = ws.runner().run(plan(planned(command=command, value=0.5)))
    assert result.exit_code == 0, result.outcomes[0].error
    outcome = result.outcomes[0]
    assert outcome.metrics == {"loss": 0.25, "eval_f1": 0.5}
    with ws.store() as db:
        [rec] = db.list_runs()
    assert rec.id == outcome.run_id and rec.status == "completed"
    folder = Path(rec.folder or "")
    assert (folder / "stdout.log").read_text() == f"trained {rec.id}\n"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["command"][0].endswith("train.py") and meta["command"][1:] == [
        "--config",
        str(folder / "config.yaml"),
    ]


def test_command_script_without_tracker_uses_exit_status_and_metrics_file(
    ws: Workspace,
) -> None:
    (ws.cwd / "plain.sh").write_text(
        '#!/bin/sh\necho "config at $1"\necho \'{"eval_accuracy": 0.75}\' > "$2/metrics.json"\n'
    )
    (ws.cwd / "plain.sh").chmod(0o755)
    (ws.cwd / "bad.sh").write_text("#!/bin/sh\necho 'something broke' >&2\nexit 3\n")
    (ws.cwd / "bad.sh").chmod(0o755)
    result = ws.runner(jobs=2).run(
        plan(
            planned(command="./plain.sh {config} {run_dir}", name="plain"),
            planned(command="./bad.sh", name="bad"),
        )
    )
    good, bad = result.outcomes
    assert good.status == "completed" and good.metrics == {"eval_accuracy": 0.75}
    assert bad.status == "failed"
    assert bad.error == "The process exited with status 3.\nsomething broke"
    with ws.store() as db:
        rec = db.get_run(good.run_id or "")
        assert rec.status == "completed" and rec.pid is not None
    folder = Path(rec.folder or "")
    assert (folder / "stdout.log").read_text() == f"config at {folder / 'config.yaml'}\n"
    assert json.loads((folder / "summary.json").read_text())["metrics"] == {"eval_accuracy": 0.75}


# --------------------------------------------------------------------------- bad input
def raw(config: dict[str, object]) -> PlannedRun:
    return PlannedRun("x", "exp", config, None, config_hash(config), group_key(config))


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (planned("trian"), "defines no function 'trian'; did you mean 'train'"),
        (planned("nothing_like_it"), "defines no function 'nothing_like_it'; it defines"),
        (
            raw({"experiment": {"entrypoint": "no_such_module:main"}}),
            "Entrypoint module 'no_such_module' of experiment 'exp' was not found",
        ),
        (
            raw({"experiment": {"entrypoint": "tasks.ok"}}),
            "is not package.module:function",
        ),
        (
            raw({"experiment": {"entrypoint": "tasks:ok", "command": "python x.py"}}),
            "sets both experiment.entrypoint and experiment.command",
        ),
        (
            raw({"lr": 1}),
            "names no code to run",
        ),
        (planned(command="./missing.sh {config}"), "runs './missing.sh', which does not exist"),
        (planned(command="no-such-program-xyz"), "'no-such-program-xyz', which is not on PATH"),
        (planned(command="python 'unbalanced"), "cannot be split into words"),
    ],
)
def test_bad_code_is_refused_before_anything_is_written(
    ws: Workspace, run: PlannedRun, message: str
) -> None:
    (ws.cwd / "tasks.py").write_text("def train(config, run):\n    pass\n")
    with pytest.raises(ConfigError) as info:
        ws.runner().run(plan(planned("train"), run))
    assert message in str(info.value)
    assert not ws.root.exists()
    with pytest.raises(ConfigError):
        ws.runner().preview(plan(run))


def test_entrypoint_module_is_not_imported_by_the_runner(ws: Workspace) -> None:
    (ws.cwd / "heavy.py").write_text(
        "raise SystemExit('imported in the runner')\n\ndef train(config, run):\n    pass\n"
    )
    run = planned()
    config = {**run.config, "experiment": {"name": "exp", "entrypoint": "heavy:train"}}
    ws.runner().check(plan(raw(config)))
    assert "heavy" not in sys.modules


def test_package_entrypoints_are_found_without_running_the_package(ws: Workspace) -> None:
    pkg = ws.cwd / "mypkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise SystemExit('package imported')\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "train.py").write_text("from os import path as main\n\ndef fit(c, r): ...\n")
    run = planned()
    for entrypoint, ok in [
        ("mypkg.sub.train:fit", True),
        ("mypkg.sub.train:main", True),
        ("mypkg.sub.trains:fit", False),
    ]:
        config = {**run.config, "experiment": {"name": "exp", "entrypoint": entrypoint}}
        p = plan(raw(config))
        if ok:
            ws.runner().check(p)
        else:
            with pytest.raises(ConfigError, match="did you mean 'train'"):
                ws.runner().check(p)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jobs": 0}, "jobs must be a whole number of at least 1, got 0"),
        ({"timeout": -1}, "timeout must be a positive number of seconds"),
        ({"timeout": float("nan")}, "timeout must be a positive number of seconds, got nan"),
        ({"retries": -2}, "retries must be a whole number of 0 or more"),
        ({"progress": "fancy"}, "progress must be auto, rich, plain or quiet, not 'fancy'"),
    ],
)
def test_bad_options_name_the_python_parameter_not_the_cli_flag(
    ws: Workspace, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{message}") as caught:
        Runner(root=ws.root, **options)  # type: ignore[arg-type]
    ((name, value),) = options.items()
    assert "--" not in str(caught.value)
    assert caught.value.parameter == name
    assert caught.value.value is value


def test_executor_and_reproduce_options_name_their_parameters(ws: Workspace) -> None:
    from trialbook.execution import LocalExecutor, reproduce

    with pytest.raises(ConfigError, match=r"^max_jobs must be a whole number") as caught:
        LocalExecutor(0)
    assert caught.value.parameter == "max_jobs" and caught.value.value == 0
    with pytest.raises(ConfigError, match=r"^tolerance must be zero or a positive") as caught:
        reproduce("any", root=ws.root, tolerance=-1.0)
    assert caught.value.parameter == "tolerance" and "--" not in str(caught.value)


# --------------------------------------------------------------------------- interruption
RUNNER_SCRIPT = """
import signal, sys
# As in a terminal: Ctrl-C raises KeyboardInterrupt even when the test itself runs in a
# background job, whose processes inherit SIGINT as ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {helpers!r})
from runner_helpers import plan, planned
from trialbook.execution import Runner

runs = [planned("gate", name=f"r{{i}}", index=i, block_from={block_from}) for i in range({n})]
result = Runner(root="experiments", jobs={jobs}, progress="plain").run(plan(*runs))
sys.exit(result.exit_code)
"""


def _start_runner(ws: Workspace, n: int, block_from: int, jobs: int) -> subprocess.Popen[str]:
    script = ws.cwd / "run_suite.py"
    helpers = str(Path(__file__).parent)
    script.write_text(RUNNER_SCRIPT.format(helpers=helpers, n=n, block_from=block_from, jobs=jobs))
    return subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ws.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_resume_after_the_runner_is_killed(ws: Workspace, index_store: str | None) -> None:
    # index_store after ws (which clears TRIALBOOK_STORE): SQLite and PostgreSQL.
    n, k = 6, 3
    runner = _start_runner(ws, n, block_from=k, jobs=1)
    try:
        wait_until(lambda: (ws.cwd / f"blocked-{k}").exists(), f"run {k} to start")
        with ws.store() as db:
            assert statuses(db) == {"completed": k, "running": 1, "queued": n - k - 1}
            queued_before = {r.id for r in db.list_runs(statuses=("queued",))}
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
        if runner.stdout is not None:
            runner.stdout.close()

    def settled() -> bool:
        with ws.store() as db:
            return "running" not in statuses(db)

    # The orphaned child gets SIGTERM from the kernel (parent-death signal) and ends.
    wait_until(settled, "the orphaned run to end")
    with ws.store() as db:
        assert statuses(db) == {"completed": k, "killed": 1, "queued": n - k - 1}

    (ws.cwd / "release").touch()
    runs = [planned("gate", name=f"r{i}", index=i, block_from=k) for i in range(n)]
    result = ws.runner(jobs=2).run(plan(*runs))
    assert result.exit_code == 0
    assert [o.status for o in result.outcomes] == ["skipped"] * k + ["completed"] * (n - k)
    assert {o.run_id for o in result.outcomes[k + 1 :]} == queued_before
    with ws.store() as db:
        assert statuses(db) == {"completed": n, "killed": 1}
        hashes = [r.config_hash for r in db.list_runs(statuses=("completed",))]
    assert len(set(hashes)) == n  # no completed run ran twice


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "said"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_ctrl_c_marks_running_runs_killed_and_exits_130(
    ws: Workspace, sig: signal.Signals, code: int, said: str
) -> None:
    runner = _start_runner(ws, 3, block_from=0, jobs=2)
    try:
        wait_until(
            lambda: (ws.cwd / "blocked-0").exists() and (ws.cwd / "blocked-1").exists(),
            "two runs to start",
        )
        runner.send_signal(sig)
        out, _ = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == code, out
    assert "Interrupted" in out
    with ws.store() as db:
        runs = {r.name: r for r in db.list_runs()}
    assert {n: r.status for n, r in runs.items()} == {
        "r0": "killed",
        "r1": "killed",
        "r2": "queued",
    }
    assert runs["r0"].error == f"stopped: the runner was interrupted ({said})"


# --------------------------------------------------------------------------- the child
def test_a_declared_schema_validates_the_config_in_the_child(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Runner's own check (tests/execution/test_preflight.py) refuses a bad config before
    # anything runs; the child validates again, for when that check could not import the module.
    monkeypatch.setattr("trialbook.execution._prepare.check_schemas", lambda items, cwd: None)
    (ws.cwd / "typed.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass

            @dataclass
            class Config:
                lr: float
                layers: int = 2

            def train(config: Config, run):
                assert isinstance(config, Config), type(config)
                return {"lr_seen": config.lr, "layers": config.layers}
            """
        )
    )
    good = raw({"experiment": {"name": "exp", "entrypoint": "typed:train"}, "lr": 0.5})
    bad = raw({"experiment": {"name": "exp", "entrypoint": "typed:train"}, "lr": "fast"})
    result = ws.runner(jobs=2).run(plan(good, bad))
    ok, failed = result.outcomes
    assert ok.status == "completed" and ok.metrics == {"lr_seen": 0.5, "layers": 2.0}
    assert failed.status == "failed" and "ConfigError" in (failed.error or "")
    assert "lr" in (failed.error or "") and "fast" in (failed.error or "")


def test_the_child_and_attach_mode_agree_on_the_variable() -> None:
    from trialbook.execution import _child
    from trialbook.tracking import _settings

    assert _child.RUN_ID_ENV == _settings.RUN_ID_ENV


def test_a_run_taken_by_another_process_is_left_alone(ws: Workspace) -> None:
    from trialbook.execution._child import EXIT_TAKEN
    from trialbook.execution._executor import TaskResult
    from trialbook.execution._runner import _Item

    runner = ws.runner()
    p = planned(value=1)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with trialbook.open_store(ws.root, create=True) as db:
            rec, _ = runner._queue(db, p, ())
            # Another `trialbook run` of the same plan got there first.
            db.update_run(rec.id, status="running", pid=sleeper.pid, host=socket.gethostname())
        env = {
            **os.environ,
            "TRIALBOOK_RUN_ID": rec.id,
            "TRIALBOOK_ROOT": str(ws.root),
        }
        child = subprocess.run(
            [sys.executable, "-m", "trialbook.execution._child"],
            cwd=ws.cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        assert runner.preview(plan(p))[0].action == "busy"  # a new invocation waits for it
        assert child.returncode == EXIT_TAKEN, child.stderr
        assert f"is running in process {sleeper.pid}" in child.stderr
        with trialbook.open_store(ws.root) as db:
            item = _Item(0, p, rec.id, Path(rec.folder or ""))
            outcome = runner._finalize(db, item, TaskResult(rec.id, EXIT_TAKEN, duration=0.1))
            after = db.get_run(rec.id)
        assert outcome.status == "skipped" and "taken by another process" in (outcome.reason or "")
        assert after.status == "running" and after.pid == sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def test_rich_progress_draws_the_results_table(ws: Workspace) -> None:
    from rich.console import Console

    from trialbook.execution._progress import RichProgress

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    runs = [planned(value=0.5, name="lr[training.lr=0.1]"), planned("boom", name="bad")]
    result = ws.runner(jobs=2, progress=RichProgress(console)).run(plan(*runs))
    assert result.exit_code == 1
    text = buffer.getvalue()
    assert "lr[training.lr=0.1]" in text  # names are text, not rich markup
    assert "hello from 0.5" in text  # the run's output, prefixed with its name
    assert "eval_accuracy" in text and "0.5" in text
    assert "ValueError: boom at value None" in text
    assert "2 run(s): 1 completed, 1 failed" in text


@pytest.mark.parametrize(
    ("run", "said"),
    [
        (planned(seed=-1), "seed -1 is out of range"),
        (planned(seed=2**32), "seed 4294967296 is out of range"),
        (planned(steps=[1, 2**70]), f"steps[1] = {2**70} does not fit in 64 bits"),
    ],
)
def test_a_plan_built_in_python_is_checked_before_anything_is_written(
    ws: Workspace, run: PlannedRun, said: str
) -> None:
    runner = ws.runner()
    for attempt in (runner.preview, runner.run):
        with pytest.raises(ConfigError, match=re.escape(said)):
            attempt(plan(run))
    assert not ws.root.exists()


def test_an_unstorable_return_value_fails_the_run_naming_its_key(ws: Workspace) -> None:
    result = ws.runner().run(plan(planned("unstorable")))
    (outcome,) = result.outcomes
    assert outcome.status == "failed" and result.exit_code == 1
    sentence = outcome.error.strip().splitlines()[-1] if outcome.error else ""
    assert sentence.endswith(
        "Entrypoint tasks:unstorable returned values that cannot be stored: 'eval.model' "
        "(a Model), 'huge' (an int too large for a float); return numbers, text, booleans, "
        "None or lists of them (the 4 other value(s) it returned were stored)."
    )
    # What could be stored was: NaN is a number like any other.
    assert outcome.metrics.keys() == {"acc", "loss", "eval.f1"}
    with ws.store() as db:
        assert db.params(outcome.run_id or "")["result.note"] == "kept"


def test_a_prepared_plan_is_not_checked_again_by_preview_or_run(ws: Workspace) -> None:
    runner = ws.runner()
    prepared = runner.prepare(plan(planned("ok")))
    assert runner.prepare(prepared) is prepared  # already checked from this cwd
    # The function goes away after the check: a second check would refuse the plan, so the
    # run failing in its own process shows that neither preview nor run checked it again.
    (ws.cwd / "tasks.py").write_text("def other(config, run):\n    pass\n")
    (decision,) = runner.preview(prepared)
    assert decision.action == "run"
    (outcome,) = runner.run(prepared).outcomes
    assert outcome.status == "failed" and "'ok'" in (outcome.error or "")
    # A plain plan is still checked, and a Runner with another cwd checks a prepared one.
    with pytest.raises(ConfigError, match="defines no function 'ok'"):
        runner.run(plan(planned("ok", value=2)))
    (ws.cwd / "sub").mkdir()
    elsewhere = Runner(root=ws.root, cwd=ws.cwd / "sub", progress="quiet")
    with pytest.raises(ConfigError, match="module 'tasks' of experiment 'exp' was not found"):
        elsewhere.run(prepared)
