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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicit.errors import ConfigError
from elicit.runs import atomic_write_json, atomic_write_jsonl, read_jsonl

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
        version, internal, gauss = d["rng_state"]
        return cls(
            iteration=int(d["iteration"]),
            accepted=int(d["accepted"]),
            labels=tuple((str(uid), int(label)) for uid, label in d["labels"]),
            rng_state=(version, tuple(internal), gauss),
            trace_length=int(d["trace_length"]),
            config_hash=str(d["config_hash"]),
        )


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
    directory: str | Path, expected_hash: str
) -> tuple[Checkpoint, list[dict[str, Any]]] | None:
    """The checkpoint in `directory` and its trace rows, or None when there is none.

    A checkpoint of a different configuration is a ConfigError: resuming it would silently mix
    two searches.
    """
    d = Path(directory)
    path = d / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        ckpt = Checkpoint.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"checkpoint {path} is unreadable ({e}); pass --force to start the run over"
        ) from e
    if ckpt.config_hash != expected_hash:
        raise ConfigError(
            f"checkpoint {path} was written by a search with other settings or data "
            f"(hash {ckpt.config_hash}, now {expected_hash}); resume with the original options, "
            "or pass --force to start over"
        )
    rows = read_jsonl(d / TRACE_FILE) if (d / TRACE_FILE).is_file() else []
    if len(rows) < ckpt.trace_length:
        raise ConfigError(
            f"{d / TRACE_FILE} holds {len(rows)} rows but the checkpoint covers "
            f"{ckpt.trace_length}; the run directory was modified. Pass --force to start over."
        )
    if len(rows) > ckpt.trace_length:
        rows = rows[: ckpt.trace_length]
        atomic_write_jsonl(d / TRACE_FILE, rows)
    return ckpt, rows
