"""Seed 003's datasets, generated from ``data.seed`` alone and written as JSONL.

Arithmetic (``task: arithmetic``): expressions such as ``12+7*3`` with the usual precedence.

* ``train`` and ``test_id``: 1 to ``max_ops`` operations on integers in ``id_range``;
* ``test_ood_magnitude``: the same shapes on integers in ``ood_magnitude_range``;
* ``test_ood_length``: ``ood_max_ops`` to ``ood_max_ops + 2`` operations on ``id_range``.

Units (``task: units``): ``convert 347.5 km to m`` -> ``347500 m`` within one of
``unit_types``, and (``include_can_add``) ``can_add 3 m + 5 kg`` -> ``no``.

* ``train``, ``test_id``: values in ``value_range``, unit pairs of the training set;
* ``test_ood_magnitude``: values in ``ood_magnitude_range``, training pairs;
* ``test_ood_types``: training magnitudes, but unit combinations never seen in training
  (:func:`held_out_pairs`): every unit is known, the pairing is new.

No target is 0 (relative error is undefined there): such draws are drawn again. ``test_id``
holds no input of ``train``. Files are written atomically (a temporary file, then
``os.replace``) with ``manifest.json`` last, so two runs generating the same data at the same
moment never leave a half-written file, and a folder holding data of other settings is refused
instead of silently reused.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from examples.arithmetic.config import ArithmeticConfig, data_folder_problem, data_manifest

from trialbook import ConfigError

ARITHMETIC_SPLITS = ("train", "test_id", "test_ood_magnitude", "test_ood_length")
UNITS_SPLITS = ("train", "test_id", "test_ood_magnitude", "test_ood_types")

# unit: (dimension, factor to the base unit, offset): base = (x + offset) * factor
UNITS: dict[str, tuple[str, float, float]] = {
    "m": ("length", 1.0, 0.0),
    "cm": ("length", 0.01, 0.0),
    "mm": ("length", 0.001, 0.0),
    "km": ("length", 1000.0, 0.0),
    "in": ("length", 0.0254, 0.0),
    "ft": ("length", 0.3048, 0.0),
    "g": ("mass", 0.001, 0.0),
    "kg": ("mass", 1.0, 0.0),
    "mg": ("mass", 1e-6, 0.0),
    "lb": ("mass", 0.45359237, 0.0),
    "s": ("time", 1.0, 0.0),
    "ms": ("time", 0.001, 0.0),
    "min": ("time", 60.0, 0.0),
    "h": ("time", 3600.0, 0.0),
    "degC": ("temperature", 1.0, 273.15),
    "degF": ("temperature", 5.0 / 9.0, 459.67),
    "K": ("temperature", 1.0, 0.0),
    "m/s": ("velocity", 1.0, 0.0),
    "km/h": ("velocity", 1.0 / 3.6, 0.0),
    "ft/s": ("velocity", 0.3048, 0.0),
}
UNIT_NAMES = tuple(UNITS)


def splits_of(task: str) -> tuple[str, ...]:
    return ARITHMETIC_SPLITS if task == "arithmetic" else UNITS_SPLITS


def format_number(value: float) -> str:
    """Six significant digits, without an exponent up to 10 digits: ``347500``, ``0.0254``."""
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.6g}")
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return f"{rounded:.10g}"


def evaluate_expression(numbers: list[int], ops: list[str]) -> Fraction:
    """The value of ``n0 op0 n1 op1 ...`` with * and / before + and -, computed exactly."""
    total, sign, term = Fraction(0), 1, Fraction(numbers[0])
    for op, n in zip(ops, numbers[1:], strict=True):
        if op == "*":
            term *= n
        elif op == "/":
            term /= n
        else:
            total += sign * term
            sign, term = (1 if op == "+" else -1), Fraction(n)
    return total + sign * term


def _expression(
    rng: np.random.Generator, low: float, high: float, n_ops: int, operations: list[str]
) -> tuple[list[int], list[str]]:
    ops = [operations[int(rng.integers(len(operations)))] for _ in range(n_ops)]
    numbers = [int(rng.integers(int(low), int(high) + 1)) for _ in range(n_ops + 1)]
    for i, op in enumerate(ops):
        if op == "/" and numbers[i + 1] == 0:
            numbers[i + 1] = max(1, int(low))
    return numbers, ops


def _arithmetic_split(
    rng: np.random.Generator,
    name: str,
    n: int,
    value_range: tuple[float, float],
    op_range: tuple[int, int],
    operations: list[str],
    exclude: set[str],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen = set(exclude)
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 200 * n + 1000:
            raise ConfigError(
                f"Could not draw {n} distinct {name} expressions from the data ranges; "
                "widen data.id_range or lower data.train_size / data.test_size."
            )
        n_ops = int(rng.integers(op_range[0], op_range[1] + 1))
        numbers, ops = _expression(rng, value_range[0], value_range[1], n_ops, operations)
        text = str(numbers[0]) + "".join(f"{op}{x}" for op, x in zip(ops, numbers[1:], strict=True))
        value = evaluate_expression(numbers, ops)
        if value == 0 or text in seen:
            continue
        seen.add(text)
        target = str(value.numerator) if value.denominator == 1 else format_number(float(value))
        rows.append(
            {
                "id": f"{name}-{len(rows):05d}",
                "kind": "arith",
                "input": text,
                "target": target,
                "value": float(value),
                "ops": n_ops,
            }
        )
    return rows


def generate_arithmetic(config: ArithmeticConfig) -> dict[str, list[dict[str, Any]]]:
    """The four arithmetic splits: rows with ``id``, ``input``, ``target``, ``value``, ``ops``."""
    d = config.data
    rng = np.random.default_rng(d.seed)
    train = _arithmetic_split(
        rng, "train", d.train_size, d.id_range, (1, d.max_ops), d.operations, set()
    )
    seen = {r["input"] for r in train}
    return {
        "train": train,
        "test_id": _arithmetic_split(
            rng, "test_id", d.test_size, d.id_range, (1, d.max_ops), d.operations, seen
        ),
        "test_ood_magnitude": _arithmetic_split(
            rng,
            "test_ood_magnitude",
            d.test_size,
            d.ood_magnitude_range,
            (1, d.max_ops),
            d.operations,
            set(),
        ),
        "test_ood_length": _arithmetic_split(
            rng,
            "test_ood_length",
            d.test_size,
            d.id_range,
            (d.ood_max_ops, d.ood_max_ops + 2),
            d.operations,
            set(),
        ),
    }


def held_out_pairs(unit_types: list[str]) -> set[tuple[str, str]]:
    """Unit combinations kept out of training (both orders): in each dimension its first and
    last unit; across neighbouring dimensions, the first unit of one and the last of the next."""
    by_type = [[u for u, (t, _, _) in UNITS.items() if t == kind] for kind in unit_types]
    pairs: set[tuple[str, str]] = set()
    for units in by_type:
        pairs |= {(units[0], units[-1]), (units[-1], units[0])}
    for first, second in itertools.pairwise(by_type):
        pairs |= {(first[0], second[-1]), (second[-1], first[0])}
    return pairs


def convert(value: float, source: str, target: str) -> float:
    _, f1, o1 = UNITS[source]
    _, f2, o2 = UNITS[target]
    return (value + o1) * f1 / f2 - o2


def _units_split(
    rng: np.random.Generator,
    name: str,
    n: int,
    value_range: tuple[float, float],
    unit_types: list[str],
    include_can_add: bool,
    held_out: set[tuple[str, str]],
    novel: bool,
) -> list[dict[str, Any]]:
    units = [u for u, (t, _, _) in UNITS.items() if t in unit_types]
    every = [(a, b) for a in units for b in units if a != b]
    pairs = [p for p in every if (p in held_out) == novel]
    same = [p for p in pairs if UNITS[p[0]][0] == UNITS[p[1]][0]]
    rows: list[dict[str, Any]] = []
    big = value_range[0] >= 1e5
    while len(rows) < n:
        value = float(rng.uniform(value_range[0], value_range[1]))
        value = round(value) if big else round(value, 1)
        text_value = format_number(value)
        if include_can_add and pairs and rng.random() < 0.3:
            # Half the checks are pairs of one dimension (yes), half of two (no).
            cross = [p for p in pairs if p not in same]
            pool = same if (rng.random() < 0.5 and same) or not cross else cross
            a, b = pool[int(rng.integers(len(pool)))]
            other = format_number(round(float(rng.uniform(1, 100)), 1))
            label = UNITS[a][0] == UNITS[b][0]
            rows.append(
                {
                    "id": f"{name}-{len(rows):05d}",
                    "kind": "can_add",
                    "input": f"can_add {text_value} {a} + {other} {b}",
                    "target": "yes" if label else "no",
                    "label": label,
                    "pair": [a, b],
                }
            )
            continue
        if not same:
            continue
        a, b = same[int(rng.integers(len(same)))]
        result = convert(float(text_value), a, b)
        if abs(float(format_number(result))) < 1e-9:
            continue  # relative error is undefined for a zero target
        rows.append(
            {
                "id": f"{name}-{len(rows):05d}",
                "kind": "convert",
                "input": f"convert {text_value} {a} to {b}",
                "target": f"{format_number(result)} {b}",
                "value": float(format_number(result)),
                "unit": b,
                "dimension": UNITS[b][0],
                "pair": [a, b],
            }
        )
    return rows


def generate_units(config: ArithmeticConfig) -> dict[str, list[dict[str, Any]]]:
    """The four units splits: conversions (``value``, ``unit``) and can_add checks (``label``)."""
    d = config.data
    rng = np.random.default_rng(d.seed)
    held = held_out_pairs(d.unit_types)
    args = (d.unit_types, d.include_can_add, held)
    return {
        "train": _units_split(rng, "train", d.train_size, d.value_range, *args, novel=False),
        "test_id": _units_split(rng, "test_id", d.test_size, d.value_range, *args, novel=False),
        "test_ood_magnitude": _units_split(
            rng, "test_ood_magnitude", d.test_size, d.ood_magnitude_range, *args, novel=False
        ),
        "test_ood_types": _units_split(
            rng, "test_ood_types", d.test_size, d.value_range, *args, novel=True
        ),
    }


def generate(config: ArithmeticConfig) -> dict[str, list[dict[str, Any]]]:
    return generate_arithmetic(config) if config.task == "arithmetic" else generate_units(config)


def _atomic_write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def data_dir(config: ArithmeticConfig) -> Path:
    return Path(config.paths.data_dir)


def write_data(config: ArithmeticConfig, splits: dict[str, list[dict[str, Any]]]) -> Path:
    """Write ``<split>.jsonl`` files and then ``manifest.json`` into ``paths.data_dir``."""
    folder = data_dir(config)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"Cannot create paths.data_dir {str(folder)!r} ({e.strerror}); set paths.data_dir "
            "to a folder you can write."
        ) from e
    for name, rows in splits.items():
        _atomic_write(folder / f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    manifest = {
        **data_manifest(config.task, config.data),
        "splits": {k: len(v) for k, v in splits.items()},
    }
    _atomic_write(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return folder


def read_split(folder: Path, name: str) -> list[dict[str, Any]]:
    with (folder / f"{name}.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def ensure_data(config: ArithmeticConfig) -> dict[str, list[dict[str, Any]]]:
    """The splits of ``paths.data_dir``, generated first when the folder holds none.

    Raises ConfigError when the folder holds data generated with other settings: reusing them
    would train on the wrong data, overwriting them could break another experiment's runs.
    """
    folder = data_dir(config)
    problem = data_folder_problem(config.task, config.data, folder)
    if problem:
        raise ConfigError(problem + ".")
    if (folder / "manifest.json").is_file():
        return {name: read_split(folder, name) for name in splits_of(config.task)}
    splits = generate(config)
    write_data(config, splits)
    return splits


def generate_data(config: ArithmeticConfig, run: Any) -> dict[str, float]:
    """Seed 003's ``generate_data.py`` as an entrypoint: the splits of ``paths.data_dir``
    (generated when missing, checked against the config when present), logged as datasets."""
    splits = ensure_data(config)
    folder = data_dir(config)
    for name in splits:
        run.log_dataset(folder / f"{name}.jsonl", name=f"{config.task}/{name}")
    return {f"{name}_size": float(len(rows)) for name, rows in splits.items()}
