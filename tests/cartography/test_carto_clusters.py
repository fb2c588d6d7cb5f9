"""HDBSCAN cluster assignments: shape, probabilities, the file and its failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialbook.cartography import CLUSTERS_FILE, cluster_embeddings, load_clusters
from trialbook.errors import ConfigError


def test_two_blobs_and_an_outlier(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    emb = np.vstack([rng.normal(0, 0.1, (20, 3)), rng.normal(5, 0.1, (20, 3)), [[40, -40, 40]]])
    ids = [f"q{i}" for i in range(41)]
    table = cluster_embeddings(ids, emb, min_cluster_size=5, path=tmp_path)
    assert list(table.columns) == ["id", "cluster", "probability"]
    assert table["cluster"].iloc[:20].nunique() == 1 and table["cluster"].iloc[20:40].nunique() == 1
    assert table["cluster"].iloc[0] != table["cluster"].iloc[20]
    assert table["cluster"].iloc[40] == -1 and table["probability"].iloc[40] == 0
    assert table["probability"].between(0, 1).all()
    loaded = load_clusters(tmp_path)
    assert (tmp_path / CLUSTERS_FILE).is_file()
    assert loaded["id"].tolist() == ids and loaded["cluster"].tolist() == table["cluster"].tolist()


def test_failures_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"embeddings have shape \(2, 3\) but there are 3 ids"):
        cluster_embeddings(["a", "b", "c"], np.zeros((2, 3)))
    with pytest.raises(ConfigError, match=r"min_cluster_size 4 does not fit 3 examples; .* 2 to 3"):
        cluster_embeddings(["a", "b", "c"], np.zeros((3, 2)), min_cluster_size=4, path=tmp_path)
    with pytest.raises(ConfigError, match=r"min_cluster_size 1 does not fit"):
        cluster_embeddings(["a", "b", "c"], np.zeros((3, 2)), min_cluster_size=1)
    with pytest.raises(ConfigError, match=r"min_cluster_size is 2\.5; pass a whole number"):
        cluster_embeddings(["a", "b", "c"], np.zeros((3, 2)), min_cluster_size=2.5)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    bad = tmp_path / "c.csv"
    bad.write_text("id,probability\na,1\n")
    with pytest.raises(ConfigError, match="has no 'cluster' column"):
        load_clusters(bad)
    with pytest.raises(ConfigError, match="Cluster assignments not found in None"):
        load_clusters(None)
