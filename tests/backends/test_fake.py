"""ScriptedLM: scores come from the rule, generation from the script, calls are counted."""

from __future__ import annotations

import numpy as np
import pytest

from elicit.backends.base import Demo, GenerationConfig, LabelSet
from elicit.backends.fake import ScriptedLM
from elicit.backends.prompting import loo_prompt
from elicit.errors import BackendError


def test_binary_scores_are_the_rule() -> None:
    lm = ScriptedLM(lambda p: 2.0 if "good" in p else -1.5)
    lp = lm.label_logprobs(["a good claim", "a bad claim"])
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0)  # normalised over False/True
    np.testing.assert_allclose(lm.score(["a good claim", "a bad claim"]), [2.0, -1.5])
    # Extreme scores stay finite.
    big = ScriptedLM(lambda p: 1000.0).label_logprobs(["x"])
    assert np.isfinite(big).all() and big[0, 1] == 0.0


def test_k_words_need_a_vector() -> None:
    labels = LabelSet((" A", " B", " C"))
    lm = ScriptedLM(lambda p: [0.0, 1.0, 2.0])
    lp = lm.label_logprobs(["x"], labels)
    np.testing.assert_allclose(lp[0] - lp[0, 0], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(np.exp(lp).sum(), 1.0)
    with pytest.raises(BackendError, match="3 logits"):
        ScriptedLM(lambda p: 1.0).label_logprobs(["x"], labels)
    with pytest.raises(BackendError, match="shape"):
        ScriptedLM(lambda p: [1.0, 2.0]).label_logprobs(["x"], labels)


def test_counts_and_empty() -> None:
    lm = ScriptedLM()
    assert lm.score([]).shape == (0,)
    assert lm.label_logprobs([]).shape == (0, 2)
    lm.score(["a", "b"])
    lm.label_logprobs(["c"])
    assert (lm.n_calls, lm.n_prompts, lm.prompts) == (3, 3, ["a", "b", "c"])


def test_loo_scores_use_the_base_prompts() -> None:
    lm = ScriptedLM(lambda p: float(len(p)))
    demos = [Demo("one is", 1), Demo("two is", 0), Demo("three is", 1)]
    scores = lm.loo_scores(demos)
    prompts = [loo_prompt(demos, i, LabelSet()) for i in range(3)]
    assert lm.prompts == prompts
    assert prompts[0] == "two is False\n\nthree is True\n\none is"
    np.testing.assert_allclose(scores, [len(p) for p in prompts])
    assert lm.loo_scores([]).shape == (0,)
    assert ScriptedLM().loo_scores([Demo("only", 0)]).shape == (1,)


def test_loo_context_demos_come_first_and_are_never_scored() -> None:
    lm = ScriptedLM(lambda p: float(len(p)))
    demos = [Demo("one is", 1), Demo("two is", 0)]
    lm.loo_scores(demos, order="tree", context=[Demo("known is", 1)])
    assert lm.prompts == [
        "known is True\n\ntwo is False\n\none is",
        "known is True\n\none is True\n\ntwo is",
    ]


def test_generation_script_and_stops() -> None:
    lm = ScriptedLM(generate=lambda p, c: p.upper() + " END more")
    assert lm.generate(["ab"], GenerationConfig(stop=(" END",))) == ["AB"]
    assert lm.generate(["ab"], GenerationConfig()) == ["AB END more"]
    assert lm.n_generate_calls == 2
    with pytest.raises(BackendError, match="no generation script"):
        ScriptedLM().generate(["x"], GenerationConfig())
