"""Dataclass configs that are also the command line.

Each command has one frozen dataclass; every field carries its help string in
`field(metadata={"help": ...})`. `add_config_arguments` turns the fields into argparse flags
(`batch_size` -> `--batch-size`, booleans -> `--flag/--no-flag`, a `Literal[...]` type or a
`choices` list -> a choice), and `build_config` merges, lowest precedence first: the dataclass
defaults, a `--config file.yaml` (or .json) with the same field names, then the flags given on
the command line.

Configs are composed, as TRL composes its argument dataclasses: a field declared with
`nested(SearchConfig)` holds a whole config of its own, and its options are flattened into the
command line under their own names (`LabelConfig.search.alpha` is `--alpha`); a --config file
may give them flat (`alpha: 30`) or nested (`search: {alpha: 30}`), and a config decorated with
`@composed` takes them flat as keywords too (`LabelConfig(task="sst2", alpha=30)`). Option
groups (`elicit.options`) are inherited; every config derives from `ConfigBase`, whose
`__post_init__` checks each choice once and ends the chain that each group's `__post_init__`
continues with `super().__post_init__()`. A field without a default (`required_field`,
keyword-only) is required: missing, it is a ConfigError that says which flag to pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import re
import reprlib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from elicit.errors import ConfigError

C = TypeVar("C")


def help_field(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with a help string for the CLI. Metadata: `choices` (the values the
    option takes, when its type is a plain `str`; a `Literal` type gives them itself),
    `aliases` ({"paper": "given"}: other words accepted for a choice), `cli=False` (set in code
    only, never from flags or files)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def required_field(help: str, missing: str | None = None, **metadata: Any) -> Any:
    """A keyword-only field without a default: the option must be given. `missing` is the
    message when it is not (default: "--flag is required"); `metadata` as for `help_field`."""
    metadata = {"help": help, "required": True, **metadata}
    if missing:
        metadata["missing"] = missing
    return dataclasses.field(kw_only=True, metadata=metadata)


def nested(cls: type[Any], help: str = "") -> Any:
    """A field holding a whole config `cls` (default: its defaults), whose options the CLI and
    --config files flatten into the outer config's (see the module docstring)."""
    return dataclasses.field(default_factory=cls, metadata={"help": help, "nested": True})


class ConfigBase:
    """The root of every config dataclass and option group. Its `__post_init__` checks every
    choice field of the class (a `Literal` type or `choices` metadata), so a choice is validated
    in one place whether it came from a flag, a file or code, and it ends the chain: a group or
    config that validates more defines `__post_init__`, calls `super().__post_init__()` and
    checks its own fields, and a config inheriting several groups runs each group's checks
    once, in MRO order, without naming them."""

    def __post_init__(self) -> None:
        check_choices(self)


def check_choices(config: Any) -> None:
    """Refuse a value of a choice field of `config` that is not one of its choices."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        tp, optional = _base_type(hints[f.name])
        choices = _choices(f, tp)
        value = getattr(config, f.name)
        if choices is not None and not (value is None and optional) and value not in choices:
            raise ConfigError(
                f"unknown {_flag(f.name)} {value!r}; use one of {', '.join(map(str, choices))}"
            )


def composed(cls: type[C]) -> type[C]:
    """Let config `cls` take the options of its nested configs as flat keywords, as the command
    line names them: `LabelConfig(task="sst2", iterations=300)` is
    `LabelConfig(task="sst2", search=SearchConfig(iterations=300))`; with both, the flat ones
    change the nested config given (so `dataclasses.replace(config, alpha=3)` works too)."""
    init = cls.__init__
    own = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]

    @functools.wraps(init)
    def __init__(self: Any, **kwargs: Any) -> None:
        routed = _route(cls, kwargs)
        for name, (sub_cls, flat) in routed.items():
            base = kwargs.get(name)
            kwargs[name] = (
                dataclasses.replace(base, **flat) if base is not None else sub_cls(**flat)
            )
        init(self, **{k: v for k, v in kwargs.items() if k in own or k in routed})

    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


def _route(
    cls: type[Any], values: Mapping[str, Any]
) -> dict[str, tuple[type[Any], dict[str, Any]]]:
    """The keys of `values` that name options of a nested config of `cls` (not its own fields),
    grouped by the nested field: {field: (its class, {option: value})}. A config nested deeper
    routes its own when it is built (if it is `composed` too)."""
    hints = typing.get_type_hints(cls)
    own = {f.name for f in dataclasses.fields(cls) if f.init}
    routed: dict[str, tuple[type[Any], dict[str, Any]]] = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("nested"):
            continue
        sub_cls = hints[f.name]
        names = {o.name for o in option_fields(sub_cls)}
        flat = {k: v for k, v in values.items() if k in names and k not in own}
        if flat:
            routed[f.name] = (sub_cls, flat)
    return routed


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option of a config: a leaf field, with the path of nested fields that
    leads to it from the outer config (empty for the config's own fields)."""

    name: str
    field: dataclasses.Field[Any]
    type: Any  # the scalar type: int, float, str, bool or a Literal
    optional: bool  # `T | None`
    path: tuple[str, ...]

    @property
    def flag(self) -> str:
        return _flag(self.name)

    @property
    def choices(self) -> tuple[Any, ...] | None:
        return _choices(self.field, self.type)

    @property
    def required(self) -> bool:
        return bool(self.field.metadata.get("required"))

    @property
    def default(self) -> Any:
        if self.field.default is not dataclasses.MISSING:
            return self.field.default
        if self.field.default_factory is not dataclasses.MISSING:
            return self.field.default_factory()
        return None


