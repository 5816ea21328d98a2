"""An OpenAI-compatible completions server as an elicit backend: vLLM, llama.cpp, SGLang, ...

    elicit score --task sst2 --model openai:http://127.0.0.1:8080/v1/gemma

    >>> from elicit.backends.openai import OpenAIBackend
    >>> lm = OpenAIBackend("openai:http://127.0.0.1:8000/v1/meta-llama/Llama-3.1-8B")
    >>> lm.score(["Question: What is 2+2?\\nClaim: 4\\nI think this claim is"])

The model spec is `openai:<base_url>/<model>`: the model is everything after the URL's "/v1/"
path segment (so HF ids with a slash work), or the last path segment when the URL has no "/v1";
with nothing after "/v1" the server's only model is used. docs/SERVING.md has the commands that
start vLLM and llama.cpp servers for elicit.

Scoring reads the next-token distribution the way the released ICM code does: one completion
per prompt with max_tokens=1, temperature 0 and the top-k log-probs (k = 20, vLLM's default
--max-logprobs). A label word's probability is the sum over the top-k tokens that spell it
(`prompting.spelling_variants`: case and one leading space, as `LabelSet` defines). A word with
no spelling in the top-k gets a floor instead of the released code's zero (which, with its eps of
1e-5, turns "just outside the top 20" into log-odds of +-10): all we know is that its
probability lies between 0 and min(p_k, 1 - sum of the top-k), p_k being the smallest top-k
probability, so the floor is the middle of that interval, log(min(p_k, rest) / 2). It keeps the
sign of the log-odds (a word in the top-k always outscores one outside it), gives 0 when
neither word is in the top-k (as the released code does), and is finite. A top-k token of
log-prob -inf (or null, as llama.cpp writes it) has probability 0 and is left out; NaN, +inf or
a positive log-prob is no probability: that prompt is asked once more, then the call fails.

The server tokenises the whole prompt text itself, which for Gemma 3 and Llama-3-style
tokenizers equals elicit's piece-wise rule (`prompting`), and adds BOS as the model expects.
Label words must be single tokens in at least one spelling; this is checked through the
server's tokenize endpoint when it has one.

Requests run in a bounded thread pool (`concurrency` in flight, default 8; `--lm-batch-size`
on the command line) and are *started* in the order given. Leave-one-out prompts come from
`LM.loo_scores`, which emits them in depth-first tree order (`prompting.tree_loo_orders`), so
consecutive prompts share the longest prefixes and a prefix-caching server (vLLM
`--enable-prefix-caching`, llama.cpp's prompt cache: `cache_prompt` is sent) does the sharing.
Connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff (honouring
Retry-After); anything else, and a server that stays down, raises a `BackendError` that names
the URL and the fix. Only the standard library is used (http.client, one keep-alive connection
per worker thread). An API key, if the server wants one, comes from $OPENAI_API_KEY.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import math
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from tqdm.auto import tqdm

from elicit.backends.base import LM, TRUE_FALSE, FloatArray, GenerationConfig, LabelSet
from elicit.backends.prompting import spelling_variants
from elicit.errors import BackendError, ConfigError

log = logging.getLogger("elicit")

PREFIX = "openai:"
#: Top-k log-probs per scoring request: the released ICM code's 20, vLLM's default maximum.
TOP_K = 20
#: Retry waits are BACKOFF * 2^attempt seconds, capped at MAX_BACKOFF.
BACKOFF = 1.0
MAX_BACKOFF = 30.0
#: Retries before the server has answered once: a server that never answered is more likely a
#: wrong URL than a restart, so the user hears of it after ~7 s, not minutes.
FIRST_CONTACT_RETRIES = 3
#: Default timeouts in seconds (flags --connect-timeout, --read-timeout, --request-timeout):
#: to open the connection; of silence while waiting for the reply (the server computing a
#: batch before it says anything counts); and for a whole request, which also ends a server
#: that drips a byte at a time and so never falls silent long enough for the read timeout.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
REQUEST_TIMEOUT = 600.0
#: Before the server has answered once, silence ends a request after this many seconds at
#: most and timeouts are not retried: a fresh server that accepts and never replies is broken
#: (or not an HTTP server), not busy.
FIRST_CONTACT_READ_TIMEOUT = 20.0
#: The largest reply read: a completion with 20 log-probs is a few KiB; a server (or something
#: posing as one) sending more is cut off instead of filling memory for --request-timeout.
MAX_REPLY_BYTES = 64 * 2**20
#: A request still waiting after this many seconds says so in the log (then every WAIT_NOTE_EVERY).
WAIT_NOTE_AFTER = 10.0
WAIT_NOTE_EVERY = 30.0
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_SERVING_DOC = "docs/SERVING.md"
#: Show a progress bar for calls of at least this many requests (on a terminal only).
_PROGRESS_MIN = 64

T = TypeVar("T")
A = TypeVar("A")


def parse_model_spec(spec: str) -> tuple[str, str | None]:
    """(base_url, model or None) of "openai:<base_url>/<model>".

    "openai:http://h:8000/v1/meta-llama/Llama-3.1-8B" -> ("http://h:8000/v1", "meta-llama/Llama-3.1-8B")
    "openai:http://h:8080/v1"                         -> ("http://h:8080/v1", None)
    "openai:http://h:8080/api/gemma"                  -> ("http://h:8080/api", "gemma")
    """
    url = spec.removeprefix(PREFIX)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"model {spec!r} is not a server URL; write it as openai:<base_url>/<model>, e.g. "
            "openai:http://127.0.0.1:8000/v1/meta-llama/Llama-3.1-8B"
        )
    segments = [s for s in parts.path.split("/") if s]
    if "v1" in segments:
        i = segments.index("v1") + 1
        base_segments, model_segments = segments[:i], segments[i:]
    elif segments:
        base_segments, model_segments = segments[:-1], segments[-1:]
    else:
        base_segments, model_segments = [], []
    base = f"{parts.scheme}://{parts.netloc}" + "".join("/" + s for s in base_segments)
    return base, "/".join(model_segments) or None


class _HTTPStatus(Exception):
    """A non-retryable (or retried-out) HTTP error status with the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class _Unreachable(Exception):
    """Connection errors or retryable statuses that outlasted every retry."""


