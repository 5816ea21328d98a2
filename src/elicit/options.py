"""Option groups shared by every command, so the same flag means the same thing everywhere.

A command's config dataclass inherits the groups it needs (fields become flags through
`elicit.config`). Each group validates its own fields in `__post_init__` and passes on with
`super().__post_init__()`, so a config that inherits several groups runs each check once
without calling the groups by name:

    DataOptions  --task --data --split --n --seed and the claims column names
    LMOptions    --model --backend --lm-batch-size --device --dtype --max-length --cache
    RunOptions   --out --force --progress
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from elicit.config import ConfigBase, help_field, required_field
from elicit.errors import ConfigError
from elicit.models import DEFAULT_MODEL
from elicit.tasks.base import LoadOptions, TaskData

if TYPE_CHECKING:
    from elicit.backends.base import LM


#: Which part of a task's data: its train or test file, or both.
Split = Literal["train", "test", "all"]


@dataclass(frozen=True)
class DataOptions(ConfigBase):
    task: str = required_field(
        "task name (see `elicit tasks`); required",
        missing="no task given: pass --task NAME (`elicit tasks` lists them)",
    )
    data: str | None = help_field(
        None,
        "data file or directory overriding the task's default, hf:<dataset id>, or 'bundled' "
        "for the sample that ships with elicit (default: $ELICIT_DATA_DIR, else the Hub, else "
        "the bundled sample; `elicit tasks` shows which)",
    )
    split: Split = help_field("test", "which split to use")
    n: int | None = help_field(100, "number of examples, sampled with --seed (none = all)")
    seed: int = help_field(0, "random seed (sampling, initial labels, search)")
    uid_column: str = help_field("uid", "claims task: column with a unique id per row")
    text_column: str = help_field("text", "claims task: column with the claim text")
    label_column: str = help_field("label", "claims task: column with the gold label (optional)")
    group_column: str = help_field("group", "claims task: consistency group column (optional)")
    key_column: str = help_field("key", "claims task: consistency key column (optional)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.task:
            raise ConfigError("no task given: pass --task NAME (`elicit tasks` lists them)")
        if self.n is not None and self.n < 1:
            raise ConfigError(f"--n must be at least 1 (or none for all), got {self.n}")

    def load_gold_sample(self, command: str) -> TaskData:
        """The task's --split sampled to --n with --seed; every example must have gold."""
        from elicit.tasks import load_task, sample

        data = sample(load_task(self.task, self.load_options()), self.n, self.seed)
        if len(data) == 0:
            raise ConfigError(f"task {self.task!r} ({self.split} split) has no examples")
        if not data.has_gold:
            raise ConfigError(
                f"task {self.task!r} ({self.split} split) has claims without gold labels; "
                f"`elicit {command}` needs a gold label for every claim (add a label column "
                "or pass --label-column)"
            )
        return data

    def load_options(self, split: str | None = None) -> LoadOptions:
        return LoadOptions(
            data=self.data,
            split=split or self.split,
            uid_column=self.uid_column,
            text_column=self.text_column,
            label_column=self.label_column,
            group_column=self.group_column,
            key_column=self.key_column,
        )


@dataclass(frozen=True)
class LMOptions(ConfigBase):
    model: str = help_field(
        DEFAULT_MODEL,
        "registered model name (see `elicit models`), HF model id, local path, or "
        "openai:<base_url>/<model> for an OpenAI-compatible server (docs/SERVING.md)",
    )
    backend: str = help_field(
        "auto", "model backend: hf, llamacpp, openai, or auto (openai for openai:<url>, else hf)"
    )
    lm_batch_size: int = help_field(
        8, "prompts per forward pass of the model (server models: requests in flight)"
    )
    device: str = help_field("auto", "auto, cpu, cuda or cuda:N")
    dtype: str = help_field("auto", "auto (fp32 on CPU, bf16 on CUDA), float32, bfloat16, float16")
    max_length: int | None = help_field(None, "context length limit (default: the model's)")
    cache: str | None = help_field(
        None,
        "SQLite file caching the model's scores and greedy generations across runs (created "
        "if missing; several processes may share it); a rerun reads it instead of the model",
    )

    connect_timeout: float = help_field(
        10.0, "server models: seconds to open a connection before giving up"
    )
    read_timeout: float = help_field(
        120.0, "server models: seconds of silence while waiting for a reply before giving up"
    )
    request_timeout: float = help_field(
        600.0, "server models: seconds one request may take in all (ends a trickling reply)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lm_batch_size < 1:
            raise ConfigError(f"--lm-batch-size must be at least 1, got {self.lm_batch_size}")
        for flag, value in (
            ("--connect-timeout", self.connect_timeout),
            ("--read-timeout", self.read_timeout),
            ("--request-timeout", self.request_timeout),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{flag} must be a positive number of seconds, got {value}")

    @property
    def is_server_model(self) -> bool:
        return self.backend == "openai" or (
            self.backend == "auto" and self.model.startswith("openai:")
        )

    def backend_options(self, progress: bool = True) -> dict[str, Any]:
        options: dict[str, Any] = {
            "device": self.device,
            "dtype": self.dtype,
            "batch_size": self.lm_batch_size,
            "max_length": self.max_length,
            "progress": progress,
        }
        if self.is_server_model:  # the timeouts of the one backend that talks to a server
            options.update(
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                request_timeout=self.request_timeout,
            )
        return options

    def load_lm(self, progress: bool = True) -> LM:
        from elicit.backends import load_lm

        lm = load_lm(self.model, self.backend, **self.backend_options(progress))
        if self.cache:
            from elicit.backends.cache import CachedLM

            return CachedLM(lm, self.cache)
        return lm

    @property
    def model_short_name(self) -> str:
        short = Path(self.model).name if "/" in self.model else self.model
        # A fake run's default folder must not be the real model's (nor mix into its tables).
        return f"fake-{short}" if self.backend == "fake" and not short.startswith("fake") else short


@dataclass(frozen=True)
class RunOptions(ConfigBase):
    out: str | None = help_field(None, "run directory for results (default: under runs/)")
    force: bool = help_field(False, "redo the run even if --out holds a finished one")
    progress: bool = help_field(True, "show progress bars")


def run_dir(config: Any, command: str, *, split: bool = False) -> Path:
    """`--out`, or runs/<command>/<task>-<model>[-<split>]-n<N>-s<seed> for a config that has
    the data, LM and run option groups."""
    if config.out:
        return Path(config.out)
    n = "all" if config.n is None else str(config.n)
    parts = [str(config.task), config.model_short_name] + ([config.split] if split else [])
    return Path("runs") / command / f"{'-'.join(parts)}-n{n}-s{config.seed}"
