"""Plain values as files and tables hold them: nested mappings as dotted keys, and JSON
without NaN literals.

One rule for NaN and infinities in every JSON trialbook writes (meta.json, summary.json,
evaluation samples, ``show --json``, ``export``, ``analyze --json``): they become the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, so the file is strict JSON and the value is
not lost (``null`` would read as "missing").

``null`` keeps that meaning, and only that: a statistic that was not computed (the p-value of
a comparison no test applies to, the interval of a group of one run) is ``null`` in the
analysis commands' JSON (``TestResult.to_dict``, ``leaderboard --json``, ``ls --by group
--json``); a value that was computed or logged and is NaN is ``"NaN"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["flatten", "json_text", "jsonable", "read_json_object"]


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: ``{"training": {"lr": 1}}`` -> ``{"training.lr": 1}``.

    Lists and empty mappings stay whole values; ``prefix`` is put before every key.
    """
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def jsonable(value: Any) -> Any:
    """``value`` made strictly JSON-compatible: NaN and infinities become the strings
    ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; mappings, tuples and lists are copied (keys
    as strings); numpy scalars become Python numbers and dates ISO 8601 text."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalars
        return jsonable(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def json_text(value: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``value`` (see :func:`jsonable`); unknown objects are written as
    their ``str``."""
    return json.dumps(
        jsonable(value), indent=indent, ensure_ascii=False, allow_nan=False, default=str
    )


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (a run folder's meta.json or summary.json), or None when
    the file is gone, unreadable or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
