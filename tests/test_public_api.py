"""The public surface: complete, sorted, importable, and lazy."""

from __future__ import annotations

import subprocess
import sys

import pytest

import trialbook
import trialbook.analysis
import trialbook.cartography
import trialbook.config
import trialbook.evaluation
import trialbook.evaluation.metrics
import trialbook.evaluation.models
import trialbook.execution
import trialbook.reporting
import trialbook.store
import trialbook.tracking

PACKAGES = [
    trialbook,
    trialbook.analysis,
    trialbook.cartography,
    trialbook.config,
    trialbook.evaluation,
    trialbook.evaluation.metrics,
    trialbook.evaluation.models,
    trialbook.execution,
    trialbook.reporting,
    trialbook.store,
    trialbook.tracking,
]


@pytest.mark.parametrize("module", PACKAGES, ids=lambda m: m.__name__)
def test_all_is_sorted_and_resolvable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]

    # ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical.
    def isort_key(n: str) -> tuple[int, str]:
        return (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)

    assert list(names) == sorted(names, key=isort_key), f"{module} __all__ is not sorted"
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(module, name) is not None, name


def test_lazy_names_match_all() -> None:
    assert set(trialbook._LAZY) | {"__version__"} == set(trialbook.__all__)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        trialbook.no_such_thing  # noqa: B018


def test_import_trialbook_loads_no_heavy_dependency() -> None:
    # `import trialbook` must stay fast: the database, CLI and YAML stacks load on first use.
    code = (
        "import sys, trialbook\n"
        "heavy = ['sqlalchemy', 'alembic', 'typer', 'rich', 'yaml', 'numpy', 'psutil', 'torch',\n"
        "         'pandas', 'scipy', 'matplotlib', 'jinja2', 'pydantic', 'httpx', 'transformers',\n"
        "         'sklearn']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_errors_subclass_builtins() -> None:
    from trialbook import errors

    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.MetricValueError, TypeError)
    assert issubclass(errors.RunNotFoundError, LookupError)
    assert issubclass(errors.WorkspaceError, OSError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.TrialbookError)


def test_top_level_keeps_the_names_a_first_session_tries() -> None:
    first_tries = {
        "ExperimentTracker", "ExperimentConfig", "Run", "start_run", "BenchmarkRegistry",
        "BaseBenchmark", "load_config", "run_experiments_from_list", "seed_everything",
        "compare_experiments", "load_experiment_results", "print_results_summary",
        "open_store", "TrialbookError", "ConfigError",
    }  # fmt: skip

    assert first_tries <= set(trialbook.__all__)


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("TrainingConfig", trialbook.config),
        ("CartographyFilterConfig", trialbook.config),
        ("ClusterFilterConfig", trialbook.config),
        ("LabelSmoothingConfig", trialbook.config),
        ("SoftWeightingConfig", trialbook.config),
        ("validate_config", trialbook.config),
        ("RunFolder", trialbook.tracking),
        ("SampleResult", trialbook.evaluation),
    ],
)
def test_domain_names_live_in_their_subpackage_not_the_top_level(name: str, home: object) -> None:
    assert name not in trialbook.__all__
    with pytest.raises(AttributeError):
        getattr(trialbook, name)
    assert name in home.__all__  # type: ignore[attr-defined]
    assert getattr(home, name).__name__ == name


def test_importing_trialbook_config_loads_no_pydantic() -> None:
    code = "import sys, trialbook.config; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"
