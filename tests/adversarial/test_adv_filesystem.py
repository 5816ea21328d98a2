"""Issue 20, items 6 and 11: the file system says no, the disk fills up, a run is cut in the
middle of a line, or its checkpoint is edited: one paragraph that says what to do, never a
traceback, and a run that stays resumable.

The failures are made here: --out under a file or with a name too long, a full disk simulated
by an fsync that raises ENOSPC after a few writes, a trace with a torn last line, checkpoints
with a negative iteration, a label that is not 0/1 and a uid the data does not have."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from adversary import claims_csv, cli, label_run, refused

from elicit.search import checkpoint as search_checkpoint


def _score(capsys: pytest.CaptureFixture[str], data: Path, out: str):  # type: ignore[no-untyped-def]
    return cli(capsys, "score", "--task", "claims", "--data", str(data), "--backend", "fake",
               "--out", out, "-q")  # fmt: skip


def test_unwritable_out_paths_are_one_paragraph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = claims_csv(tmp_path / "claims.csv")
    refused(_score(capsys, data, str(data / "run")), str(data), "--out")
    refused(_score(capsys, data, str(tmp_path / ("x" * 300))), "too long", "--out")
    nested = tmp_path / "a" / ("y" * 300) / "run"
    refused(_score(capsys, data, str(nested)), "--out")
    if Path("/sys/kernel").is_dir():  # sysfs refuses new files, even to root (chmod would not)
        refused(_score(capsys, data, "/sys/elicit-adversarial-run"), "cannot write", "--out")


def _full_disk_after(monkeypatch: pytest.MonkeyPatch, writes: int) -> None:
    real = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_mid_run_says_so_and_the_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = claims_csv(tmp_path / "claims.csv")
    out = tmp_path / "label"
    with monkeypatch.context() as m:
        _full_disk_after(m, writes=4)
        refused(label_run(capsys, data, out), "no space left", "--resume")
    assert not (out / "metrics.json").exists()
    resumed = label_run(capsys, data, out, "--resume")
    assert resumed.status == 0, resumed.err
    assert (out / "metrics.json").is_file()


def _interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
) -> Path:
    """A label run stopped by Ctrl-C after its third checkpoint."""
    data = claims_csv(tmp_path / "claims.csv")
    out = tmp_path / "label"
    real, saves = search_checkpoint.save, {"n": 0}

    def save(*args, **kwargs):  # type: ignore[no-untyped-def]
        real(*args, **kwargs)
        saves["n"] += 1
        if saves["n"] == 3:
            raise KeyboardInterrupt

    with mp.context() as m:
        m.setattr(search_checkpoint, "save", save)
        stopped = label_run(capsys, data, out)
    assert stopped.status == 130
    # item 11: the checkpoint is there, and the message says how to use it
    assert "--resume" in stopped.err and "no partial results" not in stopped.err
    return out


def test_a_torn_trace_line_is_dropped_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _interrupted(tmp_path, capsys, monkeypatch)
    (trace,) = (out / "checkpoints").glob("batch-*/trace.jsonl")
    with trace.open("a", encoding="utf-8") as fh:
        fh.write('{"iteration": 99, "temper')  # a kill in the middle of an append
    resumed = label_run(capsys, claims_csv(tmp_path / "claims.csv"), out, "--resume")
    assert resumed.status == 0, resumed.err
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert all(r.get("iteration") != 99 for r in rows)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"iteration": -5}, ["iteration -5", "--force"]),
        ({"accepted": -1}, ["accepted -1", "--force"]),
        ({"labels": [["not-a-uid", 1]]}, ["not-a-uid", "--force"]),
        ({"labels": [["c0", 7]]}, ["label 7", "--force"]),
        ({"trace_length": "many"}, ["trace_length", "--force"]),
        ({"rng_state": [3, [1, 2, 3], None]}, ["unreadable", "--force"]),
        ({"rng_state": "seed"}, ["unreadable", "--force"]),
    ],
)
def test_edited_checkpoints_are_refused_not_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    edit: dict[str, object],
    words: list[str],
) -> None:
    out = _interrupted(tmp_path, capsys, monkeypatch)
    (path,) = (out / "checkpoints").glob("batch-*/checkpoint.json")
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    resumed = label_run(capsys, claims_csv(tmp_path / "claims.csv"), out, "--resume")
    refused(resumed, str(path), *words)
