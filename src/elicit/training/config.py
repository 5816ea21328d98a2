"""`FitOptions`: the optimisation settings every elicit fine-tuning shares.

One frozen dataclass, used two ways: the Python API takes it as `config=` (e.g.
`train_classifier(lm, examples, targets, FitOptions(epochs=3), out_dir, seed=0)`), and
`elicit train` inherits it, so every field is also a flag (`--lr`, `--epochs`, `--lora-r`, ...).
Defaults suit LoRA on a small model and a few hundred labelled claims on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from elicit.config import ConfigBase, help_field
from elicit.errors import ConfigError

#: Learning rates used when --lr is left unset: LoRA adapters start at zero and need a larger
#: step than a full fine-tune, which moves every pretrained weight.
LORA_LR = 2e-4
FULL_LR = 1e-5


@dataclass(frozen=True)
class FitOptions(ConfigBase):
    """Optimiser, schedule, LoRA and checkpoint settings of one fine-tuning run."""

    lr: float | None = help_field(
        None, f"peak learning rate (default: {LORA_LR} with LoRA, {FULL_LR} for full fine-tuning)"
    )
    epochs: int = help_field(2, "passes over the labelled examples (ignored with --max-steps)")
    max_steps: int | None = help_field(
        None, "optimizer steps to run; overrides --epochs (cycles the data if needed)"
    )
    train_batch_size: int = help_field(8, "examples per forward/backward pass (micro-batch)")
    grad_accum: int = help_field(
        1, "micro-batches accumulated per optimizer step (effective batch = product)"
    )
    warmup_frac: float = help_field(0.1, "share of steps with a linear warm-up, then linear decay")
    weight_decay: float = help_field(0.0, "AdamW weight decay")
    max_grad_norm: float | None = help_field(1.0, "clip the gradient norm (none = no clipping)")
    lora: bool = help_field(True, "train LoRA adapters (--no-lora: full fine-tuning)")
    lora_r: int = help_field(8, "LoRA rank")
    lora_alpha: int = help_field(16, "LoRA scaling alpha")
    lora_dropout: float = help_field(0.0, "dropout on the LoRA path")
    lora_targets: str = help_field(
        "all-linear", "modules LoRA adapts: all-linear, or comma-separated module names"
    )
    checkpoint_every: int = help_field(
        50, "save trainable weights, optimizer and step every this many optimizer steps"
    )
    eval_every: int | None = help_field(
        None, "call the evaluation callback every this many steps (none = only at the end)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        checks: list[tuple[bool, str]] = [
            (self.lr is not None and self.lr <= 0, f"--lr must be positive, got {self.lr}"),
            (self.epochs < 1, f"--epochs must be at least 1, got {self.epochs}"),
            (
                self.max_steps is not None and self.max_steps < 1,
                f"--max-steps must be at least 1 (or none), got {self.max_steps}",
            ),
            (
                self.train_batch_size < 1,
                f"--train-batch-size must be at least 1, got {self.train_batch_size}",
            ),
            (self.grad_accum < 1, f"--grad-accum must be at least 1, got {self.grad_accum}"),
            (
                not 0 <= self.warmup_frac < 1,
                f"--warmup-frac must be in [0, 1), got {self.warmup_frac}",
            ),
            (self.lora_r < 1, f"--lora-r must be at least 1, got {self.lora_r}"),
            (
                not 0 <= self.lora_dropout < 1,
                f"--lora-dropout must be in [0, 1), got {self.lora_dropout}",
            ),
            (
                self.checkpoint_every < 1,
                f"--checkpoint-every must be at least 1, got {self.checkpoint_every}",
            ),
            (
                self.eval_every is not None and self.eval_every < 1,
                f"--eval-every must be at least 1 (or none), got {self.eval_every}",
            ),
        ]
        for failed, message in checks:
            if failed:
                raise ConfigError(message)

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return LORA_LR if self.lora else FULL_LR

    def fit_dict(self) -> dict[str, object]:
        """Only the fields of this group (for hashing a checkpoint's settings)."""
        from dataclasses import fields

        return {f.name: getattr(self, f.name) for f in fields(FitOptions)}
