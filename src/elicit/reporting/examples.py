"""The examples a run was made on, reloaded from its config.json.

A label run's labels.jsonl holds uids, labels and scores but not the claims' text (the data
already has it). The report and `elicit export` need the text, so they load the task again with
the options the run recorded (task, data, split, column names) and join by uid. The data path
in config.json is as the user typed it, relative to where the run was started; `data`
overrides it when the files have moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from elicit.errors import ConfigError, DataError, ElicitError
from elicit.tasks.base import LoadOptions, TaskData

#: Loaded task data by (task, load options): one report over many runs of a task loads it once.
ExamplesCache = dict[tuple[str, LoadOptions], TaskData]


def load_run_examples(
    run: Path,
    config: Mapping[str, Any],
    *,
    data: str | None = None,
    cache: ExamplesCache | None = None,
) -> TaskData:
    """The task split the run at `run` labelled, every example of it (not only the sample)."""
    from elicit.tasks import load_task

    task = config.get("task")
    if not task:
        raise ConfigError(f"{run}/config.json names no task, so its examples cannot be reloaded")
    options = LoadOptions(
        data=data if data is not None else config.get("data"),
        split=str(config.get("split", "train")),
        **{
            name: str(config[name])
            for name in ("uid_column", "text_column", "label_column", "group_column", "key_column")
            if config.get(name)
        },
    )
    if cache is not None and (str(task), options) in cache:
        return cache[(str(task), options)]
    try:
        loaded = load_task(str(task), options)
    except ElicitError as e:
        raise DataError(
            f"{run}: cannot reload the examples of task {task!r} ({options.split} split) to get "
            f"their text: {e} If the data has moved since the run, pass --data PATH."
        ) from e
    if cache is not None:
        cache[(str(task), options)] = loaded
    return loaded


def prompts_for(data: TaskData, uids: list[str], *, run: Path) -> dict[str, str]:
    """uid -> prompt for `uids`; a uid the data does not have is an error naming the fix."""
    prompts = {ex.uid: ex.prompt for ex in data.examples}
    missing = [u for u in uids if u not in prompts]
    if missing:
        raise DataError(
            f"{run}: {len(missing)} of {len(uids)} labelled uids (first: {missing[0]!r}) are not "
            f"in task {data.task!r} as loaded now; the data changed since the run. Pass --data "
            "with the file the run used."
        )
    return {u: prompts[u] for u in uids}


__all__ = ["ExamplesCache", "load_run_examples", "prompts_for"]
