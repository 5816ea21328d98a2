"""The methods `elicit eval` compares, each scoring the same held-out test claims.

- zero-shot: the base model on the task prompt alone (`LM.score`).
- zero-shot chat: an instruct model asked directly. The message is the claim without its final
  "I think this claim is", then `CHAT_QUESTION`; it is wrapped in the chat model's template
  (`LM.chat_prompt`) and scored on the words "True" / "False". After the template's assistant
  header the reply starts a new turn, so the first token is "True" with no leading space;
  `LabelSet` variants sum " True", "True", "true", ... so either spelling counts.
- many-shot: demonstrations from a labelled pool, then the test claim (`LM.context_scores`).
  The labels come from a *source*: "golden" (the pool's gold labels), "random" (seeded fair
  coin flips) or a labels file (`--labels`: an ICM run, weak or human labels).

Every many-shot method sees the same demonstrations in the same order; only the label words
differ. The demos are the pool examples that *every* requested source labels (so an ICM run
that labelled 256 claims limits golden and random to those 256 as well), sampled with the
seed, put in a seeded order and cut to what fits the token budget. The budget is computed with
each demo's longest label word, so the cut does not depend on which source labels it.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from elicit.backends.base import LM, Demo, FloatArray, LabelSet
from elicit.backends.prompting import render_context, render_demo
from elicit.errors import ConfigError, DataError
from elicit.labels import read_labels
from elicit.tasks.base import CLAIM_SUFFIX, Example, TaskData

log = logging.getLogger("elicit")

ZERO_SHOT = "zero-shot"
ZERO_SHOT_CHAT = "zero-shot-chat"
GOLDEN = "golden"
RANDOM = "random"
BUILTIN_METHODS = (ZERO_SHOT, ZERO_SHOT_CHAT, GOLDEN, RANDOM)
#: Built-in methods that prompt with labelled demonstrations.
MANY_SHOT_BUILTINS = (GOLDEN, RANDOM)

#: Appended to the claim for the chat model (after the claim's own text).
CHAT_QUESTION = "Is this claim true or false? Answer with one word: True or False."
#: No leading space: in a chat template the answer opens the assistant turn.
CHAT_LABELS = LabelSet(words=("False", "True"))

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# ---------------------------------------------------------------------- label sources


@dataclass(frozen=True)
class LabelSpec:
    """One `--labels` entry: the method name it is reported under, and its path."""

    name: str
    path: str


def is_icm_run(path: str | Path) -> bool:
    """A directory written by `elicit label` (it holds labels.jsonl and trace.jsonl), or the
    labels.jsonl inside one."""
    p = Path(path)
    run = p if p.is_dir() else p.parent
    return (run / "labels.jsonl").is_file() and (run / "trace.jsonl").is_file()


def _default_name(path: str) -> str:
    if is_icm_run(path):
        return "icm"
    p = Path(path)
    if p.is_dir() or p.name == "labels.jsonl":  # a run directory: its folder names it
        p = p if p.is_dir() else p.parent
        return p.name or "labels"
    return p.stem or "labels"


def parse_label_specs(
    text: str | None, reserved: Collection[str] = BUILTIN_METHODS
) -> list[LabelSpec]:
    """Parse `--labels`: comma-separated PATH or NAME=PATH entries.

    Without NAME, an ICM run directory is called "icm", a labels.jsonl inside a directory is
    named after the directory, any other file after its stem. Derived names that repeat get
    "-2", "-3", ...; explicit names must be unique and must not shadow a built-in method
    (`reserved`: `elicit eval` passes its whole method registry); a derived one that would
    gets "-labels".
    """
    specs: list[LabelSpec] = []
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, path = item.partition("=")
        explicit = bool(sep) and _NAME.fullmatch(name.strip()) is not None
        if explicit:
            name, path = name.strip(), path.strip()
            if not path:
                raise ConfigError(f"--labels {item!r}: no path after '='; use NAME=PATH")
            if name in reserved:
                raise ConfigError(
                    f"--labels {item!r}: {name!r} is a built-in method; choose another name"
                )
            if any(s.name == name for s in specs):
                raise ConfigError(f"--labels names {name!r} twice; give each source its own name")
        else:
            path = item
            base = _default_name(path)
            if base in reserved:
                base = f"{base}-labels"
            name, k = base, 2
            while any(s.name == name for s in specs):
                name, k = f"{base}-{k}", k + 1
        specs.append(LabelSpec(name, path))
    return specs


def read_label_spec(spec: LabelSpec) -> dict[str, int]:
    """uid -> label of a `--labels` entry; errors name the flag and the entry."""
    try:
        return read_labels(spec.path)
    except DataError as e:
        raise DataError(
            f"--labels {spec.name}={spec.path}: {e}. Each labels file holds one JSON object per "
            'line, {"uid": ..., "label": 0 or 1}, as `elicit label` writes it.'
        ) from e


def random_labels(uids: Iterable[str], seed: int) -> dict[str, int]:
    """A fair coin flip per uid, in the order given, from `random.Random` seeded by `seed`."""
    rng = random.Random(f"elicit-random-labels-{seed}")
    return {uid: rng.randint(0, 1) for uid in uids}


@dataclass(frozen=True)
class Agreement:
    """Share of a source's labels that equal gold, over the `n` labelled uids with gold."""

    agreement: float | None
    n: int


