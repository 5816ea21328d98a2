"""`elicit export`: labels as JSONL / CSV / a HF dataset, and DPO pairs from comparison labels."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from reporting_runs import HOSTILE, Runs, write_jsonl

from elicit.cli.main import main
from elicit.errors import ConfigError, DataError
from elicit.reporting import ExportConfig, run_export
from elicit.reporting.export import datasets_available
from elicit.runs import read_jsonl
from elicit.tasks import load_task
from elicit.tasks.base import LoadOptions

#: Comparison pairs in the ICM release's format; label 1 = choice beats choice_2.
PAIRS = [
    {"question": "Name a colour.", "choice": "Blue.", "choice_2": "I won't.", "label": 1},
    {"question": "2+2?", "choice": "5", "choice_2": "4", "label": 0},
    # A response quoting the template's own marker: only the other order tells where it ends.
    {"question": "Quote it.", "choice": "See Response 2: fine", "choice_2": "No.", "label": 1},
    {"question": "Greet me.", "choice": "Hello!", "choice_2": HOSTILE, "label": 1},
]


def comparison_run(tmp_path: Path, labels: dict[str, int]) -> Path:
    run = tmp_path / "cmp-run"
    run.mkdir()
    config = {"task": "alpaca-comparison", "data": str(comparison_data(tmp_path)),
              "split": "all", "out": str(run), "alpha": 50.0, "schedule": "paper"}  # fmt: skip
    (run / "config.json").write_text(json.dumps(config))
    write_jsonl(run / "labels.jsonl", [{"uid": u, "label": y} for u, y in labels.items()])
    (run / "metrics.json").write_text("{}")
    return run


def comparison_data(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.json"
    if not path.exists():
        rows = [{**p, "consistency_id": i} for i, p in enumerate(PAIRS)]
        path.write_text(json.dumps(rows))
    return path


def gold(tmp_path: Path) -> dict[str, int]:
    data = load_task(
        "alpaca-comparison", LoadOptions(data=str(comparison_data(tmp_path)), split="all")
    )
    return dict(data.gold)


def expected_pairs() -> list[tuple[str, str]]:
    return [(p["choice"], p["choice_2"]) if p["label"] else (p["choice_2"], p["choice"])
            for p in PAIRS]  # fmt: skip


def test_jsonl_round_trip(tmp_path: Path, runs: Runs) -> None:
    out = tmp_path / "labels.jsonl"
    summary = run_export(runs.label, ExportConfig(format="jsonl", out=str(out)))
    rows = read_jsonl(out)
    labels = read_jsonl(runs.label / "labels.jsonl")
    assert summary.n_rows == len(rows) == len(labels)
    assert [r["uid"] for r in rows] == [r["uid"] for r in labels]
    assert [r["label"] for r in rows] == [r["label"] for r in labels]
    first = next(r for r in rows if r["uid"] == "c00")
    assert HOSTILE in first["prompt"] and first["prompt"].endswith("I think this claim is")
    assert all(r["completion"] == (" True" if r["label"] else " False") for r in rows)
    assert {"gold", "score"} <= first.keys()


def test_csv_round_trip(tmp_path: Path, runs: Runs) -> None:
    out = tmp_path / "labels.csv"
    run_export(runs.label, ExportConfig(format="csv", out=str(out)))
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    jsonl = read_jsonl(runs.label / "labels.jsonl")
    assert [(r["uid"], int(r["label"])) for r in rows] == [(r["uid"], r["label"]) for r in jsonl]
    assert any(HOSTILE in r["prompt"] and "\n" in r["prompt"] for r in rows)  # quoted newlines


def test_hf_dataset_or_a_clear_error(tmp_path: Path, runs: Runs) -> None:
    out = tmp_path / "ds"
    config = ExportConfig(format="hf", out=str(out))
    if not datasets_available():
        with pytest.raises(ConfigError, match="pip install datasets"):
            run_export(runs.label, config)
        assert not out.exists()
        pytest.skip("`datasets` is not installed: checked the error that says to install it")
    import datasets

    run_export(runs.label, config)
    ds = datasets.load_from_disk(str(out))
    assert ds["uid"] == [r["uid"] for r in read_jsonl(runs.label / "labels.jsonl")]


def test_dpo_pairs_follow_the_labels(tmp_path: Path) -> None:
    labels = gold(tmp_path)  # both orders of every pair labelled as gold says
    out = tmp_path / "pairs.jsonl"
    summary = run_export(comparison_run(tmp_path, labels), ExportConfig(format="dpo", out=str(out)))
    rows = read_jsonl(out)
    assert summary.n_rows == len(PAIRS) and summary.n_dropped == 0
    assert all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    got = {r["prompt"]: (r["chosen"], r["rejected"]) for r in rows}
    for pair, (chosen, rejected) in zip(PAIRS, expected_pairs(), strict=True):
        prompt = f"Human: {pair['question']}\n\nAssistant:"
        assert got[prompt] == (f" {chosen}", f" {rejected}")


def test_dpo_flipped_one_sided_and_contradicting_labels(tmp_path: Path) -> None:
    truth = gold(tmp_path)
    uids = sorted(truth)
    labels = {u: 1 - y for u, y in truth.items()}  # every label wrong: chosen <-> rejected
    ab = [u for u in uids if u.endswith("/ab")]
    labels[ab[0]] = 1 - labels[ab[0]]  # pair 0: the two orders now contradict each other
    del labels[ab[1].replace("/ab", "/ba")]  # pair 1: one order labelled
    out = tmp_path / "pairs.jsonl"
    summary = run_export(comparison_run(tmp_path, labels), ExportConfig(format="dpo", out=str(out)))
    assert (summary.n_rows, summary.n_dropped) == (len(PAIRS) - 1, 1)
    swapped = {(f" {r}", f" {c}") for c, r in expected_pairs()}
    assert {(r["chosen"], r["rejected"]) for r in read_jsonl(out)} <= swapped


def test_dpo_refuses_other_tasks_and_missing_labels(tmp_path: Path, runs: Runs) -> None:
    with pytest.raises(ConfigError, match="not a comparison task"):
        run_export(runs.label, ExportConfig(format="dpo", out=str(tmp_path / "p.jsonl")))
    with pytest.raises(ConfigError, match=r"no labels\.jsonl.*--resume"):
        run_export(runs.interrupted, ExportConfig(format="jsonl", out=str(tmp_path / "x.jsonl")))
    with pytest.raises(ConfigError, match="--out is required"):
        ExportConfig(format="csv")


def test_data_moved_and_out_exists(tmp_path: Path, runs: Runs, capsys: Any) -> None:
    out = tmp_path / "l.jsonl"
    out.write_text("keep me\n")
    with pytest.raises(ConfigError, match="--force"):
        run_export(runs.label, ExportConfig(out=str(out)))
    assert out.read_text() == "keep me\n"
    assert main(["export", str(runs.label), "--out", str(out), "--force"]) == 0
    assert (
        f"{len(read_jsonl(runs.label / 'labels.jsonl'))} labels written" in capsys.readouterr().out
    )
    gone = tmp_path / "gone.jsonl"
    with pytest.raises(DataError, match="--data"):
        run_export(
            runs.label, ExportConfig(out=str(tmp_path / "m.jsonl"), force=True, data=str(gone))
        )
    assert main(["export", str(runs.label), "--format", "dpo", "--out", str(tmp_path / "d")]) == 2
    assert "not a comparison task" in capsys.readouterr().err


def test_push_to_hub_reaches_the_hub_api(tmp_path: Path, runs: Runs) -> None:
    """The real huggingface_hub upload path, up to its first request: a stub hub at
    $HF_ENDPOINT records it and refuses; the export is complete and the error says so."""
    import http.server
    import os
    import subprocess
    import sys
    import threading

    seen: list[tuple[str, str, dict[str, Any], str]] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)) or 0)
            seen.append(("POST", self.path, json.loads(body or b"{}"),
                         self.headers.get("Authorization", "")))  # fmt: skip
            data = json.dumps({"error": "Invalid credentials"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "labels.jsonl"
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
           "HF_TOKEN": "hf_test_token", "HF_HUB_DISABLE_TELEMETRY": "1"}  # fmt: skip
    env.pop("HF_HUB_OFFLINE", None)
    argv = [sys.executable, "-m", "elicit", "export", str(runs.label), "--format", "jsonl",
            "--out", str(out), "--push-to-hub", "someone/icm-labels", "--private"]  # fmt: skip
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 2, done.stderr
    assert "--push-to-hub someone/icm-labels: the upload failed" in done.stderr
    assert f"complete in {out}" in done.stderr
    assert len(read_jsonl(out)) == len(read_jsonl(runs.label / "labels.jsonl"))
    method, path, payload, auth = seen[0]
    assert (method, path) == ("POST", "/api/repos/create") and auth == "Bearer hf_test_token"
    assert payload["name"] == "icm-labels" and payload["organization"] == "someone"
    assert payload["type"] == "dataset"
    assert payload.get("visibility", "private" if payload.get("private") else None) == "private"


def test_push_to_hub_needs_a_repo_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="USER/NAME"):
        ExportConfig(out=str(tmp_path / "x.jsonl"), push_to_hub="just-a-name")
