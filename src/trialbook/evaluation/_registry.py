"""Benchmarks by name: the built-in ones, those registered at run time, and plugins found
through the ``trialbook.benchmarks`` entry-point group."""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from trialbook.config._suggest import closest, did_you_mean
from trialbook.errors import ConfigError
from trialbook.evaluation._benchmark import BaseBenchmark

if TYPE_CHECKING:
    from trialbook.evaluation._records import EvaluationResult

__all__ = ["ENTRY_POINT_GROUP", "BenchmarkInfo", "BenchmarkRegistry"]

#: Packages declare benchmarks here: ``[project.entry-points."trialbook.benchmarks"]``
#: ``mybench = "mypkg.bench:MyBenchmark"`` (a BaseBenchmark subclass or a factory).
ENTRY_POINT_GROUP = "trialbook.benchmarks"

BenchmarkFactory = Callable[..., BaseBenchmark]

logger = logging.getLogger("trialbook")

#: Broken plugins already reported in this process (each is reported once).
_WARNED: set[str] = set()

# Imported only when used, so that listing names stays cheap.
_BUILTINS: dict[str, str] = {
    "gsm8k": "trialbook.evaluation.benchmarks.gsm8k:GSM8K",
    "jsonl": "trialbook.evaluation.benchmarks.jsonl:JsonlBenchmark",
}


@dataclass(frozen=True)
class BenchmarkInfo:
    """What ``trialbook benchmarks`` shows about a registered benchmark."""

    name: str
    description: str
    splits: tuple[str, ...]
    sizes: dict[str, int | None]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "splits": list(self.splits),
            "sizes": dict(self.sizes),
            "source": self.source,
        }


