"""Servers that never answer, or answer a byte at a time, end a run with an error naming the URL
and the flag to change, in seconds; a slow request says in the log that it is waiting; a
password in the URL is sent but never shown.

The misbehaving servers are raw sockets in a thread: one that accepts and says nothing, and
one that answers /v1/models properly and then trickles its completions reply forever."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import elicit.backends.openai as openai_module
from elicit.backends.openai import OpenAIBackend
from elicit.errors import BackendError, ConfigError

Serve = Callable[[socket.socket, threading.Event], None]


@contextlib.contextmanager
def raw_server(serve: Serve) -> Iterator[int]:
    """A loopback TCP server running `serve(conn, stop)` for every connection; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            threading.Thread(target=serve, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for c in conns:
            c.close()
        listener.close()


def _read_request(conn: socket.socket) -> tuple[str, dict[str, str]]:
    """The request line and headers (and the body, discarded) of one HTTP request."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return "", {}
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    need = int(headers.get("content-length", 0)) - len(body)
    while need > 0:
        need -= len(conn.recv(65536))
    return lines[0], headers


#: How a test server answers one request: (connection, request line, headers, stop event).
Respond = Callable[[socket.socket, str, dict[str, str], threading.Event], None]


def answering(respond: Respond) -> Serve:
    """A server loop that reads requests until the client hangs up or the test ends, answering
    each with `respond`; a connection the client broke just ends the loop."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                line, headers = _read_request(conn)
                if not line:
                    return
                respond(conn, line, headers, stop)

    return serve


def json_server(models: object, completion: object) -> Serve:
    """Answers /models with `models` and every other request with `completion`, as JSON."""
    return answering(
        lambda conn, line, _h, _s: _reply(conn, models if "/models" in line else completion)
    )


def _reply(conn: socket.socket, body: object) -> None:
    data = json.dumps(body).encode()
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )


def silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait()


def trickling(seen: list[dict[str, str]]) -> Serve:
    """Models listed properly; completions answered one byte every 50 ms, never finishing."""

    def respond(
        conn: socket.socket, line: str, headers: dict[str, str], stop: threading.Event
    ) -> None:
        seen.append(headers)
        if "/models" in line:
            _reply(conn, {"data": [{"id": "m"}]})
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b" ")
            time.sleep(0.05)

    return answering(respond)


@pytest.fixture
def fast_first_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openai_module, "FIRST_CONTACT_READ_TIMEOUT", 0.5)
    monkeypatch.setattr(openai_module, "BACKOFF", 0.01)


def test_a_server_that_never_answers_fails_fast_with_the_url(fast_first_contact: None) -> None:
    with raw_server(silent) as port:
        t0 = time.monotonic()
        with pytest.raises(BackendError) as e:
            OpenAIBackend(f"openai:http://127.0.0.1:{port}/v1/m")
        took = time.monotonic() - t0
    message = str(e.value)
    assert f"127.0.0.1:{port}" in message and "--read-timeout" in message
    assert took < 3, f"a silent server held the run for {took:.1f} s"  # one try, not four


def test_a_trickling_reply_is_ended_by_the_request_timeout(
    fast_first_contact: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_module, "WAIT_NOTE_AFTER", 0.3)
    seen: list[dict[str, str]] = []
    with raw_server(trickling(seen)) as port, caplog.at_level(logging.INFO, logger="elicit"):
        t0 = time.monotonic()
        with pytest.raises(BackendError) as e:
            OpenAIBackend(
                f"openai:http://127.0.0.1:{port}/v1/m", read_timeout=1.0, request_timeout=1.5
            )
        took = time.monotonic() - t0
    assert "--request-timeout 1.5 s" in str(e.value) and f"127.0.0.1:{port}" in str(e.value)
    assert took < 5, f"a trickling server held the run for {took:.1f} s"
    waiting = [r.getMessage() for r in caplog.records if "waiting for POST" in r.getMessage()]
    assert waiting and "/v1/completions" in waiting[0]


def test_a_password_in_the_url_is_sent_but_never_shown(fast_first_contact: None) -> None:
    seen: list[dict[str, str]] = []
    with raw_server(trickling(seen)) as port, pytest.raises(BackendError) as e:
        OpenAIBackend(
            f"openai:http://alice:s3cret@127.0.0.1:{port}/v1/m",
            read_timeout=0.5,
            request_timeout=0.5,
        )
    assert "s3cret" not in str(e.value) and "alice:***@" in str(e.value)
    expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert seen and seen[0].get("authorization") == expected


