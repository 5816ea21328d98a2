"""`elicit label --workers N`: batches searched on a real local Ray cluster (2 workers) give the
serial loop's labels, a worker's failure surfaces with its own type, and the run resumes."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import test_label_run
from test_label_run import Crash, claims_file, config, crashing_lm, lm

from elicit.commands.label import LabelConfig, run_label
from elicit.errors import ConfigError
from elicit.runs import read_jsonl

ray = pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).parents[1] / "backends"))
from test_openai import Stub, serve  # noqa: E402  (the stub OpenAI-compatible server)


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
    assert len(parallel.metrics.batches) == 2
    assert parallel.labels == serial.labels
    assert parallel.metrics.batches == serial.metrics.batches
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
    assert len(run_label(cfg, lm=lm()).metrics.batches) == 1


def even_items_true(prompt: str) -> dict[str, float]:
    """Top log-probs of a stub server: " True" likely when the query claim's item is even."""
    items = re.findall(r"Item (\d+):", prompt)  # the last one is the query's
    even = bool(items) and int(items[-1]) % 2 == 0
    p = {" True": 0.7, " False": 0.2} if even else {" True": 0.2, " False": 0.7}
    return {t: math.log(v) for t, v in p.items()}


def test_workers_load_a_server_model_themselves(tmp_path: Path, cluster: None) -> None:
    """Workers given no LM object build the model from the options: here clients of one shared
    server (each keeps at most --lm-batch-size requests in flight)."""
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    stub = Stub(top=even_items_true)
    with serve(stub) as url:
        model = f"openai:{url}/stub-model"
        kw = {"model": model, "backend": "auto", "lm_batch_size": 2, "iterations": 12}
        serial = run_label(config(data, tmp_path / "serial", **kw))
        served = len(stub.requests)
        parallel = run_label(config(data, tmp_path / "parallel", workers=2, **kw))
    assert served > 0 and len(stub.requests) > served  # the workers asked the server
    assert parallel.labels == serial.labels
    assert parallel.metrics.model == serial.metrics.model
