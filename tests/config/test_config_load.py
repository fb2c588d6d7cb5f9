"""Loading YAML configs: safe, typed like YAML 1.2 floats, with lines for every message."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from trialbook.config import ConfigSource, load_config, read_config
from trialbook.config._load import parse_yaml
from trialbook.errors import ConfigError

Write = Callable[[str, str], Path]


def test_realistic_config_loads_with_types(data_dir: Path) -> None:
    config = load_config(data_dir / "base.yaml")
    assert config["seed"] == 42
    assert config["training"]["learning_rate"] == 5e-5  # a float, not the string "5e-5"
    assert isinstance(config["training"]["num_train_epochs"], float)
    assert config["training"]["max_train_samples"] is None
    assert config["experiment"]["tags"] == ["squad", "electra"]
    assert config["data"]["cache"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e-4", 1e-4),
        ("5E+3", 5000.0),
        ("-2e-5", -2e-5),
        ("1.5e-3", 1.5e-3),
        (".5", 0.5),
        ("1_000", 1000),
        ("0x10", 16),
        ("true", True),
        ("null", None),
        ("'1e-4'", "1e-4"),
        ("2024-01-31", "2024-01-31"),  # no datetime.date: it could not be hashed or saved
        ("2024-01-31 10:00:00", "2024-01-31 10:00:00"),
    ],
)
def test_scalar_typing(text: str, expected: object) -> None:
    value = parse_yaml(f"x: {text}\n").data["x"]
    assert value == expected
    assert type(value) is type(expected)


def test_line_of_keys_and_nearest_ancestor(data_dir: Path) -> None:
    source = read_config(data_dir / "base.yaml")
    text = (data_dir / "base.yaml").read_text().splitlines()
    line = source.line_of(("training", "learning_rate"))
    assert line is not None
    assert text[line - 1].strip().startswith("learning_rate:")
    assert source.line_of("training.learning_rate") == line
    # a key that is not in the file points at its section
    assert source.line_of("training.warmup_steps") == source.line_of("training")
    assert source.line_of("training.warmup_steps", nearest=False) is None
    assert source.line_of("nothing.here") is None
    assert source.where("training.learning_rate") == f"{source.path} (line {line})"


def test_lines_of_list_items() -> None:
    source = parse_yaml("model:\n  layers:\n    - {width: 64}\n    - {width: 32}\n")
    assert source.line_of(("model", "layers", 1, "width")) == 4
    assert source.line_of(("model", "layers", 0)) == 3


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Config file .*nope\.yaml does not exist; check the"):
        read_config(tmp_path / "nope.yaml")


def test_relative_missing_file_names_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"relative to .*"):
        read_config("nope.yaml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a config file"):
        read_config(tmp_path)


def test_a_named_pipe_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "exp.yaml"
    os.mkfifo(fifo)
    # Opening the pipe would wait for a writer: one comes after 5 s, so that a regression
    # fails this test (the pipe reads as empty) instead of hanging the suite.
    writer = threading.Timer(5.0, lambda: os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)))
    writer.start()
    try:
        with pytest.raises(ConfigError, match=r"exp\.yaml is a named pipe \(FIFO\), not a config"):
            read_config(fifo)
    finally:
        writer.cancel()


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(ConfigError, match=r"exp\.yaml is a socket, not a config file"):
            read_config(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        read_config(path)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("a: 1\nb: [1,\n", ":3:1:", "expected the node content"),
        ("a:\n  b: 1\n c: 2\n", ":3:2:", "expected <block end>"),
        ("a: 'unclosed\n", ":2:1:", "found unexpected end of stream"),
        ("a:\tb\n", ":1:3:", "found character '\\\\t'"),
    ],
)
def test_malformed_yaml_names_file_line_column(
    write: Write, text: str, where: str, what: str
) -> None:
    path = write("bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        read_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}{where}"), message
    assert what.replace("\\\\", "\\") in message
    assert message.endswith("fix the YAML syntax there.")


def test_python_tags_are_refused(write: Write) -> None:
    path = write("evil.yaml", "a: !!python/object/apply:os.system [echo hi]\n")
    with pytest.raises(ConfigError, match=r"evil\.yaml:1:4: .*loaded safely, so remove the tag"):
        read_config(path)


def test_duplicate_keys_name_both_lines(write: Write) -> None:
    path = write("dup.yaml", "training:\n  lr: 1\n  epochs: 3\n  lr: 2\n")
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert str(info.value) == (
        f"{path}:4:3: the key 'training.lr' appears twice (on lines 2 and 4); YAML would "
        "silently keep only the last, so remove one."
    )


def test_duplicate_keys_in_a_flow_mapping(write: Write) -> None:
    path = write("dup.yaml", "a: {b: 1, b: 2}\n")
    with pytest.raises(ConfigError, match=r"'a\.b' appears twice \(on line 1\)"):
        read_config(path)


def test_merge_keys_may_be_overridden() -> None:
    data = parse_yaml("base: &b {lr: 1, wd: 0}\nrun:\n  <<: *b\n  lr: 2\n").data
    assert data["run"] == {"lr": 2, "wd": 0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- a\n- b\n",
            "a config must be a mapping of keys to values (e.g. `seed: 42`), not a list",
        ),
        ("42\n", "not a single value ('42')"),
        ("", "is empty; write the config as a YAML mapping"),
        ("# only a comment\n", "is empty"),
        ("1: x\n", "the key 1 is an int, but config keys must be strings; quote it as '1'"),
        ("seed: abc\n", "seed must be an integer such as 42, not 'abc'"),
        ("seed: 4.5\n", "seed must be an integer"),
        ("seed: true\n", "seed must be an integer"),
        ("experiment: baseline\n", "experiment: must be a mapping"),
        ("experiment:\n", "experiment: must be a mapping"),
    ],
)
def test_bad_shapes(write: Write, text: str, message: str) -> None:
    path = write("c.yaml", text)
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_experiment_key_suggests(write: Write) -> None:
    path = write("c.yaml", "experiment:\n  name: a\n  entrypont: m:f\n")
    with pytest.raises(ConfigError) as info:
        read_config(path)
    assert str(info.value) == (
        f"Unknown key 'experiment.entrypont' in {path} (line 3): the experiment: block takes "
        "only name, description, hypothesis, tags, entrypoint, command, resources, slurm; "
        "did you mean 'entrypoint'?"
    )


def test_seed_null_is_allowed() -> None:
    assert parse_yaml("seed: null\n").data == {"seed": None}


def test_source_without_path() -> None:
    source = ConfigSource({"a": 1})
    assert source.name == "<config>"
    assert source.where("a") == "<config>"
