"""The suite file's schema, declared as pydantic models.

Imported only when a suite file is read (pydantic is not on ``import trialbook``'s path).
:func:`trialbook.config._suite_file.parse_suite` validates a suite's data against
:class:`SuiteModel` and turns the first problem into one sentence at its file and line; the
checks a type cannot say (seeds in range, experiment names unique, keys that exist in the
base config) follow in that module.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ["ExperimentModel", "SuiteModel"]

_Name = Annotated[str, StringConstraints(pattern=r"^[\w\-.]+$")]
_Seeds = int | list[int]
_Sweep = dict[str, Annotated[list[Any], Field(min_length=1)]]
_Set = dict[Any, Any] | list[str]


class _Strict(BaseModel):
    # YAML already gives typed values: nothing is coerced, no key is ignored.
    model_config = ConfigDict(extra="forbid", strict=True)


class ExperimentModel(_Strict):
    """One entry of ``experiments:`` (a bare name is read as ``{name: NAME}``)."""

    name: Annotated[str, StringConstraints(pattern=r"\S")]
    description: str | None = None
    hypothesis: str | None = None
    tags: list[str] | None = None
    set: _Set | None = None
    #: Absent: the suite's sweep; null or {}: no sweep for this experiment.
    sweep: _Sweep | None = None
    #: Absent (see ``model_fields_set``): the suite's seeds. Null is refused.
    seeds: _Seeds = Field(default_factory=list)


class SuiteModel(_Strict):
    """A suite file: see docs/configs.md, "Suites"."""

    suite: _Name | None = None
    description: Any = None
    shortcuts: dict[Any, str] | None = None
    base: str | dict[Any, Any] | None = None
    set: _Set | None = None
    seeds: _Seeds = Field(default_factory=list)
    sweep: _Sweep | None = None
    experiments: list[ExperimentModel] | None = None
    suites: dict[_Name, str | list[str]] | None = None

    @field_validator("experiments", mode="before")
    @classmethod
    def _names_are_entries(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value
