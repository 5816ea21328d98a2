"""A scripted stand-in LM for tests and for trying a pipeline without a model.

    >>> from elicit.backends.fake import ScriptedLM
    >>> lm = ScriptedLM(lambda prompt: 3.0 if "2+2?\\nClaim: 4" in prompt else -3.0)
    >>> lm.score(["Question: What is 2+2?\\nClaim: 4\\nI think this claim is"])
    array([3.])

The scoring rule maps a prompt's text to the log-odds log P(True) - log P(False); the binary
label log-probs are then log-sigmoid(-s) and log-sigmoid(s), so `score` returns the rule's
value exactly. For label sets of k > 2 words the rule returns k logits instead (a scalar then
raises BackendError, since there is no one sensible way to spread it over k words). The
generation rule maps (prompt, config) to a continuation; stop strings are applied for it.

Calls are counted (`n_calls`, `n_prompts`, `prompts`), which tests use to check caching and how
many prompts a search sends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from elicit.backends.base import LM, TRUE_FALSE, FloatArray, GenerationConfig, LabelSet
from elicit.errors import BackendError

ScoreRule = Callable[[str], float | Sequence[float]]
GenerateRule = Callable[[str, GenerationConfig], str]


def _no_generation(prompt: str, config: GenerationConfig) -> str:
    raise BackendError(
        "this fake LM has no generation script; pass generate=... to ScriptedLM or use a real "
        "model for generation"
    )


def _log_sigmoid(x: float) -> float:
    # Stable for large |x|: log(1 / (1 + e^-x)) = -log1p(e^-x) = min(x, 0) - log1p(e^-|x|).
    return float(min(x, 0.0) - np.log1p(np.exp(-abs(x))))


class ScriptedLM(LM):
    """An LM whose scores and generations come from Python functions of the prompt text."""

    def __init__(
        self,
        score: ScoreRule = lambda prompt: 0.0,
        generate: GenerateRule = _no_generation,
        *,
        name: str = "fake",
    ) -> None:
        self.name = name
        self._score_rule = score
        self._generate_rule = generate
        self.n_calls = 0  # label_logprobs calls (score and loo_scores go through it)
        self.n_prompts = 0  # prompts scored in all those calls
        self.n_generate_calls = 0
        self.prompts: list[str] = []  # every scored prompt, in order

    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        self.n_calls += 1
        self.n_prompts += len(prompts)
        self.prompts.extend(prompts)
        k = len(label_set.words)
        out = np.zeros((len(prompts), k))
        for i, prompt in enumerate(prompts):
            value = self._score_rule(prompt)
            if isinstance(value, int | float | np.floating):
                if k != 2:
                    raise BackendError(
                        f"the scoring rule returned one number, but the label set has {k} words "
                        f"{label_set.words!r}; make the rule return {k} logits"
                    )
                s = float(value)
                out[i] = (_log_sigmoid(-s), _log_sigmoid(s))
            else:
                logits = np.asarray(value, dtype=np.float64)
                if logits.shape != (k,):
                    raise BackendError(
                        f"the scoring rule returned shape {logits.shape}, expected ({k},) for "
                        f"the label words {label_set.words!r}"
                    )
                # log-softmax: rows are normalised over the k words.
                out[i] = logits - np.logaddexp.reduce(logits)
        return out

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        self.n_generate_calls += 1
        outs: list[str] = []
        for prompt in prompts:
            text = self._generate_rule(prompt, config)
            cuts = [i for i in (text.find(s) for s in config.stop if s) if i >= 0]
            outs.append(text[: min(cuts)] if cuts else text)
        return outs
