"""Generic binary NLP tasks (the weak-to-strong and LMSI benchmarks) as claims.

Each task renders one claim per row (or per candidate answer) ending in CLAIM_SUFFIX; gold 1 =
the claim is true. Where a row could be claimed either way, a per-row RNG seeded with the uid
(`random.Random(uid)`, stable across runs and machines) picks the claim so that gold is about
balanced and the claim wording does not depend on the label.

- sst2: "Review: ...\\nClaim: The sentiment of this review is positive." train.tsv / dev.tsv
  (as test); the two files name the text column differently (sentence / content).
- imdb: the same claim over imdb/test_500.csv (pos/neg); one pool, carved by row.
- boolq: "Passage: ...\\nQuestion: ...?\\nClaim: The answer is yes|no." (claimed answer drawn
  per row). test = validation.jsonl (passage kept in `prompt` as "passage: P\\nquestion: {}");
  train = train_no_context.jsonl, which has no passages: its claims carry the question only.
- sciq: the files have no distractors, so each question yields two claims "The answer is X.":
  X = its correct answer (True) and X = the correct answer of another question drawn per row
  (False; never equal to the correct one). group = the question, key = X lower-cased,
  Consistency.ANSWER. train = validation.csv, test = test.csv.
- cosmosqa: one claim per (question, candidate) "The correct answer is C: ...", with the four
  options listed in the prompt (so "None of the above" reads sensibly); group = the question,
  key = the candidate index; Consistency.ANSWER (one correct answer: different keys cannot
  both be True); 25% True. Labels from valid.jsonl's `label` (identical to valid-labels.lst);
  one pool (the dev set), carved by question.
- anli: "Context: ...\\nHypothesis: ...\\nClaim: The hypothesis follows from the context."
  True for entailment, False for contradiction. Neutral rows are dropped: they are a third of
  the data, would make the claim 2:1 False, and "does not follow" conflates "unknown" with
  "false". train = R1-R3 dev, test = R1-R3 test.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from elicit.errors import DataError
from elicit.tasks.base import Consistency
from elicit.tasks.common import (
    POOL,
    Item,
    TaskSpec,
    claim_prompt,
    get,
    gold_label,
    make_spec,
    text,
)
from elicit.tasks.rows import Row, Source

SENTIMENT_CLAIM = "The sentiment of this review is positive."


def _uid(task: str, source: Source, row: Row) -> str:
    return f"{task}/{source.stem}/{row.index}"


def _review(body: str) -> str:
    # SST-2 is tokenised lower-case text; IMDB contains HTML line breaks.
    return " ".join(body.replace("<br />", " ").split())


def sst2_items(source: Source) -> Iterator[Item]:
    column = "sentence" if "sentence" in source.columns else "content"
    if column not in source.columns:  # no row has either: say both names, once
        raise DataError(
            f"{source.where(source.rows[0])}: no column 'sentence' or 'content' (available: "
            f"{', '.join(map(repr, source.columns))}). Name the review column one of them."
        )
    for row in source.rows:
        uid = _uid("sst2", source, row)
        yield Item(
            uid=uid,
            prompt=claim_prompt(
                f"Review: {_review(text(source, row, column))}\nClaim: {SENTIMENT_CLAIM}"
            ),
            group=uid,
            label=gold_label(source, row),
            where=source.where(row),
        )


def imdb_items(source: Source) -> Iterator[Item]:
    for row in source.rows:
        uid = _uid("imdb", source, row)
        raw = str(get(source, row, "label")).strip().lower()
        if raw not in ("pos", "neg", "positive", "negative", "1", "0"):
            raise DataError(f"{source.where(row)}: label {raw!r} is not pos/neg. Fix the value.")
        yield Item(
            uid=uid,
            prompt=claim_prompt(
                f"Review: {_review(text(source, row, 'text'))}\nClaim: {SENTIMENT_CLAIM}"
            ),
            group=uid,
            label=int(raw in ("pos", "positive", "1")),
            where=source.where(row),
        )


def _boolq_answer(source: Source, row: Row) -> int:
    target = get(source, row, "target_new")
    value = target.get("str") if isinstance(target, dict) else target
    return gold_label(source, Row(row.index, row.line, {"target_new.str": value}), "target_new.str")


def boolq_items(source: Source) -> Iterator[Item]:
    for row in source.rows:
        uid = _uid("boolq", source, row)
        question = text(source, row, "subject").strip()
        question = question[0].upper() + question[1:] + ("" if question.endswith("?") else "?")
        template = text(source, row, "prompt")
        passage = template.removeprefix("passage:").split("\nquestion:")[0].strip()
        if template.strip().startswith("question:"):
            passage = ""
        answer = _boolq_answer(source, row)
        claim_yes = random.Random(uid).random() < 0.5
        body = (f"Passage: {passage}\n" if passage else "") + f"Question: {question}"
        yield Item(
            uid=uid,
            prompt=claim_prompt(f"{body}\nClaim: The answer is {'yes' if claim_yes else 'no'}."),
            group=uid,
            label=int(answer == int(claim_yes)),
            where=source.where(row),
        )


def sciq_items(source: Source) -> Iterator[Item]:
    answers = [text(source, row, "correct_answer").strip() for row in source.rows]
    if len({a.lower() for a in answers}) < 2:
        raise DataError(
            f"{source.name}: sciq needs at least two different answers to draw distractors."
        )
    for row, correct in zip(source.rows, answers, strict=True):
        uid = _uid("sciq", source, row)
        rng = random.Random(uid)
        distractor = correct
        while distractor.lower() == correct.lower():
            distractor = answers[rng.randrange(len(answers))]
        question = text(source, row, "question").strip()
        claims = [(correct, 1), (distractor, 0)]
        rng.shuffle(claims)  # emission order (and so the uid suffix) carries no label information
        for position, (answer, label) in enumerate(claims):
            yield Item(
                uid=f"{uid}/{position}",
                prompt=claim_prompt(f"Question: {question}\nClaim: The answer is {answer}."),
                group=uid,
                key=answer.lower(),
                label=label,
                where=source.where(row),
            )


LETTERS = "ABCD"


def cosmosqa_items(source: Source) -> Iterator[Item]:
    for row in source.rows:
        uid = _uid("cosmosqa", source, row)
        candidates = [" ".join(text(source, row, f"answer{i}").split()) for i in range(4)]
        correct = gold_index = get(source, row, "label")
        try:
            gold_index = int(str(correct).strip())
        except ValueError:
            gold_index = -1
        if gold_index not in range(4):
            raise DataError(f"{source.where(row)}: label {correct!r} is not 0-3. Fix the value.")
        options = "\n".join(f"{LETTERS[i]}: {c}" for i, c in enumerate(candidates))
        head = (
            f"Context: {' '.join(text(source, row, 'context').split())}\n"
            f"Question: {' '.join(text(source, row, 'question').split())}\n{options}"
        )
        for i, candidate in enumerate(candidates):
            yield Item(
                uid=f"{uid}/{i}",
                prompt=claim_prompt(
                    f"{head}\nClaim: The correct answer is {LETTERS[i]}: {candidate}"
                ),
                group=uid,
                key=str(i),
                label=int(i == gold_index),
                where=source.where(row),
            )


def anli_items(source: Source) -> Iterator[Item]:
    for row in source.rows:
        label = str(get(source, row, "label")).strip().lower()
        if label not in ("e", "n", "c"):
            raise DataError(f"{source.where(row)}: label {label!r} is not e/n/c. Fix the value.")
        # Read before a neutral row is dropped, so that a broken row is reported whatever its label.
        context, hypothesis = text(source, row, "context"), text(source, row, "hypothesis")
        if label == "n":
            continue
        uid = _uid("anli", source, row)
        body = (
            f"Context: {context.strip()}\nHypothesis: {hypothesis.strip()}\n"
            "Claim: The hypothesis follows from the context."
        )
        yield Item(
            uid=uid,
            prompt=claim_prompt(body),
            group=uid,
            label=int(label == "e"),
            where=source.where(row),
        )


_ANLI = ("R1", "R2", "R3")

SPECS: tuple[TaskSpec, ...] = (
    make_spec(
        "sst2",
        "SST-2 movie review snippets: is the sentiment positive?",
        Consistency.NONE,
        {"train": ("sst2/train.tsv",), "test": ("sst2/dev.tsv",)},
        sst2_items,
    ),
    make_spec(
        "imdb",
        "IMDB reviews (500): is the sentiment positive?",
        Consistency.NONE,
        {POOL: ("imdb/test_500.csv",)},
        imdb_items,
    ),
    make_spec(
        "boolq",
        "BoolQ yes/no questions (with the passage on test): is the claimed answer right?",
        Consistency.NONE,
        {"train": ("boolq/train_no_context.jsonl",), "test": ("boolq/validation.jsonl",)},
        boolq_items,
    ),
    make_spec(
        "sciq",
        "SciQ science questions: is this the answer (correct answer vs another question's)?",
        Consistency.ANSWER,
        {"train": ("sciq/validation.csv",), "test": ("sciq/test.csv",)},
        sciq_items,
    ),
    make_spec(
        "cosmosqa",
        "Cosmos QA reading comprehension: is this candidate the correct answer?",
        Consistency.ANSWER,
        {POOL: ("cosmosqa/valid.jsonl",)},
        cosmosqa_items,
    ),
    make_spec(
        "anli",
        "Adversarial NLI R1-R3 (neutral dropped): does the hypothesis follow from the context?",
        Consistency.NONE,
        {
            "train": tuple(f"anli/{r}_dev.jsonl" for r in _ANLI),
            "test": tuple(f"anli/{r}_test.jsonl" for r in _ANLI),
        },
        anli_items,
    ),
)
