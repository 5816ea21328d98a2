"""The OpenAI-compatible server backend: against a stub HTTP server for the protocol and its
faults (fast), and against a real llama.cpp server serving the default GGUF (slow).

The stub answers /v1/models, /v1/completions (top-k log-probs from a rule of the prompt) and
optionally /tokenize, records every request, and fails on demand. The real server is
llama-cpp-python's (`python -m llama_cpp.server`), started once per session on a free
loopback port; those tests skip only when llama_cpp is not installed.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import json
import math
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import elicit.backends.cache as cache_module
import elicit.backends.openai as openai_module
from elicit.backends import load_lm
from elicit.backends.base import TRUE_FALSE, Demo, GenerationConfig, LabelSet
from elicit.backends.openai import (
    OpenAIBackend,
    label_logprobs_from_top,
    parse_model_spec,
)
from elicit.backends.prompting import loo_prompts
from elicit.errors import BackendError, ConfigError

#: A task whose sample ships with elicit, with short claims.
TASK = "ethics-justice"

# ---------------------------------------------------------------------- a stub server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keyword_top(prompt: str) -> dict[str, float]:
    """Top-k log-probs: " True" likely when the last line says 'good', " False" otherwise."""
    good = "good" in prompt.rsplit("\n", 1)[-1]
    p = {" True": 0.6, " False": 0.2, " true": 0.05, " the": 0.05}
    if not good:
        p = {" False": 0.6, " True": 0.2, "False": 0.05, " a": 0.05}
    return {t: math.log(v) for t, v in p.items()}


@dataclass
class Stub:
    """What the stub serves and how it misbehaves; `requests` records (path, payload)."""

    models: list[str] = field(default_factory=lambda: ["stub-model"])
    top: Callable[[str], dict[str, float]] = keyword_top
    logprobs: bool = True
    completions: bool = True
    tokenize: bool = False
    #: Status codes to answer the next completions requests with, one per request.
    faults: list[int] = field(default_factory=list)
    bad_request: str | None = None
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def completion(self, payload: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            if self.faults:
                return self.faults.pop(0), {"error": {"message": "try again"}}
        if self.bad_request is not None:
            return 400, {"error": {"message": self.bad_request}}
        prompt = str(payload["prompt"])
        if payload.get("logprobs") is None:
            return 200, {"choices": [{"text": f"<{prompt[-5:]}>", "logprobs": None}]}
        choice: dict[str, Any] = {"text": " x", "logprobs": None}
        if self.logprobs:
            choice["logprobs"] = {"top_logprobs": [self.top(prompt)]}
        return 200, {"choices": [choice]}


class _Handler(http.server.BaseHTTPRequestHandler):
    stub: Stub
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._reply(200, {"data": [{"id": m, "object": "model"} for m in self.stub.models]})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        payload = json.loads(self.rfile.read(length))
        with self.stub.lock:
            self.stub.requests.append((self.path, payload))
        if self.path == "/v1/completions" and self.stub.completions:
            self._reply(*self.stub.completion(payload))
        elif self.path == "/tokenize" and self.stub.tokenize:
            # One token per whitespace-separated word; "neutral", in any case, is two.
            text = str(payload.get("prompt", payload.get("content")))
            n = len(text.split()) + text.lower().count("neutral")
            self._reply(200, {"tokens": list(range(n))})
        else:
            self._reply(404, {"error": {"message": f"no route {self.path}"}})


@contextlib.contextmanager
def serve(stub: Stub) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"stub": stub})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_module, "BACKOFF", 0.01)


def shared_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def completions(stub: Stub) -> list[dict[str, Any]]:
    return [p for path, p in stub.requests if path == "/v1/completions"]


# ---------------------------------------------------------------------- pure functions


def test_parse_model_spec() -> None:
    assert parse_model_spec("openai:http://h:8000/v1/meta-llama/Llama-3.1-8B") == (
        "http://h:8000/v1",
        "meta-llama/Llama-3.1-8B",
    )
    assert parse_model_spec("openai:http://h:8080/v1") == ("http://h:8080/v1", None)
    assert parse_model_spec("openai:http://h:8080/v1/") == ("http://h:8080/v1", None)
    assert parse_model_spec("openai:https://h/api/gemma") == ("https://h/api", "gemma")
    assert parse_model_spec("http://h:1/v1/m") == ("http://h:1/v1", "m")
    with pytest.raises(ConfigError, match="openai:<base_url>/<model>"):
        parse_model_spec("openai:gemma")


def test_label_logprobs_sum_variants_and_floor() -> None:
    top = {" True": math.log(0.5), "True": math.log(0.1), " TRUE": math.log(0.1), " a": -3.0}
    lp = label_logprobs_from_top(top, TRUE_FALSE)
    assert lp[1] == pytest.approx(math.log(0.7))
    # " False" is absent: half of min(smallest top-k prob, mass outside the top-k).
    rest = 1 - 0.7 - math.exp(-3.0)
    assert lp[0] == pytest.approx(math.log(min(math.exp(-3.0), rest) / 2))
    assert lp[1] > lp[0]
    exact = label_logprobs_from_top(top, LabelSet(variants=False))
    assert exact[1] == pytest.approx(math.log(0.5))
    # Neither word in the top-k: equal floors, log-odds 0 (as the released ICM code).
    neither = label_logprobs_from_top({" a": -0.1, " b": -3.0}, TRUE_FALSE)
    assert neither[0] == neither[1]
    # A top-k that holds all the mass still gives a finite floor.
    full = label_logprobs_from_top({" True": 0.0}, TRUE_FALSE)
    assert math.isfinite(full[0]) and full[0] < -60


def test_chat_style_logprobs_shape() -> None:
    reply = {
        "choices": [
            {
                "logprobs": {
                    "content": [
                        {
                            "token": " True",
                            "logprob": -0.5,
                            "top_logprobs": [
                                {"token": " True", "logprob": -0.5},
                                {"token": " False", "logprob": -1.5},
                            ],
                        }
                    ]
                }
            }
        ]
    }
    top = openai_module._top_logprobs(reply)
    assert top == {" True": -0.5, " False": -1.5}
    assert openai_module._top_logprobs({"choices": [{"logprobs": None}]}) is None


# ---------------------------------------------------------------------- against the stub


def test_scores_through_the_stub() -> None:
    stub = Stub()
    with serve(stub) as url:
        lm = load_lm(f"openai:{url}/stub-model")
        assert isinstance(lm, OpenAIBackend)
        assert lm.name == f"openai:{url}/stub-model"
        prompts = [f"claim {i}\nthis was {'good' if i % 2 else 'bad'}" for i in range(20)]
        scores = lm.score(prompts)
        lp = lm.label_logprobs(prompts[:2])
    expect = [math.log(0.65 / 0.2) if i % 2 else math.log(0.2 / 0.65) for i in range(len(prompts))]
    np.testing.assert_allclose(scores, expect, rtol=1e-9)
    assert lp.shape == (2, 2)
    sent = completions(stub)[1:]  # the first is the construction probe
    assert sorted(p["prompt"] for p in sent[:20]) == sorted(prompts)  # 8 in flight
    assert all(p["max_tokens"] == 1 and p["logprobs"] == 20 and p["temperature"] == 0 for p in sent)
    assert all(p["cache_prompt"] is True and p["model"] == "stub-model" for p in sent)


def test_single_served_model_is_used_when_none_named() -> None:
    with serve(Stub(models=["only-one"])) as url:
        assert OpenAIBackend(f"openai:{url}").model == "only-one"
    with serve(Stub(models=["a", "b"])) as url, pytest.raises(BackendError, match="a, b"):
        OpenAIBackend(f"openai:{url}")


def test_loo_tree_order_reaches_the_server_depth_first() -> None:
    stub = Stub()
    demos = [Demo(f"claim {i}\nthis was {'good' if i % 3 else 'bad'}", i % 2) for i in range(9)]
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model", batch_size=1)
        stub.requests.clear()
        tree = lm.loo_scores(demos, order="tree")
        sent = [p["prompt"] for p in completions(stub)]
        parallel = OpenAIBackend(f"openai:{url}/stub-model", batch_size=4)
        again = parallel.loo_scores(demos, order="tree")
    expected = loo_prompts(demos, TRUE_FALSE, "tree")
    assert sent == expected
    # Depth-first: each prompt shares with the next at least the prefix of their common
    # ancestor, so neighbours share more than half of a prompt on average.
    shared = [shared_prefix(a, b) for a, b in itertools.pairwise(sent)]
    assert np.mean(shared) > 0.5 * np.mean([len(p) for p in sent])
    np.testing.assert_allclose(again, tree)


def test_retries_5xx_and_429_then_succeeds() -> None:
    stub = Stub()
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model", batch_size=1)
        stub.requests.clear()
        stub.faults = [503, 500, 429]
        scores = lm.score(["this was good"])
    assert len(completions(stub)) == 4
    assert scores[0] == pytest.approx(math.log(0.65 / 0.2))


def test_retries_run_out_with_a_clear_error() -> None:
    stub = Stub()
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model", max_retries=2, batch_size=2)
        stub.faults = [502] * 50
        with pytest.raises(BackendError) as e:
            lm.score(["a good one", "a bad one", "more"])
    msg = str(e.value)
    assert f"{url}/completions" in msg and "HTTP 502" in msg and "3 attempts" in msg
    assert "--cache" in msg


def test_a_server_that_answered_is_waited_for_longer() -> None:
    """After a first answer the default budget (8 retries) rides out a restart; before it, a
    server that never answered gets FIRST_CONTACT_RETRIES (a wrong URL fails fast)."""
    stub = Stub()
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model", batch_size=1)  # the probe answered
        stub.requests.clear()
        stub.faults = [503] * 7  # more than a first contact's 3 retries
        assert lm.score(["this was good"])[0] == pytest.approx(math.log(0.65 / 0.2))
    assert len(completions(stub)) == 8
    with serve(Stub(faults=[503] * 10)) as url2:
        fresh = openai_module._Client(url2, request_timeout=5.0, max_retries=8)
        with pytest.raises(openai_module._Unreachable, match="after 4 attempts"):
            fresh.request("POST", "/completions", {"prompt": "x"})


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    t0 = time.monotonic()
    with pytest.raises(BackendError) as e:
        load_lm(f"openai:{url}/gemma")
    msg = str(e.value)
    assert "cannot reach" in msg and url in msg and "connection refused" in msg
    assert "llama_cpp.server" in msg and "docs/SERVING.md" in msg
    assert time.monotonic() - t0 < 5


def test_chat_only_endpoint_and_missing_logprobs() -> None:
    with serve(Stub(completions=False)) as url, pytest.raises(BackendError, match="chat-only"):
        OpenAIBackend(f"openai:{url}/stub-model")
    with serve(Stub(logprobs=False)) as url:
        with pytest.raises(BackendError, match="no log-probs"):
            OpenAIBackend(f"openai:{url}/stub-model")
        # Generation needs no log-probs.
        lm = OpenAIBackend(f"openai:{url}/stub-model", require_logprobs=False)
        assert lm.generate(["abcdefgh"], GenerationConfig()) == ["<defgh>"]


def test_wrong_model_name() -> None:
    with serve(Stub(models=["gemma"])) as url, pytest.raises(BackendError) as e:
        OpenAIBackend(f"openai:{url}/llama")
    assert "does not serve model 'llama'" in str(e.value)
    assert f"openai:{url}/gemma" in str(e.value)


def test_server_errors_say_what_to_fix() -> None:
    stub = Stub()
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model")
        stub.bad_request = "This model's maximum context length is 2048 tokens"
        with pytest.raises(BackendError, match="--max-model-len"):
            lm.score(["x"])
        stub.bad_request = "logprobs must be at most 5"
        with pytest.raises(BackendError, match="--max-logprobs"):
            lm.score(["x"])
    with pytest.raises(ConfigError, match="--device"):
        OpenAIBackend("openai:http://127.0.0.1:1/v1/m", device="cuda")


def test_generate_sends_the_sampling_settings() -> None:
    stub = Stub()
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model", require_logprobs=False)
        config = GenerationConfig(max_new_tokens=7, temperature=0.7, top_p=0.9, stop=("e",), seed=3)
        out = lm.generate(["12345678", "abcdefgh"], config)
    assert out == ["<45678>", "<d"]  # cut at the stop string on our side too
    sent = completions(stub)[-1]
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"]) == (7, 0.7, 0.9)
    assert (sent["stop"], sent["seed"]) == (["e"], 3)


def test_count_tokens_uses_the_tokenize_endpoint_or_estimates() -> None:
    with serve(Stub(tokenize=True)) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model")
        assert lm.count_tokens("one two three") == 3
        with pytest.raises(BackendError, match="several tokens"):
            lm.score(["x"], LabelSet((" Neutral", " True")))
    with serve(Stub()) as url:
        assert OpenAIBackend(f"openai:{url}/stub-model").count_tokens("12345678") == 2


# ---------------------------------------------------------------------- a real llama.cpp server


class LlamaServer:
    """`python -m llama_cpp.server` serving the default GGUF as model "gemma"."""

    def __init__(self, gguf: Path, log: Path) -> None:
        self.gguf = gguf
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.gguf),
            "--model_alias",
            "gemma",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "1",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited; see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                import urllib.request

                with urllib.request.urlopen(f"{self.url}/models", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not start in {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    from elicit.models import DEFAULT_MODEL, gguf_file

    return gguf_file(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def llama_server(
    gguf_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    server = LlamaServer(gguf_path, tmp_path_factory.mktemp("server") / "server.log")
    server.start()
    yield server
    server.stop()


def sst2_prompts(n: int, split: str = "test") -> list[str]:
    from elicit.tasks import load_task, sample
    from elicit.tasks.base import LoadOptions

    data = sample(load_task("ethics-justice", LoadOptions(split=split)), n, 0)
    return [ex.prompt for ex in data.examples]


#: Largest |log-odds| difference allowed between the server (Q4_K_M weights, llama.cpp's
#: quantised kernels) and the transformers backend (the same weights dequantised to fp32).
#: Measured on 24 SST-2 test claims: max 0.29, mean 0.14, signs all equal.
SERVER_HF_TOLERANCE = 0.5


@pytest.mark.slow
def test_real_server_agrees_with_transformers(llama_server: LlamaServer, gemma_lm: Any) -> None:
    lm = load_lm(f"openai:{llama_server.url}/gemma", batch_size=1)
    prompts = sst2_prompts(4)
    served = lm.score(prompts)
    local = gemma_lm.score(prompts)
    assert np.abs(served - local).max() < SERVER_HF_TOLERANCE
    assert list(np.sign(served)) == list(np.sign(local))
    # Both label words are in the top 20 here, so no floor is involved.
    lp = lm.label_logprobs(prompts[:2])
    np.testing.assert_allclose(lp, gemma_lm.label_logprobs(prompts[:2]), atol=SERVER_HF_TOLERANCE)
    # The server's tokenizer is the model's: counts equal the local ones.
    assert [lm.count_tokens(p) for p in prompts[:3]] == [
        gemma_lm.count_tokens(p) for p in prompts[:3]
    ]


@pytest.mark.slow
def test_real_server_leave_one_out_in_tree_order(llama_server: LlamaServer, gemma_lm: Any) -> None:
    demos = [Demo(p, i % 2) for i, p in enumerate(sst2_prompts(4, "train"))]
    lm = OpenAIBackend(f"openai:{llama_server.url}/gemma", batch_size=1)
    served = lm.loo_scores(demos, order="tree")
    local = gemma_lm.loo_scores(demos, order="tree")
    assert np.abs(served - local).max() < SERVER_HF_TOLERANCE


def cache_rows(path: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=1)) as conn:
            return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_server_killed_mid_run_then_rerun_reuses_the_cache(
    gguf_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`elicit score --cache` loses its server after the first chunk: it fails cleanly (exit 2,
    no run directory); rerun against a restarted server (another port), it asks only for the
    prompts the cache lacks."""
    from elicit.cli.main import main

    monkeypatch.setattr(cache_module, "CHUNK", 3)
    n, db, out = 9, tmp_path / "cache.sqlite", tmp_path / "runs" / "score"
    server = LlamaServer(gguf_path, tmp_path / "first.log")
    server.start()

    def kill_after_first_chunk() -> None:
        deadline = time.monotonic() + 300
        while cache_rows(db) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()

    killer = threading.Thread(target=kill_after_first_chunk)
    killer.start()
    args = [
        "score",
        "--task",
        "ethics-justice",
        "--n",
        str(n),
        "--cache",
        str(db),
        "--out",
        str(out),
    ]
    args += ["--lm-batch-size", "1", "--no-progress"]
    try:
        code = main([*args, "--model", f"openai:{server.url}/gemma"])
    finally:
        killer.join()
        server.stop()
    err = capsys.readouterr().err
    assert code == 2
    assert "did not answer" in err and server.url in err and "--cache" in err
    assert not out.exists()
    assert not list(out.parent.glob(".*partial*"))  # nothing half-written
    kept = cache_rows(db)
    assert 3 <= kept < n

    restarted = LlamaServer(gguf_path, tmp_path / "second.log")
    restarted.start()
    try:
        assert restarted.url != server.url
        assert main([*args, "--model", f"openai:{restarted.url}/gemma"]) == 0
    finally:
        restarted.stop()
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == n and all(math.isfinite(r["score"]) for r in rows)
    asked = (tmp_path / "second.log").read_text().count("POST /v1/completions")
    assert asked == 1 + (n - kept)  # the construction probe, then only the missing prompts
    assert cache_rows(db) == n


@pytest.mark.slow
def test_label_and_eval_commands_through_the_server(
    llama_server: LlamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from elicit.cli.main import main

    model = f"openai:{llama_server.url}/gemma"
    label = tmp_path / "label"
    args = ["label", "--task", TASK, "--n", "3", "--iterations", "1", "--init-size", "3"]
    assert main([*args, "--model", model, "--out", str(label), "--no-progress"]) == 0
    labels = [json.loads(x) for x in (label / "labels.jsonl").read_text().splitlines()]
    assert len(labels) == 3
    args = ["eval", "--task", TASK, "--n", "2", "--pool-n", "2", "--labels", str(label)]
    args += ["--methods", "zero-shot,golden", "--model", model, "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "eval")]) == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert {r["method"] for r in results} >= {"zero-shot", "golden"}
