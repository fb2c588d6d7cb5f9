"""The Store: where runs, metrics, evaluations and lineage are indexed.

Open one with :func:`connect` (a SQLAlchemy URL) or :func:`trialbook.open_store` (a workspace).
"""

from trialbook._types import FINISHED_STATUSES, RUN_STATUSES, MetricAgg, RunStatus
from trialbook._workspace import DEFAULT_ROOT, Workspace
from trialbook.store._base import MetricColumns, MetricSeries, Store
from trialbook.store._connect import connect, schema_state, upgrade
from trialbook.store._dialect import sqlite_path
from trialbook.store._liveness import LivenessPolicy, RunningProcess
from trialbook.store._records import (
    Artifact,
    Checkpoint,
    Dataset,
    Evaluation,
    Experiment,
    MetricCondition,
    MetricHistory,
    MetricSummary,
    NewRun,
    ParamCondition,
    RunQuery,
    RunRecord,
    Sample,
    StoreStats,
    short_run_id,
)
from trialbook.store._schema import SCHEMA_REVISION
from trialbook.store._sql import SQLStore

__all__ = [
    "DEFAULT_ROOT",
    "FINISHED_STATUSES",
    "RUN_STATUSES",
    "SCHEMA_REVISION",
    "Artifact",
    "Checkpoint",
    "Dataset",
    "Evaluation",
    "Experiment",
    "LivenessPolicy",
    "MetricAgg",
    "MetricColumns",
    "MetricCondition",
    "MetricHistory",
    "MetricSeries",
    "MetricSummary",
    "NewRun",
    "ParamCondition",
    "RunQuery",
    "RunRecord",
    "RunStatus",
    "RunningProcess",
    "SQLStore",
    "Sample",
    "Store",
    "StoreStats",
    "Workspace",
    "connect",
    "schema_state",
    "short_run_id",
    "sqlite_path",
    "upgrade",
]
