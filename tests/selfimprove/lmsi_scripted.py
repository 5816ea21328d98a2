"""A scripted arithmetic solver standing in for an LM in self-improvement tests.

It reads the last "Q: What is ...?" of a prompt and answers in the exemplars' format. Greedy
decoding is right for a fixed share of questions (by a hash of the question); sampled paths are
right with probability `p_right`, else off by one, from an RNG seeded by the generation seed and
advanced per path, so sampling is random across paths but reproducible.
"""

from __future__ import annotations

import random
import re
import zlib
from pathlib import Path

from elicit.backends.base import GenerationConfig
from elicit.backends.fake import ScriptedLM
from elicit.commands.selfimprove import SelfImproveConfig

_Q = re.compile(r"Q: What is ([^?\n]*)\?\nA:(?: Let's think step by step\.)?$")


def arithmetic_lm(p_right: float = 0.7, greedy_right: float = 0.5) -> ScriptedLM:
    state: dict[int, random.Random] = {}

    def rule(prompt: str, config: GenerationConfig) -> str:
        m = _Q.search(prompt)
        if m is None:
            return " I am not sure."
        expr = m.group(1)
        value = int(eval(expr))  # our generated digits and + - * only
        if config.temperature == 0:
            right = zlib.crc32(expr.encode()) % 100 < 100 * greedy_right
        else:
            rng = state.setdefault(config.seed, random.Random(config.seed))
            right = rng.random() < p_right
        answer = value if right else value + 1
        # A base model runs on into the next question; the stop string must cut it.
        return f" {expr} = {answer}. The answer is {answer}.\n\nQ: What is 1 + 1?\nA: 2"

    return ScriptedLM(generate=rule, name="scripted-arithmetic")


def config(tmp_path: Path, **kw: object) -> SelfImproveConfig:
    """A small self-improve run into tmp_path/run (no fine-tuning); kw overrides any option."""
    base: dict[str, object] = dict(
        task="arithmetic",
        n=12,
        test_n=10,
        shots=2,
        paths=5,
        eval_paths=5,
        max_new_tokens=32,
        finetune=False,
        progress=False,
        out=str(tmp_path / "run"),
    )
    base.update(kw)
    return SelfImproveConfig(**base)  # type: ignore[arg-type]
