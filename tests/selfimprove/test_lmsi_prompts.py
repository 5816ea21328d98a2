"""Few-shot CoT prompts and the four LMSI training formats."""

from __future__ import annotations

from elicit.selfimprove.prompts import (
    FORMATS,
    STEP_BY_STEP,
    cot_prompt,
    direct_prompt,
    training_examples,
)
from elicit.selfimprove.questions import AnswerKind, Exemplar

EX = [Exemplar("What is 1 + 2?", "1 + 2 = 3.", "3"), Exemplar("What is 2 * 4?", "2 * 4 = 8.", "8")]


def test_cot_and_direct_prompts() -> None:
    cot = cot_prompt(EX, "What is 5 + 5?", AnswerKind.NUMBER)
    assert cot == (
        "Q: What is 1 + 2?\nA: 1 + 2 = 3. The answer is 3.\n\n"
        "Q: What is 2 * 4?\nA: 2 * 4 = 8. The answer is 8.\n\n"
        "Q: What is 5 + 5?\nA:"
    )
    direct = direct_prompt(EX, "What is 5 + 5?", AnswerKind.NUMBER)
    assert "1 + 2 = 3" not in direct and "A: The answer is 8.\n\n" in direct
    assert cot_prompt([], "Q?", AnswerKind.NUMBER) == "Q: Q?\nA:"
    mc = cot_prompt(
        [Exemplar("Pick.\nAnswer Choices: (A) x (B) y", "y fits.", "B")], "?", AnswerKind.CHOICE
    )
    assert "The answer is (B)." in mc


def test_four_formats_per_kept_path() -> None:
    examples = training_examples(
        "q1", "What is 5 + 5?", 3, " 5 + 5 = 10. The answer is 10.\n", "10", EX, AnswerKind.NUMBER
    )
    assert [e.format for e in examples] == list(FORMATS)
    by = {e.format: e for e in examples}
    assert all(e.uid == "q1" and e.path == 3 for e in examples)
    assert by["cot-exemplars"].prompt == cot_prompt(EX, "What is 5 + 5?", AnswerKind.NUMBER)
    assert by["cot-exemplars"].completion == " 5 + 5 = 10. The answer is 10."
    assert by["direct-exemplars"].prompt == direct_prompt(EX, "What is 5 + 5?", AnswerKind.NUMBER)
    assert by["direct-exemplars"].completion == " The answer is 10."
    assert by["step-by-step"].prompt == f"Q: What is 5 + 5?\nA: {STEP_BY_STEP}"
    assert by["step-by-step"].completion == by["cot-exemplars"].completion
    assert by["direct"].prompt == "Q: What is 5 + 5?\nA:"
    assert by["direct"].completion == " The answer is 10."
