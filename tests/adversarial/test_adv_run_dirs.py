"""Issue 20, items 9 and 10: a run directory of another command is never written into (its
files would be left beside ours), refusals say which kind of run is there, and what elicit
writes or prints as JSON is strict JSON (no bare NaN), with the reason a value is null."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from adversary import claims_csv, cli, label_run, refused


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_label_force_into_another_commands_run_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = claims_csv(tmp_path / "claims.csv")
    score = tmp_path / "score"
    assert cli(capsys, "score", "--task", "claims", "--data", str(data), "--backend", "fake",
               "--out", str(score), "-q").status == 0  # fmt: skip
    before = sorted(p.name for p in score.iterdir())
    refused(label_run(capsys, data, score, "--force"), "score run", "not a label run", "--out")
    assert sorted(p.name for p in score.iterdir()) == before  # nothing added, nothing deleted


def test_finished_run_refusals_name_the_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = claims_csv(tmp_path / "claims.csv")
    out = tmp_path / "label"
    assert label_run(capsys, data, out).status == 0
    refused(label_run(capsys, data, out), "finished label run", "--force")
    score = tmp_path / "score"
    args = ["score", "--task", "claims", "--data", str(data), "--backend", "fake", "-q"]
    assert cli(capsys, *args, "--out", str(score)).status == 0
    refused(cli(capsys, *args, "--out", str(score)), "finished score run", "--force")


def test_one_class_gold_gives_null_auroc_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "claims.csv"
    data.write_text("uid,text,label\n" + "".join(f"c{i},Claim {i}.,1\n" for i in range(6)))
    out = tmp_path / "score"
    done = cli(capsys, "score", "--task", "claims", "--data", str(data), "--backend", "fake",
               "--out", str(out), "--json")  # fmt: skip
    assert done.status == 0, done.err
    printed = _strict(done.out)
    metrics = _strict((out / "metrics.json").read_text())
    assert metrics["auroc"] is None and "one" in metrics["undefined"]["auroc"]
    assert printed["metrics"]["auroc"] is None
    for line in (out / "results.jsonl").read_text().splitlines():
        _strict(line)
    listed = cli(capsys, "runs", str(tmp_path), "--json")
    for line in listed.out.splitlines():
        _strict(line)


DEEP = "[" * 100_000 + "]" * 100_000


def test_run_files_nested_thousands_deep_are_refused_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A labels file, a search checkpoint and a run's config.json, each one JSON value nested
    100,000 deep (Python's decoder overflows its stack on it)."""
    data = claims_csv(tmp_path / "claims.csv")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(DEEP + "\n")
    outcome = cli(capsys, "eval", "--task", "claims", "--data", str(data), "--backend", "fake",
                  "--labels", str(labels), "--out", str(tmp_path / "eval"), "-q")  # fmt: skip
    refused(outcome, str(labels), "line 1")
    run = tmp_path / "label"
    assert label_run(capsys, data, run).status == 0
    (run / "metrics.json").unlink()  # now an interrupted run
    (ckpt,) = (run / "checkpoints").glob("batch-*/checkpoint.json")
    ckpt.write_text(DEEP)
    refused(label_run(capsys, data, run, "--resume"), str(ckpt), "--force")
    (run / "config.json").write_text(DEEP)
    refused(label_run(capsys, data, run, "--resume"), "config.json", "--force")


def test_a_device_or_pipe_as_an_output_file_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outputs are written to a temp file and renamed over the target: as root, `elicit report
    --out /dev/null` replaced /dev/null with the report. A pipe stands in for the device."""
    import os
    import stat

    data = claims_csv(tmp_path / "claims.csv")
    run = tmp_path / "label"
    assert label_run(capsys, data, run).status == 0
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    refused(cli(capsys, "report", str(run), "--out", str(pipe)), str(pipe), "not a regular file")
    refused(cli(capsys, "export", str(run), "--format", "jsonl", "--out", str(pipe), "--force"),
            str(pipe), "not a regular file")  # fmt: skip
    assert stat.S_ISFIFO(pipe.stat().st_mode)
