"""The writer's settings and the environment variables tracking reads, in one place.

``start_run``, attach mode and the Runner's checks before it creates anything all call
:func:`tracking_settings`, so a bad ``TRIALBOOK_FLUSH_INTERVAL`` is one sentence at the same
moment everywhere.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from typing import Any

from trialbook.errors import ConfigError

__all__ = [
    "FLUSH_INTERVAL_ENV",
    "HEARTBEAT_INTERVAL_ENV",
    "LAUNCHED_BY_ENV",
    "RUNNER_HOST_ENV",
    "RUNNER_PID_ENV",
    "RUN_DIR_ENV",
    "RUN_ID_ENV",
    "STORE_RETRY_ENV",
    "SYSTEM_METRICS_ENV",
    "TrackingSettings",
    "tracking_settings",
]

#: Set by the Runner: the id of the queued run a process it launched should track into.
RUN_ID_ENV = "TRIALBOOK_RUN_ID"
#: Set by the Runner: the command line (JSON list) of the process that launched the run.
LAUNCHED_BY_ENV = "TRIALBOOK_LAUNCHED_BY"
#: Set by the Runner: the run's folder.
RUN_DIR_ENV = "TRIALBOOK_RUN_DIR"
#: Set by the Runner: the host and pid of the runner that claimed the run. A process
#: launched by a remote executor (Ray, Slurm) is not the runner's descendant; these let it
#: take the run over (``tracking._attach.claim_run``).
RUNNER_PID_ENV = "TRIALBOOK_RUNNER_PID"
RUNNER_HOST_ENV = "TRIALBOOK_RUNNER_HOST"

FLUSH_INTERVAL_ENV = "TRIALBOOK_FLUSH_INTERVAL"
HEARTBEAT_INTERVAL_ENV = "TRIALBOOK_HEARTBEAT_INTERVAL"
SYSTEM_METRICS_ENV = "TRIALBOOK_SYSTEM_METRICS"
STORE_RETRY_ENV = "TRIALBOOK_STORE_RETRY"

_DEFAULT_FLUSH = 0.2
_DEFAULT_HEARTBEAT = 5.0
_DEFAULT_STORE_RETRY = 60.0

#: Shorter intervals make the writer thread busy-wait for nothing.
_MIN_INTERVAL = 0.01
#: One day; longer is almost certainly a unit mistake (and overflows some timers).
_MAX_INTERVAL = 86_400.0


@dataclass(frozen=True)
class TrackingSettings:
    """How a run's writer behaves."""

    #: Seconds between writer flushes.
    flush_interval: float
    #: Seconds between heartbeats (how readers tell a live run from a crashed one).
    heartbeat_interval: float
    #: Sample CPU, memory and GPU memory in the background.
    system_metrics: bool
    #: Seconds ``finish`` keeps retrying a database it cannot write (a full disk), before it
    #: saves the points it could not store to ``unflushed_metrics.jsonl``.
    store_retry: float


def _seconds(value: Any, *, lowest: float, source: str, parameter: str | None = None) -> float:
    """``value`` as seconds; ``source`` names it in messages (a variable or ``parameter``)."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(
                f"{source}={value!r} is not a number; set it to seconds, e.g. 0.2.",
                parameter=parameter,
                value=value,
            ) from None
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ConfigError(
            f"{source}={value!r} is not a number; pass seconds, e.g. 0.2.",
            parameter=parameter,
            value=value,
        )
    if not (math.isfinite(number) and lowest <= number <= _MAX_INTERVAL):
        raise ConfigError(
            f"{source}={value!r} is out of range; use seconds between {lowest:g} and "
            f"{_MAX_INTERVAL:g}, e.g. 0.2.",
            parameter=parameter,
            value=value,
        )
    return number


def _env_seconds(name: str, default: float, *, lowest: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return _seconds(raw.strip(), lowest=lowest, source=name)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigError(
        f"{name}={raw!r} is neither on nor off; set it to 1 or 0 (true/false, yes/no, on/off)."
    )


def tracking_settings(
    *, flush_interval: Any = None, system_metrics: bool | None = None
) -> TrackingSettings:
    """The settings from the arguments, else the environment, else the defaults.

    Raises:
        ConfigError: an interval (argument or variable) is not a number of seconds in range,
            or ``TRIALBOOK_SYSTEM_METRICS`` is not a yes/no word; the message names it.
    """
    if flush_interval is None:
        flush = _env_seconds(FLUSH_INTERVAL_ENV, _DEFAULT_FLUSH, lowest=_MIN_INTERVAL)
    else:
        name = "flush_interval"
        flush = _seconds(flush_interval, lowest=_MIN_INTERVAL, source=name, parameter=name)
    if system_metrics is None:
        system_metrics = _env_flag(SYSTEM_METRICS_ENV, True)
    return TrackingSettings(
        flush_interval=flush,
        heartbeat_interval=_env_seconds(
            HEARTBEAT_INTERVAL_ENV, _DEFAULT_HEARTBEAT, lowest=_MIN_INTERVAL
        ),
        system_metrics=bool(system_metrics),
        store_retry=_env_seconds(STORE_RETRY_ENV, _DEFAULT_STORE_RETRY, lowest=0.0),
    )
