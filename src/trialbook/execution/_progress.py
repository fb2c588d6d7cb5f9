"""What the Runner prints while a suite runs: a live rich display on a terminal, plain lines
otherwise (``[3/12] completed baseline seed=43 in 2.1s``), and a results table at the end.

Reporters are called from the Runner's thread, except :meth:`ProgressReporter.output`, which
the executor calls from its output threads; implementations lock what they share.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Literal

from trialbook._format import fmt_duration
from trialbook.errors import ConfigError
from trialbook.store._records import short_run_id

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from trialbook.config._plan import PlannedRun
    from trialbook.execution._runner import PlanDecision, RunOutcome, SuiteResult

__all__ = [
    "PlainProgress",
    "ProgressReporter",
    "QuietProgress",
    "RichProgress",
    "make_progress",
    "results_rows",
]

#: Metrics shown per run in the results table.
_TABLE_METRICS = 3
_STATUS_STYLES = {"completed": "green", "failed": "red", "crashed": "magenta", "killed": "yellow"}


class ProgressReporter:
    """Receives the Runner's events; this base class ignores them all (``progress="quiet"``)."""

    #: Seconds between :meth:`refresh` calls while runs are active.
    refresh_interval: float = 1.0

    def start(self, decisions: Sequence[PlanDecision], jobs: int) -> None:
        """The plan is queued; ``decisions`` include what is skipped."""

    def started(self, planned: PlannedRun, run_id: str, attempt: int) -> None:
        """A run's process was submitted."""

    def output(self, planned: PlannedRun, stream: Literal["stdout", "stderr"], line: str) -> None:
        """One line a run printed (any thread)."""

    def finished(self, outcome: RunOutcome, retrying: bool = False) -> None:
        """A run ended; with ``retrying`` another attempt follows."""

    def refresh(self, metrics: Mapping[str, Mapping[str, float]]) -> None:
        """The last metric values of the active runs, by run id."""

    def message(self, text: str) -> None:
        """A note for the user (e.g. "Interrupted: stopping ...")."""

    def close(self, result: SuiteResult) -> None:
        """The suite ended."""


QuietProgress = ProgressReporter


def label(planned: PlannedRun) -> str:
    """``baseline seed=42``."""
    return planned.name + ("" if planned.seed is None else f" seed={planned.seed}")


