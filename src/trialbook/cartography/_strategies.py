"""Data strategies on cartography metrics (filters, label smoothing, soft weighting),
combinable in one training config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trialbook.cartography._metrics import _column, load_metrics
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.config._models import TrainingConfig

__all__ = ["Selection", "apply_strategies"]


@dataclass
class Selection:
    """What the strategies decided: the ids to train on (in metrics order), and per kept id
    a label-smoothing epsilon (0 without label smoothing) and a loss weight (1 without soft
    weighting). ``dropped`` says why each removed id went."""

    ids: list[str]
    smoothing: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)


def _config(training_config: TrainingConfig | Mapping[str, Any]) -> TrainingConfig:
    from pydantic import ValidationError

    from trialbook.config._models import TrainingConfig

    if isinstance(training_config, TrainingConfig):
        return training_config
    try:
        return TrainingConfig.model_validate(dict(training_config))
    except ValidationError as e:  # one sentence instead of pydantic's dump
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "training"
        raise ConfigError(
            f"Training config field {where!r} is invalid: {first.get('msg')}; fix that field."
        ) from None


def apply_strategies(
    training_config: TrainingConfig | Mapping[str, Any],
    metrics: pd.DataFrame | None = None,
    clusters: pd.DataFrame | None = None,
    *,
    include_easy: bool | None = None,
    include_hard: bool | None = None,
    variability_threshold: float = 0.2,
    confidence_threshold: float = 0.5,
    ambiguous_fraction: float | None = None,
) -> Selection:
    """Apply every enabled strategy of ``training_config`` (a ``TrainingConfig`` or its dict).

    - cartography_filter: keep the ``top_fraction`` most variable (ambiguous) examples, plus the
      easy-to-learn (``include_easy``) and hard-to-learn (``include_hard``) regions of
      :func:`assign_regions` with the given thresholds (or, with ``ambiguous_fraction``, its
      quantile cut-off: the most variable fraction is ambiguous, whatever its variability).
      ``include_easy``, ``include_hard`` and ``ambiguous_fraction`` default to the fields of
      the same names in ``cartography_filter``; an argument given here wins.
    - cluster_filter: drop examples whose cluster is in ``exclude_clusters`` or whose
      cluster probability is below ``min_cluster_probability`` (ids without an assignment are
      dropped too: they were not clustered).
    - label_smoothing: epsilon = ``smoothing_factor`` x variability, clipped to [0, 1].
    - soft_weighting: weight = variability / mean variability, clipped to
      [``weight_clip_min``, ``weight_clip_max``] (all 1 when nothing varied).

    Filters intersect. ``metrics`` defaults to those in the strategies'
    ``cartography_output_dir`` and ``clusters`` to ``cluster_assignments_path``; when they are
    missing the error names the call that produces them.
    """
    import numpy as np

    from trialbook.cartography._clusters import load_clusters
    from trialbook.cartography._regions import assign_regions, top_count

    cfg = _config(training_config)
    needs_metrics = [
        s for s in (cfg.cartography_filter, cfg.label_smoothing, cfg.soft_weighting) if s.enabled
    ]
    if metrics is None:
        if needs_metrics:
            metrics = load_metrics(needs_metrics[0].cartography_output_dir)
        elif clusters is None and cfg.cluster_filter.enabled:
            clusters = load_clusters(cfg.cluster_filter.cluster_assignments_path)
    if metrics is None and clusters is None:
        raise ConfigError(
            "apply_strategies needs the examples: pass metrics=cartography_metrics(...) "
            "(or clusters= for a cluster filter alone)."
        )
    if metrics is not None:
        ids = [str(i) for i in _column(metrics, "id")]
    else:
        assert clusters is not None
        ids = [str(i) for i in _column(clusters, "id")]
    if len(set(ids)) != len(ids):
        raise ConfigError("Cartography metrics repeat an id; record each example once per epoch.")
    keep = dict.fromkeys(ids, True)
    dropped: dict[str, str] = {}

    def drop(i: str, why: str) -> None:
        if keep.get(i):
            keep[i] = False
            dropped[i] = why

    if cfg.cartography_filter.enabled:
        assert metrics is not None
        variability = _column(metrics, "variability").to_numpy(dtype=float)
        k = top_count(cfg.cartography_filter.top_fraction, len(ids))
        chosen = np.zeros(len(ids), dtype=bool)
        chosen[np.argsort(-variability, kind="stable")[:k]] = True
        settings = cfg.cartography_filter
        if ambiguous_fraction is None:
            ambiguous_fraction = settings.ambiguous_fraction
        easy = settings.include_easy if include_easy is None else include_easy
        hard = settings.include_hard if include_hard is None else include_hard
        region = assign_regions(
            metrics,
            variability_threshold=variability_threshold,
            confidence_threshold=confidence_threshold,
            ambiguous_fraction=ambiguous_fraction,
        ).to_numpy()
        chosen |= easy & (region == "easy-to-learn")
        chosen |= hard & (region == "hard-to-learn")
        for i, c, r in zip(ids, chosen, region, strict=True):
            if not c:
                drop(i, f"cartography_filter: {r}, not in the top {k} by variability")

    if cfg.cluster_filter.enabled:
        if clusters is None:
            clusters = load_clusters(cfg.cluster_filter.cluster_assignments_path)
        table = clusters
        probability = (
            table["probability"].tolist() if "probability" in table.columns else [1.0] * len(table)
        )
        assigned = {
            str(i): (int(c), float(p))
            for i, c, p in zip(
                _column(table, "id"), _column(table, "cluster").tolist(), probability, strict=True
            )
        }
        excluded = set(cfg.cluster_filter.exclude_clusters)
        minimum = cfg.cluster_filter.min_cluster_probability
        for i in ids:
            found = assigned.get(i)
            if found is None:
                drop(i, "cluster_filter: no cluster assignment")
            elif found[0] in excluded:
                drop(i, f"cluster_filter: cluster {found[0]} is excluded")
            elif minimum is not None and found[1] < minimum:
                drop(i, f"cluster_filter: probability {found[1]:.3g} < {minimum}")

    kept = [i for i in ids if keep[i]]
    smoothing = dict.fromkeys(kept, 0.0)
    weights = dict.fromkeys(kept, 1.0)
    if cfg.label_smoothing.enabled or cfg.soft_weighting.enabled:
        assert metrics is not None
        var = dict(zip(ids, _column(metrics, "variability").to_numpy(dtype=float), strict=True))
        if cfg.label_smoothing.enabled:
            f = cfg.label_smoothing.smoothing_factor
            smoothing = {i: float(np.clip(f * var[i], 0.0, 1.0)) for i in kept}
        if cfg.soft_weighting.enabled:
            # normalised by the mean over all examples, so an average example keeps weight 1
            mean = float(np.mean(list(var.values())))
            lo, hi = cfg.soft_weighting.weight_clip_min, cfg.soft_weighting.weight_clip_max
            weights = {i: float(np.clip(var[i] / mean, lo, hi)) if mean > 0 else 1.0 for i in kept}
    return Selection(ids=kept, smoothing=smoothing, weights=weights, dropped=dropped)
