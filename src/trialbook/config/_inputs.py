"""Inputs of a plan: the config files, folders and named suites a plan is built from."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from trialbook.config._load import ConfigSource, read_config
from trialbook.errors import ConfigError

__all__ = ["SUITE_DIRS", "SUITE_NAME", "base_path", "is_suite", "read_inputs"]

#: Where a suite name given without a file (``suite="NAME"``) finds ``NAME.yaml``, relative to
#: the working directory.
SUITE_DIRS = ("suites", "configs/suites")

#: What a suite name may be: letters, digits, ``_``, ``-`` and ``.``.
SUITE_NAME = re.compile(r"[\w\-.]+")


def is_suite(source: ConfigSource) -> bool:
    """Whether a loaded file is a suite file (it has a ``suite:`` key)."""
    return "suite" in source.data


def base_path(suite_path: Path, ref: str) -> Path:
    """The file a suite's ``base: ref`` names: relative to the suite file's folder."""
    p = Path(ref).expanduser()
    return p if p.is_absolute() else suite_path.parent / p


def _find_named_suite(name: str, cwd: Path) -> Path:
    if not SUITE_NAME.fullmatch(name):
        raise ConfigError(
            f"suite={name!r} is not a suite name; give a name such as minimal, or the suite "
            "file itself in paths.",
            parameter="suite",
            value=name,
        )
    for folder in SUITE_DIRS:
        for ext in (".yaml", ".yml"):
            candidate = Path(folder) / f"{name}{ext}"
            if (cwd / candidate).is_file():
                return cwd / candidate if cwd != Path.cwd() else candidate
    looked = " and ".join(f"./{folder}/" for folder in SUITE_DIRS)
    raise ConfigError(
        f"No suite named '{name}': there is no {name}.yaml in {looked}; give the suite file "
        "too (in paths), e.g. configs/suite.yaml.",
        parameter="suite",
        value=name,
    )


def _yaml_files(folder: Path) -> list[Path]:
    files = [
        p
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


def read_inputs(paths: Sequence[str | os.PathLike[str]], suite: str | None) -> list[ConfigSource]:
    """Read every config and suite file ``paths`` name (folders: every ``*.yaml``/``*.yml``
    inside, sorted, except a suite's own base config); with no paths, the suite named
    ``suite`` from :data:`SUITE_DIRS`.

    Raises:
        ConfigError: nothing to read, a missing or unreadable file, a folder without configs.
    """
    if not paths:
        if suite is None:
            raise ConfigError(
                "Nothing to run: give a config file, a folder of configs or a suite file in "
                "paths, e.g. configs/exp.yaml, or the name of a suite in suites/.",
                parameter="paths",
                value=[],
            )
        return [read_config(_find_named_suite(suite, Path.cwd()))]
    sources: list[ConfigSource] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            sources.append(read_config(path))
            continue
        files = _yaml_files(path)
        if not files:
            raise ConfigError(
                f"The folder {path} holds no .yaml or .yml files; give a folder of configs or "
                "the config files themselves."
            )
        loaded = [read_config(f) for f in files]
        # A folder holding a suite and its base config runs the suite, not the base twice.
        bases: set[Path] = set()
        for source in loaded:
            ref = source.data.get("base") if is_suite(source) else None
            if isinstance(ref, str) and source.path is not None:
                bases.add(base_path(source.path, ref).resolve())
        sources.extend(s for s in loaded if s.path is None or s.path.resolve() not in bases)
    return sources
