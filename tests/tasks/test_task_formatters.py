"""Row formatters and file reading on small synthetic inputs (no benchmark data needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elicit.errors import DataError
from elicit.tasks import CLAIM_SUFFIX, Consistency, LoadOptions, load_task
from elicit.tasks.hh import split_dialogue
from elicit.tasks.icm import normalize_answer
from elicit.tasks.rows import read_source


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("600", "600"),
        ("$1,000.00", "1000"),
        (" 6.50 ", "6.5"),
        ("27.", "27"),
        ("$21.60", "21.6"),
        ("-3", "-3"),
        ("Ten  Cents", "ten cents"),
    ],
)
def test_normalize_answer(raw: str, key: str) -> None:
    assert normalize_answer(raw) == key


def pairs_file(tmp_path: Path, rows: list[dict[str, object]]) -> str:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return str(path)


def test_single_order_pair_gets_its_mirror(tmp_path: Path) -> None:
    rows = [
        {"question": "Q?", "choice": "good", "choice_2": "bad", "label": 1, "consistency_id": 0},
        {"question": "Q?", "choice": "bad", "choice_2": "good", "label": 0, "consistency_id": 0},
        {"question": "R?", "choice": "yes", "choice_2": "no", "label": True, "consistency_id": 1},
    ]
    data = load_task("alpaca-comparison", LoadOptions(data=pairs_file(tmp_path, rows), split="all"))
    assert data.consistency is Consistency.COMPARISON
    assert len(data) == 4
    built = [ex for ex in data if "Response 1: no\nResponse 2: yes" in ex.prompt]
    assert len(built) == 1 and data.gold[built[0].uid] == 0
    assert {ex.uid for ex in data if ex.group == "pairs/1"} == {
        "alpaca-comparison/pairs/1/ab",
        "alpaca-comparison/pairs/1/ba",
    }
    for group in {ex.group for ex in data}:
        members = [ex for ex in data if ex.group == group]
        assert sorted(ex.key for ex in members) == ["ab", "ba"]
        assert sorted(data.gold[ex.uid] for ex in members) == [0, 1]
    assert all(ex.prompt.endswith("than Response 2.\n" + CLAIM_SUFFIX) for ex in data)


def test_pair_keys_come_from_texts_not_labels(tmp_path: Path) -> None:
    rows = [
        {"question": "Q?", "choice": "good", "choice_2": "bad", "label": 1, "consistency_id": 0},
        {"question": "Q?", "choice": "bad", "choice_2": "good", "label": 0, "consistency_id": 0},
    ]
    flipped = [dict(r, label=1 - int(str(r["label"]))) for r in rows]
    a = load_task("alpaca-comparison", LoadOptions(data=pairs_file(tmp_path, rows), split="all"))
    b = load_task("alpaca-comparison", LoadOptions(data=pairs_file(tmp_path, flipped), split="all"))
    assert a.examples == b.examples and a.gold != b.gold


def test_broken_pairs_are_reported(tmp_path: Path) -> None:
    rows = [
        {"question": "Q?", "choice": "a", "choice_2": "b", "label": 1, "consistency_id": 0},
        {"question": "Q?", "choice": "a", "choice_2": "c", "label": 0, "consistency_id": 0},
    ]
    with pytest.raises(DataError, match=r"entry 2: .*not\s+the two orders"):
        load_task("alpaca-comparison", LoadOptions(data=pairs_file(tmp_path, rows), split="all"))


def test_missing_column_in_task_file(tmp_path: Path) -> None:
    rows = [{"question": "Q?", "claim": "x", "label": 1, "consistency_id": 0}]
    with pytest.raises(DataError) as info:
        load_task("truthfulqa", LoadOptions(data=pairs_file(tmp_path, rows)))
    assert "entry 1" in str(info.value) and "'choice'" in str(info.value)
    assert "'claim'" in str(info.value)


def test_split_dialogue() -> None:
    chosen = "\n\nHuman: Hi?\n\nAssistant: Hello there!\n\nHuman: Joke?\n\nAssistant: Sure, one."
    rejected = "\n\nHuman: Hi?\n\nAssistant: Hello there!\n\nHuman: Joke?\n\nAssistant: Sure no."
    context, c, r = split_dialogue(chosen, rejected) or ("", "", "")
    assert context == "Human: Hi?\n\nAssistant: Hello there!\n\nHuman: Joke?"
    assert (c, r) == ("Sure, one.", "Sure no.")
    assert split_dialogue(chosen, chosen) is None
    early = "\n\nHuman: Hi?\n\nAssistant: Go away.\n\nHuman: Joke?\n\nAssistant: Sure no."
    assert split_dialogue(chosen, early) is None


def test_csv_line_numbers_count_header_and_multiline_fields(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text('text,label\n"two\nlines",1\nnext,0\n', encoding="utf-8")
    source = read_source(path)
    assert [row.line for row in source.rows] == [2, 4]
    assert source.rows[0].data["text"] == "two\nlines"


def test_bom_is_dropped_silently(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\n')
    assert read_source(path).columns == ("text",)


def test_gzip_jsonl(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "g.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "a"}\n'))
    source = read_source(path)
    assert source.stem == "g" and source.rows[0].data == {"text": "a"}


def fake_datasets(monkeypatch: pytest.MonkeyPatch, rows: list[dict[str, object]]) -> list[str]:
    import sys
    import types

    splits: list[str] = []

    def load_dataset(name: str, split: str) -> list[dict[str, object]]:
        splits.append(split)
        return rows

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    return splits


def test_hf_rows_go_through_the_task_formatter(monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[dict[str, object]] = [{"label": i % 2, "sentence": f"film {i}"} for i in range(6)]
    splits = fake_datasets(monkeypatch, rows)
    data = load_task("sst2", LoadOptions(data="hf:glue-sst2", split="train"))
    assert splits == ["train"] and len(data) == 6
    assert data.examples[1].prompt.startswith("Review: film 1\nClaim: The sentiment")
    assert data.examples[1].uid == "sst2/hf-glue-sst2-train/1"


def test_hf_pooled_task_is_carved(monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[dict[str, object]] = [{"text": f"review {i}", "label": i % 2} for i in range(40)]
    splits = fake_datasets(monkeypatch, rows)
    everything = load_task("imdb", LoadOptions(data="hf:imdb:test", split="all"))
    train = load_task("imdb", LoadOptions(data="hf:imdb", split="train"))
    test = load_task("imdb", LoadOptions(data="hf:imdb", split="test"))
    assert splits == ["test", "train", "train"]
    assert len(everything) == 40 == len(train) + len(test) and len(train) > 0 and len(test) > 0


def test_hf_missing_column_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_datasets(monkeypatch, [{"label": 1, "review": "x"}])
    with pytest.raises(DataError) as info:
        load_task("sst2", LoadOptions(data="hf:x", split="test"))
    assert "hf:x:test, row 1" in str(info.value) and "'review'" in str(info.value)
