"""The options of `elicit w2s` (`W2SConfig`): data, the two models, the losses, the diagnostics
and the fine-tuning settings, validated in `__post_init__`. The protocol that reads them is
`elicit.commands.w2s`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from elicit.config import help_field
from elicit.errors import ConfigError
from elicit.models import DEFAULT_MODEL
from elicit.options import DataOptions, RunOptions, Split
from elicit.training.config import FitOptions
from elicit.w2s import LOSSES


@dataclass(frozen=True)
class W2SConfig(RunOptions, FitOptions, DataOptions):
    """Options of `elicit w2s`: data, the two models, the losses, and the fine-tuning settings."""

    split: Split = help_field("train", "split the two training halves come from", choices=["train"])
    n: int | None = help_field(200, "training examples in all (both halves), whole groups")
    test_n: int = help_field(200, "test claims sampled before balancing the classes")
    weak: str = help_field(
        "tfidf", "weak supervisor: tfidf, a model name/path (fine-tuned on half 1), or labels:PATH"
    )
    strong: str = help_field(DEFAULT_MODEL, "strong student: a model name or path")
    losses: str = help_field(
        "xent,confidence",
        f"students to train, comma-separated: {', '.join(LOSSES)}",
    )
    a_max: float = help_field(
        0.5, "confidence loss: final weight of the student's own hardened predictions"
    )
    objective: Literal["word", "linear", "probe"] = help_field(
        "word",
        "how the models learn: word (fine-tune the label-word logits), linear (fine-tune with a "
        "new head) or probe (train a linear probe on frozen features, from the label words' "
        "unembeddings: seconds instead of minutes on a CPU)",
    )
    chain: str = help_field(
        "",
        "bootstrapping: comma-separated intermediate models between the weak supervisor and "
        "the strong student, weakest first",
    )
    probe_epochs: int = help_field(30, "probe: passes over half 2")
    probe_lr: float = help_field(1e-3, "probe: Adam learning rate")
    val_frac: float | None = help_field(
        None,
        "share of half 2 (whole groups) held out from the strong students' training as a "
        "validation slice with the labels each learns from (weak for w2s students, gold for "
        "the ceiling), scored by the training curve (default: 0.2 with --early-stop, else 0)",
    )
    early_stop: bool = help_field(
        False,
        "fine-tuned students: keep the weights of the --eval-every step with the best accuracy "
        "on the validation slice's labels (weak labels for w2s students: no gold needed)",
    )
    probe_gold: bool = help_field(
        False,
        "fine-tuned students: also train a linear probe with half 2's gold labels on each w2s "
        "student's frozen features (ft(weak)+lp(gold)), and on the untrained strong model's "
        "with gold and with weak labels (lp(gold), lp(weak)): the paper's saliency section",
    )
    easy_to_hard: bool = help_field(
        False,
        "also train the strong model on the easiest --easy-frac of half 2 with gold labels "
        "(and on a random subset of that size) and report accuracy on the hardest test claims",
    )
    difficulty: Literal["auto", "field", "weak"] = help_field(
        "auto",
        "easy-to-hard: field (the task's difficulty, e.g. gsm8k-verification's), weak (the "
        "weak supervisor's uncertainty 0.5 - |P(True) - 0.5|), or auto (field if any, else weak)",
    )
    easy_frac: float = help_field(0.5, "easy-to-hard: share of half 2 that counts as easy")
    generative_finetune: bool = help_field(
        False,
        "before training the strong students, fine-tune the strong model on next-token "
        "prediction of half 2's claim texts (no labels) for --gen-steps steps",
    )
    gen_steps: int = help_field(20, "generative fine-tuning: optimizer steps")

    def __post_init__(self) -> None:
        super().__post_init__()  # the run, fine-tuning and data groups
        if self.test_n < 2:
            raise ConfigError(f"--test-n must be at least 2, got {self.test_n}")
        unknown = [name for name in self.loss_list() if name not in LOSSES]
        if unknown:
            raise ConfigError(
                f"unknown weak-to-strong loss {unknown[0]!r} in --losses; choose from "
                f"{', '.join(LOSSES)}"
            )
        if not 0.0 <= self.a_max <= 1.0:
            raise ConfigError(f"--a-max must be in [0, 1], got {self.a_max}")
        fine_tuned = self.objective != "probe"
        checks: list[tuple[bool, str]] = [
            (
                self.val_frac is not None and not 0.0 <= self.val_frac < 1.0,
                f"--val-frac must be in [0, 1), got {self.val_frac}",
            ),
            (
                self.early_stop and not fine_tuned,
                "--early-stop selects a step of fine-tuning; probes have none: use --objective "
                "word or linear",
            ),
            (
                self.early_stop and self.eval_every is None,
                "--early-stop needs checkpoints to choose from: pass --eval-every N (steps)",
            ),
            (
                self.early_stop and self.val_frac == 0.0,
                "--early-stop selects on a validation slice of half 2: pass --val-frac > 0 "
                "(e.g. 0.2) or leave it unset",
            ),
            (
                self.probe_gold and not fine_tuned,
                "--probe-gold probes fine-tuned students; with --objective probe the ceiling "
                "already is the probe with gold labels: use --objective word or linear",
            ),
            (
                not 0.0 < self.easy_frac < 1.0,
                f"--easy-frac must be in (0, 1), got {self.easy_frac}",
            ),
            (
                self.easy_to_hard and self.difficulty == "weak" and self.weak.startswith("labels:"),
                "--difficulty weak needs the weak supervisor's test predictions, which a labels "
                "file has not: use --difficulty field (where the task has one) or a tfidf or "
                "model supervisor",
            ),
            (self.gen_steps < 1, f"--gen-steps must be at least 1, got {self.gen_steps}"),
            (
                fine_tuned
                and any(name.startswith("confidence") for name in self.loss_list())
                and self.train_batch_size * self.grad_accum < 2,
                "the confidence loss hardens predictions by a threshold over each optimizer "
                "batch, which one example cannot split (its hardened label is the rounded weak "
                "label): raise --train-batch-size or --grad-accum so that their product is "
                "at least 2 (the released code uses 32)",
            ),
        ]
        for failed, message in checks:
            if failed:
                raise ConfigError(message)

    def loss_list(self) -> list[str]:
        names = [s.strip() for s in self.losses.split(",") if s.strip()]
        if not names:
            raise ConfigError(f"--losses must name at least one of {', '.join(LOSSES)}")
        return names

    def fit_options(self) -> FitOptions:
        return FitOptions(**FitOptions.fit_dict(self))  # type: ignore[arg-type]

    def validation_frac(self) -> float:
        if self.val_frac is not None:
            return self.val_frac
        return 0.2 if self.early_stop else 0.0

    def tracks_curve(self) -> bool:
        """Whether fine-tuned strong students are scored during training."""
        return self.objective != "probe" and (self.eval_every is not None or self.early_stop)

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        weak = Path(self.weak).name if "/" in self.weak else self.weak.replace(":", "-")
        strong = Path(self.strong).name if "/" in self.strong else self.strong
        return Path("runs") / "w2s" / f"{self.task}-{weak}-to-{strong}-n{self.n}-s{self.seed}"


__all__ = ["W2SConfig"]
