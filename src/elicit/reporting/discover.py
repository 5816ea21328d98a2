"""Find run directories, tell what kind of run each is, whether it finished, and its key numbers.

    elicit runs                 # every run under ./runs
    elicit runs /tmp --json     # machine-readable

    from elicit.reporting import find_runs, inspect_run
    for info in find_runs("runs"):
        print(info.path, info.kind, info.status, info.numbers_text())

A directory is an elicit run when it holds a `config.json` that is a JSON object with an `out`
key: every command's config has the run options (`--out`, `--force`, `--progress`), while the
config.json of a saved Hugging Face model (a train run's `model/`) has none, so it is not
mistaken for a run.

Kind comes from the config's own fields (a w2s config has `weak` and `strong`, a label config
`alpha` and `schedule`, ...) and, for configs from older versions, from the files present.

Status (see `elicit.runs`):
    finished     metrics.json is present: every run writes it last.
    interrupted  config.json but no metrics.json: a label or train run (written in place so it
                 can checkpoint) stopped before the end; `--resume` continues it.
    failed       a staging directory `.NAME.partial-*` left over: a staged run (eval, score,
                 w2s, self-improve) crashed or was killed before it could rename the stage to
                 NAME. A run still in progress looks the same (interrupted or failed) until it
                 ends; the modified time tells them apart.
elicit writes no error marker file, so nothing else is read as a failure.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elicit.config import help_field, redact_passwords
from elicit.errors import ConfigError, DataError
from elicit.evaluation.results import ResultRow
from elicit.runs import DONE_FILE, KINDS, detect_kind

STATUSES = ("finished", "interrupted", "failed")
#: A staging directory of `runs.staged_run_dir`: ".<target name>.partial-<random>".
PARTIAL = re.compile(r"^\.(?P<target>.+)\.partial-[^/]+$")
#: Folders never searched for runs: version control, caches, search checkpoints.
_SKIP_DIRS = {".git", "__pycache__", "node_modules", ".venv", "checkpoints", ".cache"}


@dataclass(frozen=True)
class RunsConfig:
    """Options of `elicit runs` (the root folder is a positional argument)."""

    json: bool = help_field(False, "print one JSON object per run instead of a table")
    kind: str | None = help_field(
        None, "only runs of this kind", choices=[k for k in KINDS if k != "unknown"]
    )
    status: str | None = help_field(None, "only runs with this status", choices=list(STATUSES))


@dataclass(frozen=True)
class RunInfo:
    """One run directory as `elicit runs` lists it."""

    path: Path
    kind: str
    status: str
    task: str | None
    model: str | None
    #: Key numbers, in display order: (name, value). Fractions in [0, 1] print as percentages.
    numbers: tuple[tuple[str, float], ...]
    modified: float  # seconds since the epoch, newest file directly in the directory
    note: str = ""
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def numbers_text(self, limit: int = 8) -> str:
        parts = [f"{name} {_fmt(name, value)}" for name, value in self.numbers[:limit]]
        more = len(self.numbers) - limit
        return ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": self.kind,
            "status": self.status,
            "task": self.task,
            "model": self.model,
            "numbers": dict(self.numbers),
            "modified": self.modified,
            "note": self.note,
        }


def _fmt(name: str, value: float) -> str:
    # Counts stay integers; accuracies, agreements and PGR read better as percentages.
    if float(value).is_integer() and name in _COUNTS:
        return str(int(value))
    if name in _RAW:
        return f"{value:.3g}"
    return f"{100 * value:.1f}%"


_COUNTS = {"labelled", "n", "inconsistencies", "iteration", "batches", "kept", "test n"}
_RAW = {"energy", "loss", "final loss"}


# ---------------------------------------------------------------------- reading files


#: The most bytes read from one run file for a report or listing: a run directory someone
#: else wrote may hold a link to an endless device (/dev/zero) under a run file's name.
MAX_RUN_FILE_BYTES = 256 * 2**20


def read_run_text(path: Path) -> str | None:
    """A run file's text, or None when it is missing, not a regular file, larger than
    MAX_RUN_FILE_BYTES, or not UTF-8."""
    try:
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            raw = fh.read(MAX_RUN_FILE_BYTES + 1)
        if len(raw) > MAX_RUN_FILE_BYTES:
            return None
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def read_json(path: Path) -> Any:
    """A JSON file's content, or None when it is missing or unreadable (a run being written)."""
    text = read_run_text(path)
    try:
        return None if text is None else json.loads(text)
    except (ValueError, RecursionError):
        return None


