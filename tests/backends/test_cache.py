"""The SQLite caching wrapper: what is cached, under which key, and that reruns skip the model."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import elicit.backends
from elicit.backends.base import LM, TRUE_FALSE, Demo, FloatArray, GenerationConfig, LabelSet
from elicit.backends.cache import CachedLM
from elicit.backends.fake import ScriptedLM
from elicit.backends.prompting import loo_prompts, render_context
from elicit.cli.main import main
from elicit.errors import BackendError, ConfigError


def length_rule(prompt: str) -> float:
    return (len(prompt) % 7) - 3.0


def prompts(n: int, tag: str = "p") -> list[str]:
    return [f"{tag} {i} is" for i in range(n)]


def test_score_rerun_hits(tmp_path: Path) -> None:
    inner = ScriptedLM(length_rule)
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    first = lm.score(prompts(10))
    assert (lm.hits, lm.misses, inner.n_prompts) == (0, 10, 10)
    again = lm.score(prompts(10))
    np.testing.assert_array_equal(first, again)
    assert (lm.hits, lm.misses, inner.n_prompts) == (10, 10, 10)
    # A new process (a rerun) sees the same file; only the new prompts reach the model.
    inner2 = ScriptedLM(length_rule)
    lm2 = CachedLM(inner2, tmp_path / "c.sqlite")
    mixed = lm2.score(prompts(12))
    np.testing.assert_array_equal(mixed[:10], first)
    assert inner2.prompts == prompts(12)[10:]
    assert (lm2.hits, lm2.misses) == (10, 2)


def test_label_logprobs_rows_and_duplicates(tmp_path: Path) -> None:
    inner = ScriptedLM(lambda p: [0.0, 1.0, float(len(p))])
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    label_set = LabelSet((" a", " b", " c"))
    ps = ["x", "yy", "x"]
    rows = lm.label_logprobs(ps, label_set)
    assert inner.prompts == ["x", "yy"]  # a repeated prompt is asked once
    np.testing.assert_allclose(
        rows, ScriptedLM(lambda p: [0.0, 1.0, float(len(p))]).label_logprobs(ps, label_set)
    )
    np.testing.assert_array_equal(lm.label_logprobs(ps, label_set), rows)
    # Other label words are another request.
    lm.label_logprobs(["x"], LabelSet((" a", " b", " d")))
    assert inner.prompts == ["x", "yy", "x"]
    assert lm.label_logprobs([], label_set).shape == (0, 3)


def test_loo_and_context_scores_share_keys_with_score(tmp_path: Path) -> None:
    inner = ScriptedLM(length_rule)
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    demos = [Demo(f"claim {i} is", i % 2) for i in range(5)]
    tree = lm.loo_scores(demos, order="tree")
    np.testing.assert_array_equal(tree, ScriptedLM(length_rule).loo_scores(demos, order="tree"))
    n = inner.n_prompts
    lm.score(loo_prompts(demos, TRUE_FALSE, "tree"))
    lm.loo_scores(demos, order="tree")
    assert inner.n_prompts == n
    given = loo_prompts(demos, TRUE_FALSE, "given")
    new = set(given) - set(loo_prompts(demos, TRUE_FALSE, "tree"))
    assert 0 < len(new) < 5  # some queries' contexts are in the same order both ways
    lm.loo_scores(demos, order="given")
    assert inner.n_prompts == n + len(new)
    n = inner.n_prompts
    queries = ["q1 is", "q2 is"]
    ctx = lm.context_scores(demos, queries)
    assert inner.n_prompts == n + 2
    np.testing.assert_array_equal(
        ctx, lm.score([render_context(demos, q, TRUE_FALSE) for q in queries])
    )
    assert inner.n_prompts == n + 2


class EngineLM(ScriptedLM):
    """A backend with its own leave-one-out engine, counting its calls."""

    native_loo = True

    def __init__(self) -> None:
        super().__init__(length_rule)
        self.engine_calls = 0

    def loo_scores(
        self,
        demos: Sequence[Demo],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: str = "given",
        context: Sequence[Demo] = (),
    ) -> FloatArray:  # type: ignore[override]
        self.engine_calls += 1
        return super().loo_scores(demos, label_set, order=order, context=context)  # type: ignore[arg-type]


def test_many_misses_use_the_backends_own_engine(tmp_path: Path) -> None:
    inner = EngineLM()
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    demos = [Demo(f"claim {i} is", i % 2) for i in range(8)]
    lm.loo_scores(demos, order="tree")
    assert inner.engine_calls == 1
    # An ICM flip: every prompt but the flipped demo's own changes. 7 misses > log2(8): the
    # engine recomputes the call.
    demos[0] = Demo(demos[0].prompt, 1)
    lm.loo_scores(demos, order="tree")
    assert inner.engine_calls == 2 and lm.hits == 1
    # Two misses (<= log2(8)) are scored one by one instead: flip demo 1 (its own prompt is
    # cached) and score all others but 0 and 2 first.
    demos[1] = Demo(demos[1].prompt, 0)
    texts = loo_prompts(demos, TRUE_FALSE, "tree")
    lm.score(texts[3:])
    n = inner.n_prompts
    lm.loo_scores(demos, order="tree")
    assert inner.engine_calls == 2 and inner.n_prompts == n + 2


def test_loo_context_is_part_of_the_key(tmp_path: Path) -> None:
    inner = EngineLM()
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    demos = [Demo(f"claim {i} is", i % 2) for i in range(4)]
    fixed = [Demo("a known claim is", 1)]
    plain = lm.loo_scores(demos, order="tree")
    anchored = lm.loo_scores(demos, order="tree", context=fixed)
    assert inner.engine_calls == 2 and not np.allclose(plain, anchored)
    np.testing.assert_array_equal(lm.loo_scores(demos, order="tree", context=fixed), anchored)
    assert inner.engine_calls == 2


def test_generate_caches_greedy_only(tmp_path: Path) -> None:
    inner = ScriptedLM(generate=lambda p, c: f"{p}-{c.seed}")
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    greedy = GenerationConfig(temperature=0.0, seed=1)
    assert lm.generate(["a", "b"], greedy) == ["a-1", "b-1"]
    assert lm.generate(["a", "b"], GenerationConfig(seed=2)) == ["a-1", "b-1"]  # seed-free
    assert inner.n_generate_calls == 1
    sampled = GenerationConfig(temperature=0.7, seed=5)
    lm.generate(["a"], sampled)
    lm.generate(["a"], sampled)
    assert inner.n_generate_calls == 3
    assert lm.generate(["a"], GenerationConfig(stop=("x",))) == ["a-0"]  # other settings
    assert inner.n_generate_calls == 4


def test_count_tokens_cached(tmp_path: Path) -> None:
    lm = CachedLM(ScriptedLM(), tmp_path / "c.sqlite")
    assert lm.count_tokens("12345678") == 2
    assert lm.count_tokens("12345678") == 2
    assert (lm.hits, lm.misses) == (1, 1)


def test_models_do_not_share_entries(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    CachedLM(ScriptedLM(length_rule, name="a"), path).score(prompts(3))
    other = ScriptedLM(lambda p: 9.0, name="b")
    assert list(CachedLM(other, path).score(prompts(3))) == [9.0] * 3
    assert ScriptedLM(name="a").identity != ScriptedLM(name="b").identity


class DiesAfter(ScriptedLM):
    """Fails on its `n`-th call, like a server that goes away mid-run."""

    def __init__(self, n: int) -> None:
        super().__init__(length_rule)
        self.left = n

    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        self.left -= 1
        if self.left < 0:
            raise BackendError("the server went away")
        return super().label_logprobs(prompts, label_set)


def test_results_before_a_failure_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    lm = CachedLM(DiesAfter(2), path, chunk_size=4)
    with pytest.raises(BackendError):
        lm.score(prompts(10))
    inner = DiesAfter(100)  # the same model (class and name), back up
    rerun = CachedLM(inner, path, chunk_size=4)
    scores = rerun.score(prompts(10))
    assert inner.prompts == prompts(10)[8:]  # two chunks of 4 were kept
    np.testing.assert_array_equal(scores, ScriptedLM(length_rule).score(prompts(10)))


def test_concurrent_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    script = (
        "import sys\n"
        "from elicit.backends.cache import CachedLM\n"
        "from elicit.backends.fake import ScriptedLM\n"
        "lm = CachedLM(ScriptedLM(lambda p: float(len(p))), sys.argv[1], chunk_size=3)\n"
        "for _ in range(5):\n"
        "    lm.score([f'{sys.argv[2]} {i}' for i in range(30)])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), tag]) for tag in "abc"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    inner = ScriptedLM(lambda p: float(len(p)))
    lm = CachedLM(inner, path)
    lm.score([f"{tag} {i}" for tag in "abc" for i in range(30)])
    assert inner.n_prompts == 0 and lm.hits == 90


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(ConfigError, match="delete the file"):
        CachedLM(ScriptedLM(), bad)


def test_max_length_passes_through(tmp_path: Path) -> None:
    inner = ScriptedLM()
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    assert lm.max_length is None
    inner.max_length = 128  # type: ignore[attr-defined]
    assert lm.max_length == 128
    assert lm.name == inner.name


def test_eval_rerun_hits_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`elicit eval --cache` twice: the second run asks the model nothing."""
    claims = tmp_path / "claims.jsonl"
    rows = [
        {"uid": f"c{i:02d}", "text": f"item {i} was {'good' if i % 2 else 'bad'}", "label": i % 2}
        for i in range(40)
    ]
    claims.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded: list[LM] = []

    def load(model: str = "", backend: str = "auto", **_: object) -> LM:
        lm = ScriptedLM(lambda p: 1.0 if "good" in p.rsplit("\n", 2)[-2] else -1.0)
        loaded.append(lm)
        return lm

    monkeypatch.setattr(elicit.backends, "load_lm", load)
    db = tmp_path / "cache.sqlite"
    args = ["eval", "--task", "claims", "--data", str(claims), "--n", "12", "--pool-n", "8"]
    args += ["--methods", "zero-shot,golden,random", "--cache", str(db), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "run1")]) == 0
    first = loaded[-1]
    assert isinstance(first, ScriptedLM) and first.n_prompts > 0
    assert main([*args, "--out", str(tmp_path / "run2")]) == 0
    second = loaded[-1]
    assert second is not first and isinstance(second, ScriptedLM)
    assert second.n_prompts == 0
    r1 = json.loads((tmp_path / "run1" / "results.json").read_text())
    r2 = json.loads((tmp_path / "run2" / "results.json").read_text())
    assert [r["accuracy"] for r in r1] == [r["accuracy"] for r in r2]
    assert json.loads((tmp_path / "run2" / "config.json").read_text())["cache"] == str(db)
