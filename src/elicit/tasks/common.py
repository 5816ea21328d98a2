"""What every task loader shares: `TaskSpec`, the data root, splits, field access and assembly.

A task is a `TaskSpec` whose loader maps `LoadOptions` to `TaskData`. Most tasks are built with
`file_loader`: it resolves the task's files (default files under the data root, a `--data` file
or directory, or `hf:<id>[:<split>]`), reads each into a `Source` and hands it to the task's
formatter, which turns plain dict rows into `Item`s (an example plus its gold label, if any).
`assemble` checks the items (unique uids, prompts ending in `CLAIM_SUFFIX`) and separates gold.

Splits. Tasks with separate train/test files use them. A task whose default data is a single
pool ("all") is carved into train/test by `carve`: a group goes to "test" when the first byte of
sha256(f"{task}/{group}") is < 128, else to "train". Whole groups move together, so no
consistency group is ever split, and the rule does not depend on the file's order or size.
split="all" returns everything. A file or HF split named explicitly is one source and is
carved the same way when the task's default is a single pool; otherwise it is loaded whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elicit.errors import ConfigError, DataError
from elicit.tasks.base import CLAIM_SUFFIX, Consistency, Example, LoadOptions, TaskData
from elicit.tasks.rows import Row, Source, read_hf, read_source
from elicit.tasks.sources import BUNDLED, ENV, Located, Origin, env_root, find_file, locate

SPLITS = ("train", "test", "all")
#: Key of `TaskSpec.data_files` for tasks whose data is one pool carved by `carve`.
POOL = "all"


@dataclass(frozen=True)
class Item:
    """An example as a formatter builds it, with its gold label (None when unlabelled)."""

    uid: str
    prompt: str
    group: str
    key: str = ""
    label: int | None = None
    where: str = ""  # "file, line N" for messages about this item


@dataclass(frozen=True)
class TaskSpec:
    """A registered task.

    name: the id used on the command line (`--task NAME`).
    description: one line for `elicit tasks`.
    consistency: the logical structure the claims of a group obey (see `Consistency`).
    data_files: default files relative to the data root, by split ("train"/"test"), or under
        "all" for a single pool that is carved into train/test by group (see module docs).
    loader: builds the task's data for the given options.
    generated: the loader writes the data itself (`tasks.generated`): no files, available
        everywhere, and counted among the bundled tasks.
    """

    name: str
    description: str
    consistency: Consistency
    data_files: Mapping[str, tuple[str, ...]]
    loader: Callable[[LoadOptions], TaskData] = field(repr=False, compare=False)
    generated: bool = False


def data_root() -> Path:
    """$ELICIT_DATA_DIR, the folder holding the full data; a `DataError` when it is unset.

    Tasks do not need it (see `tasks.sources` for where their data comes from); it is for code
    that reads a file of the full data directly.
    """
    root = env_root()
    if root is None:
        raise DataError(
            f"{ENV} is not set. Set it to the folder holding the full data (sst2/, boolq/, "
            "icm_release/, ...), or pass --data FILE."
        )
    return root


def carve(task: str, group: str) -> str:
    """The split ("train"/"test") a group of a single-pool task belongs to. See module docs."""
    return "test" if hashlib.sha256(f"{task}/{group}".encode()).digest()[0] < 128 else "train"


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(
            f"split {split!r} is not one of {', '.join(SPLITS)}. Pass --split train or test."
        )


# ---------------------------------------------------------------------------- field access


def get(source: Source, row: Row, column: str, flag: str | None = None) -> Any:
    """A row's field; a missing one is a `DataError` naming the columns that exist."""
    if column not in row.data:
        fix = f" or pass {flag} to read another column" if flag else ""
        raise DataError(
            f"{source.where(row)}: no column {column!r} (available: "
            f"{', '.join(map(repr, row.data)) or 'none'}). Add the column{fix}."
        )
    return row.data[column]


def text(source: Source, row: Row, column: str, flag: str | None = None) -> str:
    """A non-empty string field (numbers are accepted and written as text)."""
    value = get(source, row, column, flag)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DataError(
            f"{source.where(row)}: column {column!r} should be text, got "
            f"{type(value).__name__} ({str(value)[:40]!r}). Write it as a string."
        )
    value = str(value)
    if not value.strip():
        raise DataError(
            f"{source.where(row)}: column {column!r} is empty. Fill it in or drop the row."
        )
    return value


_TRUE = {"1", "true"}
_FALSE = {"0", "false"}


