"""Fixtures for the CLI tests: one small workspace of known runs, built once, and a runner."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from cli_helpers import Cli, Runs

import trialbook

_ENV = ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_SYSTEM_METRICS")


def _samples(n: int) -> list[dict[str, object]]:
    return [
        {"id": str(i), "prediction": str(i), "reference": "1", "correct": i == 1}
        for i in range(1, n + 1)
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module whose ``WS_STORES`` names ``"postgresql"`` too runs its tests of ``ws`` on a
    PostgreSQL-indexed workspace as well (the others, and their ids, stay SQLite only)."""
    stores = getattr(metafunc.module, "WS_STORES", None)
    if stores is not None and "ws" in metafunc.fixturenames:
        metafunc.parametrize("ws", stores, indirect=True, scope="session")


@pytest.fixture(scope="session")
def ws(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """The workspace, with its own SQLite index, or indexed in a PostgreSQL database (which
    ``cli`` then names with ``--store`` beside ``--root``) for a module that asks through
    ``WS_STORES``."""
    root = tmp_path_factory.mktemp("cli") / "experiments"
    store_url = None
    if getattr(request, "param", "sqlite") == "postgresql":
        from trialbook.testing.stores import new_postgres_database

        store_url = new_postgres_database(request.getfixturevalue("postgres_server"))
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENV:
            mp.delenv(name, raising=False)
        common = {
            "root": root,
            "store_url": store_url,
            "system_metrics": False,
            "capture_packages": False,
        }

        data = root.parent / "train.jsonl"
        data.write_text('{"x": 1}\n{"x": 2}\n{"x": 3}\n', encoding="utf-8")
        config = {"lr": 0.001, "optimizer": "adam", "model": {"layers": 2}}
        with trialbook.start_run(
            "baseline", config, seed=1, name="alpha", tags=["sweep"], **common
        ) as run:
            for step, (loss, acc) in enumerate([(1.0, 0.5), (0.5, 0.7), (0.3, 0.9)]):
                run.log({"loss": loss, "acc": acc}, step=step)
            run.log_evaluation(
                "gsm8k", {"metrics": {"accuracy": 0.75}, "split": "test", "samples": _samples(2)}
            )
            weights = run.checkpoint_dir / "model.pt"
            weights.write_bytes(b"\0" * 2048)
            run.log_checkpoint(weights, step=2)
            plot = root.parent / "curve.png"
            plot.write_bytes(b"png")
            run.log_artifact(plot, kind="plot")
            run.log_dataset(data, "train")
            run.log_params({"batch": 32})
            a_id = run.id

        config = {"lr": 0.01, "optimizer": "sgd", "model": {"layers": 2}}
        tags = ["sweep", "best"]
        with trialbook.start_run(
            "baseline", config, seed=2, name="beta", tags=tags, **common
        ) as run:
            for step, (loss, acc) in enumerate([(0.8, 0.6), (0.4, 0.8), (0.2, 0.95)]):
                run.log({"loss": loss, "acc": acc}, step=step)
            run.log_evaluation("gsm8k", {"metrics": {"accuracy": 0.5}, "samples": _samples(2)})
            b_id = run.id

        config = {"lr": 0.1, "optimizer": "adam", "model": {"layers": 4}}
        try:
            with trialbook.start_run("ablation", config, seed=3, name="gamma", **common) as run:
                for step, loss in enumerate([2.0, math.nan, math.inf]):
                    run.log({"loss": loss}, step=step)
                c_id = run.id
                raise RuntimeError("diverged")
        except RuntimeError:
            pass

        with trialbook.open_store(root, store_url) as db:
            yield Runs(root, db.get_run(a_id), db.get_run(b_id), db.get_run(c_id), store_url)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli(request: pytest.FixtureRequest) -> Cli:
    """The CLI; in a test of the PostgreSQL ``ws``, ``--root <ws.root>`` also names its store
    with ``--store URL``, as a team member types it."""
    if "ws" in request.fixturenames:
        runs = request.getfixturevalue("ws")
        if isinstance(runs, Runs) and runs.store_url is not None:
            return Cli({runs.root: runs.store_url})
    return Cli()
