"""What a search costs, counted where the work happens: tokens fed to the model, leave-one-out
evaluations, and what was answered from a cache instead.

    meter = CostMeter(lm, evaluator)
    ...one search step...
    row_costs = meter.step()        # what happened since the last step() (a Costs)
    run_costs = meter.total()       # since the meter was made

Counters (each a `Costs` field):

    forward_tokens   tokens the backend fed its model in scoring forward passes (the
                     transformers and llama.cpp backends count them, `tokens_processed`;
                     None for a backend that does not, such as a completions server)
    loo_evaluations  leave-one-out evaluations of a whole labelling sent to the LM
    loo_memo_hits    leave-one-out evaluations the search answered from its own memo (a
                     labelling it had already scored: rejected proposals, ConsistencyFix
                     candidates); they cost nothing
    context_calls    single-example predictions sent to the LM (an unlabelled example scored
                     after the current labelled set, `EnergyEvaluator.predict_score`)
    cache_hits       prompts the persistent result cache answered (`--cache`, `CachedLM`); None
    cache_misses     without a cache: prompts it passed to the model

With a cache, forward_tokens counts only what the model behind it computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from elicit.backends.base import LM
from elicit.search.energy import EnergyEvaluator


def forward_tokens(lm: LM) -> int | None:
    """Tokens `lm` (or the backend a caching wrapper holds) has fed its model, if it counts."""
    for obj in (lm, getattr(lm, "inner", None)):
        n = getattr(obj, "tokens_processed", None)
        if isinstance(n, int) and not isinstance(n, bool):
            return n
    return None


def _cache_counts(lm: LM) -> tuple[int | None, int | None]:
    hits, misses = getattr(lm, "hits", None), getattr(lm, "misses", None)
    if isinstance(hits, int) and isinstance(misses, int) and hasattr(lm, "inner"):
        return hits, misses
    return None, None


@dataclass(frozen=True)
class Costs:
    """Counts of work (see the module docstring); None: not counted by this backend."""

    forward_tokens: int | None = None
    loo_evaluations: int = 0
    loo_memo_hits: int = 0
    context_calls: int = 0
    cache_hits: int | None = None
    cache_misses: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __add__(self, other: Costs) -> Costs:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None or b is None else a + b

        return Costs(
            forward_tokens=add(self.forward_tokens, other.forward_tokens),
            loo_evaluations=self.loo_evaluations + other.loo_evaluations,
            loo_memo_hits=self.loo_memo_hits + other.loo_memo_hits,
            context_calls=self.context_calls + other.context_calls,
            cache_hits=add(self.cache_hits, other.cache_hits),
            cache_misses=add(self.cache_misses, other.cache_misses),
        )


class CostMeter:
    """Reads the LM's and the evaluator's counters; `step()` gives the change since the last
    call, `total()` since the meter was made."""

    def __init__(self, lm: LM, evaluator: EnergyEvaluator) -> None:
        self.lm = lm
        self.evaluator = evaluator
        self._start = self._read()
        self._last = self._start

    def _read(self) -> Costs:
        hits, misses = _cache_counts(self.lm)
        return Costs(
            forward_tokens=forward_tokens(self.lm),
            loo_evaluations=self.evaluator.n_evaluations,
            loo_memo_hits=self.evaluator.n_memo_hits,
            context_calls=self.evaluator.n_context_calls,
            cache_hits=hits,
            cache_misses=misses,
        )

    @staticmethod
    def _since(now: Costs, then: Costs) -> Costs:
        def sub(a: int | None, b: int | None) -> int | None:
            return None if a is None or b is None else a - b

        return Costs(
            forward_tokens=sub(now.forward_tokens, then.forward_tokens),
            loo_evaluations=now.loo_evaluations - then.loo_evaluations,
            loo_memo_hits=now.loo_memo_hits - then.loo_memo_hits,
            context_calls=now.context_calls - then.context_calls,
            cache_hits=sub(now.cache_hits, then.cache_hits),
            cache_misses=sub(now.cache_misses, then.cache_misses),
        )

    def step(self) -> Costs:
        now = self._read()
        out = self._since(now, self._last)
        self._last = now
        return out

    def total(self) -> Costs:
        return self._since(self._read(), self._start)


__all__ = ["CostMeter", "Costs", "forward_tokens"]
