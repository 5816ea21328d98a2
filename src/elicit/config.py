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
import math
import re
import reprlib
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


def _parse_scalar(tp: Any, optional: bool, allow_inf: bool = False) -> Any:
    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "null", ""):
            return None
        if tp is bool:
            return _parse_bool(text)
        value = tp(text)
        if tp is float:
            try:
                _check_finite(value, allow_inf)
            except ValueError as e:  # argparse shows an ArgumentTypeError's own words
                raise argparse.ArgumentTypeError(str(e)) from None
        return value

    parse.__name__ = getattr(tp, "__name__", "value")
    return parse


def _check_finite(value: float, allow_inf: bool) -> None:
    """NaN never means anything as an option; infinity only where the help says what it does."""
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{value} is not a finite number")


def _allows_inf(f: dataclasses.Field[Any]) -> bool:
    """Whether option `f` takes infinity: its help says what `inf` does (--anchor-weight)."""
    return re.search(r"\binf\b", str(f.metadata.get("help", ""))) is not None


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
            type=_parse_scalar(tp, optional, _allows_inf(f)),
            choices=f.metadata.get("choices"),
            default=argparse.SUPPRESS,
            metavar=None if "choices" in f.metadata else f.name.upper(),
            help=f"{help_text} (default: {default})",
        )


#: A config file holds a few dozen options; anything bigger is not one (or is an attack).
MAX_CONFIG_BYTES = 1 << 20


def read_config_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as fh:  # read at most the cap: the path may be an endless device
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}. Check the path.") from e
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {p} is larger than {MAX_CONFIG_BYTES >> 20} MiB, which no set of "
            "options needs; pass the file of options you meant"
        )
    try:
        text = raw.decode("utf-8")
        if p.suffix == ".json":
            data = json.loads(text)
        else:
            _refuse_aliases(p, text)
            data = yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"config file {p} is not valid {p.suffix or 'YAML'}: {e}") from e
    except RecursionError:  # JSON nested thousands deep
        raise ConfigError(
            f"config file {p} nests lists or mappings thousands deep; an options file maps "
            "option names to plain values"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {p} must hold a mapping of option names to values, "
            f"got {type(data).__name__}"
        )
    return {str(k).replace("-", "_"): v for k, v in data.items()}


#: How deep lists and mappings may nest in an options file (they nest 2 deep at most today).
MAX_CONFIG_DEPTH = 16


def _refuse_aliases(p: Path, text: str) -> None:
    """YAML aliases (*name) repeat a node; nested, a few lines expand to billions of values
    when the options are used or printed. No option needs one. Deep nesting is refused too:
    PyYAML takes seconds per thousand levels, and fails with a RecursionError after that."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        mark = event.start_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(
                f"config file {p}{line}: YAML aliases (*{event.anchor}) are not accepted in "
                "an options file; write the value out"
            )
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                raise ConfigError(
                    f"config file {p}{line}: lists or mappings nested more than "
                    f"{MAX_CONFIG_DEPTH} deep; an options file maps option names to plain values"
                )
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


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
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        tp, optional = _base_type(hints[name])
        if value is None and optional:
            kwargs[name] = None
            continue
        try:
            value = _coerce(tp, value, _allows_inf(fields[name]))
        except (TypeError, ValueError) as e:
            shown = reprlib.repr(value)
            raise ConfigError(
                f"option {name!r} in {source} must be {_type_name(tp, optional)}, got {shown}"
                + (f" ({e})" if "finite" in str(e) else "")
            ) from e
        kwargs[name] = value
    return cls(**kwargs)


def _type_name(tp: Any, optional: bool) -> str:
    name = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}
    return name.get(tp, getattr(tp, "__name__", str(tp))) + (" or none" if optional else "")


def _coerce(tp: Any, value: Any, allow_inf: bool) -> Any:
    """`value` (from YAML, JSON or a flag) as scalar type `tp`. YAML's looser types are refused
    rather than converted: `n: true` is not 1, a list is not a string, 2.5 is not an int."""
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _parse_bool(value)
        raise TypeError(type(value).__name__)
    if tp not in (int, float, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(type(value).__name__)  # a bool, list, mapping or date is no scalar
    if tp is str:
        return value if isinstance(value, str) else str(value)
    if tp is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    number = float(value)
    _check_finite(number, allow_inf)
    return number


def config_from_args(cls: type[C], args: argparse.Namespace) -> C:
    """Defaults < --config file < command-line flags."""
    merged: dict[str, Any] = {}
    config_path = getattr(args, "config", None)
    if config_path:
        merged.update(read_config_file(config_path))
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    merged.update({k: v for k, v in vars(args).items() if k in names})
    return build_config(cls, merged, source=config_path or "command line")


#: "scheme://user:password@" in a URL; the password part is what `config_to_dict` hides.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]*@", re.IGNORECASE)


def redact_passwords(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (for config.json in a run directory). Passwords
    in URLs (--model openai:http://user:pw@host/...) are replaced by ***: a run directory is
    shared and reported, and the server's password has no business in it."""
    out: dict[str, Any] = {
        k: redact_passwords(v) if isinstance(v, str) else v
        for k, v in dataclasses.asdict(config).items()
    }
    return out
