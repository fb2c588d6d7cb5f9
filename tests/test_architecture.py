"""The package's shape, checked from its source: no import cycle between modules, the CLI
imports only public library names, CLI modules and functions stay small, and data flows one
way (nothing in store/, config/ or tracking/ imports the layers above them; store/ does not
import config/).

Imports are read with :mod:`ast`, not by importing: every ``import`` and ``from ... import``
counts, function-level ones included, except those under ``if TYPE_CHECKING:`` (they never
run). An import of ``a.b.c`` is an edge to the module ``a.b.c``; that Python also runs the
packages ``a`` and ``a.b`` first is not counted, or every module would sit in a cycle with its
package's ``__init__``. The checker is tested on small module trees built in ``tmp_path``, so
a rule cannot pass because the walk found nothing.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: CLI limits: a module has fewer lines than this, a function (signature included) at most
#: ``MAX_FUNCTION_LINES``.
MAX_CLI_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

#: Layer rules: modules in the key's package import nothing from the listed packages.
FORBIDDEN_LAYERS: dict[str, tuple[str, ...]] = {
    "trialbook.store": (
        "trialbook.config",
        "trialbook.execution",
        "trialbook.analysis",
        "trialbook.reporting",
        "trialbook.cli",
        "trialbook.dashboard",
    ),
    "trialbook.config": (
        "trialbook.execution",
        "trialbook.analysis",
        "trialbook.reporting",
        "trialbook.cli",
        "trialbook.dashboard",
    ),
    "trialbook.tracking": (
        "trialbook.execution",
        "trialbook.analysis",
        "trialbook.reporting",
        "trialbook.cli",
        "trialbook.dashboard",
    ),
    "trialbook.analysis": ("trialbook.cli", "trialbook.dashboard"),
    "trialbook.reporting": ("trialbook.cli", "trialbook.dashboard"),
    "trialbook.dashboard": ("trialbook.cli",),
}

CLI = "trialbook.cli"
#: The thin layers over the library: they parse input, call the library and render, so they
#: import only its public modules and names (each may import anything of its own package).
THIN_LAYERS = (CLI, "trialbook.dashboard")


# --------------------------------------------------------------------------- the walk
@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    #: the path as messages show it: from the source folder's parent (``src/trialbook/...``)
    shown: str

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@dataclass(frozen=True)
class Import:
    """One imported thing: ``source`` (a dotted module name as written, made absolute),
    ``name`` (the name imported from it, or None for ``import source``), ``target`` (the most
    specific module of the tree it loads), the line, and the local name it binds (``bound``)
    to the dotted thing ``bound_to``."""

    module: Module
    line: int
    source: str
    name: str | None
    target: str | None
    bound: str
    bound_to: str

    def where(self) -> str:
        return f"{self.module.shown}:{self.line}"


def find_modules(src: Path, top: str = "trialbook") -> dict[str, Module]:
    """Every module of the package ``top`` under the source folder ``src``, by dotted name."""
    modules: dict[str, Module] = {}
    for path in sorted((src / top).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        shown = path.relative_to(src.parent).as_posix()
        modules[".".join(parts)] = Module(".".join(parts), path, shown)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` (or any ``x.TYPE_CHECKING``)."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run: all of them except the bodies of ``if TYPE_CHECKING:``
    (their ``else:`` branches do run)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


@functools.cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _most_specific(name: str, modules: dict[str, Module]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: Module, modules: dict[str, Module]) -> list[Import]:
    """The imports of ``module`` that run, in line order; ``target`` is None for imports
    from outside the tree."""
    tree = _parse(module.path)
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    found: list[Import] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _most_specific(alias.name, modules)
                top = alias.name.split(".")[0]
                bound, bound_to = (alias.asname, alias.name) if alias.asname else (top, top)
                found.append(Import(module, node.lineno, alias.name, None, target, bound, bound_to))
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, source] if source else base)
            for alias in node.names:
                full = f"{source}.{alias.name}"
                target = full if full in modules else _most_specific(source, modules)
                bound = alias.asname or alias.name
                found.append(Import(module, node.lineno, source, alias.name, target, bound, full))
    return sorted(found, key=lambda i: (i.line, i.source, i.name or ""))


def all_imports(modules: dict[str, Module]) -> list[Import]:
    return [imp for m in modules.values() for imp in imports_of(m, modules)]


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# --------------------------------------------------------------------------- the rules
def import_cycles(modules: dict[str, Module]) -> list[str]:
    """One message per group of modules that import each other (a strongly connected
    component), naming one cycle through it with the line of each import."""
    first_import: dict[tuple[str, str], Import] = {}
    for imp in all_imports(modules):
        if imp.target is not None and imp.target != imp.module.name:
            first_import.setdefault((imp.module.name, imp.target), imp)
    graph: dict[str, list[str]] = {m: [] for m in modules}
    for a, b in first_import:
        graph[a].append(b)
    messages = []
    for component in _strong_components(graph):
        cycle = " -> ".join(_shortest_cycle(graph, component))
        inside = sorted(
            (imp for (a, b), imp in first_import.items() if a in component and b in component),
            key=lambda imp: (imp.module.name, imp.line),
        )
        lines = "; ".join(f"{imp.where()} imports {imp.target}" for imp in inside)
        messages.append(
            f"import cycle {cycle} ({len(component)} modules import each other: {lines}) "
            "[rule: no import cycle between modules]"
        )
    return messages


def _strong_components(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; only components of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def _shortest_cycle(graph: dict[str, list[str]], component: list[str]) -> list[str]:
    """A shortest cycle from the component's first module back to it (breadth first)."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {component}")  # a component has one


