"""Load YAML config files safely, keeping the line of every key for error messages.

Only PyYAML's safe loader is used. Two of its YAML 1.1 habits are fixed, as OmegaConf does,
because they bite ML configs: ``1e-4`` is a float (YAML 1.1 reads it as a string) and
``2024-01-31`` stays a string (YAML 1.1 makes it a date, which cannot be hashed or saved).
Duplicate keys, which PyYAML silently collapses to the last one, are refused.

Hostile or broken files are refused in a fraction of a second, before anything is built from
them: a named pipe or a socket (never opened), a file over :data:`MAX_CONFIG_BYTES`
(``/dev/zero`` included, read no further), nesting deeper than :data:`MAX_DEPTH`, an alias
that contains itself (``a: &a [*a]``), and aliases that expand to more than
:data:`MAX_ALIAS_EXPANSION` values (a "billion laughs" bomb of a few hundred bytes).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook.config._suggest import a_or_an
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import yaml

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_ALIAS_EXPANSION",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "ConfigSource",
    "KeyPath",
    "check_reserved",
    "int64_message",
    "int64_overflow",
    "key_text",
    "load_config",
    "parse_yaml",
    "parse_yaml_value",
    "read_config",
]

#: The largest config file read (10 MiB): a config holds settings; data belongs in files it names.
MAX_CONFIG_BYTES = 10 * 2**20
#: The deepest nesting of mappings and lists in a config (real configs stay under ten).
MAX_DEPTH = 100
#: The most values a config may hold once its aliases (``*name``) are expanded.
MAX_ALIAS_EXPANSION = 100_000

#: A key path into a config: mapping keys (str) and sequence indices (int).
KeyPath = tuple[str | int, ...]

# YAML 1.2 floats, including the exponent-only forms (1e-4, 5E+3) YAML 1.1 reads as strings.
_FLOAT = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)

_loader_class: type[Any] | None = None


def _loader() -> type[yaml.SafeLoader]:
    """The SafeLoader subclass (built once, on first use, so ``import trialbook`` skips yaml)."""
    global _loader_class
    if _loader_class is None:
        import yaml

        class _ConfigLoader(yaml.SafeLoader):
            """Counts nesting and aliases while composing, so a bomb is refused before it
            is walked or built."""

            depth = 0
            aliases = 0
            #: False for an override's value: its messages name no line.
            in_file = True

            def compose_node(self, parent: Any, index: Any) -> Any:
                if self.check_event(yaml.AliasEvent):
                    self.aliases += 1
                    return super().compose_node(parent, index)
                if self.check_event(yaml.ScalarEvent):
                    return super().compose_node(parent, index)
                self.depth += 1
                try:
                    if self.depth > MAX_DEPTH:
                        raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
                    return super().compose_node(parent, index)
                finally:
                    self.depth -= 1

        _ConfigLoader.add_implicit_resolver(
            "tag:yaml.org,2002:float", _FLOAT, list("-+0123456789.")
        )
        _ConfigLoader.yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in _ConfigLoader.yaml_implicit_resolvers.items()
        }
        _loader_class = _ConfigLoader
    return _loader_class


@dataclass(frozen=True)
class ConfigSource:
    """A loaded config with where it came from, for messages that point at a line.

    Attributes:
        data: the config as plain data (a dict; mappings, lists, str, int, float, bool, None).
        path: the file it was read from (None for text that came from elsewhere).
        lines: key path -> (line, column) of the key, both 1-based.
    """

    data: dict[str, Any]
    path: Path | None = None
    lines: Mapping[KeyPath, tuple[int, int]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The file name as users typed it (or ``<config>`` when there is no file)."""
        return str(self.path) if self.path is not None else "<config>"

    def line_of(self, key_path: KeyPath | str, *, nearest: bool = True) -> int | None:
        """The 1-based line of a key (``("training", "lr")`` or ``"training.lr"``).

        With ``nearest`` (the default), a key that is not in the file gives the line of its
        closest ancestor that is, so a missing field still points at its section.
        """
        path = _as_key_path(key_path)
        while path:
            found = self.lines.get(path)
            if found is not None:
                return found[0]
            if not nearest:
                return None
            path = path[:-1]
        return None

    def where(self, key_path: KeyPath | str | None = None) -> str:
        """``"exp.yaml"`` or ``"exp.yaml (line 7)"`` for a message."""
        line = self.line_of(key_path) if key_path is not None else None
        return f"{self.name} (line {line})" if line is not None else self.name


