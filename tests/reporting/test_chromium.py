"""The report in a real browser: headless Chromium renders it with no console message and
takes a non-empty screenshot.

Needs Debian's chromium (`apt-get install -y chromium`); skipped with that hint when absent.
Chromium logs every console message (errors, uncaught exceptions, Content-Security-Policy
violations) to stderr as lines containing ":CONSOLE" with --enable-logging=stderr. The report
has no script, so any such line is a fault. A page that does log one is rendered first, so the
check is known to see console messages at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from reporting_runs import Runs

from elicit.reporting import ReportConfig, write_report
from elicit.reporting.page import PNG_MAGIC

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian: apt-get install -y chromium)",
)


def render(page: Path, shot: Path, tmp_path: Path) -> list[str]:
    """Screenshot `page` into `shot`; returns Chromium's console lines."""
    assert CHROMIUM is not None
    args = [
        CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
        "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr", "--v=0", "--window-size=1200,2000",
        f"--screenshot={shot}", page.resolve().as_uri(),
    ]  # fmt: skip
    # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
    env = {**os.environ, "HOME": str(tmp_path)}  # keep Chromium's caches out of the real home
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def test_console_messages_are_seen(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nosuchfn();</script>")
    console = render(bad, tmp_path / "bad.png", tmp_path)
    assert any("boom" in line for line in console)
    assert any("Uncaught" in line for line in console)


def test_report_renders_without_console_errors(tmp_path: Path, runs: Runs) -> None:
    out, shown = write_report([runs.root], ReportConfig(out=str(tmp_path / "report.html")))
    assert len(shown) == 5  # every kind of section and status is on the page
    shot = tmp_path / "report.png"
    console = render(out, shot, tmp_path)
    assert console == []
    png = shot.read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1200) and pixels.std() > 0.01  # not a blank page
