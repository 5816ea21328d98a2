"""Dataclass configs that are also the command line.

Each command has one frozen dataclass; every field carries its help string in
`field(metadata={"help": ...})`. `add_config_arguments` turns the fields into argparse flags
(`batch_size` -> `--batch-size`, booleans -> `--flag/--no-flag`), and `build_config` merges,
lowest precedence first: the dataclass defaults, a `--config file.yaml` (or .json) with the
same field names, then the flags given on the command line. `__post_init__` of each config
validates combinations and says how to fix them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from elicit.errors import ConfigError

C = TypeVar("C")


def help_field(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with a help string (and optional `choices`) for the CLI."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(scalar type, optional?) of an annotation like `int | None`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
        raise TypeError(f"unsupported union type {tp}")
    return tp, False


def _parse_scalar(tp: Any, optional: bool) -> Any:
    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "null", ""):
            return None
        if tp is bool:
            return _parse_bool(text)
        return tp(text)

    parse.__name__ = getattr(tp, "__name__", "value")
    return parse


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def add_config_arguments(parser: argparse.ArgumentParser, cls: type[Any]) -> None:
    """Add one flag per field of dataclass `cls`, plus `--config FILE`."""
    hints = typing.get_type_hints(cls)
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="YAML or JSON file with any of these options (flags given here override it)",
    )
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp, optional = _base_type(hints[f.name])
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else None
        if tp is bool:
            parser.add_argument(
                _flag(f.name),
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"{help_text} (default: {default})",
            )
            continue
        parser.add_argument(
            _flag(f.name),
            dest=f.name,
            type=_parse_scalar(tp, optional),
            choices=f.metadata.get("choices"),
            default=argparse.SUPPRESS,
            metavar=None if "choices" in f.metadata else f.name.upper(),
            help=f"{help_text} (default: {default})",
        )


def read_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}. Check the path.") from e
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"config file {p} is not valid {p.suffix or 'YAML'}: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {p} must hold a mapping of option names to values, "
            f"got {type(data).__name__}"
        )
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def build_config(cls: type[C], values: Mapping[str, Any], source: str = "options") -> C:
    """Instantiate `cls` from `values`, checking names and coercing scalar types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown option(s) in {source}: {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(names))}."
        )
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        tp, optional = _base_type(hints[name])
        if value is None and optional:
            kwargs[name] = None
            continue
        try:
            if tp is bool and isinstance(value, str):
                value = _parse_bool(value)
            elif tp in (int, float, str) and not isinstance(value, tp):
                if tp is int and isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                value = tp(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"option {name!r} in {source} must be {tp.__name__}, got {value!r}"
            ) from e
        kwargs[name] = value
    return cls(**kwargs)


def config_from_args(cls: type[C], args: argparse.Namespace) -> C:
    """Defaults < --config file < command-line flags."""
    merged: dict[str, Any] = {}
    config_path = getattr(args, "config", None)
    if config_path:
        merged.update(read_config_file(config_path))
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    merged.update({k: v for k, v in vars(args).items() if k in names})
    return build_config(cls, merged, source=config_path or "command line")


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (for config.json in a run directory)."""
    out: dict[str, Any] = dataclasses.asdict(config)
    return out
