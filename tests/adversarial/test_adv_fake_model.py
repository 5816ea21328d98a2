"""Issue 20, item 4: a run on the scripted stand-in (--backend fake) never passes for a run of
the model it names: metrics, results rows, `elicit runs` and the report say fake:<model>, and
its default run directory is not the real model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from adversary import claims_csv, cli, label_run

from elicit.runs import read_jsonl


def test_fake_runs_are_labelled_fake_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = claims_csv(tmp_path / "claims.csv")
    score = cli(capsys, "score", "--task", "claims", "--data", str(data), "--backend", "fake",
                "--json")  # fmt: skip
    assert score.status == 0, score.err
    out = Path(json.loads(score.out)["out"])
    assert "fake-gemma" in out.name  # not the default folder of a real gemma-3-270m run
    assert json.loads((out / "metrics.json").read_text())["model"] == "fake:gemma-3-270m"
    assert {r["model"] for r in read_jsonl(out / "results.jsonl")} == {"fake:gemma-3-270m"}
    assert label_run(capsys, data, tmp_path / "label").status == 0
    metrics = json.loads((tmp_path / "label" / "metrics.json").read_text())
    assert metrics["model"].startswith("fake:")
    listed = cli(capsys, "runs", str(tmp_path), "--json")
    models = {json.loads(line)["model"] for line in listed.out.splitlines()}
    assert models == {"fake:gemma-3-270m"}, models
    page = tmp_path / "report.html"
    assert cli(capsys, "report", str(tmp_path), "--out", str(page)).status == 0
    html = page.read_text(encoding="utf-8")
    # The runs' index and results tables name the stand-in (the config table shows the
    # options as given: model gemma-3-270m beside backend fake).
    assert html.count("<td>fake:gemma-3-270m</td>") >= 2
