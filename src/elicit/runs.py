"""Run directories and atomic writes.

A run is a directory (`config.json`, `predictions.jsonl`, `metrics.json`, `results.jsonl`, ...).
It appears complete or not at all: the run writes into a hidden staging directory next to the
target and renames it into place only when every file is written, so a crash or Ctrl-C never
leaves a half-written run where a finished one is expected. A finished run is not redone unless
`force` is set. Single files are written the same way (temp file, fsync, rename).
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from elicit.errors import ConfigError

#: The file whose presence marks a finished run.
DONE_FILE = "metrics.json"
#: Options that never change a run's results (how long to wait for a server), so a --resume
#: may change them, and a run started before they existed resumes.
OPERATIONAL_OPTIONS = ("connect_timeout", "read_timeout", "request_timeout")


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Create `path` through `write(tmp)`, a temp file beside it, then rename it into place:
    readers see the old file or the new one, never part of one. Returns the path."""
    p = Path(path)
    if p.exists() and not p.is_file():
        # The rename would replace it: as root, `--out /dev/null` would become a file.
        raise ConfigError(
            f"{p} exists and is not a regular file (a folder, device or pipe); elicit writes "
            "files only. Choose another path."
        )
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return p


def atomic_write_text(path: str | Path, text: str) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)


def json_safe(obj: Any) -> Any:
    """`obj` with every NaN or infinite float replaced by None, so the JSON written is strict
    (Python writes bare `NaN`, which jq, JavaScript and most other parsers reject)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _undefined(obj: Mapping[str, Any]) -> dict[str, str]:
    """Why each top-level value of `obj` that is not a number will read as null."""
    why = {}
    for k, v in obj.items():
        if isinstance(v, float) and not math.isfinite(v):
            why[str(k)] = (
                "AUROC needs gold labels of both classes and this data has one"
                if "auroc" in str(k)
                else f"{v} for this data (undefined), written as null"
            )
    return why


def dumps_strict(obj: Any, **kwargs: Any) -> str:
    """json.dumps of `json_safe(obj)`: strict JSON, non-numbers as null."""
    return json.dumps(json_safe(obj), allow_nan=False, default=str, **kwargs)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write `obj` as strict JSON. A top-level value that is not a number (an AUROC on
    one-class gold) is written as null, and an "undefined" entry says why."""
    if isinstance(obj, Mapping) and (why := _undefined(obj)):
        obj = {**obj, "undefined": why}
    atomic_write_text(path, dumps_strict(obj, indent=2, sort_keys=True) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    atomic_write_text(path, "".join(dumps_strict(r) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def is_finished(run_dir: str | Path) -> bool:
    return (Path(run_dir) / DONE_FILE).is_file()


def _kind_words(run_dir: Path) -> str:
    kind = run_kind(run_dir)
    return "" if kind == "unknown" else f"{kind} "


def run_kind(run_dir: str | Path) -> str:
    """Which command wrote the run in `run_dir` (label, eval, train, ...), or "unknown"."""
    run = Path(run_dir)
    try:
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        config = None  # missing or being written: the files present decide
    return detect_kind(run, config if isinstance(config, dict) else {})


#: What `detect_kind` answers: the command that wrote a run, or "unknown".
KINDS = ("label", "eval", "train", "w2s", "self-improve", "score", "unknown")


def detect_kind(run: Path, config: Mapping[str, Any]) -> str:
    """Which command wrote `run`: one of `KINDS`."""
    keys = set(config)
    files = {p.name for p in run.iterdir()} if run.is_dir() else set()
    if {"weak", "strong"} <= keys or "w2s.png" in files:
        return "w2s"
    if {"paths", "eval_paths"} <= keys or "paths.jsonl" in files or "exemplars.jsonl" in files:
        return "self-improve"
    if {"alpha", "schedule"} <= keys or "trace.jsonl" in files or "labels.jsonl" in files:
        return "label"
    if {"objective", "label_source"} <= keys or "train_log.jsonl" in files:
        return "train"
    if {"methods", "chat_model"} <= keys or "demos.jsonl" in files:
        return "eval"
    if "task" in keys and "model" in keys:
        return "score"  # the shared option groups and nothing of its own
    return "unknown"


@contextlib.contextmanager
def staged_run_dir(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a staging directory; on success it replaces `out` in one rename.

    Raises ConfigError when `out` is a finished run and `force` is false, or when `out` exists
    and is not a run directory (elicit never deletes what it did not write).
    """
    target = Path(out)
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"--out {target} exists and is not a directory; choose another path")
        if is_finished(target) and not force:
            raise ConfigError(
                f"{target} already holds a finished {_kind_words(target)}run; pass --force "
                "to redo it or --out to write elsewhere"
            )
        if any(target.iterdir()) and not (target / "config.json").exists():
            raise ConfigError(
                f"--out {target} is a non-empty directory that is not an elicit run; "
                "choose an empty or new directory"
            )
    with run_lock(target):
        # Holding the lock, no live process writes this run: staging folders left by a killed
        # one are garbage (SIGKILL skips the cleanup below), so they go before a new stage.
        name = glob.escape(target.name)
        for pattern in (f".{name}.partial-*", f".{name}.old-*"):
            for stale in target.parent.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)
        with atomic_dir(target) as stage:
            yield stage


@contextlib.contextmanager
def run_lock(out: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on run directory `out` while a command writes it.

    A second process asking for the same directory is refused at once with a ConfigError that
    names the holder's pid, instead of two runs corrupting each other's files. The lock is an
    advisory `flock` on a sibling file `.<name>.lock` (a file inside would make a fresh --out
    look non-empty); the kernel drops it when the process dies, so a crash never leaves a stale
    lock. Different directories never interfere. Without fcntl (not Linux/macOS) it is a no-op.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - elicit runs on Linux/macOS
        yield
        return
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.parent / f".{target.name}.lock"
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise ConfigError(
            f"{target} is being written by another elicit process"
            + (f" (pid {holder})" if holder else "")
            + "; wait for it to finish, or choose another --out"
        ) from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a staging directory next to `path` that replaces it (file or directory) in one
    rename on success, and is removed on any error: `path` is never half-written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield stage
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, trash / "old")
            os.replace(stage, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def prepare_resumable(
    out: Path,
    config: Any,
    *,
    command: str,
    run_files: Iterable[str],
    run_dirs: Iterable[str] = (),
    resume_free: Iterable[str] = (),
) -> bool:
    """Check --out of a run that writes in place (so it can checkpoint); whether an interrupted
    run there will be resumed.

    A missing or empty --out starts fresh. `config.force` clears the files and folders the
    command writes (`run_files`, `run_dirs`: nothing else is ever deleted). A finished run is
    refused without --force; an interrupted one needs --resume, with the same options except
    `resume_free` ones.
    """
    from elicit.config import config_to_dict

    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return False
    if not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory; choose another path")
    if not (out / "config.json").is_file():
        raise ConfigError(
            f"--out {out} is a non-empty directory that is not an elicit run; "
            "choose an empty or new directory"
        )
    kind = run_kind(out)
    if kind not in (command, "unknown"):
        # --force clears only this command's files: the other run's would stay beside ours.
        raise ConfigError(
            f"--out {out} holds {'a finished' if is_finished(out) else 'an interrupted'} "
            f"{kind} run, not a {command} run; {command} does not write into it, even with "
            f"--force. Choose another --out, or delete {out} first."
        )
    if config.force:
        for name in run_files:
            (out / name).unlink(missing_ok=True)
        for name in run_dirs:
            shutil.rmtree(out / name, ignore_errors=True)
        return False
    if (out / DONE_FILE).is_file():
        raise ConfigError(
            f"{out} already holds a finished {command} run; pass --force to redo it or --out to "
            "write elsewhere"
        )
    if not config.resume:
        raise ConfigError(
            f"{out} holds an interrupted {command} run; pass --resume to continue it or --force "
            "to start over"
        )
    try:
        saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (ValueError, RecursionError):
        saved = None
    if not isinstance(saved, dict):
        raise ConfigError(
            f"{out}/config.json is not a run configuration; pass --force to start over"
        )
    now = config_to_dict(config)
    free = set(resume_free) | {"resume", "force", "progress", "out", *OPERATIONAL_OPTIONS}
    changed = sorted(
        k for k in set(saved) | set(now) if k not in free and saved.get(k) != now.get(k)
    )
    if changed:
        raise ConfigError(
            f"--resume: {out} was started with other options ({', '.join(changed)}); resume "
            "with the same options, or pass --force to start over"
        )
    return True
