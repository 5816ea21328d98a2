"""The ICM search recovers a planted labelling and leaves no fixable inconsistency."""

from __future__ import annotations

import inspect

import pytest
from planted import agreement, planted_lm, pool

from elicit.search.consistency import ConsistencyRule
from elicit.search.energy import EnergyEvaluator
from elicit.search.icm import (
    SearchConfig,
    SearchResult,
    Step,
    TraceRow,
    default_iterations,
    run_search,
)
from elicit.tasks.base import Consistency, Example

N = 48


def fixable_pairs(
    result: SearchResult, examples: list[Example], kind: Consistency, lm: object
) -> list[tuple[int, int]]:
    """Inconsistent pairs of the final labels that a relabelling fixes without lowering U.

    The planted LM ignores demo order, so any context order reproduces the search's energies.
    """
    index = {ex.uid: i for i, ex in enumerate(examples)}
    labels = {index[u]: y for u, y in result.labels.items()}
    rule = ConsistencyRule(examples, kind)
    ev = EnergyEvaluator(lm, examples, rule, list(range(len(examples))), mp=result.config.mp)  # type: ignore[arg-type]
    cur = ev.evaluate(labels)
    assert cur.energy == pytest.approx(result.energy)
    return [
        (i, j)
        for i, j in cur.pairs
        if any(
            ev.evaluate({**labels, i: a, j: b}).energy >= cur.energy
            for a, b in rule.relabellings(i, j)
        )
    ]


@pytest.mark.parametrize("kind", list(Consistency))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_planted_labels_from_random_init(kind: Consistency, seed: int) -> None:
    examples, planted = pool(kind, N, seed=100 + seed)
    lm = planted_lm(planted, seed=100 + seed)
    result = run_search(lm, examples, kind, SearchConfig(), seed=seed)
    assert agreement(result.labels, examples, planted) >= 0.95
    assert fixable_pairs(result, examples, kind, lm) == []
    assert result.iterations == default_iterations(N) == len(result.trace)


@pytest.mark.parametrize("kind", [Consistency.ANSWER, Consistency.COMPARISON])
def test_released_code_variants_also_recover(kind: Consistency) -> None:
    examples, planted = pool(kind, N, seed=7)
    lm = planted_lm(planted, seed=7)
    config = SearchConfig(
        mp="mean", schedule="code", init_balanced=True, skip_same=True, context_order="grouped"
    )
    result = run_search(lm, examples, kind, config, seed=3)
    assert agreement(result.labels, examples, planted) >= 0.95
    assert result.inconsistencies == 0


def test_trace_rows_and_on_step() -> None:
    examples, planted = pool(Consistency.COMPARISON, 16, seed=1)
    lm = planted_lm(planted, seed=1)
    seen: list[Step] = []

    def on_step(step: Step) -> dict[str, float]:
        seen.append(step)
        return {"n_true": float(sum(step.labels.values()))}

    result = run_search(
        lm, examples, Consistency.COMPARISON, SearchConfig(iterations=30), seed=0, on_step=on_step
    )
    assert [s.iteration for s in seen] == list(range(1, 31))
    row = result.trace[-1].to_dict()
    assert set(row) == {
        "iteration", "temperature", "energy", "mp", "inconsistencies", "accepted",
        "n_labelled", "uid", "proposed", "delta", "n_true",
        # what the iteration cost (search.costs)
        "forward_tokens", "loo_evaluations", "loo_memo_hits", "context_calls", "cache_hits",
        "cache_misses",
    }  # fmt: skip
    assert TraceRow.from_dict(row) == result.trace[-1]  # checkpoints keep the costs
    assert row["iteration"] == 30 and row["n_true"] == sum(seen[-1].labels.values())
    assert all(r.n_labelled == len(s.labels) for r, s in zip(result.trace, seen, strict=True))
    assert result.trace[0].temperature == 10.0
    assert result.trace[-1].temperature < result.trace[1].temperature
    assert {r.uid for r in result.trace} <= {ex.uid for ex in examples}