def option_fields(cls: type[Any], path: tuple[str, ...] = ()) -> list[Option]:
    """The options of config `cls` in flag order: its fields, with each nested config's options
    in place of the field that holds it; fields marked `cli=False` are left out. Two options of
    one name are a programming error (one flag cannot set both)."""
    hints = typing.get_type_hints(cls)
    out: list[Option] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("cli") is False:
            continue
        if f.metadata.get("nested"):
            out.extend(option_fields(hints[f.name], (*path, f.name)))
            continue
        tp, optional = _base_type(hints[f.name])
        out.append(Option(f.name, f, tp, optional, path))
    seen: set[str] = set()
    for o in out:
        if o.name in seen:
            raise TypeError(f"{cls.__name__}: two options named {o.name!r}")
        seen.add(o.name)
    return out


def _choices(f: dataclasses.Field[Any], tp: Any) -> tuple[Any, ...] | None:
    if "choices" in f.metadata:
        return tuple(f.metadata["choices"])
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    return None


def _cli_choices(option: Option) -> list[Any] | None:
    """The choices argparse offers: each alias just before the choice it stands for."""
    choices = option.choices
    if choices is None:
        return None
    aliases: dict[str, Any] = option.field.metadata.get("aliases", {})
    out: list[Any] = []
    for c in choices:
        out.extend(a for a, target in aliases.items() if target == c)
        out.append(c)
    return out


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
    """Add one flag per option of dataclass `cls` (nested configs flattened), plus `--config`."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="YAML or JSON file with any of these options (flags given here override it)",
    )
    for option in option_fields(cls):
        help_text = option.field.metadata.get("help", "")
        shown = "" if option.required else f" (default: {option.default})"
        if option.type is bool:
            parser.add_argument(
                option.flag,
                dest=option.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"{help_text}{shown}",
            )
            continue
        choices = _cli_choices(option)
        parser.add_argument(
            option.flag,
            dest=option.name,
            type=_parse_scalar(_scalar(option.type), option.optional, _allows_inf(option.field)),
            choices=choices,
            default=argparse.SUPPRESS,
            metavar=None if choices is not None else option.name.upper(),
            help=f"{help_text}{shown}",
        )


def _scalar(tp: Any) -> Any:
    """The Python type a flag's text is parsed as: a Literal's values' type (str for names)."""
    if typing.get_origin(tp) is Literal:
        return type(typing.get_args(tp)[0])
    return tp


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
    """Instantiate `cls` from `values`, checking names and coercing scalar types. The options of
    a nested config may come flat (`alpha`) or under the field that holds it (`search:
    {alpha: ...}`); a flat one overrides the nested mapping's (a flag overrides the file)."""
    options = {o.name: o for o in option_fields(cls)}
    nested_names = {o.path[0] for o in options.values() if o.path}
    unknown = sorted(set(values) - set(options) - nested_names)
    if unknown:
        raise ConfigError(
            f"unknown option(s) in {source}: {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(options))}."
        )
    flat: dict[str, Any] = {}
    for name in nested_names & set(values):  # `search: {alpha: 30}`, paths flattened
        flat.update(_flatten_mapping(name, values[name], source))
    flat.update({k: v for k, v in values.items() if k not in nested_names})
    unknown = sorted(set(flat) - set(options))
    if unknown:
        raise ConfigError(
            f"unknown option(s) in {source}: {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(options))}."
        )
    for option in options.values():
        if option.required and option.name not in flat:
            raise ConfigError(
                option.field.metadata.get("missing")
                or f"{option.flag} is required: {option.field.metadata.get('help', '')}"
            )
    coerced = {name: _coerce_option(options[name], value, source) for name, value in flat.items()}
    return _instantiate(cls, coerced, ())


