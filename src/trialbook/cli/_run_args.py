"""Reading ``trialbook run``'s command line: variadic ``--seeds``, overrides mixed with files,
and the options that suites declare as shortcuts (``--max-train-samples 5000``).

Typer's options are static, so the command accepts unknown options and sorts them out here,
against ``suite_shortcuts(files)``, with a did-you-mean for anything unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from typer.core import TyperCommand

from trialbook.errors import ConfigError

if TYPE_CHECKING:
    # Typer ships its own copy of click; its types are the ones TyperCommand uses.
    from typer._click import Context as ClickContext
    from typer._click import HelpFormatter

    from trialbook.config import Plan

__all__ = ["RunCommand", "plan_from_arguments", "split_run_arguments"]

_INT = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-(\d|\.\d)")
_PANEL = "Suite options"


def _is_override(token: str) -> bool:
    """``a.b=1``, ``+a.b=1``, ``++a.b=1`` or ``~a.b`` (a path that exists is a path)."""
    if Path(token).exists():
        return False
    return token.startswith(("~", "+")) or ("=" in token and not token.startswith("-"))


def _expand_seeds(args: list[str]) -> list[str]:
    """``--seeds 42 43 44`` and ``--seeds 42,43`` -> ``--seeds 42 --seeds 43 ...``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            out.extend(args[i:])
            break
        name, eq, inline = token.partition("=")
        if name == "--seeds":
            values = inline.split(",") if eq else []
            i += 1
            if not eq:
                while i < len(args) and all(_INT.match(v) for v in args[i].split(",") if v):
                    values.extend(v for v in args[i].split(",") if v)
                    i += 1
            if not values and i < len(args) and not args[i].startswith("-"):
                values = [args[i]]  # not a seed ('--seeds abc'): the option reports it
                i += 1
            if not values:
                values = [""]  # let the option itself report the missing value
            for value in values:
                out.extend(["--seeds", value])
            continue
        out.append(token)
        i += 1
    return out


class RunCommand(TyperCommand):
    """``trialbook run``: variadic ``--seeds`` and the suite's shortcuts in ``--help``."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        ctx.meta["trialbook.raw_args"] = list(args)
        return super().parse_args(ctx, _expand_seeds(args))

    def format_help(self, ctx: ClickContext, formatter: HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        raw = ctx.meta.get("trialbook.raw_args", [])
        files = [a for a in raw if not a.startswith("-") and Path(a).is_file()]
        suite = None
        if "--suite" in raw and raw.index("--suite") + 1 < len(raw):
            suite = raw[raw.index("--suite") + 1]
        if not files and suite is None:
            return
        from trialbook.config import suite_shortcuts

        try:
            shortcuts = suite_shortcuts(files, suite)
        except ConfigError:
            return
        if shortcuts:
            with formatter.section(_PANEL):
                formatter.write_dl(
                    [(f"--{opt} VALUE", f"Sets {key}.") for opt, key in sorted(shortcuts.items())]
                )


def split_run_arguments(
    tokens: Sequence[str], known_options: Sequence[str], shortcuts: dict[str, str] | None
) -> tuple[list[str], list[str], dict[str, str]]:
    """Sort ``trialbook run``'s free arguments into ``(paths, overrides, shortcut values)``.

    ``shortcuts`` is None while the files are not known yet (only paths are collected).

    Raises:
        ConfigError: an option that is neither trialbook's nor a shortcut of the suites, or a
            shortcut without a value.
    """
    paths: list[str] = []
    overrides: list[str] = []
    values: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith("-") and token != "-" and not _INT.match(token):
            name, eq, value = token.partition("=")
            option = name.lstrip("-")
            if shortcuts is None:
                if not eq and i < len(tokens) and _value_like(tokens[i]):
                    i += 1  # its value (a negative number too: the schema judges it)
                continue
            if option not in shortcuts:
                from trialbook.config import closest

                candidates = [*known_options, *(f"--{s}" for s in shortcuts)]
                match = closest(name, candidates)
                fix = (
                    f"; did you mean '{match}'?"
                    if match
                    else (
                        "; see `trialbook run FILE --help` for the options (a suite's shortcuts "
                        "are listed when its file is given)."
                    )
                )
                raise ConfigError(f"Unknown option '{name}'{fix}")
            if not eq:
                if i >= len(tokens) or tokens[i].startswith("--"):
                    raise ConfigError(
                        f"Option '{name}' needs a value, e.g. {name} 5000 (it sets "
                        f"{shortcuts[option]})."
                    )
                value = tokens[i]
                i += 1
            values[option] = value
        elif _is_override(token):
            overrides.append(token)
        else:
            paths.append(token)
    return paths, overrides, values


def _value_like(token: str) -> bool:
    """Whether ``token`` after an option is its value rather than the next option."""
    return not token.startswith("-") or _NUMBER.match(token) is not None


def _known_options(ctx: ClickContext) -> list[str]:
    names: list[str] = []
    for param in ctx.command.get_params(ctx):
        names.extend(o for o in getattr(param, "opts", []) if o.startswith("--"))
    return names


def plan_from_arguments(
    ctx: ClickContext,
    tokens: list[str],
    *,
    suite: str | None,
    seeds: list[int] | None,
    sets: list[str] | None,
) -> Plan:
    """The plan of ``trialbook run``'s free arguments (files, overrides, suite shortcut values)
    with ``--suite``, ``--seeds`` and ``--set``."""
    from trialbook.config import plan_runs, suite_shortcuts

    paths, _, _ = split_run_arguments(tokens, [], None)
    own = [o.removeprefix("--") for o in _known_options(ctx)]
    shortcuts = suite_shortcuts(paths, suite, reserved=own) if paths or suite else {}
    paths, overrides, values = split_run_arguments(tokens, _known_options(ctx), shortcuts)
    if not paths and suite is None:
        raise ConfigError(
            "Give the config or suite files to run, e.g. trialbook run configs/exp.yaml, or "
            "--suite NAME for suites/NAME.yaml."
        )
    return plan_runs(
        paths,
        suite=suite,
        seeds=seeds or None,
        overrides=[*overrides, *(sets or [])],
        shortcut_values=values,
    )
