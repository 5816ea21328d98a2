"""Tidy result rows: one row per (task, model, method, split, n, seed, metric).

Every command that measures something writes `results.jsonl` in its run directory with these
rows, so results from many runs concatenate into one table that plots and reports read
(`pandas.read_json(path, lines=True)`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


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