@pytest.mark.parametrize("flag", ["connect_timeout", "read_timeout", "request_timeout"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_timeouts_must_be_positive_and_finite(flag: str, value: float) -> None:
    with pytest.raises(ConfigError, match=flag.replace("_", "-")):
        OpenAIBackend("openai:http://127.0.0.1:9/v1/m", **{flag: value})  # type: ignore[arg-type]


def test_the_timeout_flags_reach_the_server_backend_only() -> None:
    from elicit.commands.score import ScoreConfig
    from elicit.config import build_config

    flags = {"connect_timeout": 2, "read_timeout": 3, "request_timeout": 4}
    server = build_config(ScoreConfig, {"task": "sst2", "model": "openai:http://h/v1/m", **flags})
    assert {k: server.backend_options()[k] for k in flags} == flags
    local = build_config(ScoreConfig, {"task": "sst2", **flags})
    assert not set(flags) & set(local.backend_options())  # hf takes no timeouts
    with pytest.raises(ConfigError, match="--read-timeout"):
        build_config(ScoreConfig, {"task": "sst2", "read_timeout": -1})


def _replying(body: bytes, status: str = "200 OK"):  # type: ignore[no-untyped-def]
    def respond(conn: socket.socket, line: str, _h: dict[str, str], _s: threading.Event) -> None:
        models = json.dumps({"data": [{"id": "m"}]}).encode()
        data = models if "/models" in line else body
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        conn.sendall(head + data)

    return answering(respond)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b'{"choices": "' + b"x" * (3 << 20) + b'"}', "200 OK", "larger than 1 MiB"),
        (b"[" * 200_000 + b"]" * 200_000, "200 OK", "not JSON"),
        (b'{"error": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "400 Bad Request", "HTTP 400"),
    ],
    ids=["huge", "deep", "deep-error"],
)
def test_hostile_replies_are_backend_errors(
    body: bytes, status: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply far larger than any completion is cut off at MAX_REPLY_BYTES (1 MiB here), and
    JSON nested 200,000 deep is "not JSON", not a RecursionError."""
    monkeypatch.setattr(openai_module, "BACKOFF", 0.01)
    monkeypatch.setattr(openai_module, "MAX_REPLY_BYTES", 1 << 20)
    with raw_server(_replying(body, status)) as port, pytest.raises(BackendError) as e:
        OpenAIBackend(f"openai:http://127.0.0.1:{port}/v1/m", max_retries=0)
    assert words in str(e.value) and f"127.0.0.1:{port}" in str(e.value)


@pytest.mark.parametrize("length", [True, 0, -5, "4096", 4096])
def test_a_nonsense_context_length_from_the_server_is_not_trusted(length: object) -> None:
    completion = {"choices": [{"text": " x", "logprobs": {"top_logprobs": [{" True": -0.5}]}}]}
    models = {"data": [{"id": "m", "max_model_len": length}]}

    serve = json_server(models, completion)
    with raw_server(serve) as port:
        lm = OpenAIBackend(f"openai:http://127.0.0.1:{port}/v1/m", max_retries=0)
    assert lm.max_length == (4096 if length == 4096 else None)


def test_a_password_in_the_model_url_is_in_no_output_of_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`elicit score --model openai:http://user:pw@host/...`: the printed result line, the log,
    config.json and metrics.json all show user:***@."""
    from elicit.cli.main import main

    completion = {"choices": [{"text": " x", "logprobs": {"top_logprobs": [{" True": -0.5}]}}]}

    serve = json_server({"data": [{"id": "m"}]}, completion)

    data = tmp_path / "claims.csv"
    data.write_text("uid,text,label\n" + "".join(f"c{i},Claim {i}.,{i % 2}\n" for i in range(4)))
    out = tmp_path / "run"
    with raw_server(serve) as port:
        url = f"openai:http://dave:pa55word@127.0.0.1:{port}/v1/m"
        status = main(["score", "--task", "claims", "--data", str(data), "--model", url,
                       "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "pa55word" not in printed.out + printed.err
    assert not [p.name for p in out.iterdir() if b"pa55word" in p.read_bytes()]
    assert "dave:***@" in printed.out and "dave:***@" in (out / "config.json").read_text()
