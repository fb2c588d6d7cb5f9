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
