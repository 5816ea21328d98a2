"""Issue 20, item 3: labels are refused once the text they were given to has changed.

A label run records a hash of each claim's prompt with its label. After the claims file is
edited, `elicit export`, `elicit eval --labels` and `elicit report` must not pair the old labels
with the new texts: export and eval refuse naming the changed uid, the report shows no texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from adversary import claims_csv, cli, label_run, refused

from elicit.labels import PROMPT_HASH
from elicit.runs import read_jsonl


@pytest.fixture
def edited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    data = claims_csv(tmp_path / "claims.csv")
    run = tmp_path / "label"
    assert label_run(capsys, data, run).status == 0
    rows = read_jsonl(run / "labels.jsonl")
    assert rows and all(len(r[PROMPT_HASH]) == 16 for r in rows)
    victim = str(rows[0]["uid"])
    text = data.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith(victim + ","))
    data.write_text(text.replace(line, line.replace("Claim", "Edited claim")), encoding="utf-8")
    return data, run


def test_export_refuses_labels_of_edited_claims(
    edited: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = edited
    first = read_jsonl(run / "labels.jsonl")[0]["uid"]
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"export.{fmt}"
        outcome = cli(capsys, "export", str(run), "--format", fmt, "--out", str(out))
        refused(outcome, "changed since", repr(first), "--data")
        assert not out.exists()


def test_eval_refuses_labels_of_edited_claims(
    edited: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, run = edited
    outcome = cli(
        capsys, "eval", "--task", "claims", "--data", str(data), "--backend", "fake",
        "--labels", str(run), "--n", "4", "--out", str(tmp_path / "eval"), "-q",
    )  # fmt: skip
    refused(outcome, "--labels", "changed since")


def test_report_shows_no_text_beside_labels_of_edited_claims(
    edited: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = edited
    page = tmp_path / "report.html"
    assert cli(capsys, "report", str(run), "--out", str(page)).status == 0
    html = page.read_text(encoding="utf-8")
    assert "claim texts unavailable" in html and "changed since" in html
    assert "Edited claim" not in html


def test_unedited_data_still_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = claims_csv(tmp_path / "claims.csv")
    run = tmp_path / "label"
    assert label_run(capsys, data, run).status == 0
    out = tmp_path / "export.jsonl"
    assert cli(capsys, "export", str(run), "--format", "jsonl", "--out", str(out)).status == 0
    assert len(read_jsonl(out)) == len(read_jsonl(run / "labels.jsonl"))


def test_train_refuses_labels_of_edited_claims(edited: tuple[Path, Path]) -> None:
    """`elicit train --labels RUN` reads the same labels: it must not fine-tune on them either."""
    from elicit.errors import DataError
    from elicit.tasks import load_task
    from elicit.tasks.base import LoadOptions
    from elicit.training.data import label_targets

    data, run = edited
    task = load_task("claims", LoadOptions(data=str(data), split="train"))
    with pytest.raises(DataError, match="changed since"):
        label_targets(task, "file", path=str(run))


def test_label_anchors_refuse_labels_of_edited_claims(
    edited: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, run = edited
    outcome = label_run(capsys, data, tmp_path / "again", "--anchors", str(run / "labels.jsonl"))
    refused(outcome, "--anchors", "changed since")


def test_w2s_weak_labels_refuse_labels_of_edited_claims(
    edited: tuple[Path, Path], tmp_path: Path
) -> None:
    from elicit.commands.w2s import W2SConfig, load_data, weak_predictions
    from elicit.errors import DataError

    data, run = edited
    config = W2SConfig(task="claims", data=str(data), weak=f"labels:{run}", n=None,
                       out=str(tmp_path / "w2s"))  # fmt: skip
    with pytest.raises(DataError, match="changed since"):
        weak_predictions(config, load_data(config), tmp_path / "w2s")
