"""claims: the user's own claims from a JSONL, JSON-list, CSV or TSV file (or hf:<id>[:<split>]).

Columns (names from `LoadOptions`, i.e. the --*-column flags):

- text (required): the claim, rendered as-is and followed by "\\nI think this claim is".
  Must be a non-empty string.
- label (optional): 0/1, true/false in any case, or a JSON boolean; an empty cell / null /
  missing field leaves that claim unlabelled (gold then holds only the labelled rows). Any
  other value is an error.
- group, key (optional): consistency group and key; group defaults to the uid, key to "".
- uid (optional): defaults to "claims/{line}" (the 1-based line; for CSV the header is line 1;
  for a JSON list, the entry number).
- task (optional, fixed name "task"): which task a row belongs to; one group may not mix tasks.

Consistency is inferred from the keys: none given -> NONE; all keys "ab"/"ba" -> COMPARISON;
otherwise ANSWER. The file is loaded whole whatever the split: it is the set to be labelled.
"""

from __future__ import annotations

from pathlib import Path

from elicit.errors import DataError
from elicit.tasks.base import Consistency, LoadOptions, TaskData
from elicit.tasks.common import Item, TaskSpec, assemble, claim_prompt, get, parse_label
from elicit.tasks.rows import Row, Source, read_hf, read_source
from elicit.tasks.sources import Origin

TASK_COLUMN = "task"


def _optional(row: Row, column: str) -> str:
    value = row.data.get(column)
    if value is None:
        return ""
    return str(value).strip()


def _check_columns(source: Source, options: LoadOptions) -> None:
    """A required column absent from the whole file is reported once, at the header."""
    if options.text_column not in source.columns:
        line = 1 if source.unit == "line" and source.name.endswith((".csv", ".tsv")) else None
        where = f"{source.name}, line {line}" if line else source.where(source.rows[0])
        raise DataError(
            f"{where}: no column {options.text_column!r} (available: "
            f"{', '.join(map(repr, source.columns))}). Rename the column to "
            f"{options.text_column!r} or pass --text-column NAME."
        )


def claim_items(source: Source, options: LoadOptions) -> list[Item]:
    _check_columns(source, options)
    items: list[Item] = []
    task_of_group: dict[str, tuple[str, str]] = {}
    for row in source.rows:
        where = source.where(row)
        value = get(source, row, options.text_column, "--text-column")
        if not isinstance(value, str) or not value.strip():
            shown = (
                "an empty string" if isinstance(value, str) else f"{type(value).__name__} {value!r}"
            )
            raise DataError(
                f"{where}: column {options.text_column!r} must be non-empty text, got {shown}. "
                "Fill in the claim or drop the row."
            )
        uid = _optional(row, options.uid_column) or f"claims/{row.line}"
        group = _optional(row, options.group_column) or uid
        key = _optional(row, options.key_column)
        label = parse_label(row.data.get(options.label_column), where, options.label_column)
        task = _optional(row, TASK_COLUMN)
        if TASK_COLUMN in row.data:
            seen = task_of_group.setdefault(group, (task, where))
            if seen[0] != task:
                raise DataError(
                    f"{where}: group {group!r} mixes tasks {seen[0]!r} ({seen[1]}) and {task!r}. "
                    "A consistency group must hold claims of one task: fix the group or task "
                    "column."
                )
        items.append(Item(uid, claim_prompt(value), group, key, label, where))
    return items


def infer_consistency(items: list[Item]) -> Consistency:
    keys = {it.key for it in items if it.key}
    if not keys:
        return Consistency.NONE
    return Consistency.COMPARISON if keys <= {"ab", "ba"} else Consistency.ANSWER


def load_claims(options: LoadOptions) -> TaskData:
    if not options.data:
        raise DataError(
            "task claims reads your own file and has no default data. Pass --data FILE "
            "(JSONL, JSON list, CSV or TSV with a 'text' column and optional label, group, key, "
            "uid columns)."
        )
    if options.data.startswith("hf:"):
        source = read_hf(options.data, options.split if options.split != "all" else "train")
    else:
        path = Path(options.data).expanduser()
        if not path.is_file():
            raise DataError(f"{path}: no such file. Pass --data FILE pointing at your claims.")
        source = read_source(path)
    items = claim_items(source, options)
    return assemble("claims", infer_consistency(items), items, origin=Origin.FLAG)


SPEC = TaskSpec(
    name="claims",
    description="Your own claims from --data FILE (JSONL/CSV with a text column; labels optional).",
    consistency=Consistency.NONE,
    data_files={},
    loader=load_claims,
)