def _as_key_path(key_path: KeyPath | str) -> KeyPath:
    if isinstance(key_path, str):
        return tuple(key_path.split(".")) if key_path else ()
    return tuple(key_path)


def read_config(path: str | os.PathLike[str]) -> ConfigSource:
    """Read a YAML config file into a :class:`ConfigSource` (data plus key lines).

    Raises:
        ConfigError: the file is missing, is a directory, a named pipe or a socket (refused
            without opening it: a pipe nobody writes to would block), is not valid YAML (the
            message starts with ``path:line:column:``), does not hold a mapping, repeats a key,
            has a key that is not a string, a top-level ``seed`` that is not an integer, or an
            ``experiment:`` block that is not a mapping.
    """
    p = Path(path)
    if not p.exists():
        relative = "" if p.is_absolute() else f" (relative to {Path.cwd()})"
        raise ConfigError(f"Config file {p} does not exist; check the path{relative}.")
    if p.is_dir():
        raise ConfigError(
            f"{p} is a directory, not a config file; give a .yaml file, or plan the whole "
            "directory (plan_runs) to run every config in it."
        )
    kind = _special_kind(p)
    if kind is not None:
        # Refused before opening: opening a FIFO without a writer blocks forever.
        raise ConfigError(
            f"{p} is {kind}, not a config file; save the config to a .yaml file and give that."
        )
    try:
        # Read one byte past the limit, never the whole of an endless file (/dev/zero).
        with p.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(_too_large(str(p)))
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"Config file {p} is not UTF-8 text ({e.reason}); save it as UTF-8."
        ) from None
    except OSError as e:
        raise ConfigError(
            f"Config file {p} cannot be read ({e.strerror}); check its permissions."
        ) from None
    return parse_yaml(text, p)


def _special_kind(path: Path) -> str | None:
    """What ``path`` is when reading it could block (a FIFO, a socket), else None. Character
    devices such as ``/dev/zero`` are read, up to the size limit."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # opening it reports the problem
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config file into a plain dict; see :func:`read_config` for the errors."""
    return read_config(path).data


def parse_yaml(text: str, path: Path | None = None, *, empty_ok: bool = False) -> ConfigSource:
    """Parse YAML text holding one config mapping; ``path`` only names it in messages.

    ``empty_ok`` lets an empty document stand for ``{}`` (otherwise it is an error).
    """
    import yaml

    name = str(path) if path is not None else "<config>"
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(_too_large(name))
    loader = _loader()(text)
    try:
        try:
            node = _compose(loader, name)
        except yaml.MarkedYAMLError as e:
            raise ConfigError(_yaml_message(name, e)) from None
        except yaml.YAMLError as e:  # pragma: no cover - PyYAML marks every parse error
            raise ConfigError(f"{name}: not valid YAML ({e}).") from None
        if node is None:
            if empty_ok:
                return ConfigSource({}, path, {})
            raise ConfigError(
                f"Config file {name} is empty; write the config as a YAML mapping, e.g. `seed: 42`."
            )
        if not isinstance(node, yaml.MappingNode):
            raise ConfigError(
                f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: a config must "
                f"be a mapping of keys to values (e.g. `seed: 42`), not {_node_kind(node)}."
            )
        lines: dict[KeyPath, tuple[int, int]] = {}
        try:
            data = _checked_value(loader, node, name, lines)
        except yaml.MarkedYAMLError as e:
            raise ConfigError(_yaml_message(name, e)) from None
    finally:
        loader.dispose()
    source = ConfigSource(data, path, lines)
    check_reserved(source)
    return source


