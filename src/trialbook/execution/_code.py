"""What code a run executes (``experiment.entrypoint`` or ``experiment.command``), checked
before anything starts.

The Runner checks that an entrypoint's module can be found and that it defines the function
by reading the module's source, never by importing it: a torch-heavy training module should
not be imported into the Runner. The child process imports it.
"""

from __future__ import annotations

import ast
import difflib
import importlib.machinery
import importlib.util
import os
import pkgutil
import re
import shlex
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialbook.config._experiment import experiment_block
from trialbook.config._suggest import did_you_mean
from trialbook.errors import ConfigError

__all__ = ["RunCode", "check_code", "command_argv", "parse_entrypoint", "run_code"]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_ENTRYPOINT = re.compile(rf"^(?P<module>{_IDENT}(?:\.{_IDENT})*):(?P<function>{_IDENT})$")
#: Placeholders a command may use; anything else in braces (``${HOME}``) is left alone.
PLACEHOLDERS = ("config", "run_dir", "run_id", "seed")


@dataclass(frozen=True)
class RunCode:
    """The code one run executes: exactly one of ``entrypoint`` and ``command`` is set."""

    entrypoint: str | None = None
    command: str | None = None


def _experiment_label(experiment: str, source: Path | None) -> str:
    return f"experiment {experiment!r}" + (f" ({source})" if source else "")


def run_code(config: Mapping[str, Any], experiment: str, source: Path | None = None) -> RunCode:
    """Read ``experiment.entrypoint`` / ``experiment.command`` from a resolved config.

    Raises:
        ConfigError: neither or both are given, or the block is malformed.
    """
    block = experiment_block(config)
    where = _experiment_label(experiment, source)
    if block.entrypoint and block.command:
        raise ConfigError(
            f"The {where} sets both experiment.entrypoint and experiment.command; keep one."
        )
    if not block.entrypoint and not block.command:
        raise ConfigError(
            f"The {where} names no code to run; add experiment.entrypoint: "
            "package.module:function or experiment.command: python train.py --config {config}."
        )
    return RunCode(block.entrypoint, block.command)


def parse_entrypoint(entrypoint: str, where: str = "the config") -> tuple[str, str]:
    """``"pkg.mod:train"`` -> ``("pkg.mod", "train")``.

    Raises:
        ConfigError: the text is not ``package.module:function``.
    """
    match = _ENTRYPOINT.match(entrypoint.strip())
    if match is None:
        raise ConfigError(
            f"Entrypoint {entrypoint!r} of {where} is not package.module:function; write it "
            "like examples.toy_train:train."
        )
    return match["module"], match["function"]


@contextmanager
def _search_path(cwd: Path) -> Iterator[None]:
    """``cwd`` first on sys.path, as ``python -m`` in the child will have it."""
    entry = str(cwd)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        sys.path.remove(entry)


def _find_module(name: str, cwd: Path) -> importlib.machinery.ModuleSpec | None:
    """The spec of ``name`` without executing any package ``__init__``."""
    parts = name.split(".")
    with _search_path(cwd):
        if len(parts) == 1 or parts[0] in sys.modules:
            try:
                return importlib.util.find_spec(name)
            except (ImportError, ValueError):
                return None
        spec = importlib.util.find_spec(parts[0])
        for i in range(1, len(parts)):
            locations = _locations(spec)
            if not locations:
                return None
            fullname = ".".join(parts[: i + 1])
            try:
                spec = importlib.machinery.PathFinder.find_spec(fullname, locations)
            except KeyError:
                # A namespace package inside a namespace package: importlib wants the parent
                # imported. Its folders are all we need (nothing is executed either way).
                folders = [str(Path(loc) / parts[i]) for loc in locations]
                folders = [f for f in folders if Path(f).is_dir()]
                if not folders:
                    return None
                spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
                spec.submodule_search_locations = folders
        return spec


def _locations(spec: importlib.machinery.ModuleSpec | None) -> list[str]:
    """Where a package's submodules live, as a plain list.

    A namespace package (a folder without ``__init__.py``) that was never imported has a lazy
    path object that looks its parent up in ``sys.modules`` (KeyError); its folders are the
    ones found when the spec was made.
    """
    if spec is None or spec.submodule_search_locations is None:
        return []
    locations = spec.submodule_search_locations
    try:
        return list(locations)
    except KeyError:
        return [str(p) for p in getattr(locations, "_path", [])]


