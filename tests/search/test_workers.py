"""`elicit label --workers N`: batches searched on a real local Ray cluster (2 workers) give the
serial loop's labels, a worker's failure surfaces with its own type, and the run resumes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import test_label_run
from test_label_run import Crash, claims_file, config, crashing_lm, lm

from elicit.errors import ConfigError
from elicit.runs import read_jsonl
from elicit.search.label import LabelConfig, run_label

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One local 2-CPU cluster for the module (starting one takes seconds). The scripted LMs
    live in test modules the workers cannot import, so they travel by value."""
    import planted
    from ray import cloudpickle

    for module in (planted, test_label_run):
        cloudpickle.register_pickle_by_value(module)
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()
    for module in (planted, test_label_run):
        cloudpickle.unregister_pickle_by_value(module)


def test_two_workers_give_the_serial_labels(tmp_path: Path, cluster: None) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    serial = run_label(config(data, tmp_path / "serial"), lm=lm())
    parallel = run_label(config(data, tmp_path / "parallel", workers=2), lm=lm())
    assert len(parallel.metrics["batches"]) == 2
    assert parallel.labels == serial.labels
    assert parallel.metrics["batches"] == serial.metrics["batches"]
    assert read_jsonl(tmp_path / "parallel" / "trace.jsonl") == read_jsonl(
        tmp_path / "serial" / "trace.jsonl"
    )
    for b in range(2):  # each batch searched in its own checkpoint folder
        assert (tmp_path / "parallel" / "checkpoints" / f"batch-{b:03d}").is_dir()


def test_a_failed_worker_fails_the_run_and_it_resumes(tmp_path: Path, cluster: None) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    whole = run_label(config(data, tmp_path / "whole"), lm=lm())
    out = tmp_path / "killed"
    with pytest.raises(Crash):  # the worker's exception, not an opaque RayTaskError
        run_label(config(data, out, workers=2), lm=crashing_lm(60))
    assert not (out / "metrics.json").exists()
    # Resuming needs no workers: the checkpoints are the serial loop's.
    resumed = run_label(config(data, out, resume=True), lm=lm())
    assert resumed.labels == whole.labels
    assert read_jsonl(out / "trace.jsonl") == read_jsonl(tmp_path / "whole" / "trace.jsonl")


def test_worker_options_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    with pytest.raises(ConfigError, match="--workers must be at least 1"):
        config(data, tmp_path / "a", workers=0)
    with pytest.raises(ConfigError, match="cannot run in parallel"):
        config(data, tmp_path / "b", workers=2, iterative=True)
    assert config(data, tmp_path / "c").ray_options() is None
    options = config(data, tmp_path / "d", ray_address="auto").ray_options()
    assert options is not None and options.workers == 1 and options.address == "auto"
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ConfigError, match=r"elicit\[scale\]"):
        run_label(config(data, tmp_path / "e", workers=2), lm=lm())


def test_one_batch_runs_without_a_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    monkeypatch.setitem(sys.modules, "ray", None)  # a cluster would fail to start
    cfg: LabelConfig = replace(config(data, tmp_path / "one", workers=2), batch_size=64)
    assert len(run_label(cfg, lm=lm()).metrics["batches"]) == 1