def parse_yaml_value(text: str, name: str) -> Any:
    """One YAML value (an override's), under the same limits as a config file: nesting,
    aliases, integers that fit in 64 bits, string keys. ``name`` names it in messages.

    Raises:
        yaml.YAMLError: the text is not valid YAML (the caller words the message).
        ConfigError: it breaks one of the limits.
    """
    loader: Any = _loader()(text)
    loader.in_file = False
    try:
        node = _compose(loader, name)
        return None if node is None else _checked_value(loader, node, name, {})
    finally:
        loader.dispose()


def _compose(loader: Any, name: str) -> Any:
    """The document's node graph (None when empty); nesting is limited while composing."""
    try:
        return loader.get_single_node()
    except _TooDeep as e:
        raise ConfigError(
            f"{name}:{e.mark.line + 1}:{e.mark.column + 1}: the config nests deeper than "
            f"{MAX_DEPTH} levels of mappings and lists here; flatten it, or keep such data "
            "in a file the config names by path."
        ) from None


def _checked_value(loader: Any, node: Any, name: str, lines: dict[KeyPath, tuple[int, int]]) -> Any:
    """Check the composed ``node`` (aliases, keys, integers; key lines into ``lines``), then
    build it (a tag the safe loader refuses raises its ``yaml.MarkedYAMLError``)."""
    if getattr(loader, "aliases", 0):
        _check_aliases(node, name)
    _walk(loader, node, (), lines, name)
    return loader.construct_document(node)


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        super().__init__()
        self.mark = mark


def _too_large(name: str) -> str:
    return (
        f"Config file {name} is larger than {MAX_CONFIG_BYTES // 2**20} MB; a config holds "
        "settings, so keep large data in files the config names by path."
    )


def _check_aliases(root: Any, name: str) -> None:
    """Refuse an alias that contains itself, and aliases that expand the config beyond
    ``MAX_ALIAS_EXPANSION`` values or ``MAX_DEPTH`` levels.

    Shared nodes are counted once each (memoised), and the walk keeps its own stack, so a
    bomb costs time in the number of distinct nodes, not in its expansion.
    """
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        return []

    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    entered: set[int] = set()  # on the path from the root: reaching one again is a cycle
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            entered.discard(key)
            kids = children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            level = 0 if isinstance(node, yaml.ScalarNode) else 1
            depth[key] = level + max((depth[id(k)] for k in kids), default=0)
            where = f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
            if size[key] > MAX_ALIAS_EXPANSION:
                raise ConfigError(
                    f"{where}: the aliases (*name) here expand the config to more than "
                    f"{MAX_ALIAS_EXPANSION:,} values; write the values out, or keep such data "
                    "in a file the config names by path."
                )
            if depth[key] > MAX_DEPTH:
                raise ConfigError(
                    f"{where}: through its aliases (*name) the config nests deeper than "
                    f"{MAX_DEPTH} levels of mappings and lists here; flatten it."
                )
            continue
        if key in size:
            continue
        entered.add(key)
        stack.append((node, True))
        for kid in children(node):
            if id(kid) in entered:
                raise ConfigError(
                    f"{name}:{kid.start_mark.line + 1}:{kid.start_mark.column + 1}: this "
                    "anchor (&name) contains an alias to itself, which would make the config "
                    "infinitely deep; refer to it only from outside its own value."
                )
            if id(kid) not in size:
                stack.append((kid, False))


def _yaml_message(name: str, e: Any) -> str:
    import yaml

    mark = e.problem_mark or e.context_mark
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
    problem = e.problem or e.context or "invalid YAML"
    if isinstance(e, yaml.constructor.ConstructorError):
        # Only the safe loader is used: tags that build Python objects are refused on purpose.
        return f"{where}: {problem}; configs are loaded safely, so remove the tag."
    context = f" ({e.context})" if e.context and e.problem else ""
    return f"{where}: {problem}{context}; fix the YAML syntax there."


def _node_kind(node: Any) -> str:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"a single value ({node.value!r})"


