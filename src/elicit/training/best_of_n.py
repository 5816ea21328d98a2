"""Best-of-N: sample N replies from a policy LM, keep the one the reward model scores highest.

    picks = best_of_n(policy_lm, reward_model, contexts, n=4,
                      generation=GenerationConfig(max_new_tokens=48, temperature=0.8))
    picks[0].best, picks[0].rewards

The cheapest use of a reward model: no RL, just reranking. The policy is any elicit `LM` (it
generates after "\\n\\nAssistant:", the same framing the reward model reads, `reward_text`);
sample i of every context uses seed `generation.seed * 1000 + i`, so the N samples differ and
a rerun gives the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from elicit.backends.base import LM, GenerationConfig
from elicit.errors import ConfigError
from elicit.training.data import reward_text
from elicit.training.reward import RewardModel

#: A reply ends where the next turn would start.
STOP = ("\n\nHuman:", "\nHuman:", "\n\n\n")


@dataclass(frozen=True)
class BestOfN:
    context: str
    responses: tuple[str, ...]
    rewards: tuple[float, ...]

    @property
    def best_index(self) -> int:
        return max(range(len(self.rewards)), key=lambda i: self.rewards[i])

    @property
    def best(self) -> str:
        return self.responses[self.best_index]


def policy_prompt(context: str) -> str:
    return reward_text(context, "").rstrip()


def best_of_n(
    policy: LM,
    reward_model: RewardModel,
    contexts: Sequence[str],
    n: int,
    generation: GenerationConfig | None = None,
) -> list[BestOfN]:
    if n < 1:
        raise ConfigError(f"best-of-N needs n >= 1, got {n}")
    gen = generation or GenerationConfig(max_new_tokens=64, temperature=0.8, stop=STOP)
    if gen.temperature == 0 and n > 1:
        raise ConfigError("best-of-N with temperature 0 samples the same reply N times; use > 0")
    prompts = [policy_prompt(c) for c in contexts]
    samples = [policy.generate(prompts, replace(gen, seed=gen.seed * 1000 + i)) for i in range(n)]
    out: list[BestOfN] = []
    for k, context in enumerate(contexts):
        responses = tuple(" " + s[k].strip() if s[k].strip() else "" for s in samples)
        rewards = reward_model.rewards([reward_text(context, r.strip()) for r in responses])
        out.append(
            BestOfN(context, tuple(r.strip() for r in responses), tuple(float(x) for x in rewards))
        )
    return out


__all__ = ["STOP", "BestOfN", "best_of_n", "policy_prompt"]