def _module_suggestion(name: str, cwd: Path) -> str:
    parent, _, leaf = name.rpartition(".")
    if parent:
        spec = _find_module(parent, cwd)
        locations = list(spec.submodule_search_locations or []) if spec else []
    else:
        locations = [str(cwd)]
    names = [m.name for m in pkgutil.iter_modules(locations)]
    return did_you_mean(leaf, names)


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """Names a module defines at top level, or None when it cannot be known statically."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> bool:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "*":
                        return False
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
                blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
                blocks += [h.body for h in getattr(node, "handlers", [])]
                if not all(visit(b) for b in blocks):
                    return False
        return True

    if not visit(tree.body) or "__getattr__" in names:
        return None
    return names


def check_entrypoint(entrypoint: str, cwd: Path, where: str) -> None:
    """The module can be found from ``cwd`` and its source defines the function.

    Raises:
        ConfigError: malformed, module not found, or no such function (with a did-you-mean).
    """
    module, function = parse_entrypoint(entrypoint, where)
    spec = _find_module(module, cwd)
    if spec is None:
        fix = _module_suggestion(module, cwd) or (
            "; check its name, or run from the folder that contains it."
        )
        raise ConfigError(f"Entrypoint module {module!r} of {where} was not found from {cwd}{fix}")
    origin = spec.origin
    if spec.submodule_search_locations is not None and origin in (None, "namespace"):
        raise ConfigError(
            f"Entrypoint {entrypoint!r} of {where} names the package folder {module!r}, not a "
            "module; point it at the file that defines the function, e.g. "
            f"{module}.train:{function}."
        )
    if not origin or not origin.endswith(".py"):
        return  # an extension module or a frozen one: only importing can tell
    try:
        tree = ast.parse(Path(origin).read_text(encoding="utf-8"), filename=origin)
    except (OSError, SyntaxError, ValueError):
        return  # the child's import will report it with a traceback
    names = _top_level_names(tree)
    if names is not None and function not in names:
        functions = sorted(
            n.name
            for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("_")
        )
        hint = did_you_mean(function, names) or (
            f"; it defines {', '.join(functions[:8])}." if functions else "."
        )
        raise ConfigError(
            f"Entrypoint {entrypoint!r} of {where}: {origin} defines no function {function!r}{hint}"
        )


#: What ``command:`` may contain, filled in per run (see :func:`command_argv`).
PLACEHOLDERS = ("config", "run_dir", "run_id", "seed")


def command_argv(command: str, values: Mapping[str, str] | None = None) -> list[str]:
    """Split a command line like a POSIX shell and fill in ``{config}`` and the other
    placeholders (``{run_dir}``, ``{run_id}``, ``{seed}``) that ``values`` gives.

    Raises:
        ConfigError: unbalanced quotes, or an empty command.
    """
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ConfigError(
            f"Command {command!r} cannot be split into words ({e}); fix its quotes."
        ) from None
    if not argv:
        raise ConfigError("experiment.command is empty; give the command line to run.")
    for name, value in (values or {}).items():
        argv = [arg.replace("{" + name + "}", value) for arg in argv]
    return argv


def check_command(command: str, cwd: Path, where: str) -> None:
    """The command splits into words and its program exists.

    Raises:
        ConfigError: the command is malformed or its program is not found.
    """
    try:
        argv = command_argv(command)
    except ConfigError as e:
        raise ConfigError(f"In {where}: {e}") from None
    for word in argv:
        for name in re.findall(r"\{([A-Za-z_]\w*)\}", word):
            close = difflib.get_close_matches(name, PLACEHOLDERS, n=1)
            if name not in PLACEHOLDERS and close:
                raise ConfigError(
                    f"The command of {where} has the placeholder {{{name}}}; did you mean "
                    f"{{{close[0]}}}? Known placeholders: "
                    + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                    + "."
                )
    program = argv[0]
    if "{" in program:
        return
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(program) if Path(program).is_absolute() else cwd / program
        if not path.exists():
            raise ConfigError(
                f"The command of {where} runs {program!r}, which does not exist in {cwd}; "
                "check the path."
            )
        if not os.access(path, os.X_OK):
            raise ConfigError(
                f"The command of {where} runs {program!r}, which is not executable; run "
                f"chmod +x {program} or start the command with its interpreter."
            )
    elif shutil.which(program) is None:
        raise ConfigError(
            f"The command of {where} runs {program!r}, which is not on PATH; install it or "
            "give its full path."
        )


def check_code(config: Mapping[str, Any], experiment: str, cwd: Path, source: Path | None) -> None:
    """Everything the Runner checks about one run's code before launching anything."""
    code = run_code(config, experiment, source)
    where = _experiment_label(experiment, source)
    if code.entrypoint is not None:
        check_entrypoint(code.entrypoint, cwd, where)
    elif code.command is not None:
        check_command(code.command, cwd, where)