def parse_label(value: Any, where: str, column: str = "label") -> int | None:
    """0/1, true/false (any case, or JSON booleans) -> 1/0; None or "" -> None (unlabelled)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in _TRUE:
            return 1
        if word in _FALSE:
            return 0
    raise DataError(
        f"{where}: {column} {value!r} is not one of 0/1/true/false. Fix the value, leave it "
        "empty for an unlabelled claim, or pass --label-column to read another column."
    )


def gold_label(source: Source, row: Row, column: str = "label") -> int:
    """A required gold label of a benchmark row."""
    label = parse_label(get(source, row, column), source.where(row), column)
    if label is None:
        raise DataError(
            f"{source.where(row)}: {column} is empty. Every row of this task needs one."
        )
    return label


# ---------------------------------------------------------------------------- assembly


def assemble(
    task: str, consistency: Consistency, items: Iterable[Item], origin: str = ""
) -> TaskData:
    """Check the items and split them into search-visible examples and gold labels."""
    examples: list[Example] = []
    gold: dict[str, int] = {}
    seen: dict[str, str] = {}
    for item in items:
        if item.uid in seen:
            raise DataError(
                f"{item.where}: duplicate uid {item.uid!r} (first at {seen[item.uid]}). "
                "Give every row a distinct uid, or drop the uid column to number rows by line."
            )
        seen[item.uid] = item.where
        if not item.prompt.endswith(CLAIM_SUFFIX):  # a formatter bug, not a user error
            raise AssertionError(f"{item.uid}: prompt does not end with {CLAIM_SUFFIX!r}")
        examples.append(Example(uid=item.uid, prompt=item.prompt, group=item.group, key=item.key))
        if item.label is not None:
            gold[item.uid] = item.label
    return TaskData(
        task=task, examples=tuple(examples), gold=gold, consistency=consistency, origin=origin
    )


def claim_prompt(body: str) -> str:
    """`body` followed by the claim suffix on its own line."""
    return f"{body.rstrip()}\n{CLAIM_SUFFIX}"


# ---------------------------------------------------------------------------- files


Formatter = Callable[[Source], Iterable[Item]]


def _find_in_dir(directory: Path, relative: str) -> Path:
    for candidate in (find_file(directory, relative), find_file(directory, Path(relative).name)):
        if candidate is not None:
            return candidate
    raise DataError(
        f"{directory}: no {Path(relative).name} (looked for {directory / relative} and "
        f"{directory / Path(relative).name}). Put the file there or pass --data FILE."
    )


def _relatives(spec: TaskSpec, split: str) -> tuple[str, ...]:
    if POOL in spec.data_files:
        return spec.data_files[POOL]
    if split == "all":
        return tuple(f for s in ("train", "test") for f in spec.data_files.get(s, ()))
    relatives = spec.data_files.get(split, ())
    if not relatives:
        raise DataError(
            f"task {spec.name} has no {split} data. Pass --data FILE or use "
            f"--split {' or '.join(spec.data_files)}."
        )
    return relatives


def resolve_sources(spec: TaskSpec, options: LoadOptions) -> tuple[Located, bool]:
    """The sources to read for `options.split`, and whether to carve them by group.

    `--data` first (a file, a directory, "hf:<id>[:<split>]", or "bundled" for the sample that
    ships with the package); else `tasks.sources.locate`.
    """
    check_split(options.split)
    pooled = POOL in spec.data_files
    if options.data and options.data.startswith("hf:"):
        # hf:<id>:<split> names the hub split; without one, a split task reads the hub split of
        # the same name, a pooled task (or split="all") reads "train" and carves it as usual.
        fallback = "train" if pooled or options.split == "all" else options.split
        return Located(Origin.FLAG, (read_hf(options.data, fallback),)), pooled
    relatives = _relatives(spec, options.split)
    if not options.data or options.data == BUNDLED:
        return locate(spec.name, relatives, bundled_only=options.data == BUNDLED), pooled
    path = Path(options.data).expanduser()
    if path.is_file():
        return Located(Origin.FLAG, (read_source(path),)), pooled
    if not path.exists():
        raise DataError(f"{path}: no such file or directory. Check the --data path.")
    sources = tuple(read_source(_find_in_dir(path, r)) for r in relatives)
    return Located(Origin.FLAG, sources), pooled


def file_loader(
    name: str, consistency: Consistency, formatter: Formatter
) -> Callable[[TaskSpec, LoadOptions], TaskData]:
    """A loader that reads the spec's sources and formats them, carving single pools by group."""

    def load(spec: TaskSpec, options: LoadOptions) -> TaskData:
        located, pooled = resolve_sources(spec, options)
        sources = located.sources
        items: list[Item] = []
        for source in sources:
            items.extend(formatter(source))
        if not items:  # every row was dropped (e.g. all neutral, all empty posts)
            rows = sum(len(s.rows) for s in sources)
            raise DataError(
                f"{', '.join(s.name for s in sources)}: no claims in {rows} row"
                f"{'s' if rows != 1 else ''}; task {name} skipped them all (it skips rows "
                "it cannot use, e.g. neutral ANLI pairs or empty posts). Check that the data "
                "is this task's, or pass --data FILE."
            )
        if pooled and options.split != "all":
            items = [it for it in items if carve(name, it.group) == options.split]
        return assemble(name, consistency, items, origin=located.origin)

    return load


def make_spec(
    name: str,
    description: str,
    consistency: Consistency,
    data_files: Mapping[str, Sequence[str]],
    formatter: Formatter,
) -> TaskSpec:
    """A `TaskSpec` whose loader is `file_loader(name, consistency, formatter)`."""
    files = {k: tuple(v) for k, v in data_files.items()}
    load = file_loader(name, consistency, formatter)
    holder: list[TaskSpec] = []

    def loader(options: LoadOptions) -> TaskData:
        return load(holder[0], options)

    spec = TaskSpec(name, description, consistency, files, loader)
    holder.append(spec)
    return spec