def fmt_value(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def _first_line(error: str | None) -> str:
    """The line of a traceback that says what went wrong (its last non-empty line)."""
    if not error:
        return ""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    # trialbook's own errors are sentences for the user; the class path adds nothing.
    return re.sub(r"^trialbook\.errors\.\w+: ", "", line)


def _metric_keys(outcomes: Sequence[RunOutcome]) -> list[str]:
    """The metrics worth a column: evaluation metrics first, then others, at most three."""
    seen: dict[str, None] = {}
    for outcome in outcomes:
        for key in outcome.metrics:
            seen.setdefault(key, None)
    keys = sorted(seen, key=lambda k: (not k.startswith(("eval", "test", "val")), k))
    return keys[:_TABLE_METRICS]


def results_rows(outcomes: Sequence[RunOutcome]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table: name, seed, status, duration, metrics, run."""
    keys = _metric_keys(outcomes)
    header = ["name", "seed", "status", "duration", *keys, "run"]
    rows = []
    for o in outcomes:
        rows.append(
            [
                o.name,
                "-" if o.seed is None else str(o.seed),
                o.status,
                fmt_duration(o.duration),
                *(fmt_value(o.metrics[k]) if k in o.metrics else "-" for k in keys),
                short_run_id(o.run_id or "-"),
            ]
        )
    return header, rows


def summary_line(result: SuiteResult) -> str:
    counts = [
        (len(result.completed), "completed"),
        (len(result.failed), "failed"),
        (len(result.skipped), "skipped"),
        (len(result.queued), "still queued"),
    ]
    parts = ", ".join(f"{n} {what}" for n, what in counts if n)
    took = fmt_duration(result.duration)
    elsewhere = [o for o in result.by_another_runner if o.status != "skipped"]
    if elsewhere:
        parts += f" ({len(elsewhere)} of them by another runner)"
    text = f"{len(result.outcomes)} run(s): {parts or 'nothing to do'} in {took}."
    if result.interrupted:
        text += " Interrupted: run the same command again to resume."
    elif result.detached:
        text += (
            " Detached: the jobs run on; the same command again (or trialbook ls) picks up "
            "how they end."
        )
    elif result.queued:
        text += " Stopped after a failure (--stop-on-error); run again to resume."
    return text


class _Counts:
    """Done / failed / remaining, and the ETA from the durations so far."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.failed = 0
        self.jobs = 1
        self.durations: list[float] = []
        self.started = time.monotonic()

    def record(self, outcome: RunOutcome, retrying: bool) -> None:
        """Count a finished attempt (a retried one is not done yet) and its duration."""
        if not retrying:
            self.done += 1
            self.failed += outcome.failed
        if outcome.duration is not None:
            self.durations.append(outcome.duration)

    def begin(self, decisions: Sequence[PlanDecision], jobs: int) -> str:
        """Reset for a plan; return the opening line."""
        # Runs another runner holds are waited for, and count as work left.
        self.total = sum(d.will_run or d.action == "busy" for d in decisions)
        self.jobs = jobs
        skipped = len(decisions) - self.total
        note = f" ({skipped} skipped)" if skipped else ""
        return f"Running {self.total} run(s){note}, {jobs} at a time."

    def eta(self) -> float | None:
        remaining = self.total - self.done
        if not self.durations or remaining <= 0:
            return None
        mean = sum(self.durations) / len(self.durations)
        return mean * math.ceil(remaining / max(1, min(self.jobs, remaining)))


class PlainProgress(ProgressReporter):
    """One line per event, for logs and pipes; run output is passed through as it comes."""

    def __init__(self, file: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self._file = file
        self._err = err
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._prefix = False

    @property
    def file(self) -> IO[str]:
        return self._file if self._file is not None else sys.stdout

    @property
    def err(self) -> IO[str]:
        return self._err if self._err is not None else sys.stderr

    def _print(self, text: str, stream: IO[str] | None = None) -> None:
        with self._lock:
            out = stream or self.file
            out.write(text + "\n")
            out.flush()

    def start(self, decisions: Sequence[PlanDecision], jobs: int) -> None:
        self._prefix = jobs > 1
        self._print(self._counts.begin(decisions, jobs))

    def started(self, planned: PlannedRun, run_id: str, attempt: int) -> None:
        again = f", attempt {attempt}" if attempt > 1 else ""
        short = short_run_id(run_id)
        self._print(
            f"[{self._counts.done}/{self._counts.total}] started {label(planned)}"
            f" (run {short}{again})"
        )

    def output(self, planned: PlannedRun, stream: Literal["stdout", "stderr"], line: str) -> None:
        prefix = f"[{label(planned)}] " if self._prefix else ""
        self._print(prefix + line, self.err if stream == "stderr" else self.file)

    def finished(self, outcome: RunOutcome, retrying: bool = False) -> None:
        c = self._counts
        c.record(outcome, retrying)
        what = f"{outcome.status} {label(outcome.planned)} in {fmt_duration(outcome.duration)}"
        if outcome.by_another_runner:
            what += f" ({outcome.reason})"
        if outcome.failed:
            what += f": {_first_line(outcome.error)}"
        if retrying:
            what += " (retrying)"
        self._print(f"[{c.done}/{c.total}] {what}")

    def message(self, text: str) -> None:
        self._print(text)

    def close(self, result: SuiteResult) -> None:
        if result.outcomes:
            header, rows = results_rows(result.outcomes)
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
            widths[0] = min(widths[0], 24)  # a long name folds instead
            self._print("")
            for row in [header, *rows]:
                self._print(
                    "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                )
        self._print(summary_line(result))


class RichProgress(ProgressReporter):
    """A live display on a terminal: counts, ETA and each active run's last metrics."""

    refresh_interval = 0.5

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._active: dict[str, tuple[PlannedRun, float]] = {}
        self._metrics: dict[str, Mapping[str, float]] = {}
        self._prefix = False
        self._live: Live | None = None

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            c = self._counts
            active = list(self._active.items())
            metrics = dict(self._metrics)
        remaining = c.total - c.done
        eta = c.eta()
        header = Text.assemble(
            (f"done {c.done - c.failed}", "green"),
            "  ",
            (f"failed {c.failed}", "red" if c.failed else "dim"),
            "  ",
            f"remaining {remaining}",
            "  ",
            (f"elapsed {fmt_duration(time.monotonic() - c.started)}", "dim"),
            "  ",
            (f"ETA {fmt_duration(eta)}" if eta is not None else "", "dim"),
        )
        table = Table(box=None, show_header=bool(active), pad_edge=False)
        table.add_column("running", style="cyan", no_wrap=True)
        table.add_column("time", justify="right")
        table.add_column("last metrics", overflow="ellipsis", no_wrap=True)
        now = time.monotonic()
        for run_id, (planned, since) in active:
            values = metrics.get(run_id, {})
            shown = "  ".join(f"{k}={fmt_value(v)}" for k, v in list(values.items())[:4])
            table.add_row(Text(label(planned)), fmt_duration(now - since), Text(shown))
        return Group(header, table)

    def start(self, decisions: Sequence[PlanDecision], jobs: int) -> None:
        from rich.live import Live

        self._prefix = jobs > 1
        self.console.print(self._counts.begin(decisions, jobs))

        class _View:
            def __init__(self, owner: RichProgress) -> None:
                self.owner = owner

            def __rich__(self) -> RenderableType:
                return self.owner._render()

        self._live = Live(_View(self), console=self.console, refresh_per_second=4, transient=True)
        self._live.start()

    def started(self, planned: PlannedRun, run_id: str, attempt: int) -> None:
        with self._lock:
            self._active[run_id] = (planned, time.monotonic())

    def output(self, planned: PlannedRun, stream: Literal["stdout", "stderr"], line: str) -> None:
        from rich.text import Text

        text = Text(line, style="red" if stream == "stderr" else "")
        if self._prefix:
            text = Text.assemble((f"[{label(planned)}] ", "dim"), text)
        self.console.print(text, soft_wrap=True)

    def finished(self, outcome: RunOutcome, retrying: bool = False) -> None:
        from rich.text import Text

        with self._lock:
            self._active.pop(outcome.run_id or "", None)
            self._metrics.pop(outcome.run_id or "", None)
            c = self._counts
            c.record(outcome, retrying)
            done = c.done
        style = _STATUS_STYLES.get(outcome.status, "dim")
        line = Text.assemble(
            (f"[{done}/{c.total}] ", "dim"),
            (outcome.status, style),
            f" {label(outcome.planned)} in {fmt_duration(outcome.duration)}",
        )
        if outcome.by_another_runner:
            line.append(f" ({outcome.reason})", style="dim")
        if outcome.failed:
            line.append(f": {_first_line(outcome.error)}")
        if retrying:
            line.append(" (retrying)", style="yellow")
        self.console.print(line)

    def refresh(self, metrics: Mapping[str, Mapping[str, float]]) -> None:
        with self._lock:
            self._metrics.update(metrics)

    def message(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(text, style="yellow"))

    def close(self, result: SuiteResult) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        if self._live is not None:
            self._live.stop()
            self._live = None
        if result.outcomes:
            header, rows = results_rows(result.outcomes)
            # On a narrow terminal, metric columns go (last first) before names are folded.
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
            widths[0] = min(widths[0], 24)  # a long name folds instead
            n_metrics = len(header) - 5
            while n_metrics > 0 and sum(widths) + 2 * len(widths) > self.console.width:
                drop = 4 + n_metrics - 1
                for row in [header, *rows]:
                    del row[drop]
                del widths[drop]
                n_metrics -= 1
            table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
            for name in header:
                left = name in ("name", "status", "run")
                # Only the name gives way on a narrow terminal; numbers and statuses stay whole.
                table.add_column(
                    name,
                    justify="left" if left else "right",
                    no_wrap=name != "name",
                    overflow="fold",
                    min_width=12 if name == "name" else None,
                )
            for row in rows:
                # Text, not str: names like "lr[training.lr=0.1]" are not rich markup.
                status = Text(row[2], style=_STATUS_STYLES.get(row[2], "dim"))
                table.add_row(Text(row[0]), row[1], status, *(Text(c) for c in row[3:]))
            self.console.print(table)
        self.console.print(summary_line(result))


def make_progress(
    kind: Literal["auto", "rich", "plain", "quiet"] | ProgressReporter, jobs: int
) -> ProgressReporter:
    """The reporter for ``kind``; ``"auto"`` is rich when stdout is a terminal."""
    if isinstance(kind, ProgressReporter):
        return kind
    if kind == "auto":
        isatty = getattr(sys.stdout, "isatty", None)
        kind = "rich" if callable(isatty) and isatty() else "plain"
    if kind == "rich":
        return RichProgress()
    if kind == "plain":
        return PlainProgress()
    if kind == "quiet":
        return ProgressReporter()
    raise ConfigError(
        f"progress must be auto, rich, plain or quiet, not {kind!r}.",
        parameter="progress",
        value=kind,
    )
