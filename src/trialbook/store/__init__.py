"""The Store: where runs, metrics, evaluations and lineage are indexed.

Open one with :func:`connect` (a SQLAlchemy URL) or :func:`trialbook.open_store` (a workspace).
"""

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes
from trialbook._redact import hide_passwords
from trialbook._types import FINISHED_STATUSES, RUN_STATUSES, MetricAgg, RunStatus
from trialbook._values import json_text, jsonable
from trialbook._workspace import DEFAULT_ROOT, Workspace
from trialbook.store._base import KeyPage, MetricColumns, MetricSeries, Store, change_time
from trialbook.store._buckets import MetricBuckets
from trialbook.store._connect import connect, schema_state, upgrade
from trialbook.store._dialect import safe_url, sqlite_path, store_flag
from trialbook.store._liveness import JobHolder, LivenessPolicy, RunningProcess
from trialbook.store._query import (
    SORT_COLUMNS,
    WHERE_GRAMMAR,
    MetricCondition,
    ParamCondition,
    RunQuery,
    Sort,
    parse_condition,
    parse_sort,
)
from trialbook.store._records import (
    Artifact,
    Checkpoint,
    Dataset,
    Evaluation,
    Experiment,
    MetricHistory,
    MetricSummary,
    NewRun,
    RunRecord,
    Sample,
    StoreStats,
    latest_by_benchmark,
    short_run_id,
)
from trialbook.store._schema import SCHEMA_REVISION
from trialbook.store._sql import SQLStore

__all__ = [
    "DEFAULT_ROOT",
    "FINISHED_STATUSES",
    "RUN_STATUSES",
    "SCHEMA_REVISION",
    "SORT_COLUMNS",
    "WHERE_GRAMMAR",
    "Artifact",
    "Checkpoint",
    "CopyProgress",
    "CopyReport",
    "Dataset",
    "Evaluation",
    "Experiment",
    "JobHolder",
    "KeyPage",
    "LivenessPolicy",
    "MetricAgg",
    "MetricBuckets",
    "MetricColumns",
    "MetricCondition",
    "MetricHistory",
    "MetricSeries",
    "MetricSummary",
    "NewRun",
    "ParamCondition",
    "Recovery",
    "RunDetails",
    "RunIdentity",
    "RunQuery",
    "RunRecord",
    "RunStatus",
    "RunningProcess",
    "SQLStore",
    "Sample",
    "Sort",
    "Store",
    "StoreStats",
    "Workspace",
    "change_time",
    "check_database",
    "connect",
    "copy_store",
    "flat_values",
    "hide_passwords",
    "iso",
    "json_text",
    "jsonable",
    "latest_by_benchmark",
    "load_details",
    "parse_condition",
    "parse_sort",
    "recover",
    "run_document",
    "run_fields",
    "safe_url",
    "sample_fields",
    "schema_state",
    "short_run_id",
    "sqlite_path",
    "store_flag",
    "upgrade",
]

# Read-side helpers load on first use: a run's process imports this package and needs none.
_LAZY = {
    **{
        name: "trialbook.store._documents"
        for name in (
            "RunDetails",
            "flat_values",
            "iso",
            "load_details",
            "run_document",
            "run_fields",
            "sample_fields",
        )
    },
    "check_database": "trialbook.store._integrity",
    **{name: "trialbook.store._copy" for name in ("CopyProgress", "CopyReport", "copy_store")},
    **{name: "trialbook.store._recover" for name in ("Recovery", "RunIdentity", "recover")},
}

if TYPE_CHECKING:
    from trialbook.store._copy import CopyProgress, CopyReport, copy_store
    from trialbook.store._documents import (
        RunDetails,
        flat_values,
        iso,
        load_details,
        run_document,
        run_fields,
        sample_fields,
    )
    from trialbook.store._integrity import check_database
    from trialbook.store._recover import Recovery, RunIdentity, recover

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
