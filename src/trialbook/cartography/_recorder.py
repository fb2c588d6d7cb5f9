"""Record per-example training dynamics from any training loop."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook._atomic import atomic_write
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.tracking._run import Run

__all__ = ["DYNAMICS_FILE", "DynamicsRecorder"]

# Same name the reports look for (trialbook.reporting.DYNAMICS_FILE), so `trialbook report`
# draws the data map of a run that used the recorder.
DYNAMICS_FILE = "training_dynamics.jsonl"


def _as_list(values: Any, what: str) -> list[Any]:
    """A plain list from a list, tuple, NumPy array or torch tensor (detached, on the CPU)."""
    if hasattr(values, "detach"):  # torch tensor: no torch import needed
        values = values.detach().cpu().numpy()
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigError(
            f"{what} must be a sequence (list, NumPy array or tensor), not {values!r}; pass one "
            "value per example of the batch."
        )
    return list(values)


class DynamicsRecorder:
    """Collects, per training example, the gold-label probability at each epoch.

    Call :meth:`record` once per batch (or once per epoch with every example) after the
    epoch's training, then :meth:`save`. With a ``run`` the file goes into the run folder as
    ``training_dynamics.jsonl`` and is logged as an artifact, so ``trialbook report`` draws the
    data map; with ``path`` it goes there (a folder or a ``.jsonl`` file).
    """

    def __init__(self, run: Run | None = None, path: str | os.PathLike[str] | None = None):
        self.run = run
        self.path = Path(path) if path is not None else None
        # id -> epoch -> (gold probability, correct or None)
        self._data: dict[str, dict[int, tuple[float, bool | None]]] = {}

    # ------------------------------------------------------------------ recording
    def record(self, epoch: int, ids: Any, gold_probs: Any, correct: Any = None) -> None:
        """Record one batch: ``ids``, ``gold_probs`` (probability of the gold label) and,
        optionally, ``correct`` (whether the model predicted the gold label) per example."""
        id_list = [str(i) for i in _as_list(ids, "ids")]
        probs = [float(p) for p in _as_list(gold_probs, "gold_probs")]
        flags = None if correct is None else [bool(c) for c in _as_list(correct, "correct")]
        if len(probs) != len(id_list) or (flags is not None and len(flags) != len(id_list)):
            raise ConfigError(
                f"record() got {len(id_list)} ids but {len(probs)} gold_probs"
                + ("" if flags is None else f" and {len(flags)} correct flags")
                + "; pass one value per example of the batch."
            )
        for i, p in zip(id_list, probs, strict=True):
            if not 0.0 <= p <= 1.0:
                raise ConfigError(
                    f"gold_prob {p} for example {i!r} is not a probability; pass the softmax "
                    "probability of the gold label, not a logit."
                )
        seen: set[str] = set()
        for i in id_list:  # checked before anything is stored: a bad batch records nothing
            if i in seen or int(epoch) in self._data.get(i, {}):
                raise ConfigError(
                    f"Example {i!r} was already recorded for epoch {epoch}; record each example "
                    "once per epoch (ids must be unique)."
                )
            seen.add(i)
        for n, (i, p) in enumerate(zip(id_list, probs, strict=True)):
            self._data.setdefault(i, {})[int(epoch)] = (p, None if flags is None else flags[n])

    @property
    def ids(self) -> list[str]:
        """Recorded example ids, in first-recorded order."""
        return list(self._data)

    @property
    def epochs(self) -> list[int]:
        """Every epoch recorded for any example, sorted."""
        return sorted({e for per in self._data.values() for e in per})

    def rows(self) -> list[dict[str, Any]]:
        """One ``{"id", "gold_prob", "correct"}`` dict per example, epochs in order.

        Every example must have been recorded at every epoch: a gap would silently shift the
        epochs of its probabilities, so it is an error naming the example and the epoch.
        """
        epochs = self.epochs
        out: list[dict[str, Any]] = []
        for i, per in self._data.items():
            missing = [e for e in epochs if e not in per]
            if missing:
                raise ConfigError(
                    f"Example {i!r} has no record for epoch {missing[0]}; record every training "
                    "example at every epoch (evaluate the whole train set, not a sample)."
                )
            probs = [per[e][0] for e in epochs]
            correct = [per[e][1] if per[e][1] is not None else per[e][0] > 0.5 for e in epochs]
            out.append({"id": i, "gold_prob": probs, "correct": correct})
        return out

    # ------------------------------------------------------------------ files
    def _target(self, path: str | os.PathLike[str] | None) -> Path:
        if path is not None:
            target = Path(path)
        elif self.path is not None:
            target = self.path
        elif self.run is not None:
            target = self.run.path
        else:
            raise ConfigError(
                "DynamicsRecorder.save() needs a place to write; pass save(path) or create the "
                "recorder with run= or path=."
            )
        return target if target.suffix == ".jsonl" else target / DYNAMICS_FILE

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write ``training_dynamics.jsonl`` (written whole or not at all) and return its path;
        with a run, also log it as an artifact of kind ``training_dynamics``."""
        if not self._data:
            raise ConfigError(
                "DynamicsRecorder has nothing to save; call record(epoch, ids, gold_probs) "
                "after each epoch first."
            )
        target = self._target(path)
        text = "".join(json.dumps(row) + "\n" for row in self.rows())
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, text)
        if self.run is not None:
            self.run.log_artifact(target, kind="training_dynamics")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DynamicsRecorder:
        """Read a ``training_dynamics.jsonl`` (or the folder holding one) back; epochs are
        numbered from 0 in file order. A bad line is a ConfigError naming its number."""
        from trialbook.reporting._plots import load_training_dynamics

        p = Path(path)
        if p.is_dir():
            p = p / DYNAMICS_FILE
        if not p.is_file():
            raise ConfigError(
                f"Training dynamics not found at {p}; record them first with "
                "trialbook.cartography.DynamicsRecorder (record() each epoch, then save())."
            )
        load_training_dynamics(p)  # validates every line with the reports' own reader
        recorder = cls(path=p)
        with open(p, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                probs = [float(v) for v in row["gold_prob"]]
                flags = row.get("correct") or [v > 0.5 for v in probs]
                if len(flags) != len(probs):
                    raise ConfigError(
                        f"Line {number} of {p} has {len(probs)} gold_prob values but "
                        f"{len(flags)} correct flags; write one of each per epoch."
                    )
                recorder._data[str(row["id"])] = {
                    e: (v, bool(c)) for e, (v, c) in enumerate(zip(probs, flags, strict=False))
                }
        return recorder
