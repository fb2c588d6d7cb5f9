"""Fixtures of the hostile corpus: one small realistic workspace built once per session with
``trialbook.start_run``, and per case a fresh copy of it in the case's own folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_helpers import SCRIPTED, TRIALBOOK_ENV, Base, Case, cli, copy_workspace

import trialbook


def _samples(correct: list[bool]) -> list[dict[str, object]]:
    return [
        {"id": str(i), "prediction": "1" if ok else "0", "reference": "1", "correct": ok}
        for i, ok in enumerate(correct)
    ]


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Base]:
    root = tmp_path_factory.mktemp("hostile_base") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        for name in TRIALBOOK_ENV:
            mp.delenv(name, raising=False)
        common = {"root": root, "system_metrics": False, "capture_packages": False}
        ids: dict[str, str] = {}
        for name, seed, lr, correct in [
            ("alpha", 1, 0.001, [True, True, False, True, False, True]),
            ("beta", 2, 0.001, [True, False, False, True, False, False]),
            ("gamma", 3, 0.01, [True, True, True, True, False, True]),
        ]:
            config = {"lr": lr, "optimizer": "adam", "model": {"layers": 2}}
            with trialbook.start_run(
                "baseline" if lr < 0.01 else "tuned",
                config,
                seed=seed,
                name=name,
                tags=["sweep"],
                **common,
            ) as run:
                for step in range(5):
                    run.log({"loss": 1.0 / (step + 1), "acc": 0.5 + step / 10}, step=step)
                run.log_evaluation(
                    "gsm8k",
                    {
                        "metrics": {"accuracy": sum(correct) / 6},
                        "split": "test",
                        "samples": _samples(correct),
                    },
                )
                weights = run.checkpoint_dir / "model.pt"
                weights.write_bytes(b"\0" * 1024)
                run.log_checkpoint(weights, step=4)
                ids[name] = run.id
        # One run made by the runner, so that `reproduce` has something to reproduce.
        config = root.parent / "scripted.yaml"
        config.write_text(SCRIPTED, encoding="utf-8")
        outcome = cli(["run", config, "--root", root])
        assert outcome.exit_code == 0, outcome
        with trialbook.open_store(root) as db:
            ids["scripted"] = db.get_run("scripted").id
        yield Base(root, ids)


@pytest.fixture
def case(base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Case:
    for name in TRIALBOOK_ENV:
        monkeypatch.delenv(name, raising=False)
    # No case may reach the network: a model spec that slipped through must fail offline.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ws = tmp_path / "ws"
    copy_workspace(base.root, ws)
    monkeypatch.chdir(tmp_path)
    return Case(tmp_path, ws, base)
