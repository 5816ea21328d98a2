"""elicit: get a pretrained language model to reveal what it already knows about a task.

The public surface, re-exported here:

    from elicit import load_lm, load_task
    lm = load_lm("gemma-3-270m")
    data = load_task("sst2")
    scores = lm.score([ex.prompt for ex in data.examples[:8]])
"""

from elicit.backends.base import LM, TRUE_FALSE, Demo, GenerationConfig, LabelSet
from elicit.errors import BackendError, ConfigError, DataError, ElicitError
from elicit.tasks.base import Consistency, Example, LoadOptions, TaskData

__version__ = "0.1.0"

__all__ = [
    "LM",
    "TRUE_FALSE",
    "BackendError",
    "ConfigError",
    "Consistency",
    "DataError",
    "Demo",
    "ElicitError",
    "Example",
    "GenerationConfig",
    "LabelSet",
    "LoadOptions",
    "TaskData",
    "__version__",
    "load_lm",
    "load_task",
]


def __getattr__(name: str) -> object:
    # Lazy: importing elicit must not import torch or read data files.
    if name == "load_lm":
        from elicit.backends import load_lm

        return load_lm
    if name == "load_task":
        from elicit.tasks import load_task

        return load_task
    raise AttributeError(f"module 'elicit' has no attribute {name!r}")
