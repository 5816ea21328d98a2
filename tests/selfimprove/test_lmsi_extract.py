"""Answer extraction: the phrase first, canonical forms, fallbacks, and no answer."""

from __future__ import annotations

import pytest

from elicit.selfimprove.extract import answer_phrase, canonical_number, extract_answer
from elicit.selfimprove.questions import AnswerKind

N, C, Y = AnswerKind.NUMBER, AnswerKind.CHOICE, AnswerKind.YES_NO


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 + 4 = 7. The answer is 7.", "7"),
        ("She makes $18. The answer is $18.", "18"),
        ("The answer is 1,000.", "1000"),
        ("The answer is 12.50 dollars.", "12.5"),
        ("The answer is 18.0.", "18"),
        ("The answer is -3.", "-3"),
        ("the answer is: 42", "42"),
        ("The answer is 15 - 13 = 2.", "2"),  # the result, not the expression
        # The first stated answer wins over a made-up follow-on question.
        ("So 5. The answer is 5.\nQ: What is 9 + 9?\nA: The answer is 18.", "5"),
        # No phrase: the last number in the text.
        ("2 + 2 = 4, then 4 * 3 = 12", "12"),
        # A phrase without a number falls back to the last number.
        ("x = 3 so the answer is unclear", "3"),
        ("I do not know.", None),
        ("", None),
    ],
)
def test_numbers(text: str, expected: str | None) -> None:
    assert extract_answer(text, N) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Oxidants accept electrons. The answer is (B).", "B"),
        ("the answer is c", "C"),
        ("The answer is (E).", None),  # only four options
        ("A cell is small; option (D) fits, not (A).", "A"),  # last parenthesised letter
        ("A bird is an animal.", None),  # a bare "A" is the article, not an option
    ],
)
def test_choices(text: str, expected: str | None) -> None:
    assert extract_answer(text, C, n_choices=4) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The passage says so. The answer is yes.", "yes"),
        ("The answer is No.", "no"),
        ("No, it is not; yes it was once. Now: no", "no"),
        ("nothing here", None),  # "no" inside a word does not count
    ],
)
def test_yes_no(text: str, expected: str | None) -> None:
    assert extract_answer(text, Y) == expected


def test_canonical_number_and_phrase() -> None:
    assert canonical_number(" 72 ") == "72"
    assert canonical_number("1,234,567") == "1234567"
    assert canonical_number("none") is None
    assert answer_phrase("B", C) == "(B)"
    assert answer_phrase("7", N) == "7"
