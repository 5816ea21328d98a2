"""Tidy result rows: one row per (task, model, method, split, n, seed, metric).

Every command that measures something writes `results.jsonl` in its run directory with these
rows, so results from many runs concatenate into one table that plots and reports read
(`pandas.read_json(path, lines=True)`). `ResultRow.from_dict` reads a row back, from this
version's files and older ones alike (reporting reads old run directories).

`pct` and `num` format a metric for the commands' one-line results ("n/a" for a missing or NaN
value), so every command prints numbers the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from elicit.errors import DataError

T = TypeVar("T")


@dataclass(frozen=True)
class ResultRow:
    task: str
    model: str
    method: str
    split: str
    n: int
    seed: int
    metric: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("value", "ci_low", "ci_high"):
            if isinstance(d[k], float) and math.isnan(d[k]):
                d[k] = None  # JSON has no NaN
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """The row `to_dict` wrote: a null value reads as NaN (JSON has none). Keys of no field
        of `cls` (a subclass's, such as a curve row's step) are ignored, so any row reads as a
        plain `ResultRow`. A row without a field that has no default is a `DataError`."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        missing = [
            name
            for name, f in fields.items()
            if name not in d
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise DataError(f"result row {dict(d)!r} has no {', '.join(missing)}")
        values: dict[str, Any] = {}
        for name in fields:
            if name not in d:
                continue
            v = d[name]
            if name in ("value", "ci_low", "ci_high"):
                v = _float(name, v, d)
                if name == "value" and v is None:
                    v = math.nan
            elif name in ("n", "seed", "step"):
                v = _int(name, v, d)
            elif isinstance(v, str) or name not in ("task", "model", "method", "split", "metric"):
                pass
            else:
                v = "" if v is None else str(v)
            values[name] = v
        return cls(**values)


def _float(name: str, v: Any, d: Mapping[str, Any]) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DataError(f"result row {dict(d)!r}: {name} {v!r} is not a number")
    return float(v)


def _int(name: str, v: Any, d: Mapping[str, Any]) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v != int(v):
        raise DataError(f"result row {dict(d)!r}: {name} {v!r} is not a whole number")
    return int(v)


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal, "n/a" when missing or NaN."""
    return "n/a" if x is None or x != x else f"{100 * x:.1f}%"


def num(x: float | None) -> str:
    """A number with three decimals, "n/a" when missing or NaN."""
    return "n/a" if x is None or x != x else f"{x:.3f}"


def known_fields(cls: type, d: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `d` named like a field of dataclass `cls`: what a metrics class's
    `from_dict` starts from. Keys of no field (written by another version) are dropped; a
    field the file lacks keeps its default, so a metrics.json from before the field existed
    still reads."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def build(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """`cls(**values)`, with a missing required field a `DataError` naming `what` (a file)."""
    try:
        return cls(**values)
    except TypeError as e:
        raise DataError(
            f"{what} is not a {cls.__name__} this version can read ({e}); rerun the command "
            "with --force to write it again"
        ) from None


__all__ = ["ResultRow", "build", "known_fields", "num", "pct"]
