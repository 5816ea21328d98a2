"""The path a new user takes: `elicit demo` and `elicit tasks` from an empty working directory,
with no data folder anywhere above it and $ELICIT_DATA_DIR unset, in a fresh process.

The model is the scripted fake (the real one is exercised by the slow tests); everything else
is what the user runs: the installed command, data loading from the samples inside the package,
the ICM search, the evaluation table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def newcomer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELICIT_", "HF_"))}
    env["HF_HUB_OFFLINE"] = "1"  # as offline as this machine is, whatever machine runs this
    return env


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elicit", *args],
        cwd=cwd,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def no_data_folder_above(path: Path) -> bool:
    return not any((p / "shared" / "data").exists() for p in (path, *path.parents))


def test_demo_runs_from_an_empty_directory(tmp_path: Path) -> None:
    work = tmp_path / "newcomer"
    work.mkdir()
    assert no_data_folder_above(work)
    args = ["demo", "--backend", "fake", "--n", "8", "--iterations", "4", "--test-n", "12"]
    done = run(args, work)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ICM labelled" in done.stdout and "golden" in done.stdout
    results = json.loads((work / "runs" / "demo" / "eval" / "results.json").read_text())
    assert {"zero-shot", "golden", "random", "icm"} <= {r["method"] for r in results}
    labels = (work / "runs" / "demo" / "label" / "labels.jsonl").read_text().splitlines()
    # the default task is generated in code (tasks/generated.py): nothing to find or fetch
    assert labels and all(json.loads(line)["uid"].startswith("reviews/") for line in labels)
    assert "Reading (calibrated accuracy)" in done.stdout


def test_tasks_lists_the_bundled_sources(tmp_path: Path) -> None:
    done = run(["tasks", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    tasks = {t["name"]: t for t in json.loads(done.stdout)["tasks"]}
    assert tasks["boolq"]["origin"] == "bundled sample" and tasks["boolq"]["test"] >= 300
    assert tasks["sst2"]["origin"] is None and "licence" in tasks["sst2"]["where"]
    assert tasks["reviews"]["origin"] == "generated" and tasks["reviews"]["train"] == 500
