"""The Store: where runs, metrics, evaluations and lineage are indexed.

Open one with :func:`connect` (a SQLAlchemy URL) or :func:`trialbook.open_store` (a workspace).
"""

from trialbook.store._base import MetricColumns, MetricSeries, Store
from trialbook.store._connect import connect, schema_state, upgrade
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
)
from trialbook.store._schema import SCHEMA_REVISION
from trialbook.store._sql import SQLStore

__all__ = [
    "SCHEMA_REVISION",
    "Artifact",
    "Checkpoint",
    "Dataset",
    "Evaluation",
    "Experiment",
    "LivenessPolicy",
    "MetricColumns",
    "MetricCondition",
    "MetricHistory",
    "MetricSeries",
    "MetricSummary",
    "NewRun",
    "ParamCondition",
    "RunQuery",
    "RunRecord",
    "RunningProcess",
    "SQLStore",
    "Sample",
    "Store",
    "StoreStats",
    "connect",
    "schema_state",
    "upgrade",
]
