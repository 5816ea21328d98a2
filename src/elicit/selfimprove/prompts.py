"""Prompt text for self-improvement: few-shot chain-of-thought prompts and the four training
formats of LMSI (Huang et al. 2022, Table 2).

A prompt is a plain "Q: ... / A: ..." transcript (the chain-of-thought format of Wei et al.),
which a base model continues without any chat template:

    Q: What is 3 + 4?
    A: 3 + 4 = 7. The answer is 7.

    Q: <the question>
    A:

The model's continuation (cut at the next "Q:") is one reasoning path. For every path that
reaches the majority answer, LMSI trains on four (prompt, completion) pairs, so the model
learns to reason and to answer both with and without exemplars:

    cot-exemplars     CoT exemplars + question       -> the sampled reasoning path
    direct-exemplars  answer-only exemplars + question -> " The answer is X."
    step-by-step      question + "Let's think step by step." -> the sampled reasoning path
    direct            question                       -> " The answer is X."

Completions start with a space: the prompt ends with "A:" (or the step-by-step sentence), and
the tokenizer turns " The" into one token, exactly as in the sampled continuations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elicit.selfimprove.extract import answer_phrase
from elicit.selfimprove.questions import AnswerKind, Exemplar

#: Generation stops at the blank line that ends an answer, or at a new "Q:" (the model has
#: started to invent the next question). Rationales are one paragraph, so nothing is lost.
STOP = ("\n\n", "\nQ:")
STEP_BY_STEP = "Let's think step by step."
FORMATS = ("cot-exemplars", "direct-exemplars", "step-by-step", "direct")


@dataclass(frozen=True)
class TrainingExample:
    """One (prompt, completion) pair for completion fine-tuning (loss on the completion)."""

    uid: str  # question uid
    path: int  # index of the sampled path it came from
    format: str  # one of FORMATS
    prompt: str
    completion: str

    def to_dict(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "path": self.path,
            "format": self.format,
            "prompt": self.prompt,
            "completion": self.completion,
        }


def final_sentence(answer: str, kind: AnswerKind) -> str:
    return f"The answer is {answer_phrase(answer, kind)}."


def _block(question: str, answer_text: str) -> str:
    return f"Q: {question}\nA: {answer_text}\n\n"


def cot_prompt(exemplars: Sequence[Exemplar], question: str, kind: AnswerKind) -> str:
    """Worked exemplars (rationale + final answer) followed by the question."""
    shots = "".join(
        _block(e.question, f"{e.rationale} {final_sentence(e.answer, kind)}") for e in exemplars
    )
    return f"{shots}Q: {question}\nA:"


def direct_prompt(exemplars: Sequence[Exemplar], question: str, kind: AnswerKind) -> str:
    """Answer-only exemplars ("The answer is X.") followed by the question."""
    shots = "".join(_block(e.question, final_sentence(e.answer, kind)) for e in exemplars)
    return f"{shots}Q: {question}\nA:"


def clean_path(text: str) -> str:
    """A sampled continuation as a completion: one leading space, no trailing whitespace."""
    return " " + text.strip()


def training_examples(
    uid: str,
    question: str,
    path_index: int,
    path_text: str,
    answer: str,
    exemplars: Sequence[Exemplar],
    kind: AnswerKind,
) -> list[TrainingExample]:
    """The four LMSI formats for one kept reasoning path (see the module docstring)."""
    cot = clean_path(path_text)
    direct = " " + final_sentence(answer, kind)
    pairs = [
        ("cot-exemplars", cot_prompt(exemplars, question, kind), cot),
        ("direct-exemplars", direct_prompt(exemplars, question, kind), direct),
        ("step-by-step", f"Q: {question}\nA: {STEP_BY_STEP}", cot),
        ("direct", f"Q: {question}\nA:", direct),
    ]
    return [TrainingExample(uid, path_index, f, p, c) for f, p, c in pairs]
