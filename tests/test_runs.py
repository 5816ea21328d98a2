"""Atomic files and run directories: complete or absent, never half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from elicit.errors import ConfigError
from elicit.runs import atomic_write_json, atomic_write_jsonl, read_jsonl, run_lock, staged_run_dir


def test_atomic_write_leaves_no_temp(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a" / "x.json", {"b": 1})
    atomic_write_jsonl(tmp_path / "r.jsonl", [{"i": 1}, {"i": 2}])
    assert read_jsonl(tmp_path / "r.jsonl") == [{"i": 1}, {"i": 2}]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "r.jsonl", "x.json"]


def test_staged_run_dir_is_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), staged_run_dir(out) as stage:
        atomic_write_json(stage / "config.json", {})
        raise RuntimeError("crash mid-run")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []

    with staged_run_dir(out) as stage:
        atomic_write_json(stage / "config.json", {"v": 1})
        atomic_write_json(stage / "metrics.json", {"acc": 1})
    assert (out / "metrics.json").is_file()

    with pytest.raises(ConfigError, match=r"finished run.*--force"), staged_run_dir(out):
        pass

    with staged_run_dir(out, force=True) as stage:
        atomic_write_json(stage / "config.json", {"v": 2})
        atomic_write_json(stage / "metrics.json", {"acc": 2})
    assert (out / "metrics.json").read_text().count('"acc": 2') == 1
    assert (out / "config.json").read_text().count('"v": 2') == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_staged_run_dir_refuses_foreign_directories(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not an elicit run"), staged_run_dir(tmp_path / "mine"):
        pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"), staged_run_dir(tmp_path / "file"):
        pass
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_a_second_process_on_the_same_run_directory_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "run"
    holder = (
        "import sys, time\n"
        "from elicit.runs import run_lock\n"
        f"with run_lock({str(out)!r}):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        refused = pytest.raises(ConfigError, match=rf"another elicit process \(pid {proc.pid}\)")
        with refused, run_lock(out):
            pass
        with staged_run_dir(tmp_path / "other"):  # another directory is not affected
            pass
    finally:
        proc.kill()
        proc.wait()
    # The kernel released the dead holder's lock: the directory is usable again.
    with run_lock(out):
        pass
    assert not (tmp_path / ".run.lock").exists()