def _server_message(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text[:500]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            return str(err)[:500]
    return text[:500]


class _Client:
    """JSON over HTTP with one keep-alive connection per thread, timeouts and retries."""

    def __init__(
        self,
        base_url: str,
        *,
        max_retries: int,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.scheme = parts.scheme
        # user:password@ in the URL is sent as Basic auth and never shown (see `redact_url`).
        self.netloc = parts.netloc.rpartition("@")[2]
        self.base_url = redact_url(base_url)
        self.base_path = parts.path.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.answered = False  # has the server answered any request yet?
        key = os.environ.get("OPENAI_API_KEY")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        elif parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self._local = threading.local()

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.netloc}{self._path(path)}"

    def _path(self, path: str) -> str:
        # "/x" is under the base URL (".../v1/x"); "//x" is at the server root ("/x").
        return path[1:] if path.startswith("//") else self.base_path + path

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self.netloc, timeout=self.connect_timeout)
            self._local.conn = conn
        if conn.sock is None:
            conn.connect()  # under the connect timeout; then silence is limited by the read one
        read = self.read_timeout
        if not self.answered:
            read = min(read, FIRST_CONTACT_READ_TIMEOUT)
        conn.sock.settimeout(read)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(self, method: str, path: str, payload: Any = None, *, retries: bool = True) -> Any:
        """The decoded JSON reply. Raises _HTTPStatus for error statuses that are not retried
        and _Unreachable when connection errors or retryable statuses outlast the retries."""
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        budget = self.max_retries if self.answered else min(self.max_retries, FIRST_CONTACT_RETRIES)
        attempts = 1 + (budget if retries else 0)
        last, tried, give_up = "", 0, False
        for attempt in range(attempts):
            wait = min(MAX_BACKOFF, BACKOFF * 2**attempt)
            watch = _Watch(self, f"{method} {self.url(path)}")
            try:
                conn = self._connection()
                watch.start(conn)
                conn.request(method, self._path(path), body=body, headers=self.headers)
                response = conn.getresponse()
                data = response.read(MAX_REPLY_BYTES + 1)
                if watch.expired:  # the watcher shut the socket: read(n) returns what came
                    raise TimeoutError("request timeout")
                if len(data) <= MAX_REPLY_BYTES and response.length:
                    raise http.client.IncompleteRead(data, response.length)  # cut off
                status = response.status
                retry_after = response.getheader("Retry-After")
            except (OSError, http.client.HTTPException) as e:
                # Refused, reset, timed out, or the server closed a kept-alive connection.
                self._drop_connection()
                last = watch.describe(e)
                if watch.expired or (isinstance(e, TimeoutError) and not self.answered):
                    # Neither a server that never answered nor one slower than the whole
                    # request budget is helped by asking again.
                    give_up = True
            else:
                self.answered = True
                if len(data) > MAX_REPLY_BYTES:
                    self._drop_connection()  # the rest of the reply is never read
                    raise _HTTPStatus(
                        status, f"reply is larger than {MAX_REPLY_BYTES >> 20} MiB; not read"
                    )
                if 200 <= status < 300:
                    try:
                        return json.loads(data)
                    except (ValueError, RecursionError) as e:  # not JSON, or nested too deep
                        raise _HTTPStatus(status, f"reply is not JSON ({e}): {data[:200]!r}") from e
                message = _server_message(data)
                if status not in _RETRY_STATUS:
                    raise _HTTPStatus(status, message)
                last = f"HTTP {status}: {message}"
                if retry_after and retry_after.strip().isdigit():
                    wait = min(MAX_BACKOFF, float(retry_after))
            finally:
                watch.stop()
            tried = attempt + 1
            if give_up:
                break
            if tried < attempts:
                log.debug("%s %s failed (%s); retrying in %.1f s", method, path, last, wait)
                time.sleep(wait)
        raise _Unreachable(f"{last} (after {tried} attempt{'s' if tried > 1 else ''})")

    def close(self) -> None:
        self._drop_connection()