def _flatten_mapping(name: str, value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"option {name!r} in {source} must be a mapping of its options "
            f"(or give them flat), got {reprlib.repr(value)}"
        )
    out: dict[str, Any] = {}
    for k, v in value.items():
        key = str(k).replace("-", "_")
        if isinstance(v, Mapping):
            out.update(_flatten_mapping(key, v, source))
        else:
            out[key] = v
    return out


def _instantiate(cls: type[C], values: Mapping[str, Any], path: tuple[str, ...]) -> C:
    """`cls` built from coerced flat `values`, each nested config from its own options."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.metadata.get("nested"):
            sub = hints[f.name]
            names = {o.name for o in option_fields(sub)}
            kwargs[f.name] = _instantiate(sub, {k: v for k, v in values.items() if k in names}, ())
        elif f.name in values:
            kwargs[f.name] = values[f.name]
    return cls(**kwargs)


def _coerce_option(option: Option, value: Any, source: str) -> Any:
    if value is None and option.optional:
        return None
    try:
        return _coerce(option, value)
    except (TypeError, ValueError) as e:
        shown = reprlib.repr(value)
        raise ConfigError(
            f"option {option.name!r} in {source} must be "
            f"{_type_name(option.type, option.optional)}, got {shown}"
            + (f" ({e})" if "finite" in str(e) else "")
        ) from e


def _type_name(tp: Any, optional: bool) -> str:
    if typing.get_origin(tp) is Literal:
        return (
            "one of " + ", ".join(map(str, typing.get_args(tp))) + (" or none" if optional else "")
        )
    name = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}
    return name.get(tp, getattr(tp, "__name__", str(tp))) + (" or none" if optional else "")


def _coerce(option: Option, value: Any) -> Any:
    """`value` (from YAML, JSON or a flag) as the option's scalar type. YAML's looser types are
    refused rather than converted: `n: true` is not 1, a list is not a string, 2.5 is not an
    int. An alias of a choice becomes the choice; whether a choice is known is checked by the
    config itself (`ConfigBase`)."""
    tp = _scalar(option.type)
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
        text = value if isinstance(value, str) else str(value)
        return option.field.metadata.get("aliases", {}).get(text, text)
    if tp is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    number = float(value)
    _check_finite(number, _allows_inf(option.field))
    return number


def config_from_args(cls: type[C], args: argparse.Namespace) -> C:
    """Defaults < --config file < command-line flags."""
    merged: dict[str, Any] = {}
    config_path = getattr(args, "config", None)
    if config_path:
        merged.update(read_config_file(config_path))
    names = {o.name for o in option_fields(cls)}
    merged.update({k: v for k, v in vars(args).items() if k in names})
    return build_config(cls, merged, source=config_path or "command line")


#: "scheme://user:password@" in a URL; the password part is what `config_to_dict` hides.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]*@", re.IGNORECASE)


def redact_passwords(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (for config.json in a run directory): its options
    flat, as the command line names them, so config.json is itself a --config file and keeps
    the shape it had before configs were nested. Passwords in URLs (--model
    openai:http://user:pw@host/...) are replaced by ***: a run directory is shared and
    reported, and the server's password has no business in it."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get("nested"):
            leaves = {o.name for o in option_fields(type(value))}
            out.update({k: v for k, v in config_to_dict(value).items() if k in leaves})
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        out[f.name] = redact_passwords(value) if isinstance(value, str) else value
    return out
