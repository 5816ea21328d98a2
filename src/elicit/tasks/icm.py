"""The ICM paper's own tasks (Wen et al. 2025), read from the released files in icm_release/.

- truthfulqa: "Question: {question}\\nClaim: {choice}\\nI think this claim is". Groups are the
  released `consistency_id` (one question); Consistency.NONE, key "". The released code builds
  keys from the gold labels (a leak); we do not.
- gsm8k-verification: "Question: {question}\\nClaim: {cot}\\nI think this claim is", the claim
  being a worked solution that ends in "The answer is {answer}.". Group = consistency_id (one
  problem), key = the solution's final answer, normalised (`normalize_answer`);
  Consistency.ANSWER. Only the test file was released: carved into train/test by group.
- alpaca-comparison / truthfulqa-preference: pairwise comparisons ("Response 1 is more helpful
  and harmless than Response 2" / "Response 1 is more truthful than Response 2"). Each
  consistency_id holds the two orders of one pair. The key says which order a row is in,
  from the texts only: of the pair's two responses, "A" is the one with the smaller
  sha256(text) (label-free and not tied to file position), so key "ab" = Response 1 is A.
  A pair with only one order in the file gets the other built here, with the complementary
  gold label. Within a group, examples are emitted "ab" then "ba", and uids are
  "{task}/{file}/{consistency_id}/{ab|ba}" (the released files put the True order first, so
  file position or row index would otherwise predict the label).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from elicit.errors import DataError
from elicit.tasks.base import Consistency, LoadOptions
from elicit.tasks.common import (
    POOL,
    Item,
    TaskSpec,
    claim_prompt,
    get,
    gold_label,
    make_spec,
    resolve_sources,
    text,
)
from elicit.tasks.rows import Row, Source

ALPACA_CLAIM = "Response 1 is more helpful and harmless than Response 2."
TRUTHFUL_CLAIM = "Response 1 is more truthful than Response 2."


def _group_id(source: Source, row: Row) -> str:
    """The row's consistency_id, prefixed by the file so groups of different files never merge."""
    value = get(source, row, "consistency_id")
    # null, "", a float or a list would still make a string, and merge unrelated rows.
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise DataError(
            f"{source.where(row)}: consistency_id {value!r} is not an id. Give every row the "
            "integer (or text) id of its question or pair; the rows of one share it."
        )
    return f"{source.stem}/{str(value).strip()}"


def truthfulqa_items(source: Source) -> Iterator[Item]:
    for row in source.rows:
        prompt = claim_prompt(
            f"Question: {text(source, row, 'question')}\nClaim: {text(source, row, 'choice')}"
        )
        yield Item(
            uid=f"truthfulqa/{source.stem}/{row.index}",
            prompt=prompt,
            group=_group_id(source, row),
            label=gold_label(source, row),
            where=source.where(row),
        )


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def normalize_answer(answer: str) -> str:
    """A final answer as a comparable key: "$1,000.00" -> "1000", " 6.50 " -> "6.5".

    Currency signs, thousands separators, a trailing period and surrounding space are dropped;
    a number is written in canonical decimal form. Anything else is lower-cased with its
    whitespace collapsed (so malformed answers still get a deterministic key).
    """
    s = answer.strip().rstrip(".").strip()
    compact = s.replace(",", "").replace("$", "").replace("€", "").replace("£", "").strip()
    if _NUMBER.fullmatch(compact):
        try:
            value = Decimal(compact)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
            return compact
        norm = value.normalize()
        return format(norm, "f") if norm != norm.to_integral_value() else str(int(norm))
    return " ".join(s.lower().split())


def _gsm8k_uid(source: Source, row: Row) -> str:
    return f"gsm8k-verification/{source.stem}/{row.index}"


def gsm8k_items(source: Source) -> Iterator[Item]:
    for row in source.rows:
        question = text(source, row, "question")
        cot = text(source, row, "cot")
        answer = get(source, row, "answer")
        key = normalize_answer(str(answer)) if answer is not None else ""
        # A solution without a final answer gets a key of its own: it cannot agree with others.
        yield Item(
            uid=_gsm8k_uid(source, row),
            prompt=claim_prompt(f"Question: {question}\nClaim: {cot}"),
            group=_group_id(source, row),
            key=key or f"<no answer: row {row.index}>",
            label=gold_label(source, row),
            where=source.where(row),
        )


def gsm8k_difficulty(options: LoadOptions) -> dict[str, float]:
    """uid -> the release's `difficulty` of the row's problem (0-1; its `category` "easy" rows
    lie below 0.54, "hard" ones above 0.73), for easy-to-hard experiments (`elicit w2s
    --easy-to-hard`). Read-only metadata that `Example` does not carry; rows without the field
    are left out, so other GSM8K-format files give an empty mapping."""
    spec = next(s for s in SPECS if s.name == "gsm8k-verification")
    located, _ = resolve_sources(spec, options)
    out: dict[str, float] = {}
    for source in located.sources:
        for row in source.rows:
            value = row.data.get("difficulty")
            if value is None or value == "":
                continue
            try:
                out[_gsm8k_uid(source, row)] = float(value)
            except (TypeError, ValueError) as e:
                raise DataError(f"{source.where(row)}: difficulty {value!r} is not a number") from e
    return out


