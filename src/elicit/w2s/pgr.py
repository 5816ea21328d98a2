"""Performance gap recovered (PGR) and the agreement diagnostics of weak-to-strong runs.

    PGR = (weak-to-strong - weak) / (ceiling - weak)

0 means the student only matched its supervisor, 1 that it did as well as training on ground
truth. The ratio is unstable when the gap ceiling - weak is small: a one-point change of the
student then moves PGR by tens of points. `pgr_summary` reports the per-seed values, their
mean and standard deviation, and flags the estimate as unstable when the gap is within noise
(or negative, where the reference notebook drops the pair).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A gap (in accuracy, 0-1) below this is too small for a meaningful ratio at elicit's sizes.
MIN_GAP = 0.02


def pgr(weak: float, w2s: float, ceiling: float) -> float:
    """PGR of one run; NaN when the ceiling does not beat the weak supervisor."""
    gap = ceiling - weak
    if not math.isfinite(gap) or gap <= 0:
        return math.nan
    return (w2s - weak) / gap


@dataclass(frozen=True)
class PGRSummary:
    values: tuple[float, ...]  # per seed (NaN where the ceiling did not beat the weak model)
    mean: float
    sd: float
    mean_gap: float
    unstable: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "pgr": [clean(v) for v in self.values],
            "pgr_mean": clean(self.mean),
            "pgr_sd": clean(self.sd),
            "gap_mean": clean(self.mean_gap),
            "unstable": self.unstable,
            "reason": self.reason,
        }


def pgr_summary(
    weak: Sequence[float], w2s: Sequence[float], ceiling: Sequence[float], min_gap: float = MIN_GAP
) -> PGRSummary:
    """PGR per seed (the three sequences are aligned by seed) with mean, sd and a stability flag.

    Unstable when the mean gap is below `min_gap`, when the gap is not larger than twice its
    own standard error over seeds, or when some seed has no positive gap.
    """
    if not (len(weak) == len(w2s) == len(ceiling)) or not weak:
        raise ValueError("weak, w2s and ceiling need one value per seed, at least one seed")
    values = tuple(pgr(w, s, c) for w, s, c in zip(weak, w2s, ceiling, strict=True))
    gaps = [c - w for w, c in zip(weak, ceiling, strict=True)]
    finite = [v for v in values if not math.isnan(v)]
    mean = statistics.fmean(finite) if finite else math.nan
    sd = statistics.stdev(finite) if len(finite) > 1 else math.nan
    gap = statistics.fmean(gaps)
    gap_se = statistics.stdev(gaps) / math.sqrt(len(gaps)) if len(gaps) > 1 else math.nan
    reasons = []
    if any(g <= 0 for g in gaps):
        reasons.append(f"{sum(g <= 0 for g in gaps)} seed(s) with ceiling <= weak")
    if gap < min_gap:
        reasons.append(f"mean gap {gap:.3f} < {min_gap}")
    elif not math.isnan(gap_se) and gap <= 2 * gap_se:
        reasons.append(f"gap {gap:.3f} within 2 standard errors ({gap_se:.3f})")
    return PGRSummary(values, mean, sd, gap, bool(reasons), "; ".join(reasons))


@dataclass(frozen=True)
class Agreement:
    """How often the student agrees with its supervisor, overall and split by whether the
    supervisor was right. A student that learned the task rather than the supervisor agrees
    with it where it is right and disagrees where it is wrong."""

    overall: float
    supervisor_right: float
    supervisor_wrong: float
    n_right: int
    n_wrong: int


def agreement(
    student: Sequence[int] | np.ndarray,
    supervisor: Sequence[int] | np.ndarray,
    gold: Sequence[int] | np.ndarray,
) -> Agreement:
    """Agreement of hard predictions (0/1), split by the supervisor's correctness on gold."""
    s = np.asarray(student, dtype=np.int64)
    w = np.asarray(supervisor, dtype=np.int64)
    g = np.asarray(gold, dtype=np.int64)
    if not (s.shape == w.shape == g.shape) or s.ndim != 1:
        raise ValueError(
            f"student {s.shape}, supervisor {w.shape} and gold {g.shape} must be 1-d, equal"
        )
    same = s == w
    right = w == g

    def share(mask: np.ndarray) -> float:
        return float(same[mask].mean()) if mask.any() else math.nan

    return Agreement(
        overall=float(same.mean()) if len(s) else math.nan,
        supervisor_right=share(right),
        supervisor_wrong=share(~right),
        n_right=int(right.sum()),
        n_wrong=int((~right).sum()),
    )