def test_search_is_seeded_and_sees_no_gold() -> None:
    params = inspect.signature(run_search).parameters
    assert not any("gold" in name or name == "label" for name in params)
    assert not hasattr(Example("u", "p", "g"), "label")
    examples, planted = pool(Consistency.NONE, 16, seed=2)
    runs = [
        run_search(
            planted_lm(planted), examples, Consistency.NONE, SearchConfig(iterations=40), seed=s
        )
        for s in (5, 5, 6)
    ]
    assert runs[0].labels == runs[1].labels and runs[0].trace == runs[1].trace
    assert runs[0].trace != runs[2].trace


def test_edge_cases() -> None:
    empty = run_search(planted_lm({}), [], Consistency.NONE, SearchConfig(iterations=10))
    assert empty.labels == {} and empty.trace == () and empty.energy == 0.0
    examples, planted = pool(Consistency.NONE, 2, seed=0)
    one = run_search(
        planted_lm(planted), examples[:1], Consistency.NONE, SearchConfig(iterations=5)
    )
    assert set(one.labels) == {"u0"} and len(one.trace) == 5
    # init_size larger than the pool labels everything; balanced init is exactly half True.
    examples, planted = pool(Consistency.NONE, 8, seed=0)
    init = run_search(
        planted_lm(planted), examples, Consistency.NONE,
        SearchConfig(iterations=0, init_balanced=True, init_size=100), seed=0,
    )  # fmt: skip
    assert len(init.labels) == 8 and sum(init.labels.values()) == 4


def test_memo_makes_repeated_states_free() -> None:
    examples, planted = pool(Consistency.NONE, 16, seed=4)
    lm = planted_lm(planted, seed=4)
    result = run_search(lm, examples, Consistency.NONE, SearchConfig(iterations=200), seed=0)
    # Once converged, proposals re-create the current state (a memo hit): far fewer LOO
    # evaluations reach the LM than the search makes.
    assert result.lm_evaluations < 60
    assert lm.n_calls < 100


def test_strict_consistency_removes_the_contradictions_the_energy_keeps() -> None:
    kind = Consistency.COMPARISON
    examples, planted = pool(kind, 16, seed=5)
    # The LM predicts best a labelling that contradicts itself in every pair (both claims of a
    # comparison get the first claim's label): with alpha = 50 no fix is worth its MP cost.
    contradictory = {i: planted[i - i % 2] for i in planted}
    lm = planted_lm(contradictory, seed=5)
    loose = run_search(lm, examples, kind, SearchConfig(iterations=60), seed=0)
    strict = run_search(
        lm, examples, kind, SearchConfig(iterations=60, strict_consistency=True), seed=0
    )
    assert loose.inconsistencies > 0
    assert strict.inconsistencies == 0
    index = {ex.uid: i for i, ex in enumerate(examples)}
    rule = ConsistencyRule(examples, kind)
    assert rule.count({index[u]: y for u, y in strict.labels.items()}) == 0
    assert strict.energy <= loose.energy
    assert len(strict.labels) >= len(loose.labels) - 2


@pytest.mark.parametrize("kind", [Consistency.ANSWER, Consistency.COMPARISON])
def test_complete_labels_the_whole_pool(kind: Consistency) -> None:
    """A search cut short leaves most of its pool unlabelled; `complete` labels the rest with
    the model's predictions (consistent, and mostly the planted labels) at no cost to the
    iterations themselves."""
    examples, planted = pool(kind, 24, seed=5)
    lm = planted_lm(planted, seed=5)
    short = run_search(lm, examples, kind, SearchConfig(iterations=4), seed=0)
    done = run_search(lm, examples, kind, SearchConfig(iterations=4, complete=True), seed=0)
    assert short.n_labelled < len(examples)
    assert done.n_labelled == len(examples)
    assert done.trace == short.trace
    assert done.inconsistencies == 0
    assert agreement(done.labels, examples, planted) >= 0.9
