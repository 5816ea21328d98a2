"""Question sets: deterministic generation, gold kept apart, exemplars outside the pool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elicit.errors import ConfigError
from elicit.selfimprove.questions import (
    ARITHMETIC_SIZE,
    AnswerKind,
    arithmetic_item,
    load_exemplars,
    load_questions,
    sample_questions,
)


def test_arithmetic_is_deterministic_and_correct() -> None:
    qs = load_questions("arithmetic", "test")
    assert len(qs) == ARITHMETIC_SIZE and qs.kind is AnswerKind.NUMBER
    assert qs.questions == load_questions("arithmetic", "test").questions
    assert load_questions("arithmetic", "train").questions[0] != qs.questions[0]
    for i in range(200):
        question, rationale, answer = arithmetic_item("test", i)
        expr = re.fullmatch(r"What is (.*)\?", question)
        assert expr is not None
        assert eval(expr.group(1)) == int(answer)  # our own generated digits
        assert rationale.endswith(f"= {answer}.")
        assert int(answer) >= 0


def test_questions_carry_no_answer() -> None:
    qs = load_questions("arithmetic", "train")
    q = qs.questions[5]
    assert not hasattr(q, "answer") and qs.gold[q.uid]


def test_sample_questions_excludes_exemplars_and_is_seeded() -> None:
    ex = load_exemplars("arithmetic", 4, seed=0)
    assert ex == load_exemplars("arithmetic", 4, seed=0) and len(ex) == 4
    taken = frozenset(e.question for e in ex)
    pool = sample_questions(load_questions("arithmetic", "train"), 50, 1, taken)
    assert len(pool) == 50 and not taken & {q.text for q in pool.questions}
    assert set(pool.gold) == {q.uid for q in pool.questions}
    again = sample_questions(load_questions("arithmetic", "train"), 50, 1, taken)
    assert pool.questions == again.questions
    everything = sample_questions(load_questions("arithmetic", "train"), None, 1)
    assert len(everything) == ARITHMETIC_SIZE


def test_errors_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="choose one of"):
        load_questions("nope", "train")
    with pytest.raises(ConfigError, match="split"):
        load_questions("arithmetic", "dev")
    with pytest.raises(ConfigError, match="--shots"):
        load_exemplars("arithmetic", -1, 0)


def test_gsm8k_from_the_bundled_sample() -> None:
    qs = load_questions("gsm8k", "test")
    assert len(qs) == 300  # the sample that ships with the package
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", qs.gold[q.uid]) for q in qs.questions)
    assert all(q.uid.startswith("gsm8k/test/") and q.text for q in qs.questions)
    ex = load_exemplars("gsm8k", 2, 0)
    assert all("<<" not in e.rationale and "####" not in e.rationale for e in ex)
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", e.answer) for e in ex)


def test_sciq_multiple_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # SciQ is non-commercial, so no sample ships: the test writes a file in its layout.
    (tmp_path / "sciq").mkdir()
    rows = ["question,correct_answer,support"] + [
        f"What is thing {i}?,answer {i},Thing {i} is answer {i}." for i in range(60)
    ]
    (tmp_path / "sciq" / "test.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("ELICIT_DATA_DIR", str(tmp_path))
    qs = load_questions("sciq", "test")
    assert qs.kind is AnswerKind.CHOICE and qs.n_choices == 4
    again = load_questions("sciq", "test")
    assert qs.questions[:20] == again.questions[:20]
    for q in qs.questions[:50]:
        options = re.findall(r"\(([A-D])\) ", q.text)
        assert options == ["A", "B", "C", "D"]
        assert qs.gold[q.uid] in options
    letters = {qs.gold[q.uid] for q in qs.questions}
    assert letters == {"A", "B", "C", "D"}  # the correct option moves around
