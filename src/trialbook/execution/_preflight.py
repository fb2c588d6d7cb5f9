"""Check planned configs against their entrypoints' schemas before anything runs.

An entrypoint may declare a typed schema (a pydantic model or dataclass, see
:func:`trialbook.config.schema_of`); finding it means importing the user's module, which the
Runner itself never does (it may pull in torch, touch a GPU, or fail). So the Runner starts
one short process, ``python -m trialbook.execution._preflight``, that imports each distinct
entrypoint module, validates every planned config against its schema and reports the
problems as JSON on stdout. A module that fails to import is not reported here: its runs will
fail with the full traceback recorded, as any other failure of the user's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trialbook.errors import ConfigError

__all__ = ["check_schemas", "main"]

#: How long the check may take (importing a heavy module such as torch takes seconds).
PREFLIGHT_TIMEOUT = 300.0


def check_schemas(
    items: Sequence[tuple[str, str, Mapping[str, Any], str | None]], cwd: Path
) -> None:
    """Validate ``(name, entrypoint, config, source)`` items in a separate process.

    Raises:
        ConfigError: a config does not match its entrypoint's schema; the message names the
            run, the key path, the value and what was expected.
    """
    if not items:
        return
    payload = json.dumps(
        [
            {"name": name, "entrypoint": entrypoint, "config": dict(config), "source": source}
            for name, entrypoint, config, source in items
        ],
        default=str,
    )
    env = {k: v for k, v in os.environ.items() if k != "TRIALBOOK_RUN_ID"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "trialbook.execution._preflight"],
            input=payload,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=PREFLIGHT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return  # a module that takes this long to import: let the runs report it
    try:
        errors = json.loads(proc.stdout.strip().splitlines()[-1])["errors"]
    except (ValueError, IndexError, KeyError, TypeError):
        return  # the check itself broke (e.g. the module exits at import): runs will tell
    if errors:
        more = f" ({len(errors) - 1} more run(s) have problems too.)" if len(errors) > 1 else ""
        raise ConfigError(errors[0] + more)


def _check(items: list[dict[str, Any]]) -> list[str]:
    import importlib

    from trialbook.config._suggest import a_or_an
    from trialbook.config._validate import schema_of, validate_config
    from trialbook.execution._code import parse_entrypoint

    schemas: dict[str, Any] = {}
    errors: list[str] = []
    for item in items:
        entrypoint = item["entrypoint"]
        if entrypoint not in schemas:
            schemas[entrypoint] = None
            try:
                module_name, function_name = parse_entrypoint(entrypoint)
                function = getattr(importlib.import_module(module_name), function_name, None)
                if callable(function):
                    schemas[entrypoint] = schema_of(function)
                elif function is not None:
                    errors.append(
                        f"Entrypoint {entrypoint} of run {item['name']!r} is "
                        f"{a_or_an(type(function).__name__)}, not a function; point the "
                        "entrypoint at a function taking (config, run)."
                    )
            except ConfigError as e:  # an unresolvable schema annotation
                errors.append(f"Run {item['name']!r}: {e}")
            except BaseException:  # the user's module failed to import: the run reports it
                pass
        schema = schemas[entrypoint]
        if schema is None:
            continue
        try:
            validate_config(item["config"], schema, _with_lines(item["config"], item["source"]))
        except ConfigError as e:
            errors.append(f"Run {item['name']!r} ({entrypoint}): {e}")
    return errors


def _with_lines(config: dict[str, Any], source: str | None) -> Any:
    """A ConfigSource carrying the key lines of the config file the run came from, so errors
    say ``(line 7)``; the file name alone for suites (their keys live in other files)."""
    if source is None:
        return None
    from trialbook.config._load import ConfigSource, read_config

    try:
        original = read_config(source)
    except ConfigError:
        return source
    if "suite" in original.data:
        return source
    return ConfigSource(config, original.path, original.lines)


def main() -> None:
    items = json.loads(sys.stdin.read())
    sys.path.insert(0, os.getcwd())
    errors = _check(items)
    sys.stdout.write("\n" + json.dumps({"errors": errors}) + "\n")


if __name__ == "__main__":
    main()
