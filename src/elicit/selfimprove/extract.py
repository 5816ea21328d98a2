"""Reading the final answer out of a generated chain of thought, per answer kind.

Prompts end every worked exemplar with "The answer is X.", so a model that follows the format
says it too; `extract_answer` looks for that phrase first (the first one: a base model often
runs on into a made-up next question, and what follows the first answer is not its answer to
this one). Without the phrase it falls back to the last number / option / yes-no in the text,
as self-consistency implementations commonly do. Answers come back canonical, so votes compare
equal strings: numbers without commas, units or trailing ".0" ("1,000.00" -> "1000"), option
letters upper-case ("b" -> "B"), and "yes"/"no" lower-case. None means no answer was found.

    >>> extract_answer("3 + 4 = 7. The answer is 7.", AnswerKind.NUMBER)
    '7'
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from elicit.selfimprove.questions import LETTERS, AnswerKind

_PHRASE = re.compile(r"answer is\s*:?\s*(.*)", re.IGNORECASE | re.DOTALL)
# A signed number with optional thousands separators and decimals ("-1,234.50", "$18").
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_PAREN_LETTER = re.compile(r"\(([A-Ha-h])\)")
# Right after "answer is": a lone letter ("B", "b.", "C)") but not a word ("a dog").
_LEADING_LETTER = re.compile(r"\s*([A-Ha-h])(?![A-Za-z])")
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def canonical_number(text: str) -> str | None:
    """The first number in `text` as a canonical string, or None."""
    m = _NUMBER.search(text)
    return _canonical(m.group(0)) if m else None


def _canonical(raw: str) -> str | None:
    cleaned = raw.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return _canonical(found[-1]) if found else None


def _letters(text: str, n_choices: int) -> list[str]:
    """Parenthesised option letters in `text` that name one of the options, in order."""
    valid = LETTERS[: n_choices or len(LETTERS)]
    return [h.upper() for h in _PAREN_LETTER.findall(text) if h.upper() in valid]


def extract_answer(text: str, kind: AnswerKind, n_choices: int = 0) -> str | None:
    """The canonical answer stated in `text`, or None if there is none."""
    m = _PHRASE.search(text)
    if m is not None:
        # Only the sentence right after "answer is": "The answer is 7. Q: ... 12" is 7.
        tail = m.group(1).split("\n", 1)[0][:80]
        found = _from_phrase(tail, kind, n_choices)
        if found is not None:
            return found
    if kind is AnswerKind.NUMBER:
        return _last_number(text)
    if kind is AnswerKind.CHOICE:
        # Only parenthesised letters in free text: a bare "A" is usually the article.
        letters = _letters(text, n_choices)
        return letters[-1] if letters else None
    words: list[str] = _YES_NO.findall(text)
    return words[-1].lower() if words else None


def _from_phrase(tail: str, kind: AnswerKind, n_choices: int) -> str | None:
    if kind is AnswerKind.NUMBER:
        # "The answer is 15 - 13 = 2." states the result after the last "=".
        return canonical_number(tail.rsplit("=", 1)[-1])
    if kind is AnswerKind.CHOICE:
        letters = _letters(tail, n_choices)
        if letters:
            return letters[0]
        lone = _LEADING_LETTER.match(tail)
        valid = LETTERS[: n_choices or len(LETTERS)]
        return lone.group(1).upper() if lone and lone.group(1).upper() in valid else None
    m = _YES_NO.search(tail)
    return m.group(1).lower() if m else None


def answer_phrase(answer: str, kind: AnswerKind) -> str:
    """How a canonical answer is written after "The answer is": options as "(B)"."""
    return f"({answer})" if kind is AnswerKind.CHOICE else answer
