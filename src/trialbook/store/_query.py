"""Which runs to list, and in what order: :class:`RunQuery`, its conditions, and the one
grammar of the ``where`` and ``sort`` texts that ``trialbook ls``, :func:`trialbook.load_runs`
and every command with ``--where`` or ``--sort`` read. Messages name the texts as
``where=...``/``sort=...``, as a Python caller passes them.

``where`` texts are ``KEY OP VALUE``: ``params.lr=0.001``, ``loss<0.5``, ``metrics.loss<0.5``,
``min(loss)<0.5``, ``max(metrics.acc)>=0.9``. ``sort`` is a run column (:data:`SORT_COLUMNS`)
or a metric (``loss``, ``metrics.loss``, ``min(loss)``, ``max(acc)``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from trialbook._types import MetricAgg
from trialbook.errors import ConfigError

__all__ = [
    "ORDER_COLUMNS",
    "SORT_COLUMNS",
    "WHERE_GRAMMAR",
    "MetricCondition",
    "ParamCondition",
    "RunQuery",
    "Sort",
    "parse_condition",
    "parse_sort",
]

WHERE_GRAMMAR = (
    "write KEY OP VALUE, where KEY is params.<name>, a metric (loss, metrics.loss) or "
    "min(...)/max(...)/last(...) of a metric, and OP is one of == != < <= > >= "
    "(e.g. params.lr=0.001, loss<0.5, max(metrics.acc)>=0.9)"
)

#: The names a ``sort`` text may give a run column, and the column each means.
SORT_COLUMNS: Mapping[str, str] = {
    "started_at": "started_at",
    "started": "started_at",
    "ended_at": "ended_at",
    "ended": "ended_at",
    "name": "name",
    "duration": "duration",
    "status": "status",
    "experiment": "experiment",
    "seed": "seed",
    "id": "id",
}

#: The run columns :attr:`RunQuery.order_by` accepts (besides ``metrics.<key>``).
ORDER_COLUMNS: frozenset[str] = frozenset(SORT_COLUMNS.values())

_NEWEST_FIRST = frozenset({"started_at", "ended_at"})

_CONDITION = re.compile(
    r"""\s*
    (?: (?P<agg>min|max|last)\(\s*(?P<agg_key>[^()\s]+)\s*\)
      | (?P<key>[^\s<>=!()]+) )
    \s*(?P<op>==|!=|<=|>=|=|<|>)\s*
    (?P<value>(?![<>=!]).*?)\s*""",
    re.VERBOSE,
)
_AGG_KEY = re.compile(r"\s*(?P<agg>min|max|last)\(\s*(?P<key>[^()\s]+)\s*\)\s*")


@dataclass(frozen=True)
class ParamCondition:
    """``params.<key> <op> <value>``; numbers compare numerically, anything else as text."""

    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class MetricCondition:
    """``<agg>(metrics.<key>) <op> <value>``; a run without the metric never matches."""

    key: str
    op: str
    value: float
    agg: MetricAgg = "last"


@dataclass(frozen=True)
class Sort:
    """What a ``sort`` text names: a run column, or an aggregate of a metric."""

    order_by: str
    agg: MetricAgg = "last"
    metric: str | None = None

    @property
    def label(self) -> str:
        """The table header of a metric sort: ``loss`` or ``min(loss)``."""
        assert self.metric is not None
        return self.metric if self.agg == "last" else f"{self.agg}({self.metric})"

    def default_descending(self) -> bool:
        """Newest first for times; best first for metrics; ascending otherwise."""
        if self.metric is None:
            return self.order_by in _NEWEST_FIRST
        if self.agg != "last":
            return self.agg == "max"
        from trialbook._metrics import metric_goal

        return metric_goal(self.metric) == "max"


@dataclass(frozen=True)
class RunQuery:
    """Filters and ordering for :meth:`Store.list_runs`.

    ``order_by`` is a column (``started_at``, ``name``, ``duration``, ...) or
    ``metrics.<key>`` (optionally with ``order_agg``); runs without that metric sort last.
    ``name`` matches the run name exactly, or as a shell-style pattern when it holds ``*`` or
    ``?`` (``lead*``, ignoring case). Build one from ``where``/``sort`` texts with
    :meth:`parse`.
    """

    experiment: str | None = None
    name: str | None = None
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    group_key: str | None = None
    config_hash: str | None = None
    seed: int | None = None
    params: tuple[ParamCondition, ...] = ()
    metrics: tuple[MetricCondition, ...] = ()
    order_by: str = "started_at"
    order_agg: MetricAgg = "last"
    descending: bool = True
    limit: int | None = None
    #: Runs to skip before the first one returned (paging with ``limit``).
    offset: int = 0

    @classmethod
    def parse(
        cls,
        where: Iterable[str] | str = (),
        sort: str | None = None,
        *,
        descending: bool | None = None,
        **fields: Any,
    ) -> RunQuery:
        """A query from ``where`` texts and a ``sort`` text, plus any other fields.

        ``descending=None`` sorts newest first by time, best first by a metric (see
        :meth:`Sort.default_descending`) and ascending by other columns.

        Raises:
            ConfigError: a text does not follow the grammar (the message names it).
        """
        base = cls(**fields)
        conditions = [parse_condition(t) for t in _texts(where)]
        changes: dict[str, Any] = {
            "params": (*base.params, *(c for c in conditions if isinstance(c, ParamCondition))),
            "metrics": (*base.metrics, *(c for c in conditions if isinstance(c, MetricCondition))),
        }
        if sort is not None:
            order = parse_sort(sort)
            changes.update(order_by=order.order_by, order_agg=order.agg)
            if descending is None:
                descending = order.default_descending()
        if descending is not None:
            changes["descending"] = descending
        return replace(base, **changes)

    @property
    def sort(self) -> Sort:
        """The ordering as a :class:`Sort` (its metric and label for a metric order)."""
        if self.order_by.startswith("metrics."):
            return Sort(self.order_by, self.order_agg, self.order_by[len("metrics.") :])
        return Sort(self.order_by)


def _texts(where: Iterable[str] | str | None) -> tuple[str, ...]:
    return (where,) if isinstance(where, str) else tuple(where or ())


def _parse_value(raw: str) -> Any:
    """A number when it reads as one, true/false/null as JSON, quoted or other text as text."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    if raw in ("true", "false", "null"):
        return json.loads(raw)
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        number = float(raw)
    except ValueError:
        return raw
    return raw if math.isnan(number) else number