def label_agreement(
    labels: Mapping[str, int], gold: Mapping[str, int], uids: Iterable[str] | None = None
) -> Agreement:
    """Agreement of `labels` with `gold` over `uids` (default: every labelled uid), counting
    only uids that have both a label and a gold label."""
    keys = labels.keys() if uids is None else uids
    pairs = [(labels[u], gold[u]) for u in keys if u in labels and u in gold]
    if not pairs:
        return Agreement(None, 0)
    return Agreement(sum(a == b for a, b in pairs) / len(pairs), len(pairs))


#: Coverages at which `coverage_agreement` reports label agreement.
COVERAGES = (0.25, 0.5, 0.75, 1.0)


def coverage_agreement(
    labels: Mapping[str, int],
    confidence: Mapping[str, float],
    gold: Mapping[str, int],
    coverages: Sequence[float] = COVERAGES,
) -> tuple[tuple[float, float, int], ...]:
    """(coverage, agreement with gold, n) keeping only the most confident labels.

    Over the labels that have both a confidence and a gold label; ties keep file order. Empty
    when there is nothing to rank.
    """
    ranked = [u for u in labels if u in confidence and u in gold]
    if not ranked:
        return ()
    ranked.sort(key=lambda u: -confidence[u])  # stable: ties keep file order
    out = []
    for c in coverages:
        top = ranked[: max(1, round(c * len(ranked)))]
        out.append((c, sum(labels[u] == gold[u] for u in top) / len(top), len(top)))
    return tuple(out)


# ---------------------------------------------------------------------- the demo pool


def build_pool(
    pool: TaskData,
    test: TaskData,
    labelled: Sequence[Iterable[str]],
    n: int | None,
    seed: int,
) -> tuple[Example, ...]:
    """Pool examples usable as demos, sampled (`n`, `seed`) and in a fixed seeded order.

    Drops every example that shares a uid or consistency group with a test claim (they differ
    anyway when train and test are separate files; they overlap for a claims file, which is
    one split, or with --pool-split test), then keeps the examples labelled by every source in
    `labelled` (uid collections).
    """
    from elicit.tasks import sample

    test_uids = {ex.uid for ex in test.examples}
    test_groups = {ex.group for ex in test.examples}
    keep = [ex for ex in pool.examples if ex.uid not in test_uids and ex.group not in test_groups]
    for uids in labelled:
        have = set(uids)
        keep = [ex for ex in keep if ex.uid in have]
    chosen = sample(replace(pool, examples=tuple(keep)), n, seed).examples
    order = list(chosen)
    random.Random(f"elicit-demo-order-{seed}").shuffle(order)
    return tuple(order)


