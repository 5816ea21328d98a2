"""Issue 20, items 7, 8 and 11: option values that would make a run meaningless are refused,
a config file cannot exhaust memory, and a password never reaches config.json.

Generated cases: every float option of every command's config gets NaN and +-inf from the
command line and from YAML; YAML's loose types (a bool for a number, a list or a mapping for a
string) are tried on every option; a "billion laughs" alias bomb and an oversized file."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from adversary import claims_csv, cli, refused

from elicit.commands.evaluate import EvalConfig
from elicit.commands.label import LabelConfig
from elicit.commands.score import ScoreConfig
from elicit.config import (
    _allows_inf,
    build_config,
    config_to_dict,
    option_fields,
    read_config_file,
)
from elicit.errors import ConfigError

CONFIGS = [ScoreConfig, LabelConfig, EvalConfig]
BASE = {"task": "sst2"}


def _fields(cls: type[Any], tp: type) -> list[dataclasses.Field[Any]]:
    """Every option of `cls` of scalar type `tp`, those of nested configs (`LabelConfig.search`:
    --alpha, --t0, ...) included."""
    return [o.field for o in option_fields(cls) if o.type is tp]


def _named(field: Any) -> str:
    """The option as messages name it: 'alpha' or --alpha."""
    return f"{field.name}|--{field.name.replace('_', '-')}"


def _cases(tp: type) -> list[tuple[type[Any], dataclasses.Field[Any]]]:
    return [(cls, f) for cls in CONFIGS for f in _fields(cls, tp)]


@pytest.mark.parametrize(("cls", "field"), _cases(float), ids=lambda v: getattr(v, "name", ""))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_non_finite_floats_are_refused(cls: type[Any], field: Any, value: Any) -> None:
    if _allows_inf(field) and value in ("inf", float("inf")):
        build_config(cls, {**BASE, field.name: value})  # e.g. --anchor-weight inf: documented
        return
    with pytest.raises(ConfigError, match=_named(field)):
        build_config(cls, {**BASE, field.name: value})


@pytest.mark.parametrize(("cls", "field"), _cases(int), ids=lambda v: getattr(v, "name", ""))
@pytest.mark.parametrize("value", [True, False, [1], {"a": 1}, 2.5])
def test_ints_take_only_whole_numbers(cls: type[Any], field: Any, value: Any) -> None:
    with pytest.raises(ConfigError, match=_named(field)):
        build_config(cls, {**BASE, field.name: value})


@pytest.mark.parametrize(("cls", "field"), _cases(str), ids=lambda v: getattr(v, "name", ""))
@pytest.mark.parametrize("value", [["a", "b"], {"a": 1}, True])
def test_strings_are_not_made_from_lists_or_bools(cls: type[Any], field: Any, value: Any) -> None:
    with pytest.raises(ConfigError, match=_named(field)):
        build_config(cls, {**BASE, field.name: value})


def test_yaml_loose_types_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = claims_csv(tmp_path / "claims.csv")
    for text, name in [("n: true\n", "'n'"), ("task: [claims, sst2]\n", "'task'"),
                       ("alpha: .nan\n", "'alpha'"), ("t0: .inf\n", "'t0'")]:  # fmt: skip
        config = tmp_path / "c.yaml"
        config.write_text(text, encoding="utf-8")
        outcome = cli(capsys, "label", "--config", str(config), "--task", "claims", "--data",
                      str(data), "--backend", "fake", "--out", str(tmp_path / "run"))  # fmt: skip
        if "task:" in text:  # the flag overrides the file's list: the run is fine
            assert outcome.status == 0, outcome.err
            continue
        refused(outcome, name, str(config))


def test_flags_refuse_non_finite_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--alpha", "--beta", "--t0", "--t-min"):
        with pytest.raises(SystemExit):
            cli(capsys, "label", "--task", "sst2", flag, "nan")
        assert "not a finite number" in capsys.readouterr().err


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    lines.append("task: *a9")  # 9^10 strings if ever expanded
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="aliases") as e:
        read_config_file(bomb)
    assert str(bomb) in str(e.value) and "line 2" in str(e.value)


def test_an_oversized_or_endless_config_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("n: 1\n" + "#" * (2 << 20), encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than"):
        read_config_file(big)
    endless = tmp_path / "endless.yaml"
    endless.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="larger than"):
        read_config_file(endless)


def test_a_password_in_a_server_url_stays_out_of_config_json() -> None:
    config = build_config(ScoreConfig, {**BASE, "model": "openai:http://bob:hunter2@h:8000/v1/m"})
    saved = json.dumps(config_to_dict(config))
    assert "hunter2" not in saved and "bob:***@h:8000" in saved
    assert config.model.endswith("bob:hunter2@h:8000/v1/m")  # the run itself still has it


@pytest.mark.parametrize(("suffix", "text"), [
    (".json", "[" * 100_000 + "]" * 100_000),
    (".yaml", "n: " + "[" * 100_000 + "]" * 100_000),
    (".yaml", "n:\n" + "".join("  " * i + "- \n" for i in range(1, 40))),
])  # fmt: skip
def test_deeply_nested_config_files_are_refused_quickly(
    tmp_path: Path, suffix: str, text: str
) -> None:
    """PyYAML spends seconds per thousand levels (17 s for 8,000) and then overflows Python's
    stack; JSON overflows at once. Both are refused, in well under a second."""
    path = tmp_path / f"deep{suffix}"
    path.write_text(text, encoding="utf-8")
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="deep") as e:
        read_config_file(path)
    assert time.monotonic() - t0 < 5 and str(path) in str(e.value)
