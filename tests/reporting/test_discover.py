"""`elicit runs`: discovery, kind and status of run directories, the table and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reporting_runs import Runs

from elicit.cli.main import main
from elicit.errors import ConfigError
from elicit.reporting import find_runs, inspect_run


def test_kinds_statuses_and_key_numbers(runs: Runs) -> None:
    found = {info.path: info for info in find_runs(runs.root)}
    assert set(found) == {runs.label, runs.eval, runs.w2s, runs.interrupted, runs.failed}
    label, ev, w2s = found[runs.label], found[runs.eval], found[runs.w2s]
    assert (label.kind, label.status, label.task, label.model) == (
        "label", "finished", "claims", "fake:gemma-3-270m")  # fmt: skip
    numbers = dict(label.numbers)
    assert numbers["n"] == 12 and 0 <= numbers["agreement"] <= 1
    assert (ev.kind, ev.status) == ("eval", "finished")
    assert {"zero-shot", "golden", "random", "icm"} <= dict(ev.numbers).keys()
    assert (w2s.kind, w2s.status, w2s.model) == ("w2s", "finished", "tfidf -> gemma-3-270m")
    assert dict(w2s.numbers)["PGR w2s-confidence"] == pytest.approx(0.75)
    stopped = found[runs.interrupted]
    assert (stopped.kind, stopped.status) == ("label", "interrupted")
    assert dict(stopped.numbers) == {"batches": 1, "iteration": 7}
    failed = found[runs.failed]
    assert (failed.kind, failed.status) == ("eval", "failed")
    assert "'crashed'" in failed.note


def test_folders_that_are_not_runs_are_searched_not_listed(tmp_path: Path, runs: Runs) -> None:
    # A saved Hugging Face model has a config.json too, without elicit's run options.
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (tmp_path / ".hidden").mkdir()
    assert find_runs(tmp_path) == []
    with pytest.raises(ConfigError, match="not an elicit run directory"):
        inspect_run(model)
    with pytest.raises(ConfigError, match="not a directory"):
        find_runs(tmp_path / "missing")


def test_cli_table_json_and_filters(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(runs.root)]) == 0
    table = capsys.readouterr().out
    header = table.splitlines()[0].split()
    assert header[:6] == ["path", "kind", "status", "task", "model", "key"]
    for status in ("finished", "interrupted", "failed"):
        assert status in table
    assert main(["runs", str(runs.root), "--json", "--status", "finished"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["kind"] for r in rows} == {"label", "eval", "w2s"}
    assert all(r["status"] == "finished" for r in rows)
    assert main(["runs", str(runs.root), "--kind", "self-improve"]) == 0
    assert "no runs under" in capsys.readouterr().out
    assert main(["runs", str(runs.root / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
