r"""Write a predictions JSONL for the shipped GSM8K test split from one of the example models.

Each line is ``{"id": ..., "prediction": ...}`` with the id the GSM8K benchmark uses (the
0-based line number in the split) and the model's raw output text. Score the file with::

    python examples/gsm8k/make_predictions.py --model oracle --num_samples 100 \
        --out experiments/oracle.jsonl
    trialbook evaluate gsm8k --predictions experiments/oracle.jsonl -n 100 --experiment baselines

The prompts are the benchmark's own (zero-shot), so the file scores as ``--model`` would.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `examples.gsm8k` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.gsm8k.models import calculator, oracle

from trialbook.evaluation import GSM8K

MODELS: dict[str, Callable[[Sequence[str]], list[str]]] = {
    "calculator": calculator,
    "oracle": lambda prompts: oracle().generate(prompts),
}


def write_predictions(
    model: Callable[[Sequence[str]], list[str]],
    out: Path,
    *,
    split: str = "test",
    num_samples: int | None = None,
) -> int:
    """Write ``model``'s outputs for the first ``num_samples`` examples; return how many."""
    bench = GSM8K()
    samples = bench.load_dataset(split, num_samples)
    prompts = [bench.format_prompt(s) for s in samples]
    outputs = model(prompts)
    lines = [
        json.dumps({"id": bench.sample_id(s, i), "prediction": text})
        for i, (s, text) in enumerate(zip(samples, outputs, strict=True))
    ]
    # Written whole, then renamed, so an interrupted run never leaves half a file.
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(out)
    return len(lines)


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="calculator")
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    parser.add_argument("--split", choices=GSM8K.splits, default="test")
    parser.add_argument("--num_samples", type=int, default=None, help="default: the whole split")
    args = parser.parse_args(argv)
    if args.num_samples is not None and args.num_samples < 1:
        parser.error(f"--num_samples {args.num_samples} must be at least 1, e.g. 100.")
    if not args.out.parent.is_dir():
        parser.error(f"--out {args.out}: folder {args.out.parent} does not exist; create it.")
    out: Path = args.out
    n = write_predictions(MODELS[args.model], out, split=args.split, num_samples=args.num_samples)
    print(f"wrote {n} predictions to {out}")
    return out


if __name__ == "__main__":
    main()