def _unreadable(text: str, detail: str = "") -> ConfigError:
    return ConfigError(
        f"Cannot read where={text!r}{detail}; {WHERE_GRAMMAR}.", parameter="where", value=text
    )


def parse_condition(text: str) -> ParamCondition | MetricCondition:
    """``params.lr=0.001``, ``loss<0.5``, ``metrics.loss<0.5``, ``min(loss)<0.5``,
    ``max(metrics.acc)>=0.9`` as the Store's condition objects.

    Raises:
        ConfigError: the text does not follow the grammar (the message names it).
    """
    m = _CONDITION.fullmatch(text)
    if m is None or not m["value"]:
        raise _unreadable(text)
    agg: MetricAgg | None = m["agg"]  # type: ignore[assignment]
    key: str = m["agg_key"] or m["key"]
    op = "==" if m["op"] == "=" else m["op"]
    value = _parse_value(m["value"])
    if key.startswith("params."):
        name = key[len("params.") :]
        if not name:
            raise _unreadable(text)
        if agg is not None:
            raise _unreadable(text, ": min/max/last apply to metrics, not params")
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number and op not in ("==", "!="):
            raise ConfigError(
                f"where={text!r} compares the text {value!r} with {op!r}; use = or != for "
                "text, or compare with a number.",
                parameter="where",
                value=text,
            )
        return ParamCondition(name, op, value)
    if key.startswith("metrics."):
        key = key[len("metrics.") :]
    if not key:
        raise _unreadable(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"where={text!r} compares metric {key!r} with {value!r}, which is not a number; "
            "metrics compare with numbers, e.g. loss<0.5.",
            parameter="where",
            value=text,
        )
    return MetricCondition(key, op, float(value), agg or "last")


def parse_sort(text: str) -> Sort:
    """``started_at``/``name``/... (a column), or ``loss``, ``metrics.loss``, ``min(loss)``.

    Raises:
        ConfigError: the text is neither a run column nor a metric name.
    """
    m = _AGG_KEY.fullmatch(text)
    agg: MetricAgg = "last"
    if m is not None:
        agg = m["agg"]  # type: ignore[assignment]
        key = m["key"]
    else:
        key = text.strip()
        if key in SORT_COLUMNS:
            return Sort(SORT_COLUMNS[key])
    if key.startswith("metrics."):
        key = key[len("metrics.") :]
    if not key or any(c in key for c in "()<>=! "):
        columns = ", ".join(sorted(ORDER_COLUMNS))
        raise ConfigError(
            f"Cannot sort by {text!r}; use a run column ({columns}) or a metric such as loss, "
            "metrics.loss or min(loss).",
            parameter="sort",
            value=text,
        )
    return Sort(f"metrics.{key}", agg, key)
