"""Type aliases shared across trialbook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

ConfigDict: TypeAlias = dict[str, Any]
MetricsInput: TypeAlias = Mapping[str, Any]

RunStatus: TypeAlias = Literal["queued", "running", "completed", "failed", "crashed", "killed"]
RUN_STATUSES: tuple[RunStatus, ...] = (
    "queued",
    "running",
    "completed",
    "failed",
    "crashed",
    "killed",
)
FINISHED_STATUSES: frozenset[str] = frozenset({"completed", "failed", "crashed", "killed"})

MetricAgg: TypeAlias = Literal["last", "min", "max"]
