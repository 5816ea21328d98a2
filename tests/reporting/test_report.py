"""`elicit report`: sections per run kind, escaping, embedded images, several runs in one page."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from reporting_runs import HOSTILE, Runs, write_jsonl

from elicit.cli.main import main
from elicit.errors import ConfigError
from elicit.reporting import ReportConfig, write_report
from elicit.reporting.page import PNG_MAGIC, esc

IMG = re.compile(r'<img class="plot" alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def images(page: str) -> dict[str, bytes]:
    return {alt: base64.b64decode(data) for alt, data in IMG.findall(page)}


def report(tmp_path: Path, *paths: Path, **kw: Any) -> str:
    out, _ = write_report(list(paths), ReportConfig(out=str(tmp_path / "r.html"), **kw))
    return out.read_text(encoding="utf-8")


def test_label_run_sections(tmp_path: Path, runs: Runs) -> None:
    page = report(tmp_path, runs.label)
    for heading in ("Configuration", "Metrics", "Energy and label agreement with gold",
                    "Labels against gold", "Least confident examples"):  # fmt: skip
        assert f"{heading}" in page, heading
    assert "finished" in page and "alpha" in page
    pics = images(page)
    assert pics and all(png.startswith(PNG_MAGIC) for png in pics.values())
    # The claim texts come back from the task: the least confident rows show them.
    assert "item 3 was good" in page or "item 2 was bad" in page


def test_hostile_text_is_escaped_and_page_is_self_contained(tmp_path: Path, runs: Runs) -> None:
    page = report(tmp_path, runs.label, runs.eval, runs.w2s, examples=12)
    assert "<script" not in page  # the hostile claim appears, but only as text
    assert ">c00<" in page  # its row is listed
    assert esc(HOSTILE) in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    # Nothing is loaded from elsewhere: no http(s) URL in any src/href, no stylesheet link.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page
    assert "Content-Security-Policy" in page


def test_eval_and_w2s_sections(tmp_path: Path, runs: Runs) -> None:
    page = report(tmp_path, runs.eval, runs.w2s)
    assert "Method comparison" in page and "Predictions against gold" in page
    assert "Results" in page and "calibrated_accuracy" in page
    assert "Performance gap recovered (accuracy)" in page
    assert "Performance gap recovered (AUROC)" in page
    pics = images(page)
    assert "accuracy per method" in pics  # the eval run's own accuracy.png
    assert {"PGR on accuracy", "PGR on AUROC"} <= pics.keys()
    assert (runs.eval / "accuracy.png").read_bytes() in pics.values()


def test_several_runs_share_one_page(tmp_path: Path, runs: Runs) -> None:
    page = report(tmp_path, runs.root)  # a folder of runs is searched
    assert "elicit report: 5 runs" in page
    assert "Results of all runs" in page and "Method comparison across runs" in page
    assert page.count('<section class="run"') == 5
    assert "icm-labels" in page  # the label run's agreement joins the combined table
    for status in ("finished", "interrupted", "failed"):
        assert f'class="badge {status}"' in page


def test_interrupted_label_run_draws_its_checkpoint_trace(tmp_path: Path, runs: Runs) -> None:
    page = report(tmp_path, runs.interrupted)
    assert "interrupted" in page and "drawn from the checkpoints" in page
    assert "trace" in images(page)
    assert "no labels.jsonl yet" in page


def test_texts_missing_become_a_note(tmp_path: Path, runs: Runs) -> None:
    moved = tmp_path / "label"
    shutil.copytree(runs.label, moved)
    (moved / "config.json").write_text(
        (moved / "config.json").read_text().replace(str(runs.claims), str(tmp_path / "gone.jsonl"))
    )
    page = report(tmp_path, moved)
    assert "claim texts unavailable" in page and "--data" in page
    assert "Least confident examples" in page


def test_cli_default_out_and_errors(
    tmp_path: Path, runs: Runs, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "one"
    shutil.copytree(runs.w2s, run)
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file()
    assert str(run / "report.html") in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="neither a run directory"):
        write_report([empty], ReportConfig())
    with pytest.raises(ConfigError, match="--examples"):
        ReportConfig(examples=-1)


@pytest.mark.parametrize("field", ["margin", "confidence"])  # confidence: older label runs
def test_least_confident_order_uses_signed_margins(tmp_path: Path, runs: Runs, field: str) -> None:
    run = tmp_path / "conf"
    shutil.copytree(runs.label, run)
    (run / "energy_plot.png").unlink()  # the curves are then drawn from trace.jsonl
    margins = {"c01": 2.0, "c02": -0.5, "c03": 0.1, "c04": 5.0}
    rows = [{"uid": u, "label": 1, "gold": 1, "score": 9.0, field: m}
            for u, m in margins.items()]  # fmt: skip
    write_jsonl(run / "labels.jsonl", rows)
    page = report(tmp_path, run, examples=3)
    listed = re.findall(r"<tr><td>(c0\d)</td>", page)
    assert listed == ["c02", "c03", "c01"]  # a negative margin is the least sure of all
    assert "confidence margin" in page and "drawn from trace.jsonl" in page
