"""Typed configs: validate a config against a pydantic model or a dataclass.

One code path for both: pydantic validates models directly and dataclasses (nested ones too,
stdlib or pydantic) through ``TypeAdapter``. A failure becomes one :class:`ConfigError` that
names the file, and for each problem the key path, its line, the bad value and what was
expected.

Unknown keys are errors for every schema, because a misspelt ``lerning_rate`` that is silently
ignored (pydantic's default) trains with the default learning rate. A class that really wants
extra keys says so with ``model_config = ConfigDict(extra="allow")`` (or ``"ignore"``), or
``__pydantic_config__`` on a dataclass. The reserved top-level keys ``experiment`` and ``seed``
are passed to the schema only when it declares fields of those names.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from trialbook.config._suggest import closest
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.config._load import ConfigSource

__all__ = ["data_loc", "schema_of", "validate_config"]

T = TypeVar("T")

#: Top-level keys trialbook owns; given to a schema only if it declares them.
RESERVED_KEYS = ("experiment", "seed")


def _is_model(tp: Any) -> bool:
    # Duck-typed so that pydantic is imported only when a schema is actually used.
    return isinstance(tp, type) and callable(getattr(tp, "model_validate", None))


def _is_schema(tp: Any) -> bool:
    return isinstance(tp, type) and (_is_model(tp) or dataclasses.is_dataclass(tp))


def _field_keys(tp: Any) -> dict[str, str] | None:
    """Input key -> field name for a model or dataclass type (aliases included)."""
    fields = getattr(tp, "model_fields", None)
    if fields is None and dataclasses.is_dataclass(tp):
        fields = getattr(tp, "__pydantic_fields__", None)
        if fields is None:
            return {f.name: f.name for f in dataclasses.fields(tp) if f.init}
    if fields is None:
        return None
    keys: dict[str, str] = {}
    for name, info in fields.items():
        keys[name] = name
        for alias in (getattr(info, "alias", None), getattr(info, "validation_alias", None)):
            if isinstance(alias, str):
                keys[alias] = name
    return keys


def _explicit_extra(tp: type) -> str | None:
    config = getattr(tp, "model_config", None)
    if config is None:
        config = getattr(tp, "__pydantic_config__", None)
    return config.get("extra") if isinstance(config, Mapping) else None


def validate_config(
    config: Mapping[str, Any],
    schema: type[T],
    source: ConfigSource | str | None = None,
) -> T:
    """Validate ``config`` against ``schema`` (a pydantic model or a dataclass).

    Args:
        config: the plain config (e.g. from :func:`load_config`).
        schema: the type to build; nested models and dataclasses are validated too.
        source: where the config came from: a :class:`ConfigSource` (messages then give
            the line of each key) or a file name.

    Returns:
        An instance of ``schema``.

    Raises:
        ConfigError: the config does not match; one line per problem with the key path, its
            line, the bad value and what was expected.
    """
    if not _is_schema(schema):
        raise ConfigError(
            f"Cannot validate a config against {schema!r}: a schema must be a pydantic model "
            "class or a dataclass type."
        )
    from pydantic import TypeAdapter, ValidationError
    from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

    known = _field_keys(schema) or {}
    data = {k: v for k, v in config.items() if k not in RESERVED_KEYS or k in known}
    try:
        if _is_model(schema):
            result: Any = schema.model_validate(data)  # type: ignore[attr-defined]
        else:
            result = TypeAdapter(schema).validate_python(data)
    except ValidationError as e:
        problems = [_describe_error(err, data, schema) for err in e.errors()]
        raise ConfigError(_message(problems, schema, data, source)) from None
    except (PydanticSchemaGenerationError, PydanticUserError) as e:
        if getattr(e, "code", None) in ("class-not-fully-defined", "undefined-annotation"):
            fix = (
                "a type named in its fields cannot be resolved; define the classes it uses at "
                "module level (or import them there)"
            )
        else:
            fix = (
                f"{str(e).splitlines()[0].rstrip('.')}; use fields of plain types (numbers, "
                "strings, lists, mappings, nested models)"
            )
        raise ConfigError(f"Cannot build a validator for {schema.__name__}: {fix}.") from None
    problems = [
        (loc, f"unknown key{hint}; remove it, or declare it in {owner}")
        for loc, hint, owner in _unknown_keys(result, data, ())
    ]
    if problems:
        raise ConfigError(_message(problems, schema, data, source))
    return typing.cast(T, result)


Problem = tuple[tuple[str | int, ...], str]


def _describe_error(err: Any, data: Mapping[str, Any], schema: type) -> Problem:
    loc = data_loc(tuple(err["loc"]), data)
    kind = err["type"]
    if kind == "missing":
        parent = _lookup(data, loc[:-1])
        hint = ""
        if isinstance(parent, Mapping) and loc:
            match = closest(str(loc[-1]), [str(k) for k in parent])
            hint = f" (is '{_dotted((*loc[:-1], match))}' a typo for it?)" if match else ""
        return loc, f"required but missing{hint}; add it"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return loc, "unknown key; remove it (the schema forbids extra keys)"
    msg = str(err["msg"])
    if msg.startswith("Input should be "):
        msg = "expected " + msg[len("Input should be ") :]
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    given = err.get("input")
    if isinstance(given, Mapping) and kind == "value_error":
        # A whole section failed a check of its own: the message says what; a cut-off dump
        # of the section would not.
        return loc, msg
    return loc, f"got {_short_repr(given)}; {msg}"


def data_loc(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """A pydantic error's location as a key path into ``data``.

    Drop the parts pydantic adds for union members and validators (``'int'``,
    ``'function-after[...]'``): keep the path as far as it goes in the data, plus one missing
    key at the end."""
    kept: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping):
            kept.append(part)
            if part not in node:
                break
            node = node[part]
        elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            kept.append(part)
            node = node[part]
        else:
            break
    return tuple(kept)


def _lookup(data: Any, loc: tuple[str | int, ...]) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _unknown_keys(
    obj: Any, data: Any, loc: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Keys in ``data`` that the validated object dropped, walking nested models,
    dataclasses, lists and dicts in step with the input."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    if isinstance(obj, list | tuple) and isinstance(data, list | tuple):
        for i, (item, raw) in enumerate(zip(obj, data, strict=False)):
            found.extend(_unknown_keys(item, raw, (*loc, i)))
        return found
    if not isinstance(data, Mapping):
        return found
    if isinstance(obj, Mapping):
        # A dict field keeps its keys as they are (or coerced, hence str()); walk its values.
        present = {str(k): k for k in obj}
        for key, raw in data.items():
            if str(key) in present:
                found.extend(_unknown_keys(obj[present[str(key)]], raw, (*loc, key)))
        return found
    cls = type(obj)
    keys = _field_keys(cls)
    if keys is None:
        return found
    allows_extra = _explicit_extra(cls) in ("allow", "ignore")
    for key, raw in data.items():
        if key in keys:
            value = getattr(obj, keys[key], None)
            found.extend(_unknown_keys(value, raw, (*loc, key)))
        elif not allows_extra:
            match = closest(str(key), keys)
            hint = f" (did you mean '{_dotted((*loc, match))}'?)" if match else ""
            found.append(((*loc, key), hint, cls.__name__))
    return found


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(
    problems: list[Problem],
    schema: type,
    data: Mapping[str, Any],
    source: ConfigSource | str | None,
) -> str:
    if source is None:
        name = "The config"
    else:
        name = f"Config {source if isinstance(source, str) else source.name}"
    lines = []
    for loc, text in problems:
        line = None if source is None or isinstance(source, str) else source.line_of(loc)
        at = f" (line {line})" if line is not None else ""
        lines.append(f"{_dotted(loc)}{at}: {text}.")
    if len(lines) == 1:
        return f"{name} does not match {schema.__name__}: {lines[0]}"
    body = "\n".join(f"  {line}" for line in lines)
    return f"{name} does not match {schema.__name__} ({len(lines)} problems):\n{body}"


def schema_of(func: Callable[..., Any]) -> type | None:
    """The config schema an entrypoint declares, or None.

    Either ``func.config_schema = MyConfig``, or a type hint on the first parameter that is a
    pydantic model or a dataclass (``def train(config: MyConfig, run)``). A hint
    such as ``dict`` or ``Mapping[str, Any]`` declares no schema. Only the first parameter's
    hint is evaluated, so the others may name types imported under ``TYPE_CHECKING``.

    Raises:
        ConfigError: ``config_schema`` is not a schema type, or the first parameter's hint is a
            string that cannot be resolved in the function's module.
    """
    name = getattr(func, "__qualname__", repr(func))
    declared = getattr(func, "config_schema", None)
    if declared is not None:
        if not _is_schema(declared):
            raise ConfigError(
                f"{name}.config_schema is {declared!r}; set it to a pydantic model class or a "
                "dataclass type."
            )
        return typing.cast(type, declared)
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    if not params or params[0].annotation is inspect.Parameter.empty:
        return None
    hint = params[0].annotation
    if isinstance(hint, str):
        module_globals = getattr(inspect.unwrap(func), "__globals__", {})
        try:
            hint = eval(hint, module_globals)  # what typing.get_type_hints does, for one name
        except Exception as e:
            raise ConfigError(
                f"The type hint {params[0].annotation!r} of {name}'s first parameter cannot be "
                f"resolved ({type(e).__name__}: {e}); import it at module level (not only "
                f"under TYPE_CHECKING), or set {name}.config_schema = YourConfig."
            ) from None
    if typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return typing.cast(type, hint) if _is_schema(hint) else None
