"""The one LM protocol everything in elicit talks to.

Search, baselines, evaluation and training-data code call these batched methods and never
touch transformers or HTTP directly. A backend takes whole request lists so it can sort,
batch and cache as it likes (the lm-evaluation-harness design).

    label_logprobs(prompts, label_set) -> (n, k) log P(label word k | prompt)
    score(prompts, label_set)          -> (n,)   log P(" True") - log P(" False")
    loo_scores(demos, label_set, order, context)
                                    -> (n,)   score of demo i with all other demos in context
    unit_loo_scores(demos, units, label_set, order, context)
                                    -> (n,)   the same with demos left out in groups (`LooUnit`)
    context_scores(demos, queries)  -> (m,)   score of each query after the same demos (many-shot)
    generate(prompts, config)       -> list[str]
    chat_prompt(message)            -> str    a user message in the model's chat template
    count_tokens(text)              -> int    tokens of text (default: a chars/4 estimate)

and says what callers may ask of any backend without probing for attributes:

    max_length   the context in tokens, or None where the backend does not know it
    identity     what distinguishes its numbers from another model's (cache keys hold it)
    native_loo   whether leave-one-out calls run on an engine of their own (a prefix cache),
                 so a whole call costs less than scoring its prompts one by one

Prompt rendering (how a labelled demonstration is written into a context) lives in
`prompting.py` and is the same for every backend; so do the tokenisation rules (BOS once,
label words with their leading space, left truncation with a warning) for every backend that
tokenises locally.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from elicit.errors import BackendError, ConfigError

FloatArray = NDArray[np.float64]

#: How the other demos are ordered in a leave-one-out prompt (see `LM.loo_scores`).
LooOrder = Literal["given", "tree"]


@dataclass(frozen=True)
class LabelSet:
    """The label words a prompt is scored on; the index of a word is the label value.

    The default is ICM's pair: label 0 = " False", label 1 = " True", so binary log-odds are
    log P(" True") - log P(" False"). Note the leading space: after "...this claim is" the
    tokenizer produces " True" (one token, e.g. id 6288 in Gemma 3), which is a different
    token from "True" (4339) or " true" (1847).

    variants: sum the probability of every single-token spelling of a word that differs only
        in case and leading space (" True", "True", " true", "TRUE", ...), as the released ICM
        code does by summing top-20 tokens whose text contains "true". With variants=False
        only the word exactly as given counts.
    """

    words: tuple[str, ...] = (" False", " True")
    variants: bool = True

    def __post_init__(self) -> None:
        if len(self.words) < 2:
            raise ConfigError(
                f"a label set needs at least two words, got {self.words!r}; "
                "pass e.g. --label-words ' False,True'"
            )
        if any(not w.strip() for w in self.words):
            raise ConfigError(f"label words must not be empty or blank: {self.words!r}")
        canon = [w.strip().casefold() if self.variants else w for w in self.words]
        if len(set(canon)) != len(canon):
            raise ConfigError(
                f"label words {self.words!r} collide once case and spaces are ignored; "
                "use distinct words or set variants=False"
            )

    @property
    def binary(self) -> bool:
        return len(self.words) == 2


TRUE_FALSE = LabelSet()


@dataclass(frozen=True)
class Demo:
    """A labelled example placed in a context: its prompt followed by its label word."""

    prompt: str
    label: int


@dataclass(frozen=True)
class LooUnit:
    """Demos left out together in a leave-one-out pass (`LM.unit_loo_scores`).

    shown: indices of the demos this unit places in the context of every *other* unit's
        queries, in this order.
    asked: indices of the demos scored with every other unit's shown demos in context (and
        none of this unit's). A demo may be asked without being shown anywhere.

    Plain leave-one-out is one unit per demo, `LooUnit((i,), (i,))`. ICM's balanced form
    (`search.energy`) pairs a True with a False demo per unit, so every query's context holds
    as many True as False demos; the majority label's leftover claims are only asked.
    """

    shown: tuple[int, ...]
    asked: tuple[int, ...]


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings for `LM.generate`. temperature 0 means greedy decoding."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")


#: What to do about a non-finite score, for `check_finite` messages of local models.
LOCAL_NAN_FIX = (
    "NaN or infinite logits usually mean float16 overflow (pass --dtype float32 or bfloat16) "
    "or broken weights; check the model with `elicit score` on a few claims"
)


def check_finite(
    values: FloatArray,
    model: str,
    prompts: Sequence[str] | None = None,
    *,
    what: str = "prompt",
    fix: str = LOCAL_NAN_FIX,
) -> FloatArray:
    """`values` (one row or entry per prompt) unchanged when every number is finite; else a
    `BackendError` naming the model and the first prompt with a NaN or infinity.

    A NaN score compares false with everything, so a search or a metric would go on with a
    quietly wrong order; an infinite one swamps every sum it enters. Neither is a score, so
    scoring stops here instead of passing it on (or into a cache).
    """
    arr = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1) if arr.size else arr.astype(bool)
    if not bad.any():
        return values
    i = int(np.flatnonzero(bad)[0])
    shown = f" (ending {prompts[i][-60:]!r})" if prompts is not None else ""
    more = f", and {int(bad.sum()) - 1} more" if bad.sum() > 1 else ""
    raise BackendError(
        f"model {model} gave a non-finite log-prob ({arr[i].tolist()}) for {what} {i} of "
        f"{len(arr)} in this call{shown}{more}. A NaN or infinite score would silently corrupt "
        f"labels and metrics, so scoring stopped. {fix}."
    )


def describe_identity(lm: LM, **settings: object) -> str:
    """`lm`'s class and name, and every setting that is not None (as text), as sorted JSON."""
    parts = {"class": f"{type(lm).__module__}.{type(lm).__qualname__}", "name": lm.name}
    parts.update({key: str(value) for key, value in settings.items() if value is not None})
    return json.dumps(parts, sort_keys=True)


