"""The live :class:`~trialbook.Run` over a run this process owns, created or attached to."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from trialbook.store._base import Store
from trialbook.store._records import RunRecord
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._run import Run
from trialbook.tracking._settings import TrackingSettings

__all__ = ["open_run"]


def open_run(
    record: RunRecord,
    store: Store,
    folder: RunFolder,
    meta: dict[str, Any],
    *,
    settings: TrackingSettings,
    metric_goals: Mapping[str, str] | None,
) -> Run:
    """The Run that writes ``record``'s metrics through ``store`` (which it then owns, and
    closes if this fails), with the writer and system sampling ``settings`` say."""
    try:
        monitor = None
        if settings.system_metrics:
            from trialbook.tracking._system import SystemMonitor

            monitor = SystemMonitor(os.getpid())
            monitor.sample()  # primes cpu_percent
        return Run(
            record,
            store,
            folder,
            meta=meta,
            flush_interval=settings.flush_interval,
            heartbeat_interval=settings.heartbeat_interval,
            store_retry=settings.store_retry,
            system_monitor=monitor,
            metric_goals=metric_goals,
        )
    except BaseException:
        store.close()
        raise