class _Watch:
    """Watches one request from a helper thread: logs that it is still waiting (so a slow
    server is not mistaken for a hung elicit), and when the request outlasts the client's
    request timeout shuts its socket down, which ends a read that per-read timeouts never end
    (a server dripping one byte at a time)."""

    def __init__(self, client: _Client, what: str) -> None:
        self.client = client
        self.what = what
        self.expired = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, conn: http.client.HTTPConnection) -> None:
        self._thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
        self._thread.start()

    def _run(self, conn: http.client.HTTPConnection) -> None:
        t0 = time.monotonic()
        limit = self.client.request_timeout
        note = WAIT_NOTE_AFTER
        while True:
            waited = time.monotonic() - t0
            if self._done.wait(max(0.0, min(note, limit) - waited)):
                return
            waited = time.monotonic() - t0
            if waited >= limit:
                self.expired = True
                sock = conn.sock
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return
            if waited >= note:
                log.info(
                    "waiting for %s: no complete reply after %.0f s (gives up after %.0f s; "
                    "--request-timeout)", self.what, waited, limit,
                )  # fmt: skip
                note += WAIT_NOTE_EVERY

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def describe(self, e: BaseException) -> str:
        if self.expired:
            return f"no complete reply within --request-timeout {self.client.request_timeout:g} s"
        if isinstance(e, TimeoutError):
            read = self.client.read_timeout
            if not self.client.answered:
                read = min(read, FIRST_CONTACT_READ_TIMEOUT)
            return (
                f"timed out (no reply within --connect-timeout {self.client.connect_timeout:g} s "
                f"or --read-timeout {read:g} s)"
            )
        return _describe(e)


