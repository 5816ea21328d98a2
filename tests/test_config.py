"""Config dataclasses as CLI: flags, --config files, precedence and errors."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pytest

from elicit.config import (
    ConfigBase,
    add_config_arguments,
    build_config,
    composed,
    config_from_args,
    config_to_dict,
    help_field,
    nested,
    option_fields,
    required_field,
)
from elicit.errors import ConfigError


@dataclass(frozen=True)
class Demo:
    task: str = help_field("sst2", "task")
    n: int | None = help_field(10, "count")
    rate: float = help_field(0.5, "rate")
    force: bool = help_field(False, "force")
    mode: str = help_field("a", "mode", choices=["a", "b"])


def parse(argv: list[str]) -> Demo:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Demo)
    return config_from_args(Demo, parser.parse_args(argv))


def test_defaults_and_flags() -> None:
    assert parse([]) == Demo()
    got = parse(["--task", "boolq", "--n", "none", "--rate", "2", "--force", "--mode", "b"])
    assert got == Demo(task="boolq", n=None, rate=2.0, force=True, mode="b")
    assert parse(["--no-force"]).force is False


def test_config_file_is_overridden_by_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: imdb\nn: 5\nforce: true\n")
    got = parse(["--config", str(cfg), "--n", "7"])
    assert got == Demo(task="imdb", n=7, force=True)
    js = tmp_path / "c.json"
    js.write_text('{"rate": 0.25, "n": null}')
    assert parse(["--config", str(js)]) == Demo(rate=0.25, n=None)


def test_config_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tsak: imdb\n")
    with pytest.raises(ConfigError, match=r"unknown option.*tsak.*Known options"):
        parse(["--config", str(bad)])
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        parse(["--config", str(bad)])
    bad.write_text("n: [1\n")
    with pytest.raises(ConfigError, match="not valid"):
        parse(["--config", str(bad)])
    with pytest.raises(ConfigError, match="cannot read"):
        parse(["--config", str(tmp_path / "missing.yaml")])


def test_build_config_type_errors() -> None:
    with pytest.raises(ConfigError, match=r"'n'.*must be a whole number"):
        build_config(Demo, {"n": "ten"})
    with pytest.raises(ConfigError, match="must be a whole number"):
        build_config(Demo, {"n": 2.5})
    assert build_config(Demo, {"n": 3.0, "force": "yes"}) == Demo(n=3, force=True)


def test_bad_flag_value_exits() -> None:
    with pytest.raises(SystemExit):
        parse(["--n", "x"])
    with pytest.raises(SystemExit):
        parse(["--mode", "c"])


# Composed configs: a Literal choice, a nested config flattened into the flags, a required
# option, and option groups whose checks chain through super().


@dataclass(frozen=True)
class Inner(ConfigBase):
    kind: Literal["x", "y"] = help_field("x", "kind", aliases={"ex": "x"})
    rate: float = help_field(0.5, "rate")
    hidden: bool = help_field(False, "set in code", cli=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rate < 0:
            raise ConfigError("--rate must be >= 0")


CHECKS: list[str] = []


@dataclass(frozen=True)
class GroupA(ConfigBase):
    a: int = help_field(1, "a")

    def __post_init__(self) -> None:
        super().__post_init__()
        CHECKS.append("A")


@dataclass(frozen=True)
class GroupB(ConfigBase):
    name: str = required_field("name; required", missing="no name: pass --name")

    def __post_init__(self) -> None:
        super().__post_init__()
        CHECKS.append("B")


@composed
@dataclass(frozen=True)
class Outer(GroupA, GroupB):
    inner: Inner = nested(Inner)
    n: int = help_field(3, "n")


def parse_outer(argv: list[str]) -> Outer:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Outer)
    return config_from_args(Outer, parser.parse_args(argv))


def test_nested_options_are_flat_flags() -> None:
    got = parse_outer(["--name", "z", "--kind", "y", "--rate", "2", "--n", "4"])
    assert got == Outer(name="z", inner=Inner(kind="y", rate=2.0), n=4)
    assert parse_outer(["--name", "z", "--kind", "ex"]).inner.kind == "x"  # an alias
    with pytest.raises(SystemExit):
        parse_outer(["--name", "z", "--kind", "w"])  # not a choice
    with pytest.raises(SystemExit):
        parse_outer(["--name", "z", "--hidden"])  # cli=False: no flag
    assert [o.name for o in option_fields(Outer)] == ["name", "a", "kind", "rate", "n"]


def test_nested_options_from_a_file_flat_or_nested(tmp_path: Path) -> None:
    flat, deep = tmp_path / "flat.yaml", tmp_path / "deep.yaml"
    flat.write_text("name: z\nkind: y\nrate: 2\n")
    deep.write_text("name: z\ninner:\n  kind: y\n  rate: 2\n")
    want = Outer(name="z", inner=Inner(kind="y", rate=2.0))
    assert parse_outer(["--config", str(flat)]) == want
    assert parse_outer(["--config", str(deep)]) == want
    assert parse_outer(["--config", str(deep), "--rate", "3"]).inner.rate == 3.0  # flag wins
    with pytest.raises(ConfigError, match=r"unknown option.*hidden"):
        build_config(Outer, {"name": "z", "inner": {"hidden": True}})
    with pytest.raises(ConfigError, match=r"'inner'.*mapping"):
        build_config(Outer, {"name": "z", "inner": 3})
    with pytest.raises(ConfigError, match=r"'rate'.*must be a number"):
        build_config(Outer, {"name": "z", "inner": {"rate": "fast"}})
    # config.json: the options flat, loadable again as a --config file
    saved = config_to_dict(want)
    assert saved == {"a": 1, "kind": "y", "rate": 2.0, "n": 3, "name": "z"}
    assert build_config(Outer, saved) == want


def test_a_choice_is_checked_once_for_flags_files_and_code() -> None:
    with pytest.raises(ConfigError, match=r"unknown --kind 'w'; use one of x, y"):
        build_config(Outer, {"name": "z", "kind": "w"})
    with pytest.raises(ConfigError, match=r"unknown --kind 'w'"):
        Inner(kind="w")  # type: ignore[arg-type]


def test_composed_takes_nested_options_as_flat_keywords() -> None:
    got = Outer(name="z", rate=2.0, n=4)  # type: ignore[call-arg]
    assert got == Outer(name="z", inner=Inner(rate=2.0), n=4)
    assert replace(got, kind="y").inner == Inner(kind="y", rate=2.0)
    assert Outer(name="z", inner=Inner(kind="y"), rate=1.0).inner == Inner(kind="y", rate=1.0)  # type: ignore[call-arg]


def test_required_options_and_chained_checks() -> None:
    with pytest.raises(ConfigError, match="no name: pass --name"):
        parse_outer([])
    with pytest.raises(TypeError):
        Outer()  # type: ignore[call-arg]
    CHECKS.clear()
    Outer(name="z")
    assert CHECKS == ["B", "A"]  # each group once, through super(), in MRO order
    with pytest.raises(ConfigError, match="--rate must be >= 0"):
        Outer(name="z", rate=-1.0)  # type: ignore[call-arg]
