"""Scoring saved GSM8K predictions: 10,000 predictions read from a JSONL file, matched to their
examples, extracted (strict and flexible), checked, partial accuracy and metrics computed.

    .venv/bin/python bench/eval_predictions.py              # 10,000 predictions, 5 repeats
    .venv/bin/python bench/eval_predictions.py -n 20000 --repeats 3
    .venv/bin/python bench/eval_predictions.py --json bench/results/eval_predictions.json

The examples are GSM8K's train and test problems (8,792), followed by test problems again
under new ids until there are N; each prediction is the example's gold solution, so every
metric must come out 1.0 (checked). Reported:

* **import**: ``from trialbook.evaluation import evaluate, PredictionsFile`` plus loading the
  benchmark classes, in this process (start-up, not part of the target).
* **first scoring**: the first ``evaluate(PredictionsFile(path), benchmark)``, which also
  parses the shipped dataset files.
* **scoring (median)**: the median of the repeats after it. Target: < 2 s for 10,000.
* **recording**: ``run.log_evaluation`` of the result (10,000 samples into the Store and
  ``evaluations/<benchmark>.jsonl``), for scale.

Nothing here is a test; no test asserts these times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def measure(n: int, repeats: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    from trialbook.evaluation import GSM8K, PredictionsFile, evaluate
    from trialbook.evaluation.benchmarks import gsm8k as gsm8k_module

    imported = time.perf_counter() - t0

    class ManyGSM8K(GSM8K):
        """Train + test, then test again with new ids, up to ``n`` examples."""

        name = "gsm8k_many"
        splits = ("all",)

        def load_dataset(
            self, split: str = "all", num_samples: int | None = None
        ) -> list[dict[str, Any]]:
            base = list(gsm8k_module._read_split("train")) + list(gsm8k_module._read_split("test"))
            test = gsm8k_module._read_split("test")
            rows = [dict(r, id=f"p{i}") for i, r in enumerate(base[:n])]
            while len(rows) < n:
                r = test[(len(rows) - len(base)) % len(test)]
                rows.append(dict(r, id=f"p{len(rows)}"))
            return rows if num_samples is None else rows[:num_samples]

    bench = ManyGSM8K()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for row in bench.load_dataset():
                f.write(json.dumps({"id": row["id"], "prediction": row["solution"]}) + "\n")
        gsm8k_module._read_split.cache_clear()  # the first scoring parses the data files

        times = []
        result = None
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            result = evaluate(PredictionsFile(path), bench, split="all", progress=False)
            times.append(time.perf_counter() - t0)
        assert result is not None
        assert result.n == n, result.n
        assert all(v == 1.0 for v in result.metrics.values()), result.metrics

        import trialbook

        with trialbook.start_run(
            "bench", {}, root=Path(tmp) / "ws", system_metrics=False, capture_packages=False
        ) as run:
            t0 = time.perf_counter()
            run.log_evaluation(bench.name, result)
            recorded = time.perf_counter() - t0
        size = path.stat().st_size
    return {
        "n": n,
        "repeats": repeats,
        "file_bytes": size,
        "import_s": imported,
        "first_scoring_s": times[0],
        "scoring_median_s": statistics.median(times[1:]),
        "scoring_all_s": times,
        "recording_s": recorded,
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="predictions (default 10000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats after the first")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    out = measure(args.n, args.repeats)
    print(f"predictions          {out['n']:,} ({out['file_bytes'] / 1e6:.1f} MB)")
    print(f"import               {out['import_s'] * 1000:.0f} ms")
    print(f"first scoring        {out['first_scoring_s']:.3f} s (parses the dataset files)")
    print(f"scoring (median)     {out['scoring_median_s']:.3f} s  (target < 2 s)")
    print(f"recording            {out['recording_s']:.3f} s (run.log_evaluation, for scale)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
