"""What a search costs: forward tokens, leave-one-out evaluations, memo and result-cache hits,
per trace row and per run, and the pool and load time an `elicit label` run writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planted import planted_lm, pool
from test_label_run import EXAMPLES, claims_file, config, lm

from elicit.backends.base import Demo, FloatArray
from elicit.backends.cache import CachedLM
from elicit.backends.fake import ScriptedLM
from elicit.backends.hf import HFBackend
from elicit.commands.label import run_label
from elicit.runs import read_jsonl
from elicit.search.costs import Costs
from elicit.search.icm import SearchConfig, run_search
from elicit.tasks.base import Consistency


def test_forward_tokens_are_the_backends_count(tiny_model_dir: Path) -> None:
    hf = HFBackend(str(tiny_model_dir), progress=False)
    examples, _ = pool(Consistency.NONE, 5, seed=3)
    before = hf.tokens_processed
    result = run_search(hf, examples, Consistency.NONE, SearchConfig(iterations=6), seed=0)
    total = result.costs
    assert total.forward_tokens == hf.tokens_processed - before > 0
    assert total.loo_evaluations == result.lm_evaluations > 0
    rows = [r.costs for r in result.trace]
    assert len(rows) == 6 and all(r.forward_tokens is not None for r in rows)
    # The rows hold the iterations; the total adds the initial labelling and the final fix.
    steps = sum(rows, Costs(forward_tokens=0))
    assert steps.forward_tokens is not None and 0 < steps.forward_tokens <= total.forward_tokens
    assert steps.loo_evaluations <= total.loo_evaluations
    assert total.cache_hits is None  # no result cache


def test_memo_and_result_cache_hits_are_counted(tmp_path: Path) -> None:
    examples, planted = pool(Consistency.COMPARISON, 12, seed=4)
    settings = SearchConfig(iterations=30)

    def search() -> Costs:
        cached = CachedLM(planted_lm(planted, seed=4), tmp_path / "cache.sqlite")
        try:
            return run_search(cached, examples, Consistency.COMPARISON, settings, seed=0).costs
        finally:
            cached.close()

    first, second = search(), search()
    assert first.forward_tokens is None  # the scripted LM counts no tokens
    assert first.loo_memo_hits > 0  # rejected proposals and fixes revisit labellings
    assert first.cache_hits is not None and first.cache_misses is not None
    assert first.cache_misses > 0
    # The same search again: every prompt comes from the result cache, none from the model.
    assert second.cache_misses == 0 and second.cache_hits == first.cache_hits + first.cache_misses
    assert second.loo_evaluations == first.loo_evaluations


class CountingLM(ScriptedLM):
    """The planted LM, counting N^2 "tokens" per leave-one-out evaluation of N demos."""

    def __init__(self) -> None:
        super().__init__(lm()._score_rule, name="planted")
        self.tokens_processed = 0

    def loo_scores(self, demos: Sequence[Demo], *args: Any, **kwargs: Any) -> FloatArray:
        self.tokens_processed += len(demos) ** 2
        return super().loo_scores(demos, *args, **kwargs)


def test_a_label_run_writes_its_pool_costs_and_load_time(tmp_path: Path) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    out = tmp_path / "run"
    counting = CountingLM()
    summary = run_label(config(data, out, n=16), lm=counting)
    pool_rows = read_jsonl(out / "pool.jsonl")
    uids = [r["uid"] for r in pool_rows]
    # The sampled pool in order, labelled or not, with the batch each was searched in.
    assert len(uids) == summary.n == len(set(uids)) and set(summary.labels) <= set(uids)
    assert uids == [ex.uid for ex in EXAMPLES if ex.uid in set(uids)]
    assert {r["batch"] for r in pool_rows} == {0, 1}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["load_seconds"] == 0.0  # the model was passed in, not loaded
    assert metrics["search_seconds"] == metrics["seconds"]
    cost = metrics["cost"]
    assert cost["loo_evaluations"] == metrics["lm_evaluations"] and cost["loo_memo_hits"] > 0
    # Summed over the two batches, as counted by the backend.
    assert cost["forward_tokens"] == counting.tokens_processed > 0
    trace = read_jsonl(out / "trace.jsonl")
    assert all({"forward_tokens", "loo_evaluations", "loo_memo_hits"} <= r.keys() for r in trace)
    assert sum(r["forward_tokens"] for r in trace) <= cost["forward_tokens"]
    assert sum(r["loo_evaluations"] for r in trace) <= cost["loo_evaluations"]
