"""Hydra-style overrides: every form, every error, and the parser's properties."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from trialbook.config import Override, apply_overrides, parse_override
from trialbook.config._load import _FLOAT, parse_yaml
from trialbook.errors import ConfigError

BASE: dict[str, Any] = {
    "seed": 42,
    "training": {
        "learning_rate": 5e-5,
        "num_train_epochs": 3,
        "label_smoothing": {"enabled": False, "smoothing_factor": 0.6},
    },
    "data": {"cache": True, "max_eval_samples": None},
    "tags": ["a"],
}


def apply(*overrides: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return apply_overrides(BASE if config is None else config, overrides)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "path", "value"),
    [
        ("a.b=1", "set", ("a", "b"), 1),
        ("+a.b=1", "add", ("a", "b"), 1),
        ("++a.b=1", "force", ("a", "b"), 1),
        ("~a.b=1", "remove", ("a", "b"), 1),
        (" training.learning_rate = 1e-4 ", "set", ("training", "learning_rate"), 1e-4),
        ("a=x=y", "set", ("a",), "x=y"),
        ("my-key.sub_2=on", "set", ("my-key", "sub_2"), True),
    ],
)
def test_parse_forms(text: str, op: str, path: tuple[str, ...], value: Any) -> None:
    ov = parse_override(text)
    assert (ov.op, ov.path, ov.value) == (op, path, value)
    assert ov.has_value
    assert ov.key == ".".join(path)
    assert ov.text == text


def test_parse_bare_remove() -> None:
    ov = parse_override("~data.cache")
    assert (ov.op, ov.path, ov.has_value) == ("remove", ("data", "cache"), False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1e-4", 1e-4),  # YAML 1.1 reads this as a string; configs mean a float
        ("5E-5", 5e-5),
        ("3", 3),
        ("3.0", 3.0),
        ("true", True),
        ("null", None),
        ("~", None),
        ("[1, 2]", [1, 2]),
        ("{x: 1}", {"x": 1}),
        ("'1e-4'", "1e-4"),
        ('"3"', "3"),
        ("hello world", "hello world"),
        ("", ""),  # as in Hydra: empty is the empty string; null is None
        ("#ff0000", "#ff0000"),  # not a YAML comment
        ("a: b", "a: b"),  # not a block mapping
        ("- a", "- a"),  # not a block list
        ("2024-01-31", "2024-01-31"),  # not a date
        ("http://host:8080/x", "http://host:8080/x"),
    ],
)
def test_values_are_typed_as_yaml(raw: str, expected: Any) -> None:
    value = parse_override(f"k={raw}").value
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.b", "Override 'a.b' has no value; write a.b=VALUE to set it, +a.b=VALUE"),
        ("+a.b", "Override '+a.b' has no value"),
        ("=1", "Override '=1' has no key; write key=value to set a key"),
        ("", "Override '' has no key"),
        ("~", "Override '~' has no key"),
        ("++=2", "Override '++=2' has no key"),
        ("a..b=1", "Override 'a..b=1' has an empty part in the key 'a..b'"),
        (".a=1", "has an empty part"),
        ("a.=1", "has an empty part"),
        ("a b=1", "the key part 'a b', which is not a plain name"),
        ("a[0]=1", "the key part 'a[0]'"),
        ("a=[1,", "The value in override 'a=[1,' is not valid YAML"),
        ("a={x: 1", "is not valid YAML"),
        ("a=!!python/name:os.system", "is not valid YAML"),
    ],
)
def test_malformed_overrides(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert message in str(info.value)


def test_non_text_override() -> None:
    with pytest.raises(ConfigError, match="is not text"):
        parse_override(3)  # type: ignore[arg-type]


# --- applying --------------------------------------------------------------------------------


def test_set_existing_key_leaves_input_untouched() -> None:
    before = copy.deepcopy(BASE)
    out = apply("training.learning_rate=1e-4", "data.max_eval_samples=500")
    assert out["training"]["learning_rate"] == 1e-4
    assert out["data"]["max_eval_samples"] == 500
    assert before == BASE
    assert out["training"]["label_smoothing"] is not BASE["training"]["label_smoothing"]


def test_set_replaces_a_whole_section_and_lists() -> None:
    out = apply("training.label_smoothing={enabled: true}", "tags=[b, c]")
    assert out["training"]["label_smoothing"] == {"enabled": True}
    assert out["tags"] == ["b", "c"]


def test_add_creates_parents() -> None:
    out = apply("+training.optimizer.name=adamw", "+notes=first try")
    assert out["training"]["optimizer"] == {"name": "adamw"}
    assert out["notes"] == "first try"


def test_force_sets_or_adds() -> None:
    out = apply("++training.num_train_epochs=5", "++training.warmup.steps=10")
    assert out["training"]["num_train_epochs"] == 5
    assert out["training"]["warmup"] == {"steps": 10}


def test_remove_and_conditional_remove() -> None:
    out = apply("~data.cache", "~training.label_smoothing.enabled=false")
    assert "cache" not in out["data"]
    assert out["training"]["label_smoothing"] == {"smoothing_factor": 0.6}
    # removing the last key of a section leaves the section, empty
    assert apply("~data.cache", "~data.max_eval_samples")["data"] == {}


def test_overrides_apply_in_order() -> None:
    out = apply("+x=1", "x=2", "~x", "+x=3")
    assert out["x"] == 3


def test_override_objects_and_items() -> None:
    out = apply_overrides(
        BASE,
        [
            Override.from_item("training.learning_rate", 1e-3),
            Override.from_item("+training.new", [1]),
            Override.from_item("~data.cache", None),
        ],
    )
    assert out["training"]["learning_rate"] == 1e-3
    assert out["training"]["new"] == [1]
    assert "cache" not in out["data"]
    # mapping values are taken as they are, not re-parsed as YAML
    assert apply_overrides(BASE, [Override.from_item("+s", "1e-4")])["s"] == "1e-4"
    assert Override.from_item("~data.cache", True).has_value


def test_unknown_key_suggests_and_explains_plus() -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(BASE, ["training.lr=1e-4"], source="base.yaml")
    assert str(info.value) == (
        "Unknown config key 'training.lr' in base.yaml (from override 'training.lr=1e-4'); "
        "did you mean 'training.learning_rate'? Use +training.lr=... to add a new key."
    )


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [
        ("learning_rate=1", "training.learning_rate"),  # section forgotten
        ("training.num_epochs=1", "training.num_train_epochs"),
        ("trainin.learning_rate=1", "training.learning_rate"),  # typo in the section
        ("training.label_smoothing.enable=true", "training.label_smoothing.enabled"),
    ],
)
def test_did_you_mean(override: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=f"did you mean '{suggestion}'"):
        apply(override)


def test_unknown_key_without_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        apply("zzzz=1")
    assert str(info.value).endswith("; use +zzzz=... to add it as a new key.")


def test_remove_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"Unknown config key 'data\.cach' .*did you mean"):
        apply("~data.cach")
    with pytest.raises(ConfigError, match="there is nothing to remove"):
        apply("~qqqq")


def test_add_existing_key_suggests_plus_plus() -> None:
    with pytest.raises(ConfigError) as info:
        apply("+training.learning_rate=1")
    assert str(info.value) == (
        "Override '+training.learning_rate=1' adds 'training.learning_rate', but it already "
        "exists (value 5e-05); use training.learning_rate=... to change it or "
        "++training.learning_rate=... to set it either way."
    )


def test_conditional_remove_mismatch() -> None:
    with pytest.raises(ConfigError, match="only if its value is 1, but it is true"):
        apply("~data.cache=1")  # 1 is not true in a config


@pytest.mark.parametrize(
    "override",
    ["training.learning_rate.x=1", "+training.learning_rate.x=1", "++tags.x=1", "~seed.x"],
)
def test_key_under_a_value_that_is_not_a_section(override: str) -> None:
    with pytest.raises(ConfigError, match=r"goes through '[a-z_.]+'.*, not a section"):
        apply(override)


def test_messages_point_at_the_line_with_a_source() -> None:
    source = parse_yaml("training:\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"in <config> \(line 2\), which is an int \(3\)"):
        apply_overrides(source.data, ["training.epochs.x=1"], source)
    with pytest.raises(ConfigError, match=r"already exists in <config> \(line 2\)"):
        apply_overrides(source.data, ["+training.epochs=1"], source)


# --- properties -------------------------------------------------------------------------------

segment = st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,8}", fullmatch=True)
key_paths = st.lists(segment, min_size=1, max_size=4).map(tuple)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=True)
    | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(segment, inner, max_size=3),
    max_leaves=6,
)


class _Dumper(yaml.SafeDumper):
    """Quotes strings the config loader reads as floats (``0E0``), as YAML 1.2 does."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _yaml_text(value: Any) -> str:
    """How a user would write the value on the command line (flow-style YAML)."""
    text = yaml.dump(value, Dumper=_Dumper, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


@given(st.sampled_from(["", "+", "++", "~"]), key_paths, values)
def test_parse_round_trips(prefix: str, path: tuple[str, ...], value: Any) -> None:
    text = f"{prefix}{'.'.join(path)}={_yaml_text(value)}"
    ov = parse_override(text)
    assert ov.path == path
    assert ov.op == {"": "set", "+": "add", "++": "force", "~": "remove"}[prefix]
    # the dumper quotes strings that would read as something else, so every value survives
    assert _equal(ov.value, value), (text, ov.value)


@given(st.text(max_size=30))
def test_parser_only_raises_config_errors(text: str) -> None:
    try:
        ov = parse_override(text)
    except ConfigError as e:
        assert str(e)
    else:
        assert ov.path and all(ov.path)


@given(key_paths, values)
def test_add_then_set_then_remove(path: tuple[str, ...], value: Any) -> None:
    key = ".".join(path)
    added = apply_overrides({}, [Override("add", path, 0, f"+{key}=0")])
    changed = apply_overrides(added, [Override("set", path, value, f"{key}=...")])
    node: Any = changed
    for part in path:
        node = node[part]
    assert _equal(node, value)
    removed = apply_overrides(changed, [f"~{key}"])
    node = removed
    for part in path[:-1]:
        node = node[part]
    assert path[-1] not in node
    assert _equal(added, apply_overrides({}, [f"+{key}=0"]))
