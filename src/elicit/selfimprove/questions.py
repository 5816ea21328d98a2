"""Question sets for self-improvement: unlabeled questions with free-form answers.

LMSI (Huang et al. 2022) samples chain-of-thought answers to *questions*, not True/False claims,
so it has its own small task registry. A `QuestionSet` holds `Question`s (what the model sees)
and, kept apart, the gold answers (used only to report accuracy, never to pick training data).
Each task also yields worked `Exemplar`s (question, rationale, answer) for the few-shot prompt;
they come from the train split and are removed from the question pool.

    from elicit.selfimprove.questions import load_questions
    qs = load_questions("gsm8k", "train")          # 7473 questions, numeric answers
    exemplars = load_exemplars("gsm8k", k=8, seed=0)

Tasks:
- gsm8k: grade-school maths (gsm8k/{train,test}.jsonl; a sample ships with the package).
  Gold = the number after "####". Exemplar rationales are the dataset's own worked solutions
  with the <<calculator>> notes removed.
- arithmetic: one- or two-step integer arithmetic ("What is 23 + 48 - 15?") generated from a
  seed, so it needs no file. Easy enough for a 270M base model to solve part of the time.
- sciq: SciQ science questions as four-option multiple choice. The files hold no distractors,
  so the three wrong options are other questions' correct answers, drawn per question with an
  RNG seeded by its uid (stable across runs). Exemplar rationales are the sentence of the
  `support` paragraph that contains the answer.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from elicit.errors import ConfigError, DataError
from elicit.tasks.sources import locate


class AnswerKind(enum.StrEnum):
    """How answers are written and extracted (see `elicit.selfimprove.extract`)."""

    NUMBER = "number"  # a number; "1,000" and "1000.0" both read as "1000"
    CHOICE = "choice"  # an option letter A, B, C, ...
    YES_NO = "yes-no"  # "yes" or "no"


@dataclass(frozen=True)
class Question:
    """One question as the model sees it (multiple-choice options included in `text`)."""

    uid: str
    text: str


@dataclass(frozen=True)
class Exemplar:
    """A worked example for the few-shot prompt: rationale, then "The answer is {answer}.".

    `answer` is canonical (as gold answers are: "18", "B", "yes"); `extract.answer_phrase`
    writes it for the prompt (a choice as "(B)").
    """

    question: str
    rationale: str
    answer: str


@dataclass(frozen=True)
class QuestionSet:
    """Questions of one task split, with gold answers (canonical strings) kept apart."""

    task: str
    kind: AnswerKind
    questions: tuple[Question, ...]
    gold: Mapping[str, str] = field(default_factory=dict)
    n_choices: int = 0  # options per question for AnswerKind.CHOICE

    def __len__(self) -> int:
        return len(self.questions)


@dataclass(frozen=True)
class _QuestionSource:
    kind: AnswerKind
    description: str
    # split -> (questions with gold, exemplars available in that split)
    load: Callable[[str], tuple[QuestionSet, list[Exemplar]]]


SPLITS = ("train", "test")


# ---------------------------------------------------------------------- gsm8k

_CALC = re.compile(r"<<[^>]*>>")


def _gsm8k_number(text: str, where: str) -> str:
    from elicit.selfimprove.extract import canonical_number

    value = canonical_number(text)
    if value is None:
        raise DataError(f"{where}: gold answer {text!r} is not a number. Fix the file.")
    return value


def _load_gsm8k(split: str) -> tuple[QuestionSet, list[Exemplar]]:
    source = locate("gsm8k", [f"gsm8k/{split}.jsonl"]).sources[0]
    questions, gold, exemplars = [], {}, []
    for i, raw in enumerate(source.rows):
        row, where = raw.data, source.where(raw)
        try:
            text, answer = str(row["question"]).strip(), str(row["answer"])
        except KeyError as e:
            raise DataError(
                f"{where}: no {e.args[0]!r} field; GSM8K rows hold question and answer"
            ) from None
        solution, sep, final = answer.rpartition("####")
        if not sep:
            raise DataError(f"{where}: the answer has no '#### N' line. Fix the file.")
        uid = f"gsm8k/{split}/{i}"
        gold[uid] = _gsm8k_number(final, where)
        questions.append(Question(uid, text))
        # The worked solution, one sentence per line in the file, as one paragraph.
        rationale = " ".join(_CALC.sub("", solution).split())
        exemplars.append(Exemplar(text, rationale, gold[uid]))
    return QuestionSet("gsm8k", AnswerKind.NUMBER, tuple(questions), gold), exemplars


# ---------------------------------------------------------------------- arithmetic

#: Questions generated per split; a question depends only on (split, index), never on n.
ARITHMETIC_SIZE = 2000


def arithmetic_item(split: str, index: int) -> tuple[str, str, str]:
    """(question, rationale, answer) number `index` of a split, from its own seeded RNG."""
    rng = random.Random(f"elicit-arithmetic/{split}/{index}")
    a, b = rng.randint(2, 60), rng.randint(2, 40)
    op = rng.choice("+-*")
    if op == "*":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
    elif op == "-" and b > a:
        a, b = b, a
    first = {"+": a + b, "-": a - b, "*": a * b}[op]
    if rng.random() < 0.5:  # one step
        return f"What is {a} {op} {b}?", f"{a} {op} {b} = {first}.", str(first)
    c = rng.randint(1, 30)
    op2 = rng.choice("+-")
    if op2 == "-" and c > first:
        op2 = "+"
    total = first + c if op2 == "+" else first - c
    question = f"What is {a} {op} {b} {op2} {c}?"
    if op == "*":
        question = f"What is ({a} {op} {b}) {op2} {c}?"
    rationale = f"{a} {op} {b} = {first}. {first} {op2} {c} = {total}."
    return question, rationale, str(total)


def _load_arithmetic(split: str) -> tuple[QuestionSet, list[Exemplar]]:
    questions, gold, exemplars = [], {}, []
    for i in range(ARITHMETIC_SIZE):
        question, rationale, answer = arithmetic_item(split, i)
        uid = f"arithmetic/{split}/{i}"
        questions.append(Question(uid, question))
        gold[uid] = answer
        exemplars.append(Exemplar(question, rationale, answer))
    return QuestionSet("arithmetic", AnswerKind.NUMBER, tuple(questions), gold), exemplars


# ---------------------------------------------------------------------- sciq

LETTERS = "ABCDEFGH"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def choices_text(options: list[str]) -> str:
    return "Answer Choices: " + " ".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(options))


def _support_sentence(support: str, answer: str) -> str:
    """The first sentence of the support paragraph that names the answer, else its first."""
    sentences = [s.strip() for s in _SENTENCE.split(" ".join(support.split())) if s.strip()]
    hit = next((s for s in sentences if answer.lower() in s.lower()), None)
    chosen = hit or (sentences[0] if sentences else "")
    return chosen if len(chosen) <= 300 else chosen[:297].rstrip() + "..."


def _load_sciq(split: str) -> tuple[QuestionSet, list[Exemplar]]:
    # SciQ's validation file serves as our train split (the test file stays held out).
    relative = "sciq/validation.csv" if split == "train" else "sciq/test.csv"
    source = locate("sciq", [relative]).sources[0]
    rows = [r.data for r in source.rows]
    answers = [str(r.get("correct_answer", "")).strip() for r in rows]
    questions, gold, exemplars = [], {}, []
    for i, row in enumerate(rows):
        correct = answers[i]
        if not correct or not str(row.get("question", "")).strip():
            raise DataError(f"{source.where(source.rows[i])}: empty question or correct_answer")
        uid = f"sciq/{split}/{i}"
        rng = random.Random(uid)
        pool = sorted({a for a in answers if a and a.lower() != correct.lower()})
        options = [*rng.sample(pool, 3), correct]
        rng.shuffle(options)
        letter = LETTERS[options.index(correct)]
        text = f"{str(row['question']).strip()}\n{choices_text(options)}"
        questions.append(Question(uid, text))
        gold[uid] = letter
        support = _support_sentence(str(row.get("support", "")), correct)
        rationale = f"{support} {correct} is option ({letter}).".strip()
        exemplars.append(Exemplar(text, rationale, letter))
    qs = QuestionSet("sciq", AnswerKind.CHOICE, tuple(questions), gold, n_choices=4)
    return qs, exemplars


# ---------------------------------------------------------------------- registry

#: Self-improvement's question sets by task name (not `elicit.tasks.TASKS`, the claim tasks).
QUESTION_SETS: dict[str, _QuestionSource] = {
    "gsm8k": _QuestionSource(
        AnswerKind.NUMBER, "grade-school maths word problems (numeric)", _load_gsm8k
    ),
    "arithmetic": _QuestionSource(
        AnswerKind.NUMBER, "generated one/two-step integer arithmetic (easy)", _load_arithmetic
    ),
    "sciq": _QuestionSource(AnswerKind.CHOICE, "SciQ as 4-option multiple choice", _load_sciq),
}


def _source(name: str) -> _QuestionSource:
    if name not in QUESTION_SETS:
        raise ConfigError(
            f"task {name!r} has no question set for self-improvement; choose one of "
            f"{', '.join(sorted(QUESTION_SETS))}"
        )
    return QUESTION_SETS[name]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} is not one of {', '.join(SPLITS)}")


def load_questions(task: str, split: str) -> QuestionSet:
    """All questions of a task split, gold answers kept apart in `QuestionSet.gold`."""
    _check_split(split)
    return _source(task).load(split)[0]


def load_exemplars(task: str, k: int, seed: int) -> list[Exemplar]:
    """`k` worked exemplars drawn with `seed` from the task's train split."""
    if k < 0:
        raise ConfigError(f"--shots must be >= 0, got {k}")
    pool = _source(task).load("train")[1]
    if k > len(pool):
        raise ConfigError(f"--shots {k} is more than the {len(pool)} exemplars of task {task!r}")
    return random.Random(f"elicit-exemplars-{seed}").sample(pool, k)


def sample_questions(
    qs: QuestionSet, n: int | None, seed: int, exclude: frozenset[str] = frozenset()
) -> QuestionSet:
    """A seeded sample of `n` questions (None = all) whose text is not in `exclude`, in order."""
    keep = [q for q in qs.questions if q.text not in exclude]
    if n is not None and n < len(keep):
        picked = sorted(random.Random(seed).sample(range(len(keep)), n))
        keep = [keep[i] for i in picked]
    gold = {q.uid: qs.gold[q.uid] for q in keep if q.uid in qs.gold}
    return replace(qs, questions=tuple(keep), gold=gold)
