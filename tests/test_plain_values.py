"""One rule for NaN and infinities in every JSON trialbook writes, one ``flatten``, and the run
folder's meta.json read in one place."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

import trialbook
from trialbook.config import flatten_config
from trialbook.reporting import json_text, jsonable
from trialbook.tracking import RunFolder


def test_non_finite_floats_are_strings_wherever_they_are() -> None:
    value = {"a": [1.0, math.nan, (math.inf, -math.inf)], 2: {"b": np.float32("nan")}}

    assert jsonable(value) == {"a": [1.0, "NaN", ["Infinity", "-Infinity"]], "2": {"b": "NaN"}}
    assert json.loads(json_text(value)) == jsonable(value)


def test_numpy_scalars_and_timestamps_become_plain_json() -> None:
    stamp = pd.Timestamp("2026-01-02T03:04:05", tz="UTC")

    assert jsonable([np.int64(3), np.bool_(True), stamp]) == [3, True, stamp.isoformat()]


def test_flatten_keeps_lists_and_empty_mappings_whole() -> None:
    nested = {"model": {"layers": 2, "dims": [1, 2], "extra": {}}, "lr": 0.1}

    assert flatten_config(nested) == {
        "model.layers": 2,
        "model.dims": [1, 2],
        "model.extra": {},
        "lr": 0.1,
    }


def test_run_folder_writes_and_reads_meta_and_summary(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.create()

    folder.write_meta({"host": "h", "score": math.nan})
    folder.write_summary({"loss": math.inf})

    assert folder.read_meta() == {"host": "h", "score": "NaN"}
    assert folder.read_summary() == {"loss": "Infinity"}


def test_read_meta_is_none_for_a_missing_or_broken_file(tmp_path: Path) -> None:
    assert RunFolder(tmp_path / "gone").read_meta() is None
    folder = RunFolder(tmp_path)
    folder.meta_path.write_text("{not json", encoding="utf-8")
    assert folder.read_meta() is None
    folder.meta_path.write_text("[1, 2]", encoding="utf-8")
    assert folder.read_meta() is None


def test_show_json_and_the_run_folder_agree_on_nan(tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.start_run(
        "e", {"lr": math.nan}, root=root, system_metrics=False, capture_packages=False
    ) as run:
        run.log({"loss": math.inf})
        folder = RunFolder(run.folder.path)

    summary = folder.read_summary()
    assert summary is not None
    from trialbook.store import load_details, run_document

    with trialbook.open_store(root) as store:
        doc = jsonable(run_document(load_details(store, store.get_run(run.id))))
    assert doc["metrics"]["loss"]["last"] == "Infinity"
    assert doc["config"]["lr"] == "NaN"
