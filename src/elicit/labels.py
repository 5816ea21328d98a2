"""Labels files: what `elicit label` writes and what `elicit eval --labels` and training read.

One JSON object per line: {"uid": str, "label": 0 or 1, "gold": 0, 1 or null, ...}. Extra keys
(e.g. "score", "margin") are kept by writers and ignored by readers. `gold` is written for the
user's convenience only; readers never use it.

Two numbers about a label that must not be confused:

    margin       `elicit label --confidence`: the energy the label is worth over the other one
                 (any real number; larger = more settled). Ranks labels; not a probability.
    confidence   in a user's labels file: the probability in [0, 1] that the label is right
                 (`elicit train` and `elicit w2s` turn it into a soft target).

`elicit label` wrote the margin as "confidence" before it had its own name; `read_margins` and
the training reader recognise such a run's file (`is_label_run`) and read it as a margin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from elicit.errors import DataError
from elicit.runs import atomic_write_jsonl


def read_labels(path: str | Path) -> dict[str, int]:
    """uid -> label from a labels file (or a run directory holding labels.jsonl)."""
    p = Path(path)
    if p.is_dir():
        p = p / "labels.jsonl"
    if not p.is_file():
        raise DataError(f"labels file {p} does not exist; pass a labels.jsonl or a run directory")
    out: dict[str, int] = {}
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"{p} is not UTF-8 text ({e.reason}); re-save it as UTF-8") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:  # not JSON, or nested too deep
            why = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deep"
            raise DataError(f"{p}, line {n}: invalid JSON ({why})") from e
        if not isinstance(row, dict) or "uid" not in row or "label" not in row:
            raise DataError(f'{p}, line {n}: each line needs {{"uid": ..., "label": 0 or 1}}')
        label = row["label"]
        if isinstance(label, bool):
            label = int(label)
        if label not in (0, 1):
            raise DataError(f"{p}, line {n}: label {label!r} is not 0 or 1")
        uid = str(row["uid"])
        if uid in out:
            raise DataError(f"{p}, line {n}: duplicate uid {uid!r}; keep one label per uid")
        out[uid] = int(label)
    if not out:
        raise DataError(f"{p} holds no labels")
    return out


def read_label_field(path: str | Path, name: str) -> dict[str, float]:
    """uid -> a numeric field (e.g. "margin") of a labels file, for rows that have it.

    Call after `read_labels` has validated the file; rows without the field (or with a
    non-number) are left out.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "labels.jsonl"
    out: dict[str, float] = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        value = row.get(name) if isinstance(row, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[str(row["uid"])] = float(value)
    return out


def write_labels(
    path: str | Path,
    labels: Mapping[str, int],
    gold: Mapping[str, int] | None = None,
    extra: Mapping[str, Mapping[str, object]] | None = None,
) -> None:
    """Write uid -> label atomically, in the mapping's order, with gold where known."""
    rows: Iterable[dict[str, object]] = (
        {
            "uid": uid,
            "label": int(label),
            "gold": (gold or {}).get(uid),
            **(extra or {}).get(uid, {}),
        }
        for uid, label in labels.items()
    )
    atomic_write_jsonl(path, rows)


#: The labels.jsonl field of `elicit label --confidence`'s label margins.
MARGIN = "margin"
#: What `elicit label` called the margin before it had its own name.
OLD_MARGIN = "confidence"


def _file(path: str | Path) -> Path:
    p = Path(path)
    return p / "labels.jsonl" if p.is_dir() else p


def is_label_run(path: str | Path) -> bool:
    """Whether a labels file is an `elicit label` run's labels.jsonl (its run directory holds
    the search's config.json, with alpha and schedule)."""
    p = _file(path)
    config = p.parent / "config.json"
    if p.name != "labels.jsonl" or not config.is_file():
        return False
    try:
        saved = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(saved, dict) and {"alpha", "schedule"} <= saved.keys()


def read_margins(path: str | Path) -> dict[str, float]:
    """uid -> label margin (see the module docstring) for the rows that have one; an older
    `elicit label` run's "confidence" counts as its margin."""
    margins = read_label_field(path, MARGIN)
    if not margins and is_label_run(path):
        margins = read_label_field(path, OLD_MARGIN)
    return margins


#: The labels.jsonl field holding a hash of the claim's prompt when it was labelled, so a
#: reader can tell that the data was edited since (a label of one text paired with another).
PROMPT_HASH = "prompt_hash"


def prompt_hash(prompt: str) -> str:
    """A short hash of a claim's rendered prompt (16 hex digits of its SHA-256)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def read_prompt_hashes(path: str | Path) -> dict[str, str]:
    """uid -> PROMPT_HASH for the rows of a labels file that have one (runs of elicit before
    the field existed have none)."""
    out: dict[str, str] = {}
    p = Path(path)
    p = p / "labels.jsonl" if p.is_dir() else p
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get(PROMPT_HASH), str) and "uid" in row:
            out[str(row["uid"])] = row[PROMPT_HASH]
    return out


def check_prompts(path: str | Path, prompts: Mapping[str, str], what: str) -> None:
    """Refuse labels whose claim text changed since they were labelled.

    prompts: uid -> prompt of the data as loaded now (uids it lacks are not checked here).
    what: how to name the labels in the message (e.g. "--labels icm=runs/label/sst2").
    """
    hashes = read_prompt_hashes(path)
    changed = [u for u, h in hashes.items() if u in prompts and prompt_hash(prompts[u]) != h]
    if changed:
        raise DataError(
            f"{what}: the text of {len(changed)} of {len(hashes)} labelled claims changed since "
            f"they were labelled (first: uid {changed[0]!r}), so their labels would be paired "
            "with other text. Pass --data with the file the run labelled, or label the edited "
            "data again (elicit label ... --force)."
        )
