"""The database schema (SQLAlchemy Core). Changes here need an Alembic migration.

Times are epoch seconds in double-precision columns; JSON is stored as text so that the
same schema works on every database. A NULL metric value means NaN: SQLite turns NaN
into NULL on insert, so the Store does the same everywhere and reads NULL back as NaN.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: The Alembic revision this code expects; a test checks it is the migrations' head.
SCHEMA_REVISION = "tb0006"
#: Every revision ever shipped, oldest first; a test checks it matches the migrations.
KNOWN_REVISIONS: tuple[str, ...] = (
    "tb0001",
    "tb0002",
    "tb0003",
    "tb0004",
    "tb0005",
    "tb0006",
)
#: Tables computed from the others (``_dialect.rebuild_blocks``): a copy of a database
#: rebuilds them instead of copying them.
DERIVED_TABLES = frozenset({"metric_blocks"})

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.id", ondelete="CASCADE")


experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text),
    Column("hypothesis", Text),
    Column("created_at", Double, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    # A small integer key keeps the metrics table and its index compact (2x faster inserts).
    Column("num", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("config", Text, nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("group_key", String(64), nullable=False),
    Column("seed", BigInteger),
    Column("notes", Text),
    Column("tags", Text, nullable=False, default="[]"),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("pid_started_at", Double),
    Column("heartbeat_at", Double),
    Column("started_at", Double),
    Column("ended_at", Double),
    Column("duration", Double),
    Column("git_commit", String(64)),
    Column("git_branch", String(255)),
    Column("git_dirty", Boolean),
    Column("folder", Text),
    Column("error", Text),
    Index(None, "experiment_id", "started_at"),
    Index(None, "status"),
    Index(None, "name"),
    Index(None, "config_hash", "seed"),
    Index(None, "group_key"),
    Index(None, "started_at"),
)

# Who follows the job of a run in a queueing backend (a Slurm job, named in the run folder's
# job.json): the runner that submitted it, or the later runner that adopted it. The runner
# beats heartbeat_at while it follows; ``detached`` says it let go (``trialbook run --detach``).
# A later runner adopts the job by one conditional update of this row (Store.adopt_job).
job_holders = Table(
    "job_holders",
    metadata,
    Column("run_id", String(64), _run_fk(), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("pid_started_at", Double),
    Column("heartbeat_at", Double, nullable=False),
    Column("detached", Boolean, nullable=False),
    Index(None, "host", "pid"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(64), _run_fk(), primary_key=True),
    Column("tag", String(255), primary_key=True),
    Index(None, "tag"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(64), _run_fk(), primary_key=True),
    Column("key", String(500), primary_key=True),
    # The value as JSON text ("adam" with its quotes, 0.001, true, [1, 2]) and, when it is a
    # number (not a bool), also as a number for comparisons.
    Column("value", Text, nullable=False),
    Column("value_num", Double),
    Index(None, "key", "value_num"),
)

metric_keys = Table(
    "metric_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
)

# The points. Their two foreign keys exist on SQLite only (schema tb0004): PostgreSQL checks a
# foreign key with one query per inserted row, ~88 % of a COPY's time (bench/README.md,
# "PostgreSQL"). Nothing is lost: trialbook never deletes runs or metric keys, and the writer
# inserts points only with the run number and key ids it read or created in the same
# transaction. (A hand-written ``DELETE FROM runs`` on PostgreSQL leaves that run's points
# behind, unread: every read goes through ``runs``.)
metrics = Table(
    "metrics",
    metadata,
    Column("run_num", Integer, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("value", Double),
    Column("time", Double, nullable=False),
    ForeignKeyConstraint(["run_num"], ["runs.num"], ondelete="CASCADE").ddl_if(dialect="sqlite"),
    ForeignKeyConstraint(["key_id"], ["metric_keys.id"]).ddl_if(dialect="sqlite"),
    Index(None, "run_num", "key_id", "step"),
)

# One row per BLOCK_POINTS consecutive logged points of a run's metric (store/_buckets.py):
# a long history is drawn from these instead of from every point. Derived from metrics and
# written with its points; like those, its foreign keys exist on SQLite only (schema tb0006:
# PostgreSQL checked them with one query per block, half of the blocks' write time).
metric_blocks = Table(
    "metric_blocks",
    metadata,
    Column("run_num", Integer, primary_key=True, autoincrement=False),
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("min", Double),
    Column("max", Double),
    Column("count", BigInteger, nullable=False),
    Column("last", Double),
    Column("last_time", Double, nullable=False),
    ForeignKeyConstraint(["run_num"], ["runs.num"], ondelete="CASCADE").ddl_if(dialect="sqlite"),
    ForeignKeyConstraint(["key_id"], ["metric_keys.id"]).ddl_if(dialect="sqlite"),
    # On SQLite the rows live in the primary key's B-tree: one insert per row instead of two.
    sqlite_with_rowid=False,
)

metric_summary = Table(
    "metric_summary",
    metadata,
    Column("run_id", String(64), _run_fk(), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("last", Double),
    Column("last_step", BigInteger, nullable=False),
    Column("min", Double),
    Column("min_step", BigInteger),
    Column("max", Double),
    Column("max_step", BigInteger),
    Column("count", BigInteger, nullable=False),
    Index(None, "key", "last"),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), _run_fk(), nullable=False),
    Column("benchmark", String(255), nullable=False),
    Column("split", String(255)),
    Column("metrics", Text, nullable=False),
    Column("n", Integer),
    Column("duration", Double),
    Column("created_at", Double, nullable=False),
    Index(None, "run_id", "benchmark"),
    Index(None, "benchmark"),
)

samples = Table(
    "samples",
    metadata,
    Column(
        "evaluation_id",
        Integer,
        ForeignKey("evaluations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("sample_id", String(255), nullable=False),
    Column("prediction", Text),
    Column("reference", Text),
    Column("score", Double),
    Column("correct", Boolean),
    Column("extra", Text),
    Index(None, "evaluation_id", "sample_id"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), _run_fk(), nullable=False),
    Column("path", Text, nullable=False),
    Column("step", BigInteger),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("metrics", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Index(None, "run_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), _run_fk(), nullable=False),
    Column("path", Text, nullable=False),
    Column("kind", String(64)),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("created_at", Double, nullable=False),
    Index(None, "run_id"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64)),
    Column("size", BigInteger),
    Column("rows", BigInteger),
    Column("parent", String(255)),
    Column("transform", Text),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("name", "path", "sha256"),
)

run_datasets = Table(
    "run_datasets",
    metadata,
    Column("run_id", String(64), _run_fk(), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
)
