"""apply_strategies: seed 001's strategies, their combination and the troubleshooting errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialbook.cartography import (
    DynamicsRecorder,
    Selection,
    apply_strategies,
    assign_regions,
    cluster_embeddings,
)
from trialbook.cartography._regions import top_count
from trialbook.config import (
    CartographyFilterConfig,
    ClusterFilterConfig,
    LabelSmoothingConfig,
    SoftWeightingConfig,
    TrainingConfig,
)
from trialbook.errors import ConfigError

# a, b: easy; c: hard; d, e, f: ambiguous with decreasing variability.
METRICS = pd.DataFrame(
    {
        "id": list("abcdef"),
        "confidence": [0.95, 0.9, 0.1, 0.5, 0.55, 0.45],
        "variability": [0.02, 0.04, 0.03, 0.4, 0.3, 0.25],
        "correctness": [1.0, 1.0, 0.0, 0.5, 0.5, 0.4],
    }
)
CLUSTERS = pd.DataFrame(
    {
        "id": list("abcdef"),
        "cluster": [0, 0, -1, 1, 1, 2],
        "probability": [1.0, 0.4, 0.0, 0.9, 0.8, 1.0],
    }
)


def test_baseline_keeps_everything_unweighted() -> None:
    sel = apply_strategies(TrainingConfig(), METRICS)
    assert sel == Selection(
        ids=list("abcdef"),
        smoothing=dict.fromkeys("abcdef", 0.0),
        weights=dict.fromkeys("abcdef", 1.0),
    )


def test_cartography_filter_keeps_top_ambiguous_plus_easy_and_hard() -> None:
    cfg = {
        "cartography_filter": {"enabled": True, "cartography_output_dir": "x", "top_fraction": 0.33}
    }
    assert apply_strategies(cfg, METRICS).ids == [*list("abcdef")[:3], "d", "e"]
    sel = apply_strategies(cfg, METRICS, include_easy=False)
    assert sel.ids == ["c", "d", "e"]
    assert sel.dropped["a"].startswith("cartography_filter: easy-to-learn")
    assert apply_strategies(cfg, METRICS, include_easy=False, include_hard=False).ids == ["d", "e"]
    # The same settings from the config (seed 001 keeps them with the filter); arguments win.
    section = {**cfg["cartography_filter"], "include_easy": False}
    from_config = {"cartography_filter": section}
    assert apply_strategies(from_config, METRICS).ids == ["c", "d", "e"]
    assert apply_strategies(from_config, METRICS, include_easy=True).ids == list("abcde")
    no_hard = {"cartography_filter": {**section, "include_hard": False}}
    assert apply_strategies(no_hard, METRICS).ids == ["d", "e"]


def test_cartography_filter_regions_by_quantile() -> None:
    # With many classes few examples vary by 0.2: a fixed cut-off leaves nothing to drop.
    flat = METRICS.assign(variability=METRICS["variability"] / 10)
    cfg = {
        "cartography_filter": {"enabled": True, "cartography_output_dir": "x", "top_fraction": 0.16}
    }
    assert apply_strategies(cfg, flat).ids == list("abcdef")
    # The most variable half is ambiguous (d, e, f); the filter keeps the top 16% (d) of all.
    sel = apply_strategies(cfg, flat, ambiguous_fraction=0.5)
    assert sel.ids == ["a", "b", "c", "d"]
    assert sel.dropped["e"] == "cartography_filter: ambiguous, not in the top 1 by variability"
    with pytest.raises(ConfigError, match=r"ambiguous_fraction 1\.5 is not in"):
        apply_strategies(cfg, flat, ambiguous_fraction=1.5)
    quantile = {"cartography_filter": {**cfg["cartography_filter"], "ambiguous_fraction": 0.5}}
    assert apply_strategies(quantile, flat).ids == ["a", "b", "c", "d"]
    with pytest.raises(ConfigError, match=r"cartography_filter\.ambiguous_fraction"):
        apply_strategies(
            {"cartography_filter": {**quantile["cartography_filter"], "ambiguous_fraction": 2}},
            flat,
        )


def test_cluster_filter_excludes_noise_and_low_probability() -> None:
    cfg = TrainingConfig(
        cluster_filter=ClusterFilterConfig(
            enabled=True, cluster_assignments_path="x", min_cluster_probability=0.5
        )
    )
    sel = apply_strategies(cfg, METRICS, CLUSTERS)
    assert sel.ids == ["a", "d", "e", "f"]
    assert sel.dropped == {
        "b": "cluster_filter: probability 0.4 < 0.5",
        "c": "cluster_filter: cluster -1 is excluded",
    }
    # No metrics needed for a cluster filter alone.
    assert apply_strategies(cfg, clusters=CLUSTERS).ids == ["a", "d", "e", "f"]


def test_label_smoothing_and_soft_weighting_follow_variability() -> None:
    cfg = TrainingConfig(
        label_smoothing=LabelSmoothingConfig(
            enabled=True, cartography_output_dir="x", smoothing_factor=3
        ),
        soft_weighting=SoftWeightingConfig(
            enabled=True, cartography_output_dir="x", weight_clip_min=0.5, weight_clip_max=2.0
        ),
    )
    sel = apply_strategies(cfg, METRICS)
    var = METRICS["variability"].to_numpy()
    assert list(sel.smoothing.values()) == pytest.approx(np.clip(3 * var, 0, 1))
    assert sel.smoothing["d"] == 1.0  # 3 x 0.4 clipped
    assert list(sel.weights.values()) == pytest.approx(np.clip(var / var.mean(), 0.5, 2.0))
    assert sel.weights["a"] == 0.5 and sel.weights["d"] == 2.0


def test_strategies_combine() -> None:
    cfg = TrainingConfig(
        cartography_filter=CartographyFilterConfig(
            enabled=True, cartography_output_dir="x", top_fraction=0.16
        ),
        cluster_filter=ClusterFilterConfig(enabled=True, cluster_assignments_path="x"),
        soft_weighting=SoftWeightingConfig(enabled=True, cartography_output_dir="x"),
    )
    sel = apply_strategies(cfg, METRICS, CLUSTERS)
    # cartography keeps a, b, c (easy/hard) and d (top 16%: 1 of 6); clusters drop c (noise).
    assert sel.ids == ["a", "b", "d"]
    assert set(sel.weights) == {"a", "b", "d"} and set(sel.dropped) == {"c", "e", "f"}


def test_metrics_and_clusters_load_from_configured_paths(tmp_path: Path) -> None:
    rec = DynamicsRecorder(path=tmp_path / "cartography_output")
    for epoch, probs in enumerate([[0.9, 0.1, 0.2], [0.95, 0.2, 0.8]]):
        rec.record(epoch, ["a", "b", "c"], probs)
    rec.save()
    rng = np.random.default_rng(0)
    emb = np.vstack([rng.normal(0, 0.01, (2, 2)), [[50.0, 50.0]]])
    cluster_embeddings(["a", "b", "c"], emb, min_cluster_size=2, path=tmp_path / "clusters")
    cfg = {
        "cartography_filter": {
            "enabled": True,
            "cartography_output_dir": str(tmp_path / "cartography_output"),
            "top_fraction": 0.33,
        },
        "cluster_filter": {"enabled": True, "cluster_assignments_path": str(tmp_path / "clusters")},
    }
    sel = apply_strategies(cfg, include_easy=False, include_hard=False)
    # c varies most; a and b form the only cluster, c is noise: nothing survives both filters.
    assert sel.ids == [] and sel.dropped["c"] == "cluster_filter: cluster -1 is excluded"


def test_missing_metrics_and_clusters_name_the_call_to_run(tmp_path: Path) -> None:
    out = tmp_path / "cartography_output"
    cfg = TrainingConfig(
        label_smoothing=LabelSmoothingConfig(enabled=True, cartography_output_dir=str(out))
    )
    with pytest.raises(ConfigError) as e:
        apply_strategies(cfg)
    assert str(e.value).startswith(
        f"Cartography metrics not found in {out}; record training dynamics first"
    )
    cfg = TrainingConfig(
        cluster_filter=ClusterFilterConfig(enabled=True, cluster_assignments_path=str(out))
    )
    with pytest.raises(
        ConfigError, match=r"Cluster assignments not found in .*cluster_embeddings\("
    ):
        apply_strategies(cfg, METRICS)


def test_bad_config_dict_and_repeated_ids() -> None:
    with pytest.raises(ConfigError, match=r"'soft_weighting' is invalid: .*swap them"):
        apply_strategies({"soft_weighting": {"weight_clip_min": 3, "weight_clip_max": 1}}, METRICS)
    with pytest.raises(ConfigError, match=r"repeat an id"):
        apply_strategies({}, pd.concat([METRICS, METRICS]))
    with pytest.raises(ConfigError, match=r"needs the examples"):
        apply_strategies({})


@pytest.mark.parametrize(
    ("fraction", "n", "k"),
    [
        (0.05, 10, 1),  # round() gave 0 here: at least one example when the fraction is > 0
        (0.3, 10, 3),  # not 4: the float product is 3.0000000000000004, the fraction 3/10
        (0.25, 100, 25),  # the reference implementation keeps int(f * n) + 1 = 26
        (0.33, 1000, 330),
        (0.331, 1000, 331),
        (0.34, 6, 3),  # ceil(2.04): never fewer than the fraction asked for
        (1.0, 7, 7),
        (0.5, 0, 0),
    ],
)
def test_top_count_is_the_ceiling_of_fraction_times_n(fraction: float, n: int, k: int) -> None:
    assert top_count(fraction, n) == k


def test_top_five_percent_of_ten_keeps_one_ambiguous_example() -> None:
    ten = pd.DataFrame(
        {
            "id": [f"x{i}" for i in range(10)],
            "confidence": [0.5] * 10,
            "variability": [0.01 * i for i in range(10)],
        }
    )
    cfg = {
        "cartography_filter": {
            "enabled": True,
            "cartography_output_dir": "x",
            "top_fraction": 0.05,
            "include_easy": False,
            "include_hard": False,
        }
    }
    sel = apply_strategies(cfg, ten, ambiguous_fraction=0.05)
    assert sel.ids == ["x9"]
    assert sel.dropped["x8"] == "cartography_filter: easy-to-learn, not in the top 1 by variability"
    regions = assign_regions(ten, ambiguous_fraction=0.05)
    assert regions.tolist().count("ambiguous") == 1 and regions[9] == "ambiguous"
