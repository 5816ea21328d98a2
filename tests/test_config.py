"""Config dataclasses as CLI: flags, --config files, precedence and errors."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest

from elicit.config import add_config_arguments, build_config, config_from_args, help_field
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
