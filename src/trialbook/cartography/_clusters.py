"""Cluster assignments for the cluster filter: HDBSCAN over example embeddings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook._atomic import atomic_write
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CLUSTERS_FILE", "cluster_embeddings", "load_clusters"]

CLUSTERS_FILE = "cluster_assignments.csv"


def cluster_embeddings(
    ids: Any,
    embeddings: Any,
    *,
    min_cluster_size: int = 5,
    path: str | os.PathLike[str] | None = None,
    **hdbscan_kwargs: Any,
) -> pd.DataFrame:
    """Cluster ``embeddings`` (one row per id) with scikit-learn's HDBSCAN.

    Returns ``id``, ``cluster`` (``-1`` is noise) and ``probability`` (HDBSCAN's
    ``probabilities_``: how strongly the example belongs to its cluster). With ``path`` (a
    folder or a ``.csv`` file) the table is also written as ``cluster_assignments.csv``.
    """
    import numpy as np
    import pandas as pd

    try:
        from sklearn.cluster import HDBSCAN  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(
            "cluster_embeddings needs scikit-learn >= 1.3; install it with "
            "pip install 'trialbook[cartography]'."
        ) from None
    id_list = [str(i) for i in ids]
    x = np.asarray(embeddings, dtype=float)
    if x.ndim != 2 or x.shape[0] != len(id_list):
        raise ConfigError(
            f"embeddings have shape {x.shape} but there are {len(id_list)} ids; pass one "
            "embedding row per id.",
            parameter="embeddings",
        )
    if isinstance(min_cluster_size, bool) or not isinstance(min_cluster_size, int):
        raise ConfigError(
            f"min_cluster_size is {min_cluster_size!r}; pass a whole number of at least 2.",
            parameter="min_cluster_size",
            value=min_cluster_size,
        )
    if not 2 <= min_cluster_size <= len(id_list):
        raise ConfigError(
            f"min_cluster_size {min_cluster_size} does not fit {len(id_list)} examples; "
            f"pass a value from 2 to {max(len(id_list), 2)}.",
            parameter="min_cluster_size",
            value=min_cluster_size,
        )
    import inspect

    if "copy" in inspect.signature(HDBSCAN).parameters:
        # sklearn >= 1.5 warns that its default changes; copying leaves the caller's array alone
        hdbscan_kwargs.setdefault("copy", True)
    model = HDBSCAN(min_cluster_size=min_cluster_size, **hdbscan_kwargs).fit(x)
    table: pd.DataFrame = pd.DataFrame(
        {"id": id_list, "cluster": model.labels_.astype(int), "probability": model.probabilities_}
    )
    if path is not None:
        target = Path(path)
        target = target if target.suffix == ".csv" else target / CLUSTERS_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, table.to_csv(index=False))
    return table


def load_clusters(path: str | os.PathLike[str] | None) -> pd.DataFrame:
    """Read cluster assignments (a ``.csv`` with id, cluster, probability, or the folder
    holding ``cluster_assignments.csv``); missing ones are a "Cluster assignments not found"
    error naming the call that computes them."""
    import pandas as pd

    p = Path(path) if path else None
    if p is not None and p.is_dir():
        p = p / CLUSTERS_FILE
    if p is None or not p.is_file():
        raise ConfigError(
            f"Cluster assignments not found in {path}; compute them first: "
            "trialbook.cartography.cluster_embeddings(ids, embeddings, "
            f"path='{path}')."
        )
    table: pd.DataFrame = pd.read_csv(p, dtype={"id": str})
    missing = {"id", "cluster"} - set(table.columns)
    if missing:
        raise ConfigError(
            f"{p} has no {sorted(missing)[0]!r} column; write it with "
            "trialbook.cartography.cluster_embeddings(..., path=...)."
        )
    return table
