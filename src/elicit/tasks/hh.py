"""hh-comparison: Anthropic HH-RLHF helpful test dialogues as pairwise comparison claims.

Each row is {chosen, rejected}: two full dialogues that share every turn but the last assistant
reply. The shared part (up to the last "\\n\\nAssistant:" both agree on) is the context; the two
replies are the responses. Both orders become claims "Response 1 is more helpful and harmless
than Response 2." in the Alpaca template; gold: the chosen reply wins.

Which reply is "A" (shown first in the "ab" order) is drawn per row with
`random.Random("hh-comparison/{file}/{row}")`, so the position of the chosen reply does not give
the label away and does not change between runs. group = the pair, keys "ab"/"ba",
Consistency.COMPARISON. Rows are dropped (not an error; the upstream files contain them) when
the two dialogues are identical, or when they differ before their last assistant turn
(a reply would then contain further "Human:" turns): 2 + 4 + 32 of 6240 rows in the
shipped files (base, online, rejection-sampled). The three helpful-*_test files are one pool,
carved into train/test by pair.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from elicit.tasks.base import Consistency
from elicit.tasks.common import POOL, Item, TaskSpec, make_spec, text
from elicit.tasks.icm import ALPACA_CLAIM, comparison_prompt
from elicit.tasks.rows import Source

_ASSISTANT = "\n\nAssistant:"


def split_dialogue(chosen: str, rejected: str) -> tuple[str, str, str] | None:
    """(shared context, chosen reply, rejected reply), or None if the pair is unusable."""
    if chosen == rejected:
        return None
    common = 0
    for a, b in zip(chosen, rejected, strict=False):
        if a != b:
            break
        common += 1
    cut = chosen.rfind(_ASSISTANT, 0, common)  # the last assistant turn both dialogues share
    if cut < 0:
        return None
    context = chosen[:cut].strip()
    reply_c = chosen[cut + len(_ASSISTANT) :].strip()
    reply_r = rejected[cut + len(_ASSISTANT) :].strip()
    if not context or "\n\nHuman:" in reply_c or "\n\nHuman:" in reply_r or reply_c == reply_r:
        return None
    return context, reply_c, reply_r


def hh_items(source: Source) -> Iterator[Item]:
    for row in source.rows:
        parts = split_dialogue(text(source, row, "chosen"), text(source, row, "rejected"))
        if parts is None:
            continue
        context, chosen, rejected = parts
        base = f"hh-comparison/{source.stem}/{row.index}"
        chosen_is_a = random.Random(base).random() < 0.5
        a, b = (chosen, rejected) if chosen_is_a else (rejected, chosen)
        for key, first, second, wins in (("ab", a, b, chosen_is_a), ("ba", b, a, not chosen_is_a)):
            yield Item(
                uid=f"{base}/{key}",
                prompt=comparison_prompt(context, first, second, ALPACA_CLAIM),
                group=base,
                key=key,
                label=int(wins),
                where=source.where(row),
            )


SPECS: tuple[TaskSpec, ...] = (
    make_spec(
        "hh-comparison",
        "HH-RLHF helpful dialogues: is Response 1 (chosen or rejected) the better reply?",
        Consistency.COMPARISON,
        {
            POOL: (
                "hh_rlhf/helpful-base_test.jsonl.gz",
                "hh_rlhf/helpful-online_test.jsonl.gz",
                "hh_rlhf/helpful-rejection-sampled_test.jsonl.gz",
            )
        },
        hh_items,
    ),
)
