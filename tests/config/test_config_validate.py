"""Typed configs: pydantic models and (nested) dataclasses, with messages that point at lines."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict, Field

from trialbook.config import read_config, schema_of, to_plain_config, validate_config
from trialbook.config._load import parse_yaml
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook import Run


# Seed 001's shape: nested dataclasses for the training strategies.
@dataclass
class LabelSmoothing:
    enabled: bool = False
    smoothing_factor: float = 0.6


@dataclass
class Training:
    learning_rate: float
    num_train_epochs: int = 3
    label_smoothing: LabelSmoothing = field(default_factory=LabelSmoothing)
    layers: list[int] = field(default_factory=list)


@dataclass
class Data:
    max_eval_samples: int | None = None


@dataclass
class TrainConfig:
    training: Training
    data: Data = field(default_factory=Data)


# The same as pydantic models, with constraints.
class MTraining(BaseModel):
    learning_rate: float = Field(gt=0)
    num_train_epochs: int = 3


class MData(BaseModel):
    max_eval_samples: int | None = Field(default=None, ge=1)


class MConfig(BaseModel):
    seed: int  # declared, so the reserved seed is passed in
    training: MTraining
    data: MData = MData()


GOOD: dict[str, Any] = {
    "experiment": {"name": "x", "entrypoint": "m:f"},
    "seed": 3,
    "training": {"learning_rate": 1e-4, "label_smoothing": {"enabled": True}, "layers": [1, 2]},
}


def test_nested_dataclass_is_built() -> None:
    result = validate_config(GOOD, TrainConfig)
    assert result == TrainConfig(Training(1e-4, 3, LabelSmoothing(True, 0.6), [1, 2]), Data(None))


def test_pydantic_model_gets_declared_reserved_keys_only() -> None:
    config = {"experiment": {"name": "x"}, "seed": 3, "training": {"learning_rate": 0.1}}
    result = validate_config(config, MConfig)
    assert result.seed == 3
    assert result.training.learning_rate == 0.1
    # a schema without `seed` and `experiment` fields never sees them
    assert validate_config(GOOD, TrainConfig).training.learning_rate == 1e-4


def test_message_names_file_key_path_line_value_and_expectation(data_dir: Path) -> None:
    path = data_dir / "typed.yaml"
    source = read_config(path)
    with pytest.raises(ConfigError) as info:
        validate_config(source.data, MConfig, source)
    lines = str(info.value).splitlines()
    assert lines[0] == f"Config {path} does not match MConfig (2 problems):"
    assert lines[1] == (
        "  training.learning_rate (line 6): got 'fast'; expected a valid number, unable to "
        "parse string as a number."
    )
    assert lines[2] == (
        "  data.max_eval_samples (line 12): got -5; expected greater than or equal to 1."
    )


def test_dataclass_message_with_list_index_and_source_name() -> None:
    config = {"training": {"learning_rate": 1.0, "layers": [1, "two"]}}
    with pytest.raises(ConfigError) as info:
        validate_config(config, TrainConfig, "exp.yaml")
    assert str(info.value) == (
        "Config exp.yaml does not match TrainConfig: training.layers[1]: got 'two'; expected "
        "a valid integer, unable to parse string as an integer."
    )


def test_missing_field_points_at_its_section_and_guesses_the_typo() -> None:
    source = parse_yaml("seed: 1\ntraining:\n  lerning_rate: 0.1\n")
    with pytest.raises(ConfigError) as info:
        validate_config(source.data, MConfig, source)
    assert str(info.value) == (
        "Config <config> does not match MConfig: training.learning_rate (line 2): required but "
        "missing (is 'training.lerning_rate' a typo for it?); add it."
    )


@pytest.mark.parametrize("schema", [TrainConfig, MConfig])
def test_unknown_keys_are_errors_with_did_you_mean(schema: type) -> None:
    source = parse_yaml("seed: 1\ntraining:\n  learning_rate: 0.1\n  num_train_epoch: 2\nzz: 3\n")
    with pytest.raises(ConfigError) as info:
        validate_config(source.data, schema, source)
    lines = str(info.value).splitlines()
    assert lines[0].endswith(f"does not match {schema.__name__} (2 problems):")
    assert lines[1].startswith(
        "  training.num_train_epoch (line 4): unknown key (did you mean "
        "'training.num_train_epochs'?); remove it, or declare it in"
    )
    assert lines[2].startswith("  zz (line 5): unknown key; remove it")


def test_unknown_key_in_a_nested_dataclass() -> None:
    config = {"training": {"learning_rate": 1.0, "label_smoothing": {"enabld": True}}}
    with pytest.raises(
        ConfigError,
        match=r"training\.label_smoothing\.enabld: unknown key "
        r"\(did you mean 'training\.label_smoothing\.enabled'\?\); remove it, "
        r"or declare it in LabelSmoothing\.",
    ):
        validate_config(config, TrainConfig)


def test_unknown_keys_inside_lists_of_models() -> None:
    class Layer(BaseModel):
        width: int = 8

    class Net(BaseModel):
        layers: list[Layer]

    with pytest.raises(ConfigError, match=r"layers\[1\]\.widht: unknown key"):
        validate_config({"layers": [{"width": 1}, {"widht": 2}]}, Net)


def test_a_schema_may_allow_extra_keys_explicitly() -> None:
    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: int = 1

    class Ignoring(BaseModel):
        model_config = ConfigDict(extra="ignore")
        a: int = 1

    assert validate_config({"a": 2, "b": 3}, Loose).model_extra == {"b": 3}
    assert validate_config({"a": 2, "b": 3}, Ignoring).a == 2


def test_a_schema_forbidding_extra_keys_says_so() -> None:
    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: int = 1

    with pytest.raises(ConfigError, match="b: unknown key; remove it"):
        validate_config({"b": 3}, Strict)


def test_pydantic_dataclass() -> None:
    @pydantic.dataclasses.dataclass
    class P:
        lr: float

    assert validate_config({"lr": "0.5"}, P) == P(0.5)
    with pytest.raises(ConfigError, match=r"lr: got 'x'; expected a valid number"):
        validate_config({"lr": "x"}, P)


def test_validator_errors_keep_their_text() -> None:
    class Checked(BaseModel):
        fraction: float

        @pydantic.field_validator("fraction")
        @classmethod
        def _in_unit_interval(cls, v: float) -> float:
            if not 0 < v <= 1:
                raise ValueError("top_fraction must be in (0, 1]")
            return v

    with pytest.raises(ConfigError, match=r"fraction: got 3; top_fraction must be in \(0, 1\]\."):
        validate_config({"fraction": 3}, Checked)


def test_a_section_check_says_what_is_wrong_without_dumping_the_section() -> None:
    class Paths(BaseModel):
        data_dir: str
        results_dir: str

        @pydantic.model_validator(mode="after")
        def _apart(self) -> Paths:
            if self.data_dir == self.results_dir:
                raise ValueError("data_dir and results_dir must differ")
            return self

    class Config(BaseModel):
        paths: Paths

    with pytest.raises(ConfigError) as info:
        validate_config({"paths": {"data_dir": "d" * 80, "results_dir": "d" * 80}}, Config)
    assert str(info.value).endswith("paths: data_dir and results_dir must differ.")


def test_union_members_do_not_leak_into_the_key_path() -> None:
    class U(BaseModel):
        x: int | bool

    with pytest.raises(ConfigError) as info:
        validate_config({"x": "maybe"}, U)
    assert all(
        line.lstrip().startswith(("x: got", "Config")) or "does not" in line
        for line in str(info.value).splitlines()
    )


@pytest.mark.parametrize("schema", [dict, int, "TrainConfig", TrainConfig(Training(1.0))])
def test_not_a_schema(schema: Any) -> None:
    with pytest.raises(ConfigError, match="a schema must be a pydantic model class"):
        validate_config({}, schema)


def test_schema_with_an_unresolvable_type() -> None:
    @dataclass
    class Local:
        x: int = 1

    @dataclass
    class UsesLocal:
        local: Local  # a string under `from __future__ import annotations`: not resolvable

    with pytest.raises(ConfigError) as info:
        validate_config({"local": {"x": 1}}, UsesLocal)
    assert str(info.value) == (
        "Cannot build a validator for UsesLocal: a type named in its fields cannot be resolved; "
        "define the classes it uses at module level (or import them there)."
    )


class Odd:
    """A type pydantic has no validator for."""


@dataclass
class HasOdd:
    thing: Odd


def test_schema_that_pydantic_cannot_build() -> None:
    with pytest.raises(ConfigError) as info:
        validate_config({"thing": 1}, HasOdd)
    message = str(info.value)
    assert message.startswith("Cannot build a validator for HasOdd: Unable to generate")
    assert message.endswith(
        "; use fields of plain types (numbers, strings, lists, mappings, nested models)."
    )


@pytest.mark.parametrize(
    "obj",
    [
        TrainConfig(Training(5e-5, 2, LabelSmoothing(True, 0.3), [4])),
        MConfig(seed=1, training=MTraining(learning_rate=0.5), data=MData(max_eval_samples=9)),
    ],
)
def test_typed_objects_round_trip_through_plain_configs(obj: Any) -> None:
    plain = to_plain_config(obj)
    assert validate_config(plain, type(obj)) == obj


# --- schema_of ------------------------------------------------------------------------------


def train_hinted(config: TrainConfig, run: Run) -> None:  # Run exists only for type checkers
    pass


def train_model(config: Annotated[MConfig, "doc"], run: object) -> None:
    pass


def train_plain(config: dict[str, Any], run: object) -> None:
    pass


def train_bare(config, run):  # type: ignore[no-untyped-def]
    pass


def train_declared(config: dict[str, Any], run: object) -> None:
    pass


train_declared.config_schema = MConfig  # type: ignore[attr-defined]


def train_unresolvable(config: NoSuchType, run: object) -> None:  # type: ignore[name-defined]  # noqa: F821
    pass


def test_schema_of() -> None:
    assert schema_of(train_hinted) is TrainConfig
    assert schema_of(train_model) is MConfig
    assert schema_of(train_plain) is None
    assert schema_of(train_bare) is None
    assert schema_of(train_declared) is MConfig
    assert schema_of(lambda: None) is None
    assert schema_of(print) is None


def test_schema_of_unresolvable_hint() -> None:
    with pytest.raises(ConfigError) as info:
        schema_of(train_unresolvable)
    assert str(info.value) == (
        "The type hint 'NoSuchType' of train_unresolvable's first parameter cannot be resolved "
        "(NameError: name 'NoSuchType' is not defined); import it at module level (not only "
        "under TYPE_CHECKING), or set train_unresolvable.config_schema = YourConfig."
    )


def test_schema_of_bad_declaration() -> None:
    def f(config: Any, run: Any) -> None:
        pass

    f.config_schema = "MConfig"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"config_schema is 'MConfig'; set it to a pydantic"):
        schema_of(f)


def test_validating_does_not_touch_the_input() -> None:
    config = {"training": {"learning_rate": "0.5"}}
    validate_config(config, TrainConfig)
    assert config == {"training": {"learning_rate": "0.5"}}
    assert dataclasses.is_dataclass(validate_config(config, TrainConfig))
