"""Checkpoints of a running ICM search, so an interrupted search resumes where it stopped.

A checkpoint directory holds two files:

    checkpoint.json  iteration, accepted flips, the labelled set as [[uid, label], ...], the
                     state of the search's `random.Random`, the number of trace rows it covers,
                     and a hash of everything that determines the search (config, examples,
                     model name, initial RNG state); written atomically (temp file + rename)
    trace.jsonl      the trace rows, appended (and fsynced) just before each checkpoint.json

A row appended after the last checkpoint (a kill between the two writes) is dropped on resume:
the checkpoint's `trace_length` is authoritative. The search's leave-one-out memo is not saved:
the LM is deterministic, so a resumed search recomputes what it needs and takes the same path.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicit.errors import ConfigError
from elicit.runs import atomic_write_json, atomic_write_jsonl

CHECKPOINT_FILE = "checkpoint.json"
TRACE_FILE = "trace.jsonl"

#: What `random.Random.getstate()` returns: (version, 625 ints, gauss_next).
RngState = tuple[Any, ...]


@dataclass(frozen=True)
class Checkpoint:
    iteration: int
    accepted: int
    labels: tuple[tuple[str, int], ...]
    rng_state: RngState
    trace_length: int
    config_hash: str

    def to_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.rng_state
        return {
            "iteration": self.iteration,
            "accepted": self.accepted,
            "labels": [[uid, label] for uid, label in self.labels],
            "rng_state": [version, list(internal), gauss],
            "trace_length": self.trace_length,
            "config_hash": self.config_hash,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Checkpoint:
        """Raises ValueError (or KeyError, TypeError) for anything a search could not resume
        from: a negative count, a label other than 0/1, a uid listed twice."""
        version, internal, gauss = d["rng_state"]
        ckpt = cls(
            iteration=_count(d["iteration"], "iteration"),
            accepted=_count(d["accepted"], "accepted"),
            labels=tuple((str(uid), int(label)) for uid, label in d["labels"]),
            rng_state=(version, tuple(internal), gauss),
            trace_length=_count(d["trace_length"], "trace_length"),
            config_hash=str(d["config_hash"]),
        )
        bad = [(u, y) for u, y in ckpt.labels if y not in (0, 1)]
        if bad:
            raise ValueError(f"label {bad[0][1]} of uid {bad[0][0]!r} is not 0 or 1")
        if len({u for u, _ in ckpt.labels}) != len(ckpt.labels):
            raise ValueError("a uid is labelled twice")
        if ckpt.accepted > ckpt.iteration:
            raise ValueError(f"{ckpt.accepted} accepted flips in {ckpt.iteration} iterations")
        random.Random().setstate(ckpt.rng_state)  # ValueError/TypeError if it is no RNG state
        return ckpt


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} {value!r} is not a non-negative whole number")
    return value


def config_hash(parts: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-able `parts`."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def start(directory: str | Path) -> None:
    """Forget any previous checkpoint in `directory` (a fresh search starts here)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name in (CHECKPOINT_FILE, TRACE_FILE):
        (d / name).unlink(missing_ok=True)


def save(
    directory: str | Path, checkpoint: Checkpoint, new_rows: Sequence[Mapping[str, Any]]
) -> None:
    """Append `new_rows` to the trace, then write the checkpoint that covers them."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if new_rows:
        with (d / TRACE_FILE).open("a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in new_rows))
            fh.flush()
            os.fsync(fh.fileno())
    atomic_write_json(d / CHECKPOINT_FILE, checkpoint.to_dict())


def load(
    directory: str | Path, expected_hash: str, uids: Collection[str] | None = None
) -> tuple[Checkpoint, list[dict[str, Any]]] | None:
    """The checkpoint in `directory` and its trace rows, or None when there is none.

    A checkpoint of a different configuration is a ConfigError: resuming it would silently mix
    two searches. So is one that labels a uid not in `uids` (the search's examples), when given.
    """
    d = Path(directory)
    path = d / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        ckpt = Checkpoint.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise ConfigError(
            f"checkpoint {path} is unreadable ({e}); pass --force to start the run over"
        ) from e
    if ckpt.config_hash != expected_hash:
        raise ConfigError(
            f"checkpoint {path} was written by a search with other settings or data "
            f"(hash {ckpt.config_hash}, now {expected_hash}); resume with the original options, "
            "or pass --force to start over"
        )
    if uids is not None:
        known = set(uids)
        unknown = [u for u, _ in ckpt.labels if u not in known]
        if unknown:
            raise ConfigError(
                f"checkpoint {path} labels {len(unknown)} uid(s) that are not in the data "
                f"(first: {unknown[0]!r}); the run directory was modified. Pass --force to "
                "start over."
            )
    rows, torn = _trace_rows(d / TRACE_FILE, ckpt.trace_length)
    if len(rows) < ckpt.trace_length:
        raise ConfigError(
            f"{d / TRACE_FILE} holds {len(rows)} rows but the checkpoint covers "
            f"{ckpt.trace_length}; the run directory was modified. Pass --force to start over."
        )
    if len(rows) > ckpt.trace_length or torn:  # the next append must start on a clean line
        rows = rows[: ckpt.trace_length]
        atomic_write_jsonl(d / TRACE_FILE, rows)
    return ckpt, rows


def _trace_rows(path: Path, covered: int) -> tuple[list[dict[str, Any]], bool]:
    """The trace's rows, and whether the file must be rewritten before the next append.

    A line past the `covered` ones that does not parse is the torn end of an append cut short
    (a kill, a full disk): it and anything after it are dropped, as rows after the checkpoint
    always are. A bad line among the covered rows is a ConfigError (the trace is fsynced before
    the checkpoint that covers it, so only an edit makes one).
    """
    if not path.is_file():
        return [], False
    rows: list[dict[str, Any]] = []
    unterminated = False
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            unterminated = not line.endswith("\n")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict):
                if len(rows) >= covered:
                    return rows, True
                raise ConfigError(
                    f"{path}, line {n}: not a trace row, inside the part the checkpoint covers; "
                    "the run directory was modified. Pass --force to start over."
                )
            rows.append(row)
    return rows, unterminated