def _private(name: str) -> bool:
    """``_name`` is private; a dunder (``__version__``) is not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def cli_private_imports(modules: dict[str, Module]) -> list[str]:
    """Imports in cli/ or dashboard/ of a library module whose dotted path has a ``_``
    component, or of a name starting with ``_`` (dunders such as ``__version__`` excepted);
    anything from the layer's own package is allowed."""
    messages = []
    for imp in all_imports(modules):
        layer = _thin_layer(imp.module.name)
        if layer is None or not _in(imp.source, "trialbook"):
            continue
        if _in(imp.source, layer) or (imp.target is not None and _in(imp.target, layer)):
            continue
        short = layer.rsplit(".", 1)[-1]
        private_parts = [p for p in imp.source.split(".") if _private(p)]
        what = imp.source + (f".{imp.name}" if imp.name else "")
        if private_parts:
            messages.append(
                f"{imp.where()}: {imp.module.name} imports {what} from a private module "
                f"({'.'.join(private_parts)}) [rule: {short}/ imports only public library "
                "modules]"
            )
        elif imp.name is not None and _private(imp.name):
            messages.append(
                f"{imp.where()}: {imp.module.name} imports the private name {what} "
                f"[rule: {short}/ imports only public library names]"
            )
    for module in modules.values():
        layer = _thin_layer(module.name)
        if layer is not None:
            messages.extend(_private_attributes(module, modules, layer))
    return messages


def _thin_layer(name: str) -> str | None:
    return next((layer for layer in THIN_LAYERS if _in(name, layer)), None)


def _private_attributes(module: Module, modules: dict[str, Module], layer: str = CLI) -> list[str]:
    """Uses of ``x._private`` where ``x`` is bound by an import from the library outside
    cli/ (``import trialbook`` then ``trialbook._workspace``, ``from trialbook.store import
    Store`` then ``Store._hook``): the same rule as importing the private name."""
    library: dict[str, str] = {}
    for imp in imports_of(module, modules):
        if _in(imp.bound_to, "trialbook") and not _in(imp.bound_to, layer):
            library[imp.bound] = imp.bound_to
    found: list[tuple[int, str]] = []
    for node in _runtime_nodes(_parse(module.path)):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        chain: list[str] = [node.attr]
        value = node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in library:
            used = ".".join([library[value.id], *reversed(chain)])
            found.append((node.lineno, used))
    return [
        f"{module.shown}:{line}: {module.name} uses the private name {used} "
        f"[rule: {layer.rsplit('.', 1)[-1]}/ imports only public library names]"
        for line, used in sorted(found)
    ]


