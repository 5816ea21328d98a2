"""The `claims` task: the user's own files, happy paths and every bad-input message."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from elicit.errors import DataError
from elicit.tasks import CLAIM_SUFFIX, Consistency, LoadOptions, TaskData, load_task


def write(path: Path, content: str | bytes) -> str:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> str:
    return write(path, "".join(json.dumps(r) + "\n" for r in rows))


def claims(data: str, **columns: str) -> TaskData:
    return load_task("claims", LoadOptions(data=data, **columns))


def error(data: str, **columns: str) -> str:
    with pytest.raises(DataError) as info:
        claims(data, **columns)
    return str(info.value)


# ---------------------------------------------------------------- happy paths


def test_jsonl_with_labels_groups_and_keys(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "c.jsonl",
        [
            {"text": "2+2=4", "label": 1, "group": "q1", "key": "4"},
            {"text": "2+2=5", "label": "false", "group": "q1", "key": "5"},
            {"text": "The sky is green.", "label": False},
            {"text": "Water is wet.", "label": None, "uid": "w"},
        ],
    )
    data = claims(path)
    assert [ex.uid for ex in data] == ["claims/1", "claims/2", "claims/3", "w"]
    assert data.examples[0].prompt == f"2+2=4\n{CLAIM_SUFFIX}"
    assert data.examples[0].group == "q1" and data.examples[0].key == "4"
    assert data.examples[2].group == "claims/3" and data.examples[2].key == ""
    assert dict(data.gold) == {"claims/1": 1, "claims/2": 0, "claims/3": 0}
    assert not data.has_gold
    assert data.consistency is Consistency.ANSWER


def test_csv_with_column_overrides_and_bom(tmp_path: Path) -> None:
    body = "id,claim,truth,pair,order\nu1,A beats B,TRUE,p,ab\nu2,B beats A,False,p,ba\n"
    path = write(tmp_path / "c.csv", b"\xef\xbb\xbf" + body.encode())
    data = claims(
        path,
        uid_column="id",
        text_column="claim",
        label_column="truth",
        group_column="pair",
        key_column="order",
    )
    assert [ex.uid for ex in data] == ["u1", "u2"]
    assert dict(data.gold) == {"u1": 1, "u2": 0}
    assert data.consistency is Consistency.COMPARISON
    assert data.examples[1].prompt == f"B beats A\n{CLAIM_SUFFIX}"


def test_tsv_json_list_and_no_labels(tmp_path: Path) -> None:
    tsv = claims(write(tmp_path / "c.tsv", "text\tlabel\nfirst, with comma\t0\nsecond\t\n"))
    assert [ex.uid for ex in tsv] == ["claims/2", "claims/3"] and dict(tsv.gold) == {"claims/2": 0}
    listed = claims(write(tmp_path / "c.json", json.dumps([{"text": "a"}, {"text": "b"}])))
    assert len(listed) == 2 and not listed.gold and listed.consistency is Consistency.NONE


def test_search_visible_data_identical_with_or_without_labels(tmp_path: Path) -> None:
    rows = [{"text": f"claim {i}", "group": f"g{i // 2}", "key": str(i % 2)} for i in range(6)]
    labelled = [dict(r, label=i % 2) for i, r in enumerate(rows)]
    bare = claims(jsonl(tmp_path / "bare.jsonl", rows))
    full = claims(jsonl(tmp_path / "full.jsonl", labelled))
    assert bare.examples == full.examples
    assert bare.consistency == full.consistency
    assert not bare.gold and len(full.gold) == 6


def test_hf_path_uses_the_same_formatter(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    calls: list[tuple[str, str]] = []

    def load_dataset(name: str, split: str) -> list[dict[str, object]]:
        calls.append((name, split))
        return [{"text": "hf claim", "label": 1}, {"text": "other", "label": 0}]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    data = claims("hf:me/claims:validation")
    assert calls == [("me/claims", "validation")]
    assert [ex.prompt for ex in data] == [f"hf claim\n{CLAIM_SUFFIX}", f"other\n{CLAIM_SUFFIX}"]
    assert dict(data.gold) == {"claims/1": 1, "claims/2": 0}


def test_hf_without_datasets_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    msg = error("hf:imdb")
    assert "datasets" in msg and "pip install datasets" in msg and "--data FILE" in msg


def test_hf_unavailable_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    def load_dataset(name: str, split: str) -> None:
        raise ConnectionError("offline")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    msg = error("hf:nope/x:test")
    assert "hf:nope/x:test" in msg and "offline" in msg and "--data FILE" in msg


# ---------------------------------------------------------------- bad input


def test_no_data_given() -> None:
    with pytest.raises(DataError, match="Pass --data FILE"):
        load_task("claims")


def test_missing_text_column_names_columns_and_flag(tmp_path: Path) -> None:
    msg = error(write(tmp_path / "c.csv", "claim,label\nx,1\n"))
    assert "c.csv, line 1" in msg and "'text'" in msg and "'claim', 'label'" in msg
    assert "--text-column" in msg
    msg = error(jsonl(tmp_path / "c.jsonl", [{"text": "a"}, {"claim": "b"}]))
    assert "c.jsonl, line 2" in msg and "--text-column" in msg and "'claim'" in msg


@pytest.mark.parametrize("bad", ["maybe", "2", "yes", "1.0"])
def test_bad_label_csv(tmp_path: Path, bad: str) -> None:
    msg = error(write(tmp_path / "c.csv", f"text,label\nok,1\nbad,{bad}\n"))
    assert "c.csv, line 3" in msg and repr(bad) in msg and "0/1/true/false" in msg
    assert "--label-column" in msg


def test_bad_label_json_number(tmp_path: Path) -> None:
    msg = error(jsonl(tmp_path / "c.jsonl", [{"text": "a", "label": 2}]))
    assert "line 1" in msg and "label 2" in msg


def test_empty_file(tmp_path: Path) -> None:
    for name, content in (("e.jsonl", ""), ("e.csv", "text,label\n"), ("e.json", "[]")):
        msg = error(write(tmp_path / name, content))
        assert name in msg and "no records" in msg


def test_invalid_json_line(tmp_path: Path) -> None:
    msg = error(write(tmp_path / "c.jsonl", '{"text": "a"}\n{"text": oops}\n'))
    assert "c.jsonl, line 2" in msg and "invalid JSON" in msg
    msg = error(write(tmp_path / "c.json", '[\n{"text": "a"},\n{"text": }\n]'))
    assert "c.json, line 3" in msg and "invalid JSON" in msg


def test_undecodable_bytes_name_utf8(tmp_path: Path) -> None:
    msg = error(write(tmp_path / "c.csv", "text\nfine\ncaf\xe9\n".encode("latin-1")))
    assert "c.csv, line 3" in msg and "UTF-8" in msg


def test_duplicate_uid_names_both_lines(tmp_path: Path) -> None:
    msg = error(write(tmp_path / "c.csv", "uid,text\na,x\nb,y\na,z\n"))
    assert "c.csv, line 4" in msg and "duplicate uid 'a'" in msg and "line 2" in msg


def test_group_mixing_tasks(tmp_path: Path) -> None:
    rows = [
        {"text": "a", "group": "g", "task": "math"},
        {"text": "b", "group": "g", "task": "math"},
        {"text": "c", "group": "g", "task": "poems"},
    ]
    msg = error(jsonl(tmp_path / "c.jsonl", rows))
    assert "line 3" in msg and "'g'" in msg and "'math'" in msg and "'poems'" in msg
    assert "line 1" in msg


@pytest.mark.parametrize("value", ["", "   ", 5, None, ["x"]])
def test_empty_or_non_string_text(tmp_path: Path, value: object) -> None:
    msg = error(jsonl(tmp_path / "c.jsonl", [{"text": "ok"}, {"text": value}]))
    assert "c.jsonl, line 2" in msg and "'text'" in msg and "non-empty text" in msg


def test_not_an_object_and_unknown_extension(tmp_path: Path) -> None:
    assert "JSON object" in error(write(tmp_path / "c.jsonl", '"just a string"\n'))
    assert "unknown file type" in error(write(tmp_path / "c.xlsx", "x"))
    assert "no such file" in error(str(tmp_path / "missing.csv"))
