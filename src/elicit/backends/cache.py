"""A persistent cache in front of any backend: reruns and resumed runs skip the model.

    >>> from elicit.backends.cache import CachedLM
    >>> lm = CachedLM(load_lm("gemma-3-270m"), "scores.sqlite")
    >>> lm.score(prompts); lm.score(prompts)        # the second call reads the cache
    >>> lm.hits, lm.misses

or on the command line, for any command: `--cache scores.sqlite`.

What is cached, per prompt, under sha256(version, model identity, kind, label words, text):

    label_logprobs  "logprobs" rows: log P(word) per label word
    score           "score": log-odds of the prompt text
    loo_scores      "score" of each leave-one-out prompt (rendered as `prompting.loo_prompts`)
    unit_loo_scores "score" of each unit leave-one-out prompt (`prompting.unit_loo_prompts`)
    context_scores  "score" of each many-shot prompt (`prompting.render_context`)
    generate        greedy (temperature 0) continuations only; sampled ones are never cached
    count_tokens    "tokens"

Keys are computed from the text a backend would score, so a leave-one-out prompt and the same
text passed to `score` share an entry (backends agree on them to 1e-4, see `hf_prefix`). Only
the missing prompts go to the wrapped model, except that a backend with its own leave-one-out
engine (`LM.native_loo`: hf's prefix sharing, llama.cpp's) recomputes a whole leave-one-out
call when more than log2(N) of its N prompts are missing, which is cheaper than scoring them
one by one.
The model identity is the wrapped backend's `LM.identity`: its class, its name and what else
changes its numbers (dtype, device, context length); for a server, the model id and path it
reports, so give different models different served names. Pass `identity=` to override it.

Results are written as they arrive, CHUNK prompts per transaction, so a run that fails halfway
(a server that dies) keeps what it got and its rerun asks only for the rest. The file is
SQLite in WAL mode, safe for several processes at once; each chunk is one transaction, so an
entry is either whole or absent. Entries are small (~100 bytes); a long ICM search can leave
hundreds of thousands, and deleting the file clears the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elicit.backends.base import (
    LM,
    TRUE_FALSE,
    Demo,
    FloatArray,
    GenerationConfig,
    LabelSet,
    LooOrder,
    LooUnit,
)
from elicit.backends.prompting import asked_order, loo_prompts, render_demo, unit_loo_prompts
from elicit.errors import BackendError, ConfigError

log = logging.getLogger("elicit")

#: Part of every key: bump it when what a key means changes, and old entries stop matching.
CACHE_VERSION = 1
#: Prompts sent to the wrapped model per call (and written per transaction) on a miss.
CHUNK = 64
_SQL_VARS = 500  # keys per SELECT ... IN (...), under SQLite's variable limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


class CachedLM(LM):
    """`inner` behind a persistent SQLite cache at `path` (see the module docstring).

    hits, misses: prompts (or requests) answered from the cache / by the model, since
    construction. Sampled generations count as neither.
    """

    def __init__(
        self,
        inner: LM,
        path: str | Path,
        *,
        identity: str | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = Path(path)
        self._identity = identity if identity is not None else inner.identity
        self.chunk_size = chunk_size or CHUNK
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._conn = _open(self.path)

    @property
    def identity(self) -> str:
        """The wrapped model's identity (or the one passed): what every key holds."""
        return self._identity

    # Read through, not copied: the wrapper is the model it wraps. (mypy: read-only
    # properties in place of the protocol's plain attributes.)
    @property
    def max_length(self) -> int | None:  # type: ignore[override]
        """The wrapped model's context length (many-shot budgets read it)."""
        return self.inner.max_length

    @property
    def native_loo(self) -> bool:  # type: ignore[override]
        """Whether the wrapped model has its own leave-one-out engine."""
        return self.inner.native_loo

    # ------------------------------------------------------------------ keys and storage

    def _hasher(self, kind: str, label_set: LabelSet | None, extra: Any = None) -> Any:
        """sha256 fed with everything but the prompt text; `.copy()` it per prompt."""
        header = [
            CACHE_VERSION,
            self.identity,
            kind,
            list(label_set.words) if label_set else None,
            label_set.variants if label_set else None,
            extra,
        ]
        h = hashlib.sha256(json.dumps(header, sort_keys=True).encode("utf-8"))
        h.update(b"\0")
        return h

    def _keys(self, hasher: Any, texts: Sequence[str]) -> list[str]:
        out = []
        for text in texts:
            h = hasher.copy()
            h.update(text.encode("utf-8"))
            out.append(h.hexdigest())
        return out

    def _get(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(unique), _SQL_VARS):
                part = unique[i : i + _SQL_VARS]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT key, value FROM entries WHERE key IN ({marks})", part
                ).fetchall()
                found.update((k, json.loads(v)) for k, v in rows)
        # A NaN or infinity stored by an older version is no score: compute it again.
        return {k: v for k, v in found.items() if _finite(v)}

    def _put(self, items: Sequence[tuple[str, Any]]) -> None:
        if not items:
            return
        rows = [(k, json.dumps(v, allow_nan=False)) for k, v in items]
        with self._lock, self._conn:  # one transaction: all rows or none
            self._conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", rows)

    def _cached(
        self,
        keys: Sequence[str],
        compute: Callable[[list[int]], Iterable[Any]],
        *,
        whole: Callable[[], Iterable[Any]] | None = None,
    ) -> list[Any]:
        """The value of every key: cached ones read, missing ones computed and stored.

        compute(indices) returns the values of those positions (called on chunks of missing
        positions, each stored as soon as it returns). whole(), when given, computes every
        position at once (a backend's leave-one-out engine, O(N L log N) tokens) and is used
        instead when more than log2(N) are missing, where scoring them one by one (O(N L)
        tokens each) would cost more.
        """
        found = self._get(keys)
        values: list[Any] = [found.get(k) for k in keys]
        missing: list[int] = []
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k in found:
                continue
            if k not in first:  # the same prompt twice in one call is computed once
                first[k] = i
                missing.append(i)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if (
            whole is not None
            and len(missing) > math.log2(max(2, len(keys)))
            and len(set(keys)) == len(keys)
        ):
            values = [_plain(v) for v in whole()]
            self._store(list(range(len(keys))), keys, values)
            return values
        for part in _chunks(missing, self.chunk_size):
            got = [_plain(v) for v in compute(part)]
            self._store(part, keys, got)
            for i, v in zip(part, got, strict=True):
                values[i] = v
        for i, k in enumerate(keys):
            if values[i] is None:  # a duplicate of a prompt computed above
                values[i] = values[first[k]]
        return values

    def _store(self, positions: Sequence[int], keys: Sequence[str], got: Sequence[Any]) -> None:
        """Store the values computed for these positions of a call. A NaN or infinity is
        never stored: the finite ones are, then the call fails naming the first bad prompt
        (a wrapped backend that checks its own scores has raised before this)."""
        good = [(keys[i], v) for i, v in zip(positions, got, strict=True) if _finite(v)]
        self._put(good)
        if len(good) < len(got):
            i, v = next((i, v) for i, v in zip(positions, got, strict=True) if not _finite(v))
            raise BackendError(
                f"model {self.name} gave a non-finite score ({v}) for prompt {i} of "
                f"{len(keys)} in this call; it was not cached. A NaN or infinite score would "
                "silently corrupt labels and metrics, so scoring stopped. Check the model "
                "(float16 overflow: use --dtype float32 or bfloat16); scores already "
                f"computed are kept in {self.path}."
            )

    # ------------------------------------------------------------------ the LM protocol

    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        if len(prompts) == 0:
            return np.zeros((0, len(label_set.words)))
        keys = self._keys(self._hasher("logprobs", label_set), prompts)
        rows = self._cached(
            keys,
            lambda idx: self.inner.label_logprobs([prompts[i] for i in idx], label_set).tolist(),
        )
        return np.asarray(rows, dtype=np.float64).reshape(len(prompts), len(label_set.words))

    def score(self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE) -> FloatArray:
        if not label_set.binary or len(prompts) == 0:
            return super().score(prompts, label_set)  # the error, or empty
        keys = self._keys(self._hasher("score", label_set), prompts)
        return _floats(
            self._cached(keys, lambda idx: self.inner.score([prompts[i] for i in idx], label_set))
        )

    def loo_scores(
        self,
        demos: Sequence[Demo],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: LooOrder = "given",
        context: Sequence[Demo] = (),
    ) -> FloatArray:
        if len(demos) == 0 or not label_set.binary:
            return super().loo_scores(demos, label_set, order=order, context=context)
        prompts = loo_prompts(demos, label_set, order, context)
        keys = self._keys(self._hasher("score", label_set), prompts)
        # A backend with its own leave-one-out engine computes many misses in one go (after an
        # ICM label flip all prompts but one change); for one that just scores the text
        # prompts, chunks keep partial progress.
        whole = (
            (lambda: self.inner.loo_scores(demos, label_set, order=order, context=context))
            if self.inner.native_loo
            else None
        )
        values = self._cached(
            keys, lambda idx: self.inner.score([prompts[i] for i in idx], label_set), whole=whole
        )
        return _floats(values)

    def unit_loo_scores(
        self,
        demos: Sequence[Demo],
        units: Sequence[LooUnit],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: LooOrder = "tree",
        context: Sequence[Demo] = (),
    ) -> FloatArray:
        """As `loo_scores`, per unit prompt; misses go in walk order (`prompting.asked_order`),
        so a wrapped backend that reuses its previous prompt's prefix shares the tree's."""
        if len(demos) == 0 or not label_set.binary:
            return super().unit_loo_scores(demos, units, label_set, order=order, context=context)
        by_demo = unit_loo_prompts(demos, units, label_set, order, context)
        walk = asked_order(units)
        prompts = [by_demo[i] for i in walk]
        keys = self._keys(self._hasher("score", label_set), prompts)
        whole = (
            (
                lambda: self.inner.unit_loo_scores(
                    demos, units, label_set, order=order, context=context
                )[walk]
            )
            if self.inner.native_loo
            else None
        )
        values = _floats(
            self._cached(
                keys,
                lambda idx: self.inner.score([prompts[i] for i in idx], label_set),
                whole=whole,
            )
        )
        out = np.zeros(len(demos))
        out[walk] = values
        return out

    def context_scores(
        self, demos: Sequence[Demo], queries: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        if len(queries) == 0 or not label_set.binary:
            return super().context_scores(demos, queries, label_set)
        hasher = self._hasher("score", label_set)
        # The key of render_context(demos, q): hash the shared context once, then each query.
        hasher.update("".join(render_demo(d, label_set) for d in demos).encode("utf-8"))
        keys = self._keys(hasher, queries)
        values = self._cached(
            keys,
            lambda idx: self.inner.context_scores(demos, [queries[i] for i in idx], label_set),
        )
        return _floats(values)

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        """Greedy generations are cached; sampled ones (temperature > 0) always go through."""
        if config.temperature > 0 or len(prompts) == 0:
            return self.inner.generate(prompts, config)
        # The seed does not change a greedy decode, so it is not part of the key.
        settings = [config.max_new_tokens, config.top_p, list(config.stop)]
        keys = self._keys(self._hasher("generate", None, settings), prompts)
        values = self._cached(
            keys, lambda idx: self.inner.generate([prompts[i] for i in idx], config)
        )
        return [str(v) for v in values]

    def count_tokens(self, text: str) -> int:
        key = self._keys(self._hasher("tokens", None), [text])
        return int(self._cached(key, lambda idx: [self.inner.count_tokens(text)])[0])

    def chat_prompt(self, message: str) -> str:
        return self.inner.chat_prompt(message)

    def close(self) -> None:
        log.info("cache %s: %d hits, %d misses", self.path, self.hits, self.misses)
        self.inner.close()
        with self._lock:
            self._conn.close()


def _open(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit off for writes (`with conn:` is a transaction); the timeout waits for
        # another process's write instead of failing with "database is locked".
        conn = sqlite3.connect(path, timeout=60.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # readers never block the one writer
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent on a crash
        with conn:
            conn.executescript(_SCHEMA)
    except (OSError, sqlite3.Error) as e:
        raise ConfigError(
            f"cannot use {path} as a cache ({e}). Pass --cache a writable file path; delete the "
            "file if it is not an elicit cache or is damaged"
        ) from e
    return conn


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a numpy scalar or row."""
    if isinstance(value, np.ndarray):
        return [float(x) for x in value.tolist()]
    if isinstance(value, np.floating | float):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _finite(value: Any) -> bool:
    """False for a NaN or infinity, or a row holding one; True for anything else (text, ints)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _floats(values: Sequence[Any]) -> FloatArray:
    return np.asarray(values, dtype=np.float64)
