"""What runs inside each run's process: ``python -m trialbook.execution._child``.

The Runner sets ``TRIALBOOK_RUN_ID`` (the queued run), ``TRIALBOOK_ROOT`` and
``TRIALBOOK_STORE``. For ``experiment.entrypoint`` this process attaches to the run, imports
the module, seeds the random generators it loaded, validates the config against the
function's schema when it declares one, calls ``function(config, run)`` and records the
returned mapping as the run's final metrics; the Run context manager marks the run completed,
or failed with the traceback. For ``experiment.command`` it marks the run running and
*replaces itself* with the command (``exec``), so the script keeps this pid, gets signals and
timeouts directly, and attaches to the run when it uses the Tracker API; the Runner records
the outcome from the exit status when the script does not.
"""

from __future__ import annotations

import gc
import importlib
import numbers
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trialbook.config._load import ConfigSource
    from trialbook.store._base import Store
    from trialbook.tracking._provenance import GitProbe

#: Same as trialbook.tracking._settings.RUN_ID_ENV (not imported: this module starts light).
RUN_ID_ENV = "TRIALBOOK_RUN_ID"

__all__ = ["main"]

#: Exit status when the run is already running in another process (e.g. a second
#: ``trialbook run`` of the same plan reused the same queued run): the Runner leaves it alone.
EXIT_TAKEN = 75
#: Set by the Runner; the child stops when this process dies (Linux).
RUNNER_PID_ENV = "TRIALBOOK_RUNNER_PID"
_PR_SET_PDEATHSIG = 1


class _Taken(Exception):
    """The run cannot be claimed: it is finished or running in another process."""


def _die_with_runner() -> None:
    """Ask Linux to send SIGTERM when the Runner dies, so a killed Runner leaves no orphans.

    Only when the Runner is this process's parent (an executor that starts this module
    itself); the LocalExecutor's fork server, this process's parent there, asks for the
    signal when it forks and dies with the Runner. The signal survives ``exec`` into a
    ``command:`` script. Linux sends it again each time the orphan is handed to
    another thread of the dying Runner, so the Run's SIGTERM handler acts on the first only.
    """
    runner = os.environ.get(RUNNER_PID_ENV, "")
    if not sys.platform.startswith("linux") or not runner.isdigit():
        return
    if os.getppid() != int(runner):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != int(runner):  # the Runner died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _seed_loaded(seed: int) -> None:
    """Seed ``random``, and NumPy and torch when the entrypoint's module imported them.

    Importing them here only to seed them would cost every run a second or more.
    """
    from trialbook.tracking._seed import _seed_numpy, _seed_torch, _validate_seed

    value = _validate_seed(seed)
    random.seed(value)
    if "numpy" in sys.modules:
        _seed_numpy(value)
    if "torch" in sys.modules:
        _seed_torch(value, deterministic=False)


def _schema_checked(function: Callable[..., Any], source: ConfigSource) -> Any:
    """The config validated against the function's declared schema, if it declares one;
    otherwise the plain config (a dict, ``experiment:`` block and ``seed`` included)."""
    from trialbook.config._validate import schema_of, validate_config

    schema = schema_of(function)
    if schema is None:
        return source.data
    return validate_config(source.data, schema, source)


def _final_metrics(
    result: Any, entrypoint: str
) -> tuple[dict[str, float], dict[str, Any], dict[str, str]]:
    """``(metrics, params, unstorable)`` from what the entrypoint returned.

    Numbers (NaN and infinities included) become final metrics, nested mappings flattened
    (``{"eval": {"acc": 0.9}}`` gives ``eval.acc``); text, booleans, None and lists of them
    are kept as ``result.<key>`` params. Anything else (an object, bytes, an array, a number
    too large for a float) cannot be stored: ``unstorable`` maps its key to its type.
    """
    from trialbook.config._hash import _plain, _to_mapping
    from trialbook.config._suggest import a_or_an
    from trialbook.errors import ConfigError, MetricValueError

    if result is None:
        return {}, {}, {}
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        result = {"result": result}
    top = _to_mapping(result)
    if top is None:
        raise MetricValueError(
            f"Entrypoint {entrypoint} returned {type(result).__name__}; return a mapping of "
            "final metrics such as {'eval_accuracy': 0.91}, or None."
        )
    metrics: dict[str, float] = {}
    params: dict[str, Any] = {}
    unstorable: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in reversed(list(top.items()))]
    while stack:
        key, value = stack.pop()
        nested = None if isinstance(value, str | bytes) else _to_mapping(value)
        if nested:
            stack.extend((f"{key}.{k}", v) for k, v in reversed(list(nested.items())))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            try:
                metrics[key] = float(value)
            except (OverflowError, ValueError, TypeError):
                unstorable[key] = f"{a_or_an(type(value).__name__)} too large for a float"
        else:
            try:
                params[f"result.{key}"] = _plain(value, key)
            except ConfigError:
                unstorable[key] = a_or_an(type(value).__name__)
    return metrics, params, unstorable


