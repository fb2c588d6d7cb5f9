"""The cluster step: HDBSCAN over the sentence embeddings the cartography step saved.

    python -m examples.cartography.clusters experiments/cartography_output/clinc150

reads ``embeddings.npz`` (one row per training example: the model's averaged word and bigram
embedding) from that folder, scales each row to unit length (cosine geometry), reduces it to
``--components`` dimensions with PCA (HDBSCAN's density estimates degrade in high dimensions),
clusters it with
``trialbook.cartography.cluster_embeddings`` and writes ``cluster_assignments.csv`` beside it,
which ``training.cluster_filter.cluster_assignments_path`` names. Exit status 2 with one
sentence when the embeddings are missing.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

DEFAULT_FOLDER = "experiments/cartography_output/clinc150"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.cartography.clusters", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "folder",
        nargs="?",
        default=DEFAULT_FOLDER,
        help=f"the cartography output (default {DEFAULT_FOLDER})",
    )
    parser.add_argument("--components", type=int, default=30, help="PCA dimensions (default 30)")
    parser.add_argument("--min-cluster-size", type=int, default=10, help="HDBSCAN's (default 10)")
    options = parser.parse_args(argv)

    import numpy as np
    from examples.cartography.train import EMBEDDINGS_FILE

    from trialbook.cartography import CLUSTERS_FILE, cluster_embeddings
    from trialbook.errors import TrialbookError

    folder = Path(options.folder)
    source = folder / EMBEDDINGS_FILE
    if not source.is_file():
        print(
            f"error: No sentence embeddings at {source}; run the cartography step first: "
            "`trialbook run examples/cartography/cartography.yaml --suite clean"
            + (
                ""
                if folder.as_posix() == DEFAULT_FOLDER
                else f" cartography.output_dir={shlex.quote(folder.as_posix())}"
            )
            + "`.",
            file=sys.stderr,
        )
        return 2
    if options.components < 1 or options.min_cluster_size < 2:
        print(
            "error: --components must be at least 1 and --min-cluster-size at least 2; "
            f"got {options.components} and {options.min_cluster_size}.",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    stored = np.load(source)
    ids, x = stored["ids"].tolist(), stored["embeddings"].astype(float)
    if options.min_cluster_size > len(ids):
        # HDBSCAN would raise a ValueError traceback for this.
        print(
            f"error: --min-cluster-size {options.min_cluster_size} is more than the "
            f"{len(ids)} examples in {source}; use at most {len(ids)}.",
            file=sys.stderr,
        )
        return 2
    # Unit length first: on the raw vectors HDBSCAN found 2 clusters, on unit vectors about
    # one per intent (139 clusters of 96% majority-intent purity on the full data).
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    x = x - x.mean(axis=0)
    # PCA by SVD: the directions of largest variance, so distances keep most of the structure
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    reduced = x @ vt[: min(options.components, vt.shape[0])].T
    try:
        table = cluster_embeddings(
            ids, reduced, min_cluster_size=options.min_cluster_size, path=folder
        )
    except TrialbookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    clusters = table["cluster"]
    print(
        f"{len(table)} examples: {clusters[clusters >= 0].nunique()} clusters, "
        f"{int((clusters == -1).sum())} noise (cluster -1); wrote {folder / CLUSTERS_FILE} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