def _walk(
    loader: Any, node: Any, prefix: KeyPath, lines: dict[KeyPath, tuple[int, int]], name: str
) -> None:
    """Record the line of every key and refuse duplicate or non-string keys, and integers
    beyond 64 bits (no database column holds them, and params are stored)."""
    import yaml

    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        _check_int(loader, node, prefix, name)
        return
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            item_path = (*prefix, i)
            lines[item_path] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _walk(loader, item, item_path, lines, name)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` keys may be overridden by explicit keys, as YAML intends
        line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
        try:
            key = loader.construct_object(key_node, deep=True)
        except yaml.MarkedYAMLError as e:
            raise ConfigError(_yaml_message(name, e)) from None
        dotted = ".".join(str(k) for k in (*prefix, key))
        if not isinstance(key, str):
            raise ConfigError(
                f"{name}:{line}:{column}: the key {key!r} is {a_or_an(type(key).__name__)}, "
                f"but config keys must be strings; quote it as '{key}'."
            )
        if key in seen:
            lines_text = (
                f"on line {line}" if seen[key] == line else f"on lines {seen[key]} and {line}"
            )
            raise ConfigError(
                f"{name}:{line}:{column}: the key '{dotted}' appears twice ({lines_text}); YAML "
                "would silently keep only the last, so remove one."
            )
        seen[key] = line
        key_path = (*prefix, key)
        lines[key_path] = (line, column)
        _walk(loader, value_node, key_path, lines, name)


#: The integers a database column holds (SQLite and PostgreSQL BIGINT).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def int64_message(where: str, key: str, value: int) -> str:
    """The sentence for an integer beyond 64 bits at ``key`` (``where``: file and line)."""
    shown = str(value) if value.bit_length() <= 256 else f"a {value.bit_length()}-bit integer"
    return (
        f"In {where}, {key or 'the value'} = {shown} does not fit in 64 bits, the largest "
        f"integer a run's params hold; use a value from {INT64_MIN} to {INT64_MAX}, or write "
        "it as a float or a quoted string."
    )


def key_text(path: KeyPath) -> str:
    """``("training", "steps", 1)`` -> ``training.steps[1]``."""
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


def int64_overflow(value: Any, path: KeyPath = ()) -> tuple[str, int] | None:
    """The first integer beyond 64 bits in plain config data, as ``(key, value)``; or None.
    (Files are checked as they load, with lines; this is for data built in Python.)"""
    stack: list[tuple[KeyPath, Any]] = [(path, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool):
            if not INT64_MIN <= item <= INT64_MAX:
                return key_text(at), item
        elif isinstance(item, Mapping):
            stack.extend(((*at, str(k)), v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list | tuple):
            stack.extend(((*at, i), v) for i, v in reversed(list(enumerate(item))))
    return None


def _check_int(loader: Any, node: Any, prefix: KeyPath, name: str) -> None:
    digits = node.value.replace("_", "").lstrip("+-")
    # Longer than any 64-bit literal (0b + 64 digits): too big, and never handed to int(),
    # which refuses more than 4300 digits with a ValueError.
    value = 2**64 if len(digits) > 66 else loader.construct_object(node)
    if not INT64_MIN <= value <= INT64_MAX:
        key = key_text(prefix)
        where = f"{name} (line {node.start_mark.line + 1})" if loader.in_file else name
        if len(digits) > 66:
            raise ConfigError(
                f"In {where}, {key or 'the value'} is an integer of {len(digits)} digits, "
                f"which does not fit in 64 bits, the largest integer a run's params hold; use "
                f"a value from {INT64_MIN} to {INT64_MAX}, or write it as a quoted string."
            )
        raise ConfigError(int64_message(where, key, value))


def check_reserved(source: ConfigSource) -> None:
    """Check the keys trialbook owns: ``seed`` is an integer, ``experiment:`` a valid block.

    Raises:
        ConfigError: naming the key's line in ``source``.
    """
    data = source.data
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(
            f"In {source.where('seed')}, seed must be an integer such as 42, not {seed!r}."
        )
    block = data.get("experiment")
    if "experiment" in data and not isinstance(block, Mapping):
        raise ConfigError(
            f"In {source.where('experiment')}, experiment: must be a mapping with name, "
            f"entrypoint or command, ..., not {block!r}."
        )
    if isinstance(block, Mapping):
        from trialbook.config._experiment import check_experiment_keys

        check_experiment_keys(block, source)
