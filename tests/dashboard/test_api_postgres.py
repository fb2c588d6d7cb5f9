"""The dashboard over a workspace whose index is a real PostgreSQL server: every page and
every read endpoint answers, with the same numbers as over SQLite.

Uses the session's throwaway server (``postgres_server`` in tests/conftest.py); without PostgreSQL's
programs or psycopg the test is skipped with the reason, except under CI=true, where it fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.testing.stores import (
    new_postgres_database,
)


@pytest.fixture(scope="module")
def store_url(postgres_server: str) -> str:
    return new_postgres_database(postgres_server)


def _workspace(root: Path, store_url: str) -> list[str]:
    ids = []
    for seed in (1, 2, 3):
        for lr in (0.1, 0.01):
            with trialbook.start_run(
                "exp", {"lr": lr, "seed": seed}, root=root, store_url=store_url, tags=["t"]
            ) as run:
                for i in range(3000):
                    run.log({"loss": 1 / (i + 1) + lr, "acc": i / 3000}, step=i)
                samples = [
                    {"id": str(k), "prediction": "a", "reference": "ab"[k % 2 == 0],
                     "correct": k % 2 == 1}
                    for k in range(20)
                ]  # fmt: skip
                run.log_evaluation("bench", {"metrics": {"accuracy": 0.5 + lr}, "samples": samples})
            ids.append(run.id)
    return ids


def test_every_page_and_read_endpoint_answers_over_postgresql(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from trialbook.dashboard import create_app

    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    ids = _workspace(tmp_path, store_url)
    a, b = ids[0], ids[1]
    client = TestClient(create_app(tmp_path, store_url), base_url="http://127.0.0.1")
    paths = [
        "/api/runs?sort=loss&limit=5", "/api/runs?where=params.lr=0.1&q=ex*", "/api/facets",
        "/api/columns", "/api/groups?metric=metrics.loss", "/api/leaderboard", "/api/changes",
        f"/api/runs/{a}", f"/api/runs/{a}/metrics", f"/api/runs/{a}/samples?filter=wrong",
        f"/api/runs/{a}/history?key=loss&x=relative&after_step=2000", f"/api/runs/{a}/logs",
        f"/api/runs/{a}/config-diff?other={b}", f"/api/compare?runs={a}&runs={b}",
        f"/api/compare/history?runs={a}&runs={b}&key=loss", "/", f"/runs/{a}", "/compare",
        "/leaderboard",
    ]  # fmt: skip
    answers = {path: client.get(path) for path in paths}
    assert {p: r.status_code for p, r in answers.items() if r.status_code != 200} == {}

    page: dict[str, Any] = answers["/api/runs?sort=loss&limit=5"].json()
    assert page["total"] == 6 and len(page["runs"]) == 5
    losses = [r["values"]["metrics.loss"] for r in page["runs"]]
    assert losses == sorted(losses) and losses[0] == pytest.approx(1 / 3000 + 0.01)
    assert answers["/api/runs?where=params.lr=0.1&q=ex*"].json()["total"] == 3
    groups = answers["/api/groups?metric=metrics.loss"].json()["groups"]
    assert sorted(g["n"] for g in groups) == [3, 3]
    curve = client.get(f"/api/runs/{a}/history?key=loss&points=100").json()
    assert curve["total"] == 3000 and curve["sampled"] and len(curve["x"]) <= 100
    assert max(v for v in curve["y_max"] if v is not None) == pytest.approx(1 + 0.1)
    newer = answers[f"/api/runs/{a}/history?key=loss&x=relative&after_step=2000"].json()
    assert newer["total"] == 999
    wrong = answers[f"/api/runs/{a}/samples?filter=wrong"].json()
    assert wrong["total"] == 10 and all(row["correct"] is False for row in wrong["rows"])
    verdict = answers[f"/api/compare?runs={a}&runs={b}"].json()["verdict"]
    assert verdict is not None and verdict["text"]