class LM(abc.ABC):
    """A language model seen through the few batched calls elicit needs."""

    #: A short name for results files, e.g. "gemma-3-270m" or "hf:/path/to/model".
    name: str
    #: The context in tokens, or None where the backend does not know it. Many-shot budgets
    #: read it; backends that tokenise locally left-truncate prompts to it.
    max_length: int | None = None
    #: True when `loo_scores` and `unit_loo_scores` run on an engine of their own (a prefix
    #: cache) rather than scoring the text prompts: a whole call then costs less than scoring
    #: its prompts one by one, and a caching wrapper (`cache.CachedLM`) recomputes whole calls
    #: when many of their prompts are missing.
    native_loo: bool = False

    @property
    def identity(self) -> str:
        """What distinguishes this model's numbers from another model's; a cache's keys hold it.

        The default is the class, the name and the context length (`describe_identity`);
        a backend adds the settings that change its numbers (the hf backend its dtype and
        device), and a server says what identifies its weights instead of its URL.
        """
        return describe_identity(self, max_length=self.max_length)

    @abc.abstractmethod
    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        """log P(label word | prompt) for every prompt and label word, shape (n, k).

        Each entry sums the probability of the word's variants (see `LabelSet`). Rows need
        not be normalised over the k words.
        """

    @abc.abstractmethod
    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        """Continuations of each prompt (without the prompt), cut at the first stop string."""

    def score(self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE) -> FloatArray:
        """Binary log-odds log P(words[1]) - log P(words[0]) per prompt, shape (n,)."""
        if not label_set.binary:
            raise ConfigError(
                f"score() needs exactly two label words, got {label_set.words!r}; "
                "use label_logprobs() for more"
            )
        if len(prompts) == 0:
            return np.zeros(0)
        lp = check_finite(self.label_logprobs(prompts, label_set), self.name, prompts)
        return np.asarray(lp[:, 1] - lp[:, 0], dtype=np.float64)

    def loo_scores(
        self,
        demos: Sequence[Demo],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: LooOrder = "given",
        context: Sequence[Demo] = (),
    ) -> FloatArray:
        """Leave-one-out log-odds: for each i, demo i's prompt scored with all other demos in
        context (the mutual-predictability primitive of ICM).

        context: fixed demos placed before the others in every prompt and never left out or
            scored themselves (anchored ICM's `anchor_mode="context"`); a backend with a
            prefix cache computes them once.

        order: "given" puts the others in their given order (`prompting.loo_prompt`); "tree"
            orders them by the recursive split of `prompting.tree_loo_orders`, which gives every
            query an ordinary prompt of all other demos while letting a backend with a prefix
            cache process O(N L log N) tokens instead of O(N^2 L). Backends may override this
            with a faster exact computation; the prompts scored must stay the text ones.
        """
        from elicit.backends.prompting import loo_prompts

        if len(demos) == 0:
            return np.zeros(0)
        return self.score(loo_prompts(demos, label_set, order, context), label_set)

    def unit_loo_scores(
        self,
        demos: Sequence[Demo],
        units: Sequence[LooUnit],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: LooOrder = "tree",
        context: Sequence[Demo] = (),
    ) -> FloatArray:
        """Leave-one-out by units: for each demo i, its prompt scored after the fixed
        `context` demos and the shown demos of every unit but the one that asks i, units in
        `order` ("tree": `prompting.tree_loo_orders` over the units; "given": unit order).
        Shape (n,), indexed like `demos`; every demo must be asked by exactly one unit.

        Each query is an ordinary causal prompt (`prompting.unit_loo_prompts`). This default
        scores the text prompts, unit by unit in tree order, so a backend or server that
        reuses the prefix of its previous prompt (llama.cpp's slot, a prefix store) gets the
        depth-first walk's sharing; backends with a prefix engine override it and feed the
        tree's O(U L log U) tokens for U units.
        """
        from elicit.backends.prompting import asked_order, unit_loo_prompts

        prompts = unit_loo_prompts(demos, units, label_set, order, context)
        out = np.zeros(len(demos))
        walk = asked_order(units)
        if walk:
            out[walk] = self.score([prompts[i] for i in walk], label_set)
        return out

    def context_scores(
        self, demos: Sequence[Demo], queries: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        """Many-shot log-odds: every query prompt scored after the same `demos`, in order.

        Backends with a prefix cache compute the shared context once.
        """
        from elicit.backends.prompting import render_context

        return self.score([render_context(demos, q, label_set) for q in queries], label_set)

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` encodes to, without special tokens (no BOS) or truncation.

        Used to fit many-shot contexts into a token budget. The default is an estimate,
        ceil(len(text) / 4): about four characters per token for English text under the BPE
        tokenizers of current models. Backends that tokenise locally override it exactly.
        """
        return -(-len(text) // 4)

    def chat_prompt(self, message: str) -> str:
        """`message` as a user turn in the model's chat template, ready for the reply.

        Only chat models have one; the default raises.
        """
        raise BackendError(
            f"model {self.name} has no chat template; the zero-shot chat baseline needs a chat "
            "model, e.g. --chat-model smollm2-135m-instruct"
        )

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for most backends
        """Release resources (servers, GPU memory). Safe to call twice."""