def _unstorable_message(entrypoint: str, unstorable: dict[str, str], kept: int) -> str:
    shown = ", ".join(f"'{k}' ({what})" for k, what in list(unstorable.items())[:5])
    more = f" and {len(unstorable) - 5} more" if len(unstorable) > 5 else ""
    return (
        f"Entrypoint {entrypoint} returned values that cannot be stored: {shown}{more}; return "
        f"numbers, text, booleans, None or lists of them (the {kept} other value(s) it "
        "returned were stored)."
    )


def _run_entrypoint(
    db: Store, run_id: str, entrypoint: str, source: ConfigSource, git_probe: GitProbe
) -> int:
    from trialbook.errors import ConfigError, RunStateError
    from trialbook.execution._code import parse_entrypoint
    from trialbook.tracking._attach import attach_run

    try:
        run = attach_run(run_id, db=db, git_probe=git_probe)
    except RunStateError as e:
        raise _Taken(str(e)) from None
    # A start_run inside the function is a run of its own, not this one.
    os.environ.pop(RUN_ID_ENV, None)
    with run:
        module_name, function_name = parse_entrypoint(entrypoint)
        module = importlib.import_module(module_name)
        function = getattr(module, function_name, None)
        if not callable(function):
            raise ConfigError(
                f"Entrypoint {entrypoint}: {module_name} has no function {function_name!r}."
            )
        if run.seed is not None:
            _seed_loaded(run.seed)
        checked = _schema_checked(function, source)
        result = function(checked, run)
        metrics, params, unstorable = _final_metrics(result, entrypoint)
        if metrics:
            run.log(metrics)
        if params:
            run.log_params(params)
        if unstorable:
            from trialbook.errors import MetricValueError

            # The run fails with this sentence; what could be stored is kept.
            raise MetricValueError(
                _unstorable_message(entrypoint, unstorable, len(metrics) + len(params))
            )
    return 0


def _exec_command(
    db: Store, run_id: str, command: str, config_path: Path, git_probe: GitProbe
) -> int:
    from trialbook._workspace import Workspace
    from trialbook.errors import RunStateError
    from trialbook.execution._code import command_argv
    from trialbook.tracking._attach import claim_run

    try:
        try:
            claimed = claim_run(db, Workspace.resolve(), run_id, git_probe=git_probe)
        except RunStateError as e:
            raise _Taken(str(e)) from None
        record = claimed.record
        values = {
            "config": str(config_path),
            "run_dir": str(claimed.folder.path),
            "run_id": record.id,
            "seed": "" if record.seed is None else str(record.seed),
        }
        argv = command_argv(command, values)
        # meta.json is synced in a thread, which exec would end.
        claimed.folder.wait_synced()
    finally:
        db.close()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        # The Runner checked the program exists; it may have gone since.
        print(f"error: cannot run {argv[0]!r}: {e.strerror or e}", file=sys.stderr)
        return 127
    return 0  # pragma: no cover - exec does not return


def _import_trialbook() -> None:
    """Import what every run needs (the Store above all) with the garbage collector off, then
    freeze those objects: they live until exit, and without the collector walking them again
    and again, start-up and interpreter shutdown each take tens of milliseconds less. The
    user's module is imported afterwards, with the collector back on."""
    gc.disable()
    try:
        import trialbook.config._load
        import trialbook.tracking._attach
        import trialbook.tracking._start  # noqa: F401
    finally:
        gc.freeze()
        gc.enable()


def main() -> int:
    """Run the queued run named by ``TRIALBOOK_RUN_ID``; the exit status is the outcome."""
    _die_with_runner()
    _import_trialbook()
    run_id = os.environ.get(RUN_ID_ENV)
    if not run_id:
        print(
            f"error: {RUN_ID_ENV} is not set; this module is started by `trialbook run`.",
            file=sys.stderr,
        )
        return 2
    from trialbook._workspace import Workspace
    from trialbook.config._experiment import experiment_block
    from trialbook.config._load import read_config
    from trialbook.errors import TrialbookError
    from trialbook.tracking._provenance import GitProbe

    try:
        workspace = Workspace.resolve()
        # git runs while the Store opens and the config is read.
        git_probe = GitProbe(exclude=[workspace.root])
        db = workspace.open_store()
    except TrialbookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        folder = Path(db.get_run(run_id).folder or "")
        config_path = folder / "config.yaml"
        source = read_config(config_path)
        block = experiment_block(source.data, source)
    except (TrialbookError, OSError, ValueError) as e:
        db.close()
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        if block.command:
            return _exec_command(db, run_id, block.command, config_path, git_probe)
        if block.entrypoint:
            return _run_entrypoint(db, run_id, block.entrypoint, source, git_probe)
    except _Taken as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_TAKEN
    except TrialbookError as e:
        # A user's mistake caught by trialbook inside the entrypoint (a missing cartography
        # file, a bad value): one sentence on stderr; the run holds the traceback.
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except Exception as e:
        # The run already holds the traceback; stderr gets it without this file's frames.
        import traceback

        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        return 1
    db.close()
    print(f"error: {config_path} names no entrypoint or command.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