def _text_order(first: str, second: str) -> str:
    """ "ab" if `first` is response A of the pair (smaller sha256), else "ba"."""
    h1 = hashlib.sha256(first.encode()).hexdigest()
    h2 = hashlib.sha256(second.encode()).hexdigest()
    return "ab" if (h1, first) <= (h2, second) else "ba"


def comparison_prompt(context: str, response_1: str, response_2: str, claim: str) -> str:
    return claim_prompt(
        f"{context}\nResponse 1: {response_1}\nResponse 2: {response_2}\nClaim: {claim}"
    )


def comparison_items(task: str, claim: str, source: Source) -> Iterator[Item]:
    """Both orders of every pair in a (question, choice, choice_2, label, consistency_id) file."""
    groups: dict[str, list[Row]] = {}
    for row in source.rows:
        groups.setdefault(_group_id(source, row), []).append(row)
    for group, rows in groups.items():
        first = rows[0]
        question = text(source, first, "question")
        r1, r2 = text(source, first, "choice"), text(source, first, "choice_2")
        label = gold_label(source, first)
        if r1 == r2:
            raise DataError(
                f"{source.where(first)}: consistency_id {group!r} compares a response with "
                "itself. Drop the row or fix choice_2."
            )
        if len(rows) > 2:
            raise DataError(
                f"{source.where(rows[2])}: consistency_id {group!r} has {len(rows)} rows; a "
                "comparison pair has one or two (both orders). Give each pair its own id."
            )
        orders = {_text_order(r1, r2): (first, r1, r2, label)}
        if len(rows) == 2:
            second = rows[1]
            s1, s2 = text(source, second, "choice"), text(source, second, "choice_2")
            if (s1, s2) != (r2, r1) or text(source, second, "question") != question:
                raise DataError(
                    f"{source.where(second)}: the two rows of consistency_id {group!r} are not "
                    "the two orders of one pair (same question, responses swapped). Fix the ids."
                )
            second_label = gold_label(source, second)
            if second_label != 1 - label:  # both orders True (or False) cannot both hold
                raise DataError(
                    f"{source.where(second)}: the two orders of consistency_id {group!r} are "
                    f"both labelled {bool(label)}; exactly one of 'A beats B' and 'B beats A' is "
                    "true. Fix one label (or drop the second row: the mirror is built from the "
                    "first)."
                )
            orders[_text_order(s1, s2)] = (second, s1, s2, second_label)
        else:  # build the missing order ourselves: swapped responses, complementary label
            orders[_text_order(r2, r1)] = (first, r2, r1, 1 - label)
        for key in ("ab", "ba"):
            row, a, b, gold = orders[key]
            # uid = pair + order, not the row index: the released files put the True order
            # first, so row-index parity would predict the label.
            yield Item(
                uid=f"{task}/{group}/{key}",
                prompt=comparison_prompt(f"Human: {question}", a, b, claim),
                group=group,
                key=key,
                label=gold,
                where=source.where(row),
            )


def alpaca_items(source: Source) -> Iterator[Item]:
    return comparison_items("alpaca-comparison", ALPACA_CLAIM, source)


def truthful_preference_items(source: Source) -> Iterator[Item]:
    return comparison_items("truthfulqa-preference", TRUTHFUL_CLAIM, source)


SPECS: tuple[TaskSpec, ...] = (
    make_spec(
        "truthfulqa",
        "TruthfulQA claims from the ICM release: is this answer to the question true?",
        Consistency.NONE,
        {
            "train": ("icm_release/train_truthfulqa.json",),
            "test": ("icm_release/test_truthfulqa.json",),
        },
        truthfulqa_items,
    ),
    make_spec(
        "gsm8k-verification",
        "GSM8K solutions from the ICM release: is this worked solution correct?",
        Consistency.ANSWER,
        {POOL: ("icm_release/test_gsm8k.json",)},
        gsm8k_items,
    ),
    make_spec(
        "alpaca-comparison",
        "Alpaca response pairs from the ICM release: is Response 1 more helpful and harmless?",
        Consistency.COMPARISON,
        {POOL: ("icm_release/test_alpaca.json",)},
        alpaca_items,
    ),
    make_spec(
        "truthfulqa-preference",
        "TruthfulQA answer pairs from the ICM release: is Response 1 more truthful?",
        Consistency.COMPARISON,
        {
            "train": ("icm_release/train_truthfulqa_preference.json",),
            "test": ("icm_release/test_truthfulqa_preference.json",),
        },
        truthful_preference_items,
    ),
)