def redact_url(url: str) -> str:
    """`url` with any password replaced by ***, for names, logs and config files."""
    parts = urllib.parse.urlsplit(url.removeprefix(PREFIX))
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    safe = parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
    return PREFIX + safe if url.startswith(PREFIX) else safe


def _describe(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError):
        return "timed out"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


class _BadLogprob(Exception):
    """A top-k entry that is not a log-probability (NaN, +inf, positive, not a number)."""


#: Largest log-prob accepted as 0 (rounding in float32 softmax can give log P a hair above 0).
_LOGPROB_SLACK = 1e-3


def _logprob(token: str, value: Any) -> float | None:
    """A top-k entry's log-prob; None for probability 0 (-inf, or null: llama.cpp's JSON
    writes -inf as null). Raises _BadLogprob for anything that is not a log-probability."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _BadLogprob(f"log-prob {value!r} of token {token!r} is not a number")
    try:
        lp = float(value)  # also "-Infinity", "NaN" as strings
    except ValueError:
        raise _BadLogprob(f"log-prob {value!r} of token {token!r} is not a number") from None
    if lp == -math.inf:
        return None
    if not lp <= _LOGPROB_SLACK:  # NaN, +inf, or a positive number (raw logits?)
        raise _BadLogprob(f"log-prob {lp} of token {token!r} is not a log-probability")
    return min(lp, 0.0)


def _top_logprobs(reply: Any) -> dict[str, float] | None:
    """token text -> log-prob of the first generated token's top-k, or None if absent.

    Two reply shapes exist: the completions API's `top_logprobs: [{text: logprob}]` (vLLM,
    llama-cpp-python, OpenAI) and the chat-style `content: [{top_logprobs: [{token, logprob}]}]`
    (newer llama.cpp servers). Tokens with the same text (e.g. byte tokens) are summed. Tokens
    of probability 0 (-inf or null) are left out, so an all -inf top-k counts as absent; NaN,
    +inf, positive or non-numeric values raise _BadLogprob.
    """
    try:
        lp = reply["choices"][0].get("logprobs")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if not isinstance(lp, dict):
        return None
    raw: list[tuple[str, Any]] = []
    top = lp.get("top_logprobs")
    content = lp.get("content")
    if isinstance(top, list) and top and isinstance(top[0], dict):
        raw = [(str(t), v) for t, v in top[0].items()]
    elif isinstance(content, list) and content and isinstance(content[0], dict):
        entries = content[0].get("top_logprobs") or []
        raw = [
            (str(e["token"]), e.get("logprob"))
            for e in entries
            if isinstance(e, dict) and "token" in e
        ]
    out: dict[str, float] = {}
    for token, value in raw:
        logprob = _logprob(token, value)
        if logprob is not None:
            out[token] = float(np.logaddexp(out[token], logprob)) if token in out else logprob
    return out or None


def label_logprobs_from_top(top: dict[str, float], label_set: LabelSet) -> list[float]:
    """log P(word) for each label word from a top-k distribution (see the module docstring).

    A word's probability sums its spellings found in the top-k; a word with none gets the
    floor log(min(p_k, 1 - sum of top-k) / 2).
    """
    probs = np.exp(np.fromiter(top.values(), dtype=np.float64))
    rest = max(0.0, 1.0 - float(probs.sum()))
    bound = min(float(probs.min()), rest) if probs.size else 1.0
    floor = math.log(max(bound, 1e-30) / 2)
    out: list[float] = []
    for word in label_set.words:
        spellings = spelling_variants(word) if label_set.variants else [word]
        found = [top[s] for s in spellings if s in top]
        out.append(float(np.logaddexp.reduce(found)) if found else floor)
    return out


class OpenAIBackend(LM):
    """A model behind an OpenAI-compatible `/v1/completions` endpoint.

    model: "openai:<base_url>/<model>" (see `parse_model_spec`).
    batch_size: requests in flight at once (a server batches concurrent requests itself).
        A llama.cpp server with one slot serves them one by one, so 1 keeps its prompt cache
        in tree order; vLLM wants many.
    top_k: log-probs per scoring request (vLLM refuses more than its --max-logprobs, 20).
    connect_timeout, read_timeout, request_timeout: seconds to connect; of silence while
        waiting for a reply (at most 20 before the server has answered once); for a whole
        request. A request that outlasts them fails with the URL (timeouts of a server that
        never answered, and requests over request_timeout, are not retried).
    max_retries: retries of a request after connection errors, timeouts, 408, 429 and 5xx
        (8: waits of 1, 2, 4, ... capped at 30 s ride out ~2 minutes of a restarting server;
        before the server has answered once, at most 3, so a wrong URL fails in seconds).
    max_length: the server's context in tokens, if known (default: asked from the server where
        it says, vLLM's max_model_len); used to fit many-shot prompts.
    require_logprobs: check at construction that completions come with log-probs (scoring
        needs them; pass False for generation only).
    device, dtype: accepted for a uniform constructor; only "auto" is valid, since the server
        decides both.
    """

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 8,
        top_k: int = TOP_K,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
        max_retries: int = 8,
        max_length: int | None = None,
        require_logprobs: bool = True,
        progress: bool = True,
        device: str = "auto",
        dtype: str = "auto",
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size (requests in flight) must be >= 1, got {batch_size}")
        if top_k < 2:
            raise ConfigError(f"top_k must be >= 2 to compare label words, got {top_k}")
        if device != "auto" or dtype != "auto":
            raise ConfigError(
                "--device and --dtype do not apply to a server model: the server decides them "
                "(e.g. vllm serve --dtype bfloat16). Leave them at auto."
            )
        base_url, model_name = parse_model_spec(model)
        self.base_url = redact_url(base_url)  # for names and messages: no password
        self.concurrency = batch_size
        self.top_k = top_k
        self.progress = progress
        for flag, value in (
            ("--connect-timeout", connect_timeout),
            ("--read-timeout", read_timeout),
            ("--request-timeout", request_timeout),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{flag} must be a positive number of seconds, got {value}")
        self._client = _Client(
            base_url,
            max_retries=max_retries,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            request_timeout=request_timeout,
        )
        self._tokenize: Callable[[str], int] | None = None
        self._tokenize_probed = False
        self._token_counts: OrderedDict[str, int] = OrderedDict()
        self._checked_labels: set[LabelSet] = set()
        info = self._model_info(model_name)
        self.model = str(info.get("id", model_name))
        self.name = f"{PREFIX}{self.base_url}/{self.model}"
        #: What identifies the weights: the served id and path, not the URL (see `identity`).
        self.served_identity = json.dumps(
            {
                "top_k": top_k,
                **{k: info[k] for k in ("id", "root", "owned_by", "max_model_len") if k in info},
            },
            sort_keys=True,
        )
        server_len = info.get("max_model_len")
        self.max_length: int | None = max_length or (
            int(server_len)
            if isinstance(server_len, int) and not isinstance(server_len, bool) and server_len > 0
            else None  # absent, or nonsense (a bool, zero, negative): not trusted
        )
        if require_logprobs:
            self._probe_logprobs()

    @property
    def identity(self) -> str:
        """The class and what the server says identifies its weights (`served_identity`), not
        its URL or name: the cache survives a restart on another port."""
        cls = f"{type(self).__module__}.{type(self).__qualname__}"
        return json.dumps({"class": cls, "identity": self.served_identity}, sort_keys=True)

    # ------------------------------------------------------------------ set-up checks

    def _fail(self, what: str, problem: str, fix: str) -> BackendError:
        where = "" if self.base_url in what else f" at {self.base_url}"
        return BackendError(f"{what}{where}: {problem}. {fix} (see {_SERVING_DOC})")

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        """`_Client.request` with its errors turned into BackendErrors that say what to do."""
        try:
            return self._client.request(method, path, payload)
        except _Unreachable as e:
            raise self._fail(
                f"the server did not answer {method} {self._client.url(path)}",
                str(e),
                "Check that it is running and that the URL in --model "
                "openai:<base_url>/<model> is right, then rerun (`elicit label --resume` "
                "continues a label run from its checkpoints; with --cache, results already "
                "received are reused)",
            ) from None
        except _HTTPStatus as e:
            raise self._status_error(method, path, e) from None

    def _status_error(self, method: str, path: str, e: _HTTPStatus) -> BackendError:
        url = self._client.url(path)
        if e.status in (401, 403):
            return self._fail(
                f"{method} {url} was refused", e.message, "Set $OPENAI_API_KEY to the server's key"
            )
        if e.status in (404, 405) and path == "/completions":
            return self._fail(
                f"{url} does not exist",
                e.message,
                "elicit needs a completions endpoint with log-probs; a chat-only endpoint "
                "cannot score label words. Serve a base model with vLLM or llama.cpp",
            )
        if e.status == 404 and "model" in e.message.lower():
            return self._fail(
                f"the server does not serve model {self.model!r}",
                e.message,
                f"Use one of the ids at {self._client.url('/models')}",
            )
        if e.status == 400 and "logprob" in e.message.lower():
            return self._fail(
                f"the server refuses {self.top_k} log-probs",
                e.message,
                f"Start vLLM with --max-logprobs {self.top_k} (or more)",
            )
        if e.status == 400 and any(w in e.message.lower() for w in ("context", "length", "token")):
            return self._fail(
                "a prompt is too long for the server's context",
                e.message,
                "Use fewer or shorter examples (--context-tokens, --batch-size), or start the "
                "server with a longer context (vLLM --max-model-len, llama.cpp --n_ctx)",
            )
        return self._fail(
            f"{method} {url} failed", f"HTTP {e.status}: {e.message}", "Check the server log"
        )

    def _model_info(self, model: str | None) -> dict[str, Any]:
        """The server's entry for `model` from GET /models (the only one when `model` is None)."""
        try:
            reply = self._client.request("GET", "/models")
        except _Unreachable as e:
            raise self._fail(
                "cannot reach the OpenAI-compatible server",
                str(e),
                "Start the server (vllm serve ..., python -m llama_cpp.server ...) or fix the URL "
                "in --model openai:<base_url>/<model>",
            ) from None
        except _HTTPStatus as e:
            if model is None:
                raise self._fail(
                    "cannot list the served models",
                    f"HTTP {e.status}: {e.message}",
                    "Name the model in --model openai:<base_url>/<model>",
                ) from None
            return {"id": model}  # no /models endpoint: trust the name given
        data = reply.get("data") if isinstance(reply, dict) else None
        entries = [d for d in data if isinstance(d, dict) and "id" in d] if data else []
        ids = [str(d["id"]) for d in entries]
        if model is None:
            if len(entries) != 1:
                raise self._fail(
                    f"the server serves {len(entries)} models ({', '.join(ids) or 'none'})",
                    "no model was named",
                    "Name one in --model openai:<base_url>/<model>",
                )
            return dict(entries[0])
        for d in entries:
            if str(d["id"]) == model:
                return dict(d)
        if not entries:
            return {"id": model}
        raise self._fail(
            f"the server does not serve model {model!r}",
            f"it serves {', '.join(ids)}",
            f"Use --model openai:{self.base_url}/{ids[0]}",
        )

    def _probe_logprobs(self) -> None:
        reply = self._call("POST", "/completions", self._scoring_payload("The"))
        try:
            top = _top_logprobs(reply)
        except _BadLogprob as e:
            raise self._fail(
                f"completions from {self._client.url('/completions')} carry broken log-probs",
                str(e),
                "Check the server's log and how it serves the model (float16 overflow gives "
                "NaN: serve it in bfloat16 or float32)",
            ) from None
        if top is None:
            raise self._fail(
                f"completions from {self._client.url('/completions')} carry no log-probs",
                "scoring label words needs the top-k log-probs of the next token",
                "Use a server that returns them (vLLM, llama.cpp, SGLang), not a chat-only API",
            )

    def _check_labels(self, label_set: LabelSet) -> None:
        """Every label word needs a single-token spelling, or the top-k cannot show it."""
        if label_set in self._checked_labels:
            return
        self._checked_labels.add(label_set)
        tokenize = self._tokenizer()
        if tokenize is None:
            return
        for word in label_set.words:
            spellings = spelling_variants(word) if label_set.variants else [word]
            if not any(tokenize(s) == 1 for s in spellings):
                raise BackendError(
                    f"label word {word!r} is several tokens for {self.model} in every spelling; "
                    "a server's top-k log-probs only show single tokens. Choose single-token "
                    "label words, or use the hf backend, which scores multi-token words"
                )

    # ------------------------------------------------------------------ scoring

    def _scoring_payload(self, prompt: str) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": self.top_k,
            # llama.cpp: keep this prompt in the slot's KV cache for the next one (vLLM's
            # prefix cache is a server flag and ignores this field).
            "cache_prompt": True,
        }

    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        """Top-k log-probs of the next token per prompt, summed per label word (see the
        module docstring for the floor of a word outside the top-k). Requests start in the
        order of `prompts`."""
        if len(prompts) == 0:
            return np.zeros((0, len(label_set.words)))
        self._check_labels(label_set)

        def one(item: tuple[int, str]) -> list[float]:
            i, prompt = item
            # A top-k that is missing or holds NaN is asked for once more (a batching server's
            # numerics can depend on what else was in the batch), then it is an error.
            for attempt in range(2):
                reply = self._call("POST", "/completions", self._scoring_payload(prompt))
                try:
                    top = _top_logprobs(reply)
                    problem = "no top-k log-probs" if top is None else ""
                except _BadLogprob as e:
                    top, problem = None, str(e)
                if top is not None:
                    return label_logprobs_from_top(top, label_set)
                if attempt == 0:
                    log.warning("%s for prompt %d from %s; asking again", problem, i, self.name)
            raise self._fail(
                f"model {self.model} answered prompt {i} of {len(prompts)} twice with {problem}",
                f"reply {str(reply)[:200]}",
                "The label words cannot be scored from it. Check that the server returns "
                "logprobs on /v1/completions and its log for NaN (float16 overflow: serve the "
                "model in bfloat16 or float32), then rerun (with --cache, scores already "
                "received are kept)",
            )

        rows = self._map(one, list(enumerate(prompts)), "scoring")
        return np.asarray(rows, dtype=np.float64).reshape(len(prompts), len(label_set.words))

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        """One completion per prompt with the config's sampling settings and seed."""

        def one(prompt: str) -> str:
            payload: dict[str, Any] = {
                "model": self.model,
                "prompt": prompt,
                "max_tokens": config.max_new_tokens,
                "temperature": config.temperature,
                "top_p": config.top_p,
                "seed": config.seed,
                "cache_prompt": True,
            }
            if config.stop:
                payload["stop"] = list(config.stop)
            reply = self._call("POST", "/completions", payload)
            try:
                text = str(reply["choices"][0]["text"])
            except (KeyError, IndexError, TypeError) as e:
                raise self._fail(
                    "a completion reply has no text", f"{str(reply)[:200]}", "Check the server"
                ) from e
            # Servers drop the stop string; cut again in case one does not.
            cuts = [i for i in (text.find(s) for s in config.stop if s) if i >= 0]
            return text[: min(cuts)] if cuts else text

        return self._map(one, prompts, "generating")

    def _map(self, fn: Callable[[A], T], prompts: Sequence[A], what: str) -> list[T]:
        """fn over prompts in a bounded pool; requests start in order, results come in order.

        The pool's queue is FIFO, so with c workers request i starts before request i + c:
        tree-ordered prompts reach the server in tree order (up to the c in flight). On the
        first error the requests not yet started are cancelled.
        """
        if self.concurrency == 1 or len(prompts) == 1:
            return [fn(p) for p in self._bar(prompts, what)]
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts)))
        futures: list[Future[T]] = [pool.submit(fn, p) for p in prompts]
        try:
            out = [f.result() for f in self._bar(futures, what)]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return out

    def _bar(self, items: Sequence[T], what: str) -> Sequence[T]:
        if self.progress and len(items) >= _PROGRESS_MIN and sys.stderr.isatty():
            return tqdm(items, desc=what, unit="req", leave=False)  # type: ignore[return-value]
        return items

    # ------------------------------------------------------------------ tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` without special tokens, from the server's tokenize endpoint
        (vLLM and llama.cpp: /tokenize; llama-cpp-python: /extras/tokenize); the base class
        estimate when the server has none."""
        hit = self._token_counts.get(text)
        if hit is not None:
            return hit
        tokenize = self._tokenizer()
        n = tokenize(text) if tokenize is not None else super().count_tokens(text)
        self._token_counts[text] = n
        while len(self._token_counts) > 4096:
            self._token_counts.popitem(last=False)
        return n

    def _tokenizer(self) -> Callable[[str], int] | None:
        if not self._tokenize_probed:
            self._tokenize_probed = True
            self._tokenize = self._find_tokenizer()
            if self._tokenize is None:
                log.info(
                    "the server at %s has no tokenize endpoint; token counts are estimated "
                    "(4 characters per token)",
                    self.base_url,
                )
        return self._tokenize

    def _find_tokenizer(self) -> Callable[[str], int] | None:
        """The first tokenize endpoint that answers sensibly: "a" must be more tokens than ""
        (probed without retries, so a server without one costs two quick 404s)."""
        m = self.model
        # (path, payload of a text): vLLM, llama.cpp's llama-server, llama-cpp-python.
        # llama-cpp-python always adds BOS; the count of "" is subtracted below.
        endpoints: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
            ("//tokenize", lambda t: {"model": m, "prompt": t, "add_special_tokens": False}),
            ("//tokenize", lambda t: {"content": t, "add_special": False}),
            ("//extras/tokenize", lambda t: {"model": m, "input": t}),
        ]
        for path, payload in endpoints:

            def tokenize(
                text: str,
                path: str = path,
                payload: Callable[[str], dict[str, Any]] = payload,
                retries: bool = True,
            ) -> int:
                reply = self._client.request("POST", path, payload(text), retries=retries)
                return len(reply["tokens"])

            try:
                empty, one = tokenize("", retries=False), tokenize("a", retries=False)
            except (_HTTPStatus, _Unreachable, KeyError, TypeError):
                continue
            if one > empty:
                return self._counter(tokenize, extra=empty)
        return None

    def _counter(self, tokenize: Callable[[str], int], extra: int) -> Callable[[str], int]:
        """Counts through `tokenize`, less the `extra` tokens (BOS) it gives an empty text."""

        def count(text: str) -> int:
            return self._count(tokenize, text) - extra

        return count

    def _count(self, tokenize: Callable[[str], int], text: str) -> int:
        try:
            return tokenize(text)
        except _Unreachable as e:
            raise self._fail(
                "the server did not answer a tokenize request", str(e), "Check that it is running"
            ) from None
        except _HTTPStatus as e:
            raise self._status_error("POST", "/tokenize", e) from None

    def close(self) -> None:
        self._client.close()
