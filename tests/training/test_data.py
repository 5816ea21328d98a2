"""Targets from label sources and files, losses, and comparison pairs from claim prompts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from elicit.errors import ConfigError, DataError
from elicit.labels import read_margins
from elicit.tasks.base import Example, TaskData
from elicit.tasks.icm import ALPACA_CLAIM, comparison_prompt
from elicit.training.config import FitOptions
from elicit.training.data import comparisons, label_targets, read_targets, select, split_pair
from elicit.training.losses import bradley_terry, soft_cross_entropy


def test_soft_cross_entropy_is_cross_entropy_on_hard_targets() -> None:
    logits = torch.tensor([[0.3, -1.0], [2.0, 0.5], [0.0, 0.0]])
    hard = torch.tensor([1.0, 0.0, 1.0])
    expect = torch.nn.functional.cross_entropy(logits, hard.long())
    assert soft_cross_entropy(logits, hard, 0.5).item() == pytest.approx(expect.item(), abs=1e-6)
    # A soft target of 0.5 is minimised by equal logits.
    half = soft_cross_entropy(torch.zeros(1, 2), torch.tensor([0.5]), 0.0)
    assert half.item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_bradley_terry() -> None:
    ra, rb = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])
    loss = bradley_terry(ra, rb, torch.tensor([1.0, 1.0]))
    expect = -(torch.nn.functional.logsigmoid(torch.tensor(2.0)) + torch.log(torch.tensor(0.5))) / 2
    assert loss.item() == pytest.approx(expect.item(), abs=1e-6)
    # Swapping the pair and the preference gives the same loss.
    assert bradley_terry(rb, ra, torch.tensor([0.0, 0.0])).item() == pytest.approx(loss.item())


def test_read_targets_jsonl_csv_confidence_and_soft(tmp_path: Path) -> None:
    j = tmp_path / "labels.jsonl"
    j.write_text(
        '{"uid": "a", "label": 1}\n{"uid": "b", "label": false}\n'
        '{"uid": "c", "label": 0.7}\n{"uid": "d", "label": 0, "confidence": 0.9}\n',
        encoding="utf-8",
    )
    assert read_targets(j) == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.7, "d": 0.1})
    assert read_targets(tmp_path) == read_targets(j)  # a run directory
    c = tmp_path / "weak.csv"
    c.write_text("uid,label,confidence\na,true,0.8\nb,0,\n", encoding="utf-8")
    assert read_targets(c) == pytest.approx({"a": 0.8, "b": 0.0})


def test_an_older_label_runs_margins_are_not_read_as_confidence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `elicit label --confidence` used to write its margins (any real number) as "confidence";
    # such a run directory (config.json with the search's settings) trains on its hard labels.
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"alpha": 50.0, "schedule": "paper"}', encoding="utf-8")
    (run / "labels.jsonl").write_text(
        '{"uid": "a", "label": 1, "confidence": 0.2}\n{"uid": "b", "label": 0, "confidence": 2.5}\n'
        '{"uid": "c", "label": 1, "confidence": -0.3}\n',
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="elicit"):
        assert read_targets(run) == {"a": 1.0, "b": 0.0, "c": 1.0}
    assert "older `elicit label`" in caplog.text and "margin" in caplog.text
    assert read_margins(run) == {"a": 0.2, "b": 2.5, "c": -0.3}
    # The same rows outside a label run are a user's probabilities, checked as such.
    (tmp_path / "mine.jsonl").write_text(
        (run / "labels.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"confidence 2\.5 is not a probability"):
        read_targets(tmp_path / "mine.jsonl")
    assert read_margins(tmp_path / "mine.jsonl") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"uid": "a"}\n', "uid and label"),
        ('{"uid": "a", "label": 3}\n', "neither 0/1 nor a probability"),
        ('{"uid": "a", "label": 1}\n{"uid": "a", "label": 0}\n', "duplicate uid"),
        ('{"uid": "a", "label": 1, "confidence": 2}\n', "confidence"),
    ],
)
def test_read_targets_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as e:
        read_targets(p)
    assert "bad.jsonl" in str(e.value)


def test_missing_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_targets(tmp_path / "nope.jsonl")


def examples(n: int) -> tuple[Example, ...]:
    return tuple(Example(f"u{i}", f"claim {i}. I think this claim is", f"u{i}") for i in range(n))


def test_select_unknown_and_empty_and_one_label(caplog: pytest.LogCaptureFixture) -> None:
    exs = examples(4)
    with caplog.at_level(logging.WARNING, logger="elicit"):
        t = select(exs, {"u0": 1.0, "u2": 0.0, "zz": 1.0}, what="labels.jsonl")
    assert [ex.uid for ex in t.examples] == ["u0", "u2"] and t.n_unknown == 1
    assert "1 of 3 labelled uids" in caplog.text
    with pytest.raises(DataError, match=r"labels.jsonl: none of its 1 uids"):
        select(exs, {"zz": 1.0}, what="labels.jsonl")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="elicit"):
        select(exs, {"u0": 1.0, "u1": 1.0}, what="icm")
    assert "all 2 training labels say True" in caplog.text


def test_label_sources() -> None:
    exs = examples(6)
    data = TaskData("t", exs, {f"u{i}": i % 2 for i in range(6)})
    golden = label_targets(data, "golden")
    assert golden.targets == (0.0, 1.0, 0.0, 1.0, 0.0, 1.0) and golden.source == "golden"
    r1, r2 = label_targets(data, "random", seed=1), label_targets(data, "random", seed=1)
    assert r1 == r2 and set(r1.targets) <= {0.0, 1.0}
    with pytest.raises(DataError, match="no gold labels"):
        label_targets(TaskData("t", exs), "golden")


def test_fit_options_validate() -> None:
    with pytest.raises(ConfigError, match="--grad-accum"):
        FitOptions(grad_accum=0)
    assert FitOptions().learning_rate > FitOptions(lora=False).learning_rate


def pair(group: str, context: str, a: str, b: str) -> tuple[Example, Example]:
    return (
        Example(f"{group}/ab", comparison_prompt(context, a, b, ALPACA_CLAIM), group, "ab"),
        Example(f"{group}/ba", comparison_prompt(context, b, a, ALPACA_CLAIM), group, "ba"),
    )


def test_split_pair_uses_the_other_order_to_find_the_cut() -> None:
    # Response A itself contains "\nResponse 2: ": only the other order tells where A ends.
    a, b = "first\nResponse 2: tricky", "second"
    ab, ba = pair("g", "Human: hi", a, b)
    assert split_pair(ab, ba) == ("Human: hi", a, b)
    with pytest.raises(DataError, match="not a pairwise comparison"):
        split_pair(Example("x", "plain claim\nI think this claim is", "x"), None)


def test_comparisons_from_labels_of_either_order() -> None:
    g1 = pair("g1", "Human: q1", "A1", "B1")
    g2 = pair("g2", "Human: q2", "A2", "B2")
    g3 = pair("g3", "Human: q3", "A3", "B3")
    exs = [*g1, *g2, *g3]
    labels = {
        "g1/ab": 1.0,
        "g1/ba": 0.0,  # consistent: A1 wins
        "g2/ba": 1.0,  # only the other order: B2 wins
        "g3/ab": 1.0,
        "g3/ba": 1.0,  # inconsistent: dropped
    }
    pairs, dropped = comparisons(exs, labels)
    assert dropped == 1
    got = {p.uid: (p.context, p.response_a, p.response_b, p.p_a_wins) for p in pairs}
    assert got == {"g1": ("Human: q1", "A1", "B1", 1.0), "g2": ("Human: q2", "A2", "B2", 0.0)}