def read_jsonl_lenient(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a torn last line (a run killed mid-write) is skipped, not fatal."""
    rows: list[dict[str, Any]] = []
    text = read_run_text(path)
    if text is None:
        return rows
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_config(run: Path) -> dict[str, Any] | None:
    """The run's config.json if `run` is an elicit run directory, else None."""
    data = read_json(run / "config.json")
    if isinstance(data, dict) and "out" in data:
        # A run written before config.json hid URL passwords must not show them in a report.
        return {k: redact_passwords(v) if isinstance(v, str) else v for k, v in data.items()}
    return None


def is_run(path: Path) -> bool:
    return path.is_dir() and read_config(path) is not None


# ---------------------------------------------------------------------- kind and status


def detect_status(run: Path) -> tuple[str, str]:
    """(status, note) of a run directory; see the module docstring."""
    match = PARTIAL.match(run.name)
    if match:
        return "failed", (
            f"staging directory of {match['target']!r} left by a run that crashed or was "
            "killed (or is still running); delete it once no run is writing to it"
        )
    if (run / DONE_FILE).is_file():
        return "finished", ""
    return "interrupted", "no metrics.json: stopped before the end (label/train: --resume)"


def _modified(run: Path) -> float:
    times = [run.stat().st_mtime]
    with os.scandir(run) as entries:
        for entry in entries:
            try:
                times.append(entry.stat().st_mtime)
            except OSError:  # removed while we looked (a run renaming its files)
                continue
    return max(times)


# ---------------------------------------------------------------------- key numbers


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value else None  # NaN is no number to show


def result_rows(run: Path) -> list[ResultRow]:
    """The run's tidy rows (results.jsonl), or [] when it has none. A line that is not a row
    (torn by a kill, or written by hand) is skipped, as `read_jsonl_lenient` skips bad JSON."""
    rows = []
    for d in read_jsonl_lenient(run / "results.jsonl"):
        try:
            rows.append(ResultRow.from_dict(d))
        except DataError:
            continue
    return rows


def label_checkpoints(run: Path) -> list[dict[str, Any]]:
    """checkpoint.json of each batch of an (interrupted) label run, in batch order."""
    out = []
    for p in sorted((run / "checkpoints").glob("batch-*/checkpoint.json")):
        data = read_json(p)
        if isinstance(data, dict):
            out.append(data)
    return out


def _label_numbers(run: Path, metrics: Mapping[str, Any] | None) -> list[tuple[str, float]]:
    if metrics is None:
        points = label_checkpoints(run)
        nums: list[tuple[str, float]] = []
        if points:
            nums.append(("batches", float(len(points))))
            nums.append(("iteration", float(sum(int(p.get("iteration", 0)) for p in points))))
        return nums
    out = []
    for key, name in (("agreement", "agreement"), ("n_labelled", "labelled"), ("n", "n"),
                      ("energy", "energy"), ("inconsistencies", "inconsistencies")):  # fmt: skip
        value = _number(metrics.get(key))
        if value is not None:
            out.append((name, value))
    return out


def _row_numbers(rows: list[ResultRow], kind: str) -> list[tuple[str, float]]:
    """Accuracy per method (pairwise accuracy for reward models); PGR per w2s student."""
    out: list[tuple[str, float]] = []
    for metric in ("accuracy", "pairwise_accuracy"):
        for r in rows:
            value = _number(r.value)
            if r.metric == metric and value is not None:
                out.append((r.method, value))
        if out:
            break
    if kind == "w2s":
        out += [
            (f"PGR {r.method}", v)
            for r in rows
            if r.metric == "pgr" and (v := _number(r.value)) is not None
        ]
    return out


def inspect_run(run: str | Path) -> RunInfo:
    """Kind, status, task, model and key numbers of one run directory."""
    path = Path(run)
    config = read_config(path)
    if config is None:
        raise ConfigError(
            f"{path} is not an elicit run directory (no config.json with the run options); "
            "pass a folder an elicit command wrote, or use `elicit runs` to find them"
        )
    kind = detect_kind(path, config)
    status, note = detect_status(path)
    metrics = read_json(path / DONE_FILE) if status == "finished" else None
    metrics = metrics if isinstance(metrics, dict) else None
    if kind == "label":
        numbers = _label_numbers(path, metrics)
    else:
        numbers = _row_numbers(result_rows(path), kind)
    model = config.get("model") or config.get("strong")
    if config.get("backend") == "fake" and model and not str(model).startswith("fake"):
        model = f"fake:{model}"  # the scripted stand-in: its rows are no model's results
    if kind == "w2s" and config.get("weak"):
        model = f"{config.get('weak')} -> {config.get('strong')}"
    return RunInfo(
        path=path,
        kind=kind,
        status=status,
        task=_str_or_none(config.get("task")),
        model=_str_or_none(model),
        numbers=tuple(numbers),
        modified=_modified(path),
        note=note,
        config=config,
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _walk(root: Path) -> Iterator[Path]:
    """Run directories under `root` (itself included), depth first, in name order."""
    if is_run(root):
        yield root
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return
    for child in children:
        if child.name in _SKIP_DIRS:
            continue
        # Hidden folders are skipped, except staging dirs: those are the failed runs.
        if child.name.startswith(".") and not PARTIAL.match(child.name):
            continue
        yield from _walk(child)


def find_runs(root: str | Path = "runs") -> list[RunInfo]:
    """Every run directory under `root` (recursive), in path order."""
    base = Path(root)
    if not base.is_dir():
        raise ConfigError(
            f"{base} is not a directory; pass the folder holding your runs (default ./runs)"
        )
    return [inspect_run(p) for p in _walk(base)]


__all__ = [
    "KINDS",
    "STATUSES",
    "RunInfo",
    "RunsConfig",
    "detect_kind",
    "detect_status",
    "find_runs",
    "inspect_run",
    "is_run",
    "label_checkpoints",
    "read_config",
    "read_json",
    "read_jsonl_lenient",
    "result_rows",
]
