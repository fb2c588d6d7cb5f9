"""``ExperimentTracker``: the start/log/finish API for scripts written that way."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trialbook._types import MetricsInput, RunStatus
from trialbook.errors import ConfigError, RunStateError
from trialbook.store._records import Checkpoint, Evaluation
from trialbook.tracking._run import Run
from trialbook.tracking._start import start_run

__all__ = ["ExperimentTracker"]

_BACKENDS = ("local",)


class ExperimentTracker:
    """Track one run at a time with explicit start and finish calls.

    ``backends=["local"]`` (the default) writes to the workspace's Store and run folders.

    Example::

        tracker = ExperimentTracker(backends=["local"])
        run_id = tracker.start_experiment({"learning_rate": 5e-5}, notes="baseline")
        for step in range(100):
            tracker.log_metrics({"loss": loss}, step)
        tracker.log_evaluation("gsm8k", result.to_dict())
        tracker.finish_experiment(status="completed")
    """

    def __init__(
        self,
        backends: Sequence[str] = ("local",),
        *,
        root: str | os.PathLike[str] | None = None,
        store_url: str | None = None,
        experiment: str | None = None,
    ) -> None:
        unknown = [b for b in backends if b not in _BACKENDS]
        if unknown:
            raise ConfigError(
                f"Unknown tracker backend {unknown[0]!r}; available: {', '.join(_BACKENDS)}.",
                parameter="backends",
                value=unknown[0],
            )
        if not backends:
            raise ConfigError(
                "backends is empty; pass backends=['local'].", parameter="backends", value=backends
            )
        self.backends = tuple(backends)
        self.root = root
        self.store_url = store_url
        self.experiment = experiment
        self._run: Run | None = None

    @property
    def run(self) -> Run:
        """The run in progress."""
        if self._run is None or self._run.finished:
            raise RunStateError("No experiment is running; call start_experiment(config) first.")
        return self._run

    def start_experiment(
        self,
        config: Any = None,
        notes: str | None = None,
        *,
        experiment: str | None = None,
        name: str | None = None,
        seed: int | None = None,
        tags: Iterable[str] = (),
        **options: Any,
    ) -> str:
        """Start a run and return its id. A run still open is finished as ``completed`` first."""
        if self._run is not None and not self._run.finished:
            self._run.finish("completed")
        self._run = start_run(
            experiment or self.experiment,
            config,
            seed=seed,
            name=name,
            notes=notes,
            tags=tags,
            root=self.root,
            store_url=self.store_url,
            **options,
        )
        return self._run.id

    def log_metrics(self, metrics: MetricsInput, step: int | None = None) -> None:
        """Record metric values at ``step``."""
        self.run.log(metrics, step)

    def log_evaluation(self, benchmark: str, result: Any) -> Evaluation:
        """Store a benchmark result (see :meth:`Run.log_evaluation`)."""
        return self.run.log_evaluation(benchmark, result)

    def log_checkpoint(
        self,
        path: str | os.PathLike[str],
        step: int | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> Checkpoint:
        """Record a saved checkpoint."""
        return self.run.log_checkpoint(path, step, metrics)

    def finish_experiment(self, status: RunStatus = "completed") -> None:
        """Flush, write summary.json and mark the run with ``status``."""
        allowed = ("completed", "failed", "killed")
        if status not in allowed:
            raise ConfigError(
                f"status {status!r} is not one of {', '.join(allowed)}.",
                parameter="status",
                value=status,
            )
        self.run.finish(status)