def cli_sizes(modules: dict[str, Module]) -> list[str]:
    """cli/ modules of ``MAX_CLI_MODULE_LINES`` lines or more, and cli/ functions (methods
    and nested functions too) longer than ``MAX_FUNCTION_LINES`` from ``def`` to their end."""
    messages = []
    for module in modules.values():
        if not _in(module.name, CLI):
            continue
        text = module.path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n >= MAX_CLI_MODULE_LINES:
            messages.append(
                f"{module.shown}:1: {module.name} has {n} lines "
                f"[rule: a cli/ module has fewer than {MAX_CLI_MODULE_LINES} lines]"
            )
        for node in ast.walk(_parse(module.path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    messages.append(
                        f"{module.shown}:{node.lineno}: {module.name}.{node.name} has {length} "
                        f"lines [rule: a cli/ function has at most {MAX_FUNCTION_LINES} lines, "
                        "signature included]"
                    )
    return messages


def layer_violations(modules: dict[str, Module]) -> list[str]:
    """Imports against the one-way flow: see ``FORBIDDEN_LAYERS``; one message per line
    and imported module."""
    messages: list[str] = []
    for imp in all_imports(modules):
        target = imp.target or imp.source
        for layer, forbidden in FORBIDDEN_LAYERS.items():
            if not _in(imp.module.name, layer):
                continue
            for above in forbidden:
                message = (
                    f"{imp.where()}: {imp.module.name} imports {target} "
                    f"[rule: {layer} does not import {above}]"
                )
                if _in(target, above) and message not in messages:
                    messages.append(message)
    return messages


RULES = {
    "import_cycles": import_cycles,
    "cli_private_imports": cli_private_imports,
    "cli_sizes": cli_sizes,
    "layer_violations": layer_violations,
}


# --------------------------------------------------------------------------- the package
@pytest.fixture(scope="module")
def package() -> dict[str, Module]:
    return find_modules(SRC)


def test_the_walk_sees_the_whole_package(package: dict[str, Module]) -> None:
    # Guards every rule below against passing because nothing was read.
    assert len(package) > 100
    for name in ("trialbook", "trialbook.cli._app", "trialbook.store._base", CLI):
        assert name in package
    edges = {(i.module.name, i.target) for i in all_imports(package) if i.target}
    assert len(edges) > 200
    assert any(a.startswith(CLI + ".") and not b.startswith(CLI) for a, b in edges)


@pytest.mark.parametrize("rule", list(RULES))
def test_package_follows_rule(rule: str, package: dict[str, Module]) -> None:
    violations = RULES[rule](package)
    assert not violations, f"{len(violations)} violation(s):\n" + "\n".join(violations)


# --------------------------------------------------------------------------- the checker
def tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    """A module tree under ``tmp_path/src``: ``files`` maps paths below it to source."""
    for rel, text in files.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return find_modules(tmp_path / "src")


def _packages(*names: str) -> dict[str, str]:
    return {f"trialbook/{n}/__init__.py": "" for n in names} | {"trialbook/__init__.py": ""}


def one(messages: Iterable[str]) -> str:
    found = list(messages)
    assert len(found) == 1, found
    return found[0]


def test_checker_names_a_cycle_with_its_lines(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("evaluation")
        | {
            "trialbook/evaluation/_evaluate.py": "import os\nfrom . import _registry\n",
            "trialbook/evaluation/_registry.py": (
                "def f():\n    from trialbook.evaluation._evaluate import evaluate\n"
            ),
        },
    )
    message = one(import_cycles(modules))
    assert (
        "trialbook.evaluation._evaluate -> trialbook.evaluation._registry -> "
        "trialbook.evaluation._evaluate"
    ) in message
    assert "_evaluate.py:2 imports trialbook.evaluation._registry" in message
    assert "_registry.py:2 imports trialbook.evaluation._evaluate" in message


def test_checker_finds_a_long_cycle_and_ignores_one_way_imports(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("tracking")
        | {
            "trialbook/tracking/_a.py": "from trialbook.tracking._b import x\n",
            "trialbook/tracking/_b.py": "from trialbook.tracking import _c\nx = 1\n",
            "trialbook/tracking/_c.py": "import trialbook.tracking._a\nimport trialbook.errors\n",
            "trialbook/errors.py": "",
            "trialbook/tracking/_d.py": "from trialbook.tracking._a import y\n",
        },
    )
    message = one(import_cycles(modules))
    assert "trialbook.tracking._a -> trialbook.tracking._b -> trialbook.tracking._c" in message
    assert "_d" not in message


def test_checker_lists_every_import_inside_a_group_of_cycles(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("tracking")
        | {
            "trialbook/tracking/_start.py": "from . import _attach\nfrom ._run import Run\n",
            "trialbook/tracking/_attach.py": "def f():\n    from ._start import start\n",
            "trialbook/tracking/_run.py": "import os\nfrom ._start import start\n",
        },
    )
    message = one(import_cycles(modules))
    assert "3 modules import each other" in message
    for where in (
        "_attach.py:2 imports trialbook.tracking._start",
        "_run.py:2 imports trialbook.tracking._start",
        "_start.py:1 imports trialbook.tracking._attach",
        "_start.py:2 imports trialbook.tracking._run",
    ):
        assert where in message


def test_checker_skips_type_checking_imports_but_not_their_else(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("analysis")
        | {
            "trialbook/analysis/_groups.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from trialbook.analysis._refs import Ref\n"
            ),
            "trialbook/analysis/_refs.py": (
                "import typing\n"
                "if typing.TYPE_CHECKING:\n    pass\n"
                "else:\n    from trialbook.analysis import _scope\n"
                "from trialbook.analysis._groups import SeedGroup\n"
            ),
            "trialbook/analysis/_scope.py": "from trialbook.analysis._refs import Ref\n",
        },
    )
    message = one(import_cycles(modules))
    assert "trialbook.analysis._refs -> trialbook.analysis._scope" in message
    assert "_groups" not in message


def test_checker_flags_cli_imports_of_private_modules_and_names(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("cli", "store", "analysis")
        | {
            "trialbook/_workspace.py": "",
            "trialbook/store/_base.py": "",
            "trialbook/cli/_app.py": (
                "from trialbook.cli._options import Root\n"  # cli -> cli: allowed
                "from trialbook.store import Workspace, sqlite_path\n"  # public: allowed
                "import typer\n"
                "from trialbook.store._base import Store\n"  # line 4: private module
                "def f():\n"
                "    from trialbook.analysis import _frames\n"  # line 6: private name
                "    import trialbook._workspace\n"  # line 7: private module
                "    from .._workspace import find\n"  # line 8: private, relative
                "from trialbook import __version__\n"  # a dunder is public
            ),
            "trialbook/cli/_options.py": "",
            "trialbook/store/_sql.py": "from trialbook.store._base import Store\n",
        },
    )
    messages = cli_private_imports(modules)
    assert [m.split(": ", 1)[0].rsplit(":", 1)[1] for m in messages] == ["4", "6", "7", "8"]
    assert "trialbook.store._base.Store from a private module (_base)" in messages[0]
    assert "the private name trialbook.analysis._frames" in messages[1]
    assert all("trialbook.cli._app" in m for m in messages)


def test_checker_flags_cli_uses_of_private_attributes(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("cli", "store")
        | {
            "trialbook/_workspace.py": "",
            "trialbook/store/_base.py": "",
            "trialbook/cli/_output.py": "",
            "trialbook/cli/_db.py": (
                "import trialbook\n"
                "import trialbook.store as st\n"
                "from trialbook.store import Store\n"
                "from trialbook.cli import _output\n"
                "x = trialbook._workspace.find()\n"  # line 5
                "y = st._base.Store\n"  # line 6
                "z = Store._get_run(1).__class__\n"  # line 7
                "w = _output._table, trialbook.__version__, st.Store\n"  # cli, dunder, public
            ),
        },
    )
    messages = cli_private_imports(modules)
    assert len(messages) == 3, messages
    assert "_db.py:5: trialbook.cli._db uses the private name trialbook._workspace" in messages[0]
    assert "_db.py:6: trialbook.cli._db uses the private name trialbook.store._base" in messages[1]
    assert (
        "_db.py:7: trialbook.cli._db uses the private name trialbook.store.Store._get_run"
        in (messages[2])
    )


def test_checker_flags_big_cli_modules_and_long_functions(tmp_path: Path) -> None:
    body = "    x = 1\n"
    modules = tree(
        tmp_path,
        _packages("cli", "analysis")
        | {
            "trialbook/cli/_ok.py": "def ok(\n    a: int,\n) -> None:\n" + body * 77,
            "trialbook/cli/_long.py": (
                "class C:\n    def method(self) -> None:\n" + ("    " + body) * 80
            ),
            "trialbook/cli/_big.py": "x = 1\n" * MAX_CLI_MODULE_LINES,
            "trialbook/cli/_fine.py": "x = 1\n" * (MAX_CLI_MODULE_LINES - 1),
            "trialbook/analysis/_long.py": "def f() -> None:\n" + body * 200,
        },
    )
    messages = cli_sizes(modules)
    assert len(messages) == 2, messages
    assert "trialbook.cli._big has 400 lines" in messages[0]
    assert "_long.py:2: trialbook.cli._long.method has 81 lines" in messages[1]


def test_checker_flags_imports_against_the_one_way_flow(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("store", "config", "tracking", "analysis", "execution", "cli")
        | {
            "trialbook/store/_sql.py": "from trialbook.config import flatten_config\n",
            "trialbook/config/_plan.py": "from trialbook.store import Store\n",
            "trialbook/tracking/_run.py": (
                "from trialbook.store import Store\n"
                "def f():\n    from trialbook.analysis._frames import load_runs\n"
            ),
            "trialbook/analysis/_frames.py": "from trialbook.tracking import Run\n",
            "trialbook/execution/_runner.py": "from trialbook.cli import app\n",
        },
    )
    messages = layer_violations(modules)
    assert len(messages) == 2, messages
    assert "_sql.py:1: trialbook.store._sql imports trialbook.config" in messages[0]
    assert "[rule: trialbook.store does not import trialbook.config]" in messages[0]
    assert "_run.py:3: trialbook.tracking._run imports trialbook.analysis._frames" in messages[1]


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    modules = tree(
        tmp_path,
        _packages("cli", "store", "analysis")
        | {
            "trialbook/store/_base.py": "",
            "trialbook/analysis/_frames.py": "from trialbook.store._base import Store\n",
            "trialbook/cli/_runs.py": "from trialbook.analysis import load_runs\n",
        },
    )
    assert len(all_imports(modules)) == 2
    for rule in RULES.values():
        assert rule(modules) == []
