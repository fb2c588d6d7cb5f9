"""Dataset cartography: per-example training dynamics, the data map and the data strategies.

Record the gold-label probability of every training example at each epoch, then derive
confidence, variability and correctness, the three regions of the data map and the training
strategies built on them (cartography filter, cluster filter, label smoothing, soft weighting)::

    from trialbook.cartography import DynamicsRecorder, apply_strategies, cartography_metrics

    recorder = DynamicsRecorder(run=run)
    for epoch in range(epochs):
        ...  # train, then for each batch:
        recorder.record(epoch, ids, gold_probs)
    recorder.save()
    metrics = cartography_metrics(recorder)

Names are imported on first use, so importing this package loads neither pandas nor
scikit-learn nor transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes

# name -> module that defines it; resolved on first attribute access.
_LAZY = {
    "CLUSTERS_FILE": "trialbook.cartography._clusters",
    "DYNAMICS_FILE": "trialbook.cartography._recorder",
    "REGIONS": "trialbook.cartography._regions",
    "DynamicsRecorder": "trialbook.cartography._recorder",
    "Selection": "trialbook.cartography._strategies",
    "TrialbookDynamicsCallback": "trialbook.cartography._hf",
    "apply_strategies": "trialbook.cartography._strategies",
    "assign_regions": "trialbook.cartography._regions",
    "cartography_metrics": "trialbook.cartography._metrics",
    "cluster_embeddings": "trialbook.cartography._clusters",
    "load_clusters": "trialbook.cartography._clusters",
    "load_metrics": "trialbook.cartography._metrics",
}

__all__ = [
    "CLUSTERS_FILE",
    "DYNAMICS_FILE",
    "REGIONS",
    "DynamicsRecorder",
    "Selection",
    "TrialbookDynamicsCallback",
    "apply_strategies",
    "assign_regions",
    "cartography_metrics",
    "cluster_embeddings",
    "load_clusters",
    "load_metrics",
]

if TYPE_CHECKING:
    from trialbook.cartography._clusters import CLUSTERS_FILE, cluster_embeddings, load_clusters
    from trialbook.cartography._hf import TrialbookDynamicsCallback
    from trialbook.cartography._metrics import cartography_metrics, load_metrics
    from trialbook.cartography._recorder import DYNAMICS_FILE, DynamicsRecorder
    from trialbook.cartography._regions import REGIONS, assign_regions
    from trialbook.cartography._strategies import Selection, apply_strategies

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