class BenchmarkRegistry:
    """The benchmarks trialbook knows by name.

    ``register(name, cls)`` adds one (a :class:`BaseBenchmark` subclass, a function returning
    an instance, or an instance); built-ins (``gsm8k``, ``jsonl``) and entry-point plugins
    are loaded on the first :meth:`list` or :meth:`get`. A plugin that fails to import is
    skipped with one line naming it on the ``trialbook`` logger (once per process). All
    methods are class methods and thread-safe.
    """

    _factories: ClassVar[dict[str, BenchmarkFactory | BaseBenchmark | str]] = {}
    _sources: ClassVar[dict[str, str]] = {}
    _broken: ClassVar[dict[str, str]] = {}
    _broken_values: ClassVar[dict[str, str]] = {}
    _plugins_loaded: ClassVar[bool] = False
    _lock: ClassVar[threading.RLock] = threading.RLock()

    @classmethod
    def register(
        cls, name: str, benchmark: type[BaseBenchmark] | BenchmarkFactory | BaseBenchmark
    ) -> None:
        """Make ``benchmark`` available as ``name`` (replacing any earlier one)."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"A benchmark name must be a non-empty string, got {name!r}.")
        if not isinstance(benchmark, BaseBenchmark) and not callable(benchmark):
            raise ConfigError(
                f"Cannot register {benchmark!r} as benchmark {name!r}; pass a BaseBenchmark "
                "subclass, a function returning one, or an instance."
            )
        with cls._lock:
            cls._factories[name] = benchmark
            cls._sources[name] = "registered"
            cls._broken.pop(name, None)

    @classmethod
    def unregister(cls, name: str) -> None:
        """Forget ``name`` (a no-op when it is not registered)."""
        with cls._lock:
            cls._factories.pop(name, None)
            cls._sources.pop(name, None)

    @classmethod
    def _load(cls) -> None:
        with cls._lock:
            if cls._plugins_loaded:
                return
            cls._plugins_loaded = True
            for name, target in _BUILTINS.items():
                cls._factories.setdefault(name, target)
                cls._sources.setdefault(name, "built-in")
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in cls._factories:
                    continue
                try:
                    obj = ep.load()
                except Exception as e:  # a broken plugin must not break the others
                    cls._broken[ep.name] = f"{type(e).__name__}: {e}"
                    cls._broken_values[ep.name] = str(ep.value)
                    continue
                cls._factories[ep.name] = obj
                cls._sources[ep.name] = f"plugin {ep.value}"

    @classmethod
    def _warn_broken(cls, asked: str | None = None) -> None:
        """One line on stderr (the ``trialbook`` logger) per broken plugin, once per process;
        none for the plugin asked for by name, whose error says it all."""
        with cls._lock:
            for name, problem in cls._broken.items():
                if name in _WARNED:
                    continue
                _WARNED.add(name)
                if name == asked:
                    continue
                logger.warning(
                    "trialbook: benchmark plugin %r (%s) could not be loaded (%s) and is "
                    "skipped; fix or reinstall the package that provides it.",
                    name,
                    cls._broken_values.get(name, "?"),
                    problem,
                )

    @classmethod
    def list(cls) -> list[str]:
        """The registered names, sorted."""
        cls._load()
        cls._warn_broken()
        with cls._lock:
            return sorted(cls._factories)

    @classmethod
    def _factory(cls, name: str) -> BenchmarkFactory | BaseBenchmark:
        cls._load()
        cls._warn_broken(name)
        with cls._lock:
            entry = cls._factories.get(name)
            if entry is None:
                if name in cls._broken:
                    raise ConfigError(
                        f"Benchmark plugin {name!r} failed to load ({cls._broken[name]}); "
                        "fix or reinstall the package that provides it."
                    )
                known = ", ".join(sorted(cls._factories)) or "none"
                guess = closest(name, cls._factories)
                hint = f" (did you mean {guess!r}?)" if guess else ""
                raise ConfigError(
                    f"Unknown benchmark {name!r}; the registered ones are {known}{hint}."
                )
            if isinstance(entry, str):
                module, _, attr = entry.partition(":")
                entry = getattr(importlib.import_module(module), attr)
                cls._factories[name] = entry
            return entry

    @classmethod
    def get(cls, name: str, /, **options: Any) -> BaseBenchmark:
        """A new instance of benchmark ``name`` built with ``options``.

        Raises:
            ConfigError: ``name`` is not registered (the message lists the known ones), or
            an option is not one the benchmark takes.
        """
        entry = cls._factory(name)
        if isinstance(entry, BaseBenchmark):
            if options:
                raise ConfigError(
                    f"Benchmark {name!r} was registered as a ready instance and takes no "
                    f"options; drop {', '.join(sorted(options))}."
                )
            return entry
        _check_options(name, entry, options)
        bench = entry(**options)
        if not isinstance(bench, BaseBenchmark):
            raise ConfigError(
                f"Benchmark {name!r} produced a {type(bench).__name__}, not a BaseBenchmark; "
                "register a BaseBenchmark subclass or a function returning an instance."
            )
        if bench.name == BaseBenchmark.name:
            bench.name = name
        return bench

    @classmethod
    def metric_field(cls, name: str, metric: str) -> str | None:
        """The per-sample field benchmark ``name`` declares for ``metric`` (its
        :attr:`BaseBenchmark.metric_fields`), None when ``name`` is not registered, its plugin
        does not load, it is a factory function without the attribute, or it declares nothing
        for ``metric``. Never raises and logs nothing: analysis asks this of every stored
        evaluation name, most of which (results logged from a dict) name no benchmark."""
        cls._load()
        with cls._lock:
            entry = cls._factories.get(name)
            if isinstance(entry, str):
                module, _, attr = entry.partition(":")
                try:
                    entry = getattr(importlib.import_module(module), attr)
                except Exception:  # a broken built-in or plugin: the caller's fallback rules
                    return None
                cls._factories[name] = entry
        fields = getattr(entry, "metric_fields", None)
        if not isinstance(fields, Mapping):
            return None
        field = fields.get(metric)
        return field if isinstance(field, str) else None

    @classmethod
    def info(cls, name: str) -> BenchmarkInfo:
        """Description, splits and sizes of ``name`` (sizes None when they need options)."""
        entry = cls._factory(name)
        source = cls._sources.get(name, "registered")
        bench: BaseBenchmark | None = None
        if isinstance(entry, BaseBenchmark):
            bench = entry
        else:
            try:
                bench = entry()
            except Exception:  # needs options (a data file): describe the class instead
                bench = None
        if bench is None:
            description = str(getattr(entry, "description", "") or "")
            splits = tuple(getattr(entry, "splits", ()) or ())
            return BenchmarkInfo(name, description, splits, {s: None for s in splits}, source)
        sizes = bench.split_sizes()
        splits = tuple(bench.splits) or tuple(sizes)
        description = bench.description or _first_line(type(bench).__doc__)
        return BenchmarkInfo(name, description, splits, sizes, source)

    @classmethod
    def evaluate(
        cls,
        model: Any,
        benchmark_name: str,
        num_samples: int | None = None,
        split: str = "test",
        batch_size: int | None = None,
        progress: bool = True,
        **options: Any,
    ) -> EvaluationResult:
        """Evaluate ``model`` on benchmark ``benchmark_name``; see
        :func:`trialbook.evaluation.evaluate`. ``options`` go to the benchmark
        (``extraction="flexible"``, ``shots=8`` for GSM8K)."""
        from trialbook.evaluation._loop import run_benchmark

        return run_benchmark(
            model,
            cls.get(benchmark_name, **options),
            split=split,
            num_samples=num_samples,
            batch_size=batch_size,
            progress=progress,
        )


def _check_options(name: str, factory: Callable[..., Any], options: dict[str, Any]) -> None:
    if not options:
        return
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [
        p.name
        for p in params.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    for key in options:
        if key not in accepted:
            takes = ", ".join(accepted) if accepted else "none"
            raise ConfigError(
                f"Benchmark {name!r} has no option {key!r}{did_you_mean(key, accepted)}; "
                f"its options: {takes}."
            )


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0].strip()