@dataclass(frozen=True)
class DemoFit:
    """The demos that fit the context, in context order, and how the cut was made.

    prompt_tokens: tokens of the longest prompt any method sends (every demo with its longest
        label word, then the longest test claim), as counted by `LM.count_tokens`.
    limit: the token budget applied (the smaller of --context-tokens and the model's context).
    stopped_by: "pool" (all fit), "max_demos" or "context".
    """

    examples: tuple[Example, ...]
    prompt_tokens: int
    limit: int
    stopped_by: str


def _model_limit(lm: LM) -> int | None:
    limit = lm.max_length  # None where the backend does not know its context
    return limit - 2 if limit is not None and limit > 2 else None  # BOS + label token


def _longest(lm: LM, ex: Example, label_set: LabelSet) -> tuple[int, int]:
    """(label index, tokens) of the label word that makes this demo longest."""
    costs = [
        lm.count_tokens(render_demo(Demo(ex.prompt, k), label_set))
        for k in range(len(label_set.words))
    ]
    k = max(range(len(costs)), key=costs.__getitem__)
    return k, costs[k]


def fit_demos(
    lm: LM,
    ordered: Sequence[Example],
    queries: Sequence[str],
    label_set: LabelSet,
    *,
    context_tokens: int,
    max_demos: int | None = None,
) -> DemoFit:
    """The longest prefix of `ordered` that fits every query's prompt into the budget.

    Demos are costed one by one (lazily, so a huge pool costs nothing past the cut), then the
    full worst-case prompt is counted once more and shortened if tokenisation across demo
    boundaries made it longer than the sum.
    """
    model_limit = _model_limit(lm)
    limit = min(context_tokens, model_limit) if model_limit is not None else context_tokens
    longest_query = max(queries, key=lm.count_tokens) if queries else ""
    used = lm.count_tokens(longest_query)
    cap = len(ordered) if max_demos is None else min(max_demos, len(ordered))
    chosen: list[tuple[Example, int]] = []
    stopped_by = "pool" if cap == len(ordered) else "max_demos"
    for ex in ordered[:cap]:
        k, cost = _longest(lm, ex, label_set)
        if used + cost > limit:
            stopped_by = "context"
            break
        chosen.append((ex, k))
        used += cost

    def total() -> int:
        demos = [Demo(ex.prompt, k) for ex, k in chosen]
        return lm.count_tokens(render_context(demos, longest_query, label_set))

    tokens = total()
    while chosen and tokens > limit:
        chosen.pop()
        stopped_by = "context"
        tokens = total()
    if not chosen and ordered and cap > 0:
        log.warning(
            "no demonstration fits the %d-token context next to the longest test claim "
            "(%d tokens); many-shot methods run zero-shot. Raise --context-tokens.",
            limit,
            lm.count_tokens(longest_query),
        )
    return DemoFit(tuple(ex for ex, _ in chosen), tokens, limit, stopped_by)


# ---------------------------------------------------------------------- scoring


def zero_shot_scores(lm: LM, queries: Sequence[str], label_set: LabelSet) -> FloatArray:
    return lm.score(queries, label_set)


def chat_message(prompt: str) -> str:
    """The claim prompt as a direct question for a chat model."""
    body = prompt[: -len(CLAIM_SUFFIX)] if prompt.endswith(CLAIM_SUFFIX) else prompt
    return body.rstrip() + "\n\n" + CHAT_QUESTION


def chat_scores(chat_lm: LM, queries: Sequence[str]) -> FloatArray:
    """log P(True) - log P(False) of the chat model's reply. BackendError without a template."""
    prompts = [chat_lm.chat_prompt(chat_message(q)) for q in queries]
    return chat_lm.score(prompts, CHAT_LABELS)


def many_shot_scores(
    lm: LM,
    demos: Sequence[Example],
    labels: Mapping[str, int],
    queries: Sequence[str],
    label_set: LabelSet,
) -> FloatArray:
    """Each query after the same demos, labelled by `labels` (uid -> label)."""
    missing = [ex.uid for ex in demos if ex.uid not in labels]
    if missing:  # build_pool keeps only examples every source labels
        raise ConfigError(f"demo {missing[0]!r} has no label in this source ({len(missing)} miss)")
    context = [Demo(ex.prompt, labels[ex.uid]) for ex in demos]
    return lm.context_scores(context, queries, label_set)
