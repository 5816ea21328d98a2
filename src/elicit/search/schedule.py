"""Temperature schedules of ICM's simulated annealing (accept a worse state w.p. exp(dU / T)).

    paper  T = max(T_min, T0 / (1 + beta * ln n))             Algorithm 1 of the paper; n = 1, 2, ...
    code   T = max(T_min, T0 / (1 + 2 * ln(1 + accepted)))    the released code's "log" scheduler,
                                                              counted in accepted flips, not
                                                              iterations (its `decay` is unused)
    exp    T = max(T_min, T0 * beta ** n)                      the released code's "exp" scheduler
                                                              with beta as the decay per step;
                                                              the code counts accepted flips,
                                                              elicit counts iterations n

Defaults T0 = 10, T_min = 0.01, beta = 0.99 (paper and code).

    >>> Schedule("paper").temperature(1, accepted=0)
    10.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from elicit.errors import ConfigError

ScheduleKind = Literal["paper", "code", "exp"]
SCHEDULES: tuple[str, ...] = ("paper", "code", "exp")


@dataclass(frozen=True)
class Schedule:
    kind: ScheduleKind = "paper"
    t0: float = 10.0
    t_min: float = 0.01
    beta: float = 0.99

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ConfigError(
                f"unknown temperature schedule {self.kind!r}; use one of {', '.join(SCHEDULES)}"
            )
        if not (self.t0 > 0 and self.t_min > 0):
            raise ConfigError(
                f"temperatures must be positive, got t0={self.t0}, t_min={self.t_min}"
            )
        if self.t_min > self.t0:
            raise ConfigError(f"t_min {self.t_min} is above t0 {self.t0}; lower --t-min")
        if self.beta <= 0 or (self.kind == "exp" and self.beta >= 1):
            raise ConfigError(
                f"beta {self.beta} does not cool: the paper schedule needs beta > 0, "
                "the exp schedule 0 < beta < 1"
            )

    def temperature(self, n: int, accepted: int) -> float:
        """T at iteration `n` (1-based) after `accepted` accepted proposals."""
        if n < 1:
            raise ValueError(f"iterations count from 1, got {n}")
        if self.kind == "paper":
            t = self.t0 / (1.0 + self.beta * math.log(n))
        elif self.kind == "code":
            t = self.t0 / (1.0 + 2.0 * math.log(1 + accepted))
        else:
            t = self.t0 * self.beta**n
        return max(self.t_min, t)
