"""``trialbook stats``: how much the workspace's Store holds."""

from __future__ import annotations

import typer

from trialbook.cli._options import JsonOption, RootOption, StoreOption, open_store
from trialbook.cli._output import STATUS_STYLES, Cell, Column, Output, Styled, fmt_bytes, print_json

__all__ = ["stats"]


def stats(
    ctx: typer.Context,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Count runs, metric points, evaluations and samples in the store."""
    from trialbook.store import RUN_STATUSES

    with open_store(ctx, root, store) as db:
        db.reap_dead_runs(force=True)  # so that "running" means running
        st = db.stats()
    # Statuses in lifecycle order, then any this trialbook does not know.
    by_status: dict[str, int] = {
        s: st.runs_by_status[s] for s in RUN_STATUSES if st.runs_by_status.get(s)
    }
    by_status.update({s: n for s, n in st.runs_by_status.items() if s not in by_status})
    total = sum(by_status.values())
    from trialbook.store import safe_url

    url = safe_url(st.url)
    if as_json:
        print_json(
            {
                "runs": total,
                "runs_by_status": by_status,
                "runs_by_experiment": dict(st.runs_by_experiment),
                "metric_points": st.metric_points,
                "evaluations": st.evaluations,
                "samples": st.samples,
                "database_bytes": st.database_bytes,
                "store_url": url,
            }
        )
        return
    out = Output()
    out.heading("store")
    out.fields(
        [
            ("url", url),
            ("size", fmt_bytes(st.database_bytes)),
            ("runs", str(total)),
            ("experiments", str(len(st.runs_by_experiment))),
            ("metric points", f"{st.metric_points:,}"),
            ("evaluations", f"{st.evaluations:,}"),
            ("samples", f"{st.samples:,}"),
        ],
        indent=2,
    )
    if by_status:
        out.heading("runs by status")
        rows: list[list[Cell]] = [
            [Styled(s, STATUS_STYLES.get(s)), str(n)] for s, n in by_status.items()
        ]
        out.table([Column("status"), Column("runs", "right")], rows, indent=2)
    if st.runs_by_experiment:
        out.heading("runs by experiment")
        out.table(
            [Column("experiment"), Column("runs", "right")],
            [[name, str(n)] for name, n in st.runs_by_experiment.items()],
            indent=2,
        )
