"""ICM: Internal Coherence Maximization (Wen et al. 2025), the label search behind `elicit label`.

    from elicit.search import SearchConfig, run_search
    result = run_search(lm, examples, consistency, SearchConfig(iterations=300), seed=0)

Modules, one concern each:

    consistency  inconsistent pairs of a labelling and the consistent relabellings of a pair
    energy       mutual predictability (calibrated / mean / sum-logprob), U = alpha * MP - I,
                 and the memoised evaluator that calls `LM.loo_scores`
    schedule     annealing temperature schedules (paper / code / exp)
    order        the context order of the demos (interleaved groups / grouped)
    icm          the search: `Search`, one search in progress (begin or restore, step,
                 checkpoint, finish), `run_search` that drives it, trace rows
    passes       ConsistencyFix and the post-passes (anchors given back, strict
                 consistency, label margins)
    checkpoint   checkpoint files, so an interrupted search resumes exactly
    batches      group-preserving batches of a large pool, per-batch seeds
    costs        forward-pass cost estimates of a search
    plot         the energy / agreement plot of a run

The `elicit label` command around it (config, run directory, batches on Ray, --iterative
fine-tuning, metrics) is `elicit.commands.label`.
"""

from elicit.search.batches import batch_seed, split_batches
from elicit.search.consistency import ConsistencyRule, consistent_relabellings, violates
from elicit.search.energy import (
    MP_KINDS,
    EnergyEvaluator,
    Evaluation,
    MPKind,
    energy,
    mutual_predictability,
    proposal_threshold,
)
from elicit.search.icm import (
    OnStep,
    Search,
    SearchConfig,
    SearchResult,
    Step,
    TraceRow,
    default_iterations,
    run_search,
)
from elicit.search.order import CONTEXT_ORDERS, ContextOrder, context_order
from elicit.search.passes import consistency_fix
from elicit.search.schedule import SCHEDULES, Schedule, ScheduleKind

__all__ = [
    "CONTEXT_ORDERS",
    "MP_KINDS",
    "SCHEDULES",
    "ConsistencyRule",
    "ContextOrder",
    "EnergyEvaluator",
    "Evaluation",
    "MPKind",
    "OnStep",
    "Schedule",
    "ScheduleKind",
    "Search",
    "SearchConfig",
    "SearchResult",
    "Step",
    "TraceRow",
    "batch_seed",
    "consistency_fix",
    "consistent_relabellings",
    "context_order",
    "default_iterations",
    "energy",
    "mutual_predictability",
    "proposal_threshold",
    "run_search",
    "split_batches",
    "violates",
]
